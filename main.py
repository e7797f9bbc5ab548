"""Run the packing station: ``python main.py`` does what the ``packstation`` command does."""

import sys

from packstation.cli import main

if __name__ == "__main__":
    sys.exit(main())
