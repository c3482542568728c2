from luban_private_greeting import GREETING
print(GREETING)
