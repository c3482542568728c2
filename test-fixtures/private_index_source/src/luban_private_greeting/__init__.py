GREETING = "Hello from the private index"
