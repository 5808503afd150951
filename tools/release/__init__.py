"""``nox -s release``: every variant built and validated, resumably, with one report.

Modules: ``flow`` (options, plan, one conda-build run per variant, the report), ``state`` (the
state file that makes a release resumable), ``preflight`` (what is refused before hours of
building), ``merge`` (``--report-from``: one report from the runs of many runners).
"""

from tools.release.flow import main

__all__ = ["main"]
