"""The options every session uses to pick the recipe and one variant of its matrix."""

from __future__ import annotations

import argparse
from pathlib import Path

from tools.paths import CONDA_BUILD_CONFIG, RECIPE_DIR

DEFAULT_PYTHON = "3.11"  # the Python of a dev build unless --python says otherwise


def add_variant_options(p) -> None:
    """How dev_build and dev_test pick one variant of the matrix."""
    p.add_argument("--cuda", action="store_true", help="the newest CUDA variant")
    p.add_argument(
        "--cuda-version", metavar="X.Y", help="CUDA version of the variant (implies --cuda)"
    )
    p.add_argument(
        "--python",
        default=DEFAULT_PYTHON,
        metavar="X.Y",
        help=f"Python of the variant (default {DEFAULT_PYTHON})",
    )
    p.add_argument(
        "--blas", metavar="NAME", help="BLAS of the variant (default: the matrix's first)"
    )


def add_recipe_options(p, *, release: bool = False) -> None:
    """Where the recipe and its variant config are, the same options in every session:
    ``--recipe-dir DIR`` and ``--variant-config FILE``.

    dev_build and dev_test take one config and hide both from --help (they are for tests).
    release (``release=True``) shows them, takes the config repeatably (a list, None when not
    given: conda-build's ``-m`` may be repeated) and keeps its earlier spellings ``--recipe`` and
    ``--config`` as hidden aliases, so existing commands keep working.
    """
    hidden = argparse.SUPPRESS
    p.add_argument(
        "--recipe-dir",
        type=Path,
        default=RECIPE_DIR,
        metavar="DIR",
        help="recipe folder (default recipe/)" if release else hidden,
    )
    if not release:
        p.add_argument("--variant-config", type=Path, default=CONDA_BUILD_CONFIG, help=hidden)
        return
    p.add_argument(
        "--variant-config",
        action="append",
        type=Path,
        metavar="FILE",
        help="variant config (repeatable; default conda_build_config.yaml)",
    )
    p.add_argument("--recipe", dest="recipe_dir", type=Path, default=hidden, help=hidden)
    p.add_argument(
        "--config", dest="variant_config", action="append", type=Path, default=hidden, help=hidden
    )
