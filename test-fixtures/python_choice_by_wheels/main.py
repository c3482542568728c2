import sys

import httptools

print(f"python {sys.version.split()[0]} httptools {httptools.__version__}")
