"""``python -m tools.validate_logs``: the same command as ``nox -s validate_logs``."""

import sys

from tools.cli import run_main
from tools.validate_logs.cli import main

sys.exit(run_main("python -m tools.validate_logs", main, sys.argv[1:]))
