"""Benchmarks, ``nox -s bench -- [logs|ccache] [options]``: ``logs`` (validate_logs against grep
on generated logs) and ``ccache`` (a cold against a warm compile through the dev ccache config)."""

from __future__ import annotations

from collections.abc import Sequence

from tools.cli import EXIT_USAGE, ToolError

BENCHES = ("logs", "ccache")


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    which = argv.pop(0) if argv and not argv[0].startswith("-") else "logs"
    if which == "logs":
        from tools.bench import logs

        return logs.main(argv)
    if which == "ccache":
        from tools.bench import ccache

        return ccache.main(argv)
    raise ToolError(f"unknown benchmark {which!r}; choose one of: {', '.join(BENCHES)}", EXIT_USAGE)
