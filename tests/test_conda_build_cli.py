"""Arguments after '--' are read the way conda-build's argparse reads them, in dev_build and
release alike (flag table: conda-build 26.7.1's --help)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools import dev_build, dev_test
from tools.build import cli_flags as conda_build_cli
from tools.cli import EXIT_USAGE, ToolError, run_main
from tools.release import flow as release

HELP = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "corpus"
    / "conda-build"
    / "logs"
    / "help_conda-build.txt"
)

# Each spelling conda-build accepts for a flag that would move the build out of our croot, turn
# reuse on, or change the variant: an exact match was all that was checked before.
SNEAKY = [
    (["--croo", "/elsewhere"], "--croot"),
    (["--croot=/elsewhere"], "--croot"),
    (["--output-fol", "/elsewhere"], "--output-folder"),
    (["--output-folder=/elsewhere"], "--output-folder"),
    (["-mFILE"], "--variant-config-files"),
    (["-m", "FILE"], "--variant-config-files"),
    (["--variant-config=f"], "--variant-config-files"),
    (["--exclusive-config-file", "f"], "--exclusive-config-files"),
    (["-qeFILE"], "--exclusive-config-files"),
    (["--variants", "{python: [3.12]}"], "--variants"),
    (["--pyth", "3.12"], "--python"),
    (["--build-id-p", "x"], "--build-id-pat"),
    (["-t"], "--test"),
    (["--outp"], None),  # ambiguous: --output or --output-folder
    (["other-recipe/"], "a recipe path"),
]


@pytest.mark.parametrize(("extra", "flag"), SNEAKY)
def test_dev_build_refuses_every_spelling(extra, flag):
    with pytest.raises(ToolError) as err:
        dev_build.parse_args(["--", *extra])
    assert err.value.exit_code == EXIT_USAGE and "\n" not in err.value.message
    if flag:
        assert f"{flag} (after '--') is not allowed in dev_build" in err.value.message
    else:
        assert "ambiguous option" in err.value.message


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        *SNEAKY,
        (["--dirt"], "--dirty"),
        (["--keep-old"], "--keep-old-work"),
        (["--no-te"], "--no-test"),
        (["-bq"], "--build-only"),
        (["--no-build"], "--no-build-id"),
    ],
)
def test_release_refuses_every_spelling_before_anything_runs(extra, flag, capsys):
    code = run_main(release.PROG, release.main, ["--list", "--", *extra])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and err.count("\n") == 1
    assert (
        f"{flag} (after '--') is not allowed in a release" in err
        if flag
        else "ambiguous option" in err
    )


def test_harmless_arguments_pass_and_tests_off_is_recognised_in_any_spelling():
    opts = dev_build.parse_args(["--", "--debug", "-c", "conda-forge", "--override-channels"])
    assert opts.extra == ("--debug", "-c", "conda-forge", "--override-channels")
    assert not opts.tests_off_by_extra
    for spelling in (["--no-tes"], ["-b"], ["--build-on"], ["-qb"]):
        assert dev_build.parse_args(["--", *spelling]).tests_off_by_extra, spelling
    release.check_extra(["--stats-file", "s.json", "-c", "conda-forge", "--no-remove-work-dir"])


def test_split_extra_cuts_at_the_first_double_dash():
    assert conda_build_cli.split_extra(["--cuda", "--", "--stats-file", "s.json"]) == (
        ["--cuda"],
        ["--stats-file", "s.json"],
    )
    assert conda_build_cli.split_extra(["--list"]) == (["--list"], [])
    assert conda_build_cli.split_extra(["--", "--", "-q"]) == ([], ["--", "-q"])
    assert conda_build_cli.split_extra(("--fresh", "--")) == (["--fresh"], [])


@pytest.mark.parametrize("spelling", [["--no-test"], ["--no-tes"], ["-b"], ["--build-on"], ["-qb"]])
def test_one_tests_off_table_for_every_session(spelling, capsys):
    """dev_build skips validation, dev_test and release refuse: the same spellings, one table."""
    assert set(conda_build_cli.TESTS_OFF) == {"no_test", "build_only"}
    assert conda_build_cli.tests_off(conda_build_cli.given(spelling))
    assert dev_build.parse_args(["--", *spelling]).tests_off_by_extra
    with pytest.raises(ToolError, match="is not allowed in dev_test: dev_test runs the test phase"):
        dev_test.parse_args(["--", *spelling])
    assert run_main(release.PROG, release.main, ["--list", "--", *spelling]) == EXIT_USAGE
    assert "is not allowed in a release: a release validates every" in capsys.readouterr().err


def test_unknown_flags_and_missing_values_are_one_line_errors():
    for bad in (["--bogus"], ["--croot"], ["--package-format"]):
        with pytest.raises(ToolError) as err:
            conda_build_cli.given(bad)
        assert err.value.message.startswith("conda-build arguments after '--':")


@pytest.mark.skipif(not HELP.is_file(), reason="corpus with conda-build --help not present")
def test_flag_table_is_conda_builds_own():
    """Every option of the real conda-build 26.7.1 --help is in the table, and nothing else."""
    usage = HELP.read_text().split("\n\n", 1)[0]
    real = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", usage)) - {"-h"}
    ours = {n for f in conda_build_cli.FLAGS for n in f.names} - {"-h"}
    aliases = {
        "--exclusive-config-file",
        "-k",
        "-r",
        "--help",
        "--version",
        "--variant-config-files",
        "--exclusive-config-files",
        "--no-source",
        "--source",
        "--test",
        "--build-only",
        "--test-run-post",
        "--quiet",
        "--channel",
        "--override-channels",
    }
    assert real - ours == set()
    assert ours - real <= aliases
