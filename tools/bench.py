"""Benchmark dispatcher for ``nox -s bench -- [logs|ccache] [options]``."""

from __future__ import annotations

from collections.abc import Sequence

from tools.cli import EXIT_USAGE, ToolError

BENCHES = ("logs", "ccache")


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    which = argv.pop(0) if argv and not argv[0].startswith("-") else "logs"
    if which == "logs":
        from tools import log_bench

        return log_bench.main(argv)
    if which == "ccache":
        from tools import ccache_bench

        return ccache_bench.main(argv)
    raise ToolError(f"unknown benchmark {which!r}; choose one of: {', '.join(BENCHES)}", EXIT_USAGE)
