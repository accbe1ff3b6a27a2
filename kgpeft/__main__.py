"""``python -m kgpeft`` (and ``accelerate launch -m kgpeft``) runs the CLI."""

import sys

from kgpeft.cli import main

if __name__ == "__main__":
    sys.exit(main())
