"""Run the part of PyTorch's suite that ``PYTORCH_TEST_SELECTION`` names (``nox -s dev_test --
--failed-only``): one ``test/run_test.py`` run per test file, narrowed to the listed tests.

The selection file is JSON written by the task suite (tools/dev_test.py):
``{"files": ["test_nn", ...], "tests": {"test_nn": ["TestNN::test_x", ...]}}``; a file without
tests runs whole. Test names reach pytest as one ``-k`` expression (run_test.py passes what follows
``--`` to the test file); nothing goes through a shell. The exit status is 0, like the release
suite's ``|| true``: validate_logs reads the verdict from the log.
"""

import json
import os
import subprocess
import sys


def k_expression(tests):
    """``TestNN::test_x[a]`` -> ``(TestNN and test_x[a])``, joined with ``or``."""
    parts = []
    for test in tests:
        names = [n for n in test.split("::") if n]
        if names:
            parts.append("(" + " and ".join(names) + ")")
    return " or ".join(parts)


def main():
    with open(os.environ["PYTORCH_TEST_SELECTION"], encoding="utf-8") as fh:
        selection = json.load(fh)
    for name in selection.get("files", []):
        argv = ["python", "./test/run_test.py", "--continue-through-error", "-i", name]
        tests = selection.get("tests", {}).get(name)
        if tests:
            argv += ["--", "-k", k_expression(tests)]
        print("run_selected_tests: " + " ".join(argv), flush=True)
        subprocess.call(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
