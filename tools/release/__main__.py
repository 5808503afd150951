"""``python -m tools.release``: the release session in a process of its own (tests kill it)."""

import sys

from tools.cli import run_main
from tools.release.flow import PROG, main

sys.exit(run_main(PROG, main, sys.argv[1:]))
