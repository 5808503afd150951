"""One release report from many runs: ``nox -s release -- --report-from DIR [--report-from DIR]``.

A release spread over CI runners (one job per variant, ``.github/workflows/release.yml``) leaves
one release folder per runner, each with its ``state.json`` and ``logs/``. This merges them: every
``state.json`` found under the given folders (a downloaded artifact may nest it) that belongs to
this recipe's version is read; per variant the passing record wins, else the latest one. The
merged folder (``<artifacts>/<version>``) gets the logs copied in, a ``state.json``,
``release-report.md/.json`` and ``log_files.zip``; variants of the selected matrix that no run
reported are listed as missing. Exit 0 when every selected variant was built and passed, else 1.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from tools.cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE, ToolError
from tools.release.state import ReleaseState, VariantRecord, load_state, save_state, write_atomic

MISSING = "missing"
_MAX_DEPTH = 6  # how deep under a given folder a state.json is looked for


def find_states(folders: Sequence[Path]) -> list[Path]:
    """Every ``state.json`` under ``folders`` (each folder itself included), in a stable order."""
    found: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            raise ToolError(
                f"--report-from {folder}: not a folder (give a release folder or a "
                "folder of downloaded release artifacts)",
                EXIT_USAGE,
            )
        base = len(folder.parts)
        found += sorted(
            p
            for p in folder.rglob("state.json")
            if len(p.parts) - base <= _MAX_DEPTH and p.is_file()
        )
    if not found:
        raise ToolError(
            "--report-from: no state.json found in " + ", ".join(str(f) for f in folders),
            EXIT_USAGE,
        )
    return found


def _better(new: VariantRecord, old: VariantRecord | None) -> bool:
    if old is None or new.done != old.done:
        return old is None or new.done
    return new.finished_at > old.finished_at


def merge(
    state_files: Sequence[Path], version: str
) -> tuple[ReleaseState, dict[str, Path], list[str]]:
    """(merged state, variant -> the run folder its record came from, warnings)."""
    merged = ReleaseState(version)
    origin: dict[str, Path] = {}
    warnings: list[str] = []
    for path in state_files:
        state, warning = load_state(path, version)
        if warning:
            warnings.append(warning)
            continue
        for name, rec in state.variants.items():
            if _better(rec, merged.get(name)):
                merged.record(rec)
                origin[name] = path.parent
    return merged, origin, warnings


def copy_logs(merged: ReleaseState, origin: dict[str, Path], logs_dir: Path) -> None:
    """Copy each chosen record's log into the merged folder and point the record at the copy."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    for name, rec in merged.variants.items():
        if not rec.log:
            continue
        source = (origin[name] / rec.log).resolve()
        if not source.is_relative_to(origin[name].resolve()) or not source.is_file():
            rec.log = ""  # a log path that leaves its run folder, or a missing log: not copied
            continue
        target = logs_dir / f"{name}.log"
        if source != target.resolve():
            shutil.copyfile(source, target)
        rec.log = f"{logs_dir.name}/{target.name}"


def run_merge(folders: Sequence[Path], *, version: str, selected: Sequence, layout, printer) -> int:
    """Merge, write the merged folder, print the table; return the exit status."""
    from tools.release import flow as release

    states = find_states([f.absolute() for f in folders])
    merged, origin, warnings = merge(states, version)
    for warning in warnings:
        printer(f"warning: {warning}", err=True)
    layout.root.mkdir(parents=True, exist_ok=True)
    copy_logs(merged, origin, layout.logs)
    save_state(merged, layout.state)
    report = release.report_dict(
        version, selected, merged, set(merged.variants), layout, missing_label=MISSING
    )
    report["merged_from"] = [str(p) for p in states]
    write_atomic(layout.report_json, json.dumps(report, indent=2) + "\n")
    write_atomic(layout.report_md, release.report_markdown(report))
    release.write_logs_zip(layout, [v.name for v in selected])
    printer(f"merged {len(states)} state file(s) of version {version}")
    release.print_report_table(report, layout.root)
    missing = [r["name"] for r in report["variants"] if r["build"] == MISSING]
    if missing:
        printer(f"missing: {', '.join(missing)} (no run reported them)", err=True)
    printer(f"report: {layout.report_md} and {layout.report_json.name}; logs: {layout.logs_zip}")
    return EXIT_OK if report["verdict"] == release.PASS else EXIT_FAIL
