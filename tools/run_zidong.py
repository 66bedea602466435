"""The script msrun starts on every worker (msrun runs a file, not a module): the zidong CLI."""
import sys

from zidong.cli import main

if __name__ == "__main__":
    sys.exit(main())
