import sys

import six

print(f"python {sys.version.split()[0]} six {six.__version__}")
