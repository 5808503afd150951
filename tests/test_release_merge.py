"""release --report-from: one report from the state files of separate runs (one per runner)."""

from __future__ import annotations

import json
import zipfile

from tools.cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE, run_main
from tools.paths import RECIPE_DIR
from tools.recipe.rendering import recipe_version
from tools.recipe.variants import matrix
from tools.release import flow as release
from tools.release.state import BUILD_FAILED, BUILT, ReleaseState, VariantRecord, save_state

VERSION = recipe_version(RECIPE_DIR)


def runner(folder, *records):
    """A runner's release folder as `nox -s release -- --variant X` leaves it."""
    root = folder / VERSION
    state = ReleaseState(VERSION)
    for rec in records:
        (root / "logs").mkdir(parents=True, exist_ok=True)
        (root / "logs" / f"{rec.name}.log").write_text(f"log of {rec.name} in {folder.name}\n")
        rec.log = f"logs/{rec.name}.log"
        state.record(rec)
    save_state(state, root / "state.json")
    return folder


def passed(name, when="2026-12-01T10:00:00+00:00"):
    return VariantRecord(
        name, BUILT, 0, "pass", [], {"passed": 5}, 60.0, fingerprint="f", finished_at=when
    )


def merge(tmp_path, names, *folders):
    argv = ["--artifacts", str(tmp_path / "merged")]
    for n in names:
        argv += ["--variant", n]
    for f in folders:
        argv += ["--report-from", str(f)]
    return run_main(release.PROG, release.main, argv)


def test_all_runners_passed_one_report(tmp_path, capsys):
    names = [v.name for v in matrix()[:2]]
    a = runner(tmp_path / "artifacts-a", passed(names[0]))
    b = runner(tmp_path / "artifacts-b", passed(names[1]))
    assert merge(tmp_path, names, a, b) == EXIT_OK
    out = capsys.readouterr().out
    assert "merged 2 state file(s)" in out
    root = tmp_path / "merged" / VERSION
    report = json.loads((root / "release-report.json").read_text())
    assert report["verdict"] == "pass" and [r["name"] for r in report["variants"]] == names
    assert (root / "logs" / f"{names[1]}.log").read_text() == f"log of {names[1]} in artifacts-b\n"
    with zipfile.ZipFile(root / "log_files.zip") as zf:
        assert sorted(zf.namelist()) == sorted(f"logs/{n}.log" for n in names)
    md = (root / "release-report.md").read_text()
    assert all(f"| {n} |" in md for n in names)


def test_a_variant_no_runner_reported_is_missing_and_fails(tmp_path, capsys):
    names = [v.name for v in matrix()[:3]]
    a = runner(tmp_path / "a", passed(names[0]), passed(names[2]))
    assert merge(tmp_path, names, a) == EXIT_FAIL
    captured = capsys.readouterr()
    assert f"missing: {names[1]} (no run reported them)" in captured.err
    report = json.loads((tmp_path / "merged" / VERSION / "release-report.json").read_text())
    assert [r["build"] for r in report["variants"]] == [BUILT, "missing", BUILT]
    assert report["verdict"] == "fail"


def test_a_pass_wins_over_a_failed_attempt_and_failures_fail(tmp_path, capsys):
    name = matrix()[0].name
    failed = VariantRecord(
        name,
        BUILD_FAILED,
        1,
        "fail",
        ["conda-build exited with status 1"],
        finished_at="2026-12-02T00:00:00+00:00",
    )
    a = runner(tmp_path / "a", failed)
    b = runner(tmp_path / "b", passed(name))
    assert merge(tmp_path, [name], a, b) == EXIT_OK
    capsys.readouterr()
    assert merge(tmp_path, [name], a) == EXIT_FAIL
    md = (tmp_path / "merged" / VERSION / "release-report.md").read_text()
    assert "conda-build exited with status 1" in md


def test_a_log_path_leaving_its_run_folder_is_not_copied(tmp_path, capsys):
    name = matrix()[0].name
    a = runner(tmp_path / "a", passed(name))
    state_path = a / VERSION / "state.json"
    data = json.loads(state_path.read_text())
    data["variants"][name]["log"] = "../../../../etc/hostname"
    state_path.write_text(json.dumps(data))
    assert merge(tmp_path, [name], a) == EXIT_OK
    assert not (tmp_path / "merged" / VERSION / "logs" / f"{name}.log").exists()


def test_no_state_file_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert merge(tmp_path, [], tmp_path / "empty") == EXIT_USAGE
    assert "no state.json found" in capsys.readouterr().err
    assert merge(tmp_path, [], tmp_path / "nowhere") == EXIT_USAGE
