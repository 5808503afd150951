"""The recipe's development knobs (environment variables meta.yaml, build.sh and bld.bat read),
the dev mark a knob build carries, and the test levels. The one list of knob names.
"""

from __future__ import annotations

from collections.abc import Mapping

# The development knobs: exactly these reach build.sh (meta.yaml build/script_env). A package
# built with any of them set (non-empty) has DEV_MARK at the end of its build string.
KNOBS = ("TORCH_CUDA_ARCH_LIST", "PYTORCH_CCACHE", "CCACHE_CONFIGPATH", "MAX_JOBS",
         "PYTORCH_SKIP_TESTS", "PYTORCH_TEST_LEVEL", "PYTORCH_TEST_SELECTION")  # fmt: skip
DEV_MARK = "_dev"
# PYTORCH_TEST_LEVEL: how much of PyTorch's suite the test phase runs; unset is RELEASE_TEST_LEVEL.
TEST_LEVELS = ("none", "smoke", "core")
RELEASE_TEST_LEVEL = "core"
# Runs what the selection file named by PYTORCH_TEST_SELECTION lists (dev_test --failed-only);
# shipped in the package through meta.yaml's test/files.
SELECTION_RUNNER = "run_selected_tests.py"
PKG_HASH_PLACEHOLDER = "1234567"  # what conda-build itself uses before the hash is known


def dev_knobs(environ: Mapping[str, str]) -> list[str]:
    """The knobs ``environ`` sets (non-empty): a build with any of them is a dev build."""
    return [k for k in KNOBS if environ.get(k)]
