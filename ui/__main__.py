"""`python -m ancre.ui` opens the web chat (same options as `ancre chat`)."""

import sys

from .cli import main

sys.exit(main(["chat", *sys.argv[1:]]))
