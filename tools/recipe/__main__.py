"""``python -m tools.recipe``: render and check every variant of the recipe (exit 1 on problems)."""

import sys

from tools.cli import run_main
from tools.recipe.matrix_check import main

sys.exit(run_main("python -m tools.recipe", main, sys.argv[1:]))
