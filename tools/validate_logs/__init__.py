"""validate_logs: a test verdict from conda-build logs (``nox -s validate_logs``).

Modules, in the order data flows: ``inputs`` (files, folders, .gz, .zip, stdin), ``rules`` (the
line formats), ``parser`` (the streaming reader) with ``phase`` (one test phase's events) and
``tally`` (its counts), ``results`` (the plain data passed on), ``policy`` (the verdict: its
gates, known failures from ``known``, matched by ``patterns``), ``report`` (terminal, JSON,
Markdown, JUnit) and ``cli`` (options, ``validate()``).
"""

from tools.validate_logs.cli import (
    PROG,
    build_parser,
    default_paths,
    log_outcome,
    main,
    parse_input,
    policy_from_args,
    validate,
)

__all__ = [
    "PROG",
    "build_parser",
    "default_paths",
    "log_outcome",
    "main",
    "parse_input",
    "policy_from_args",
    "validate",
]
