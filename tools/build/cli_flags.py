"""conda-build's own command line, to read the arguments users pass after ``--`` as it reads them.

conda-build parses its arguments with argparse (``parse_args`` in conda-build's
``conda_build/cli/main_build.py``), so it accepts unambiguous prefixes (``--croo``), attached
values (``--croot=DIR``, ``-mFILE``) and bundled short flags (``-bq``). Checking the words by exact
spelling lets all of those through; parsing them with the same flag table does not. The table
below is conda-build 26.7's (``conda-build --help``); a flag it does not know is refused, as
conda-build itself would refuse it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tools.cli import EXIT_USAGE, ToolError

FLAG = "flag"  # store_true
VALUE = "value"  # one value
MANY = "many"  # repeatable, one value each
PLUS = "plus"  # one or more values (nargs="+")
STAR = "star"  # zero or more values (nargs="*")


@dataclass(frozen=True)
class Flag:
    names: tuple[str, ...]
    dest: str
    kind: str = FLAG


FLAGS: tuple[Flag, ...] = (
    Flag(("-h", "--help"), "help"),
    Flag(("-V", "--version"), "version"),
    Flag(("-n", "--no-source"), "no_source"),
    Flag(("--output",), "output"),
    Flag(("--python",), "python", MANY),
    Flag(("--perl",), "perl", MANY),
    Flag(("--numpy",), "numpy", MANY),
    Flag(("--R",), "R", MANY),
    Flag(("--lua",), "lua", MANY),
    Flag(("--bootstrap",), "bootstrap", VALUE),
    Flag(("--append-file",), "append_sections_file", VALUE),
    Flag(("--clobber-file",), "clobber_sections_file", VALUE),
    Flag(("-m", "--variant-config-files"), "variant_config_files", MANY),
    Flag(
        ("-e", "--exclusive-config-files", "--exclusive-config-file"),
        "exclusive_config_files",
        MANY,
    ),
    Flag(("--old-build-string",), "old_build_string"),
    Flag(("--use-channeldata",), "use_channeldata"),
    Flag(("--variants",), "variants", VALUE),
    Flag(("--check",), "check"),
    Flag(("--no-anaconda-upload",), "no_anaconda_upload"),
    Flag(("--no-include-recipe",), "no_include_recipe"),
    Flag(("-s", "--source"), "source"),
    Flag(("-t", "--test"), "test"),
    Flag(("--no-test",), "no_test"),
    Flag(("-b", "--build-only"), "build_only"),
    Flag(("--post",), "post"),
    Flag(("-p", "--test-run-post"), "test_run_post"),
    Flag(("--skip-existing",), "skip_existing"),
    Flag(("--keep-old-work",), "keep_old_work"),
    Flag(("--dirty",), "dirty"),
    Flag(("-q", "--quiet"), "quiet"),
    Flag(("--debug",), "debug"),
    Flag(("--token",), "token", VALUE),
    Flag(("--user",), "user", VALUE),
    Flag(("--label",), "labels", MANY),
    Flag(("--no-force-upload",), "no_force_upload"),
    Flag(("--zstd-compression-level",), "zstd_compression_level", VALUE),
    Flag(("--password",), "password", VALUE),
    Flag(("--sign",), "sign", VALUE),
    Flag(("--sign-with",), "sign_with", VALUE),
    Flag(("--identity",), "identity", VALUE),
    Flag(("--config-file",), "config_file", VALUE),
    Flag(("--repository", "-r"), "repository", VALUE),
    Flag(("--no-activate",), "no_activate"),
    Flag(("--no-build-id",), "no_build_id"),
    Flag(("--build-id-pat",), "build_id_pat", VALUE),
    Flag(("--croot",), "croot", VALUE),
    Flag(("--verify",), "verify"),
    Flag(("--no-verify",), "no_verify"),
    Flag(("--strict-verify",), "strict_verify"),
    Flag(("--output-folder",), "output_folder", VALUE),
    Flag(("--no-prefix-length-fallback",), "no_prefix_length_fallback"),
    Flag(("--prefix-length-fallback",), "prefix_length_fallback"),
    Flag(("--prefix-length",), "prefix_length", VALUE),
    Flag(("--no-locking",), "no_locking"),
    Flag(("--no-remove-work-dir",), "no_remove_work_dir"),
    Flag(("--error-overlinking",), "error_overlinking"),
    Flag(("--no-error-overlinking",), "no_error_overlinking"),
    Flag(("--error-overdepending",), "error_overdepending"),
    Flag(("--no-error-overdepending",), "no_error_overdepending"),
    Flag(("--long-test-prefix",), "long_test_prefix"),
    Flag(("--no-long-test-prefix",), "no_long_test_prefix"),
    Flag(("--keep-going", "-k"), "keep_going"),
    Flag(("--cache-dir",), "cache_dir", VALUE),
    Flag(("--no-copy-test-source-files",), "no_copy_test_source_files"),
    Flag(("--merge-build-host",), "merge_build_host"),
    Flag(("--stats-file",), "stats_file", VALUE),
    Flag(("--extra-deps",), "extra_deps", PLUS),
    Flag(("--extra-meta",), "extra_meta", STAR),
    Flag(("--suppress-variables",), "suppress_variables"),
    Flag(("--package-format",), "package_format", VALUE),
    Flag(("-c", "--channel"), "channel", MANY),
    Flag(("--use-local",), "use_local"),
    Flag(("-O", "--override-channels"), "override_channels"),
    Flag(("--repodata-fn",), "repodata_fns", MANY),
    Flag(("--experimental",), "experimental", VALUE),
    Flag(("--no-lock",), "no_lock"),
    Flag(("--repodata-use-zst",), "repodata_use_zst"),
    Flag(("--no-repodata-use-zst",), "no_repodata_use_zst"),
    Flag(("--repodata-use-shards",), "repodata_use_shards"),
    Flag(("--no-repodata-use-shards",), "no_repodata_use_shards"),
)
RECIPE_PATHS = "recipe_paths"  # positional arguments: more recipes or package files

# The flags (argparse dests of FLAGS) that switch conda-build's test phase off: ``--no-test``, and
# ``-b/--build-only`` ("Implies --no-test"). dev_build then has nothing to validate; release and
# dev_test refuse them (``tests_off_refused``).
TESTS_OFF: tuple[str, ...] = ("no_test", "build_only")

# What a run of ours decides itself, refused after "--" by every session (dev_build, dev_test and
# release),
# with what to do instead. Keys are argparse dests of FLAGS (or RECIPE_PATHS).
ALWAYS_REFUSED: Mapping[str, str] = {
    "help": "see conda-build --help; the suite runs one build",
    "version": "run conda-build --version yourself",
    "output": "a build run builds; conda-build --output only prints names",
    "check": "a build run builds; use conda-build --check yourself",
    "source": "a build run builds; use conda-build --source yourself",
    "post": "a build run builds the whole package",
    "test": "a build run builds the package it tests",
    "croot": "the build root is chosen by the suite (--croot of the session itself)",
    "build_id_pat": "the build folder layout is chosen by the suite",
    "output_folder": "the packages go where the suite looks for them",
    "variant_config_files": "the variant comes from the session's own options (--python, --cuda)",
    "exclusive_config_files": "the variant comes from the session's own options",
    "variants": "the variant comes from the session's own options",
    "python": "use the session's own --python",
    "numpy": "the variant comes from conda_build_config.yaml",
    "perl": "the variant comes from conda_build_config.yaml",
    "lua": "the variant comes from conda_build_config.yaml",
    "R": "the variant comes from conda_build_config.yaml",
    "append_sections_file": "edit the recipe instead (the suite fingerprints recipe/)",
    "clobber_sections_file": "edit the recipe instead (the suite fingerprints recipe/)",
    RECIPE_PATHS: "the recipe comes from the session's own option; pass only flags after '--'",
}


def tests_off_refused(why: str) -> dict[str, str]:
    """``TESTS_OFF`` as refusals for ``check``, each with ``why``."""
    return dict.fromkeys(TESTS_OFF, why)


def split_extra(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the session's own arguments, conda-build's: those after the first ``--``)."""
    argv = list(argv)
    if "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1 :]
    return argv, []


def tests_off(found: Mapping[str, object]) -> bool:
    """Whether the arguments ``check`` or ``given`` found switch conda-build's test phase off."""
    return any(dest in found for dest in TESTS_OFF)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ToolError(f"conda-build arguments after '--': {message}", EXIT_USAGE)


def parser() -> argparse.ArgumentParser:
    """An argparse parser with conda-build's flag table (prefixes allowed, as in conda-build)."""
    p = _Parser(prog="conda-build", add_help=False, allow_abbrev=True)
    for flag in FLAGS:
        if flag.kind == FLAG:
            p.add_argument(*flag.names, dest=flag.dest, action="store_true")
        elif flag.kind == MANY:
            p.add_argument(*flag.names, dest=flag.dest, action="append")
        else:
            nargs = {VALUE: None, PLUS: "+", STAR: "*"}[flag.kind]
            p.add_argument(*flag.names, dest=flag.dest, nargs=nargs)
    p.add_argument(RECIPE_PATHS, nargs="*")
    return p


def given(extra: Sequence[str]) -> dict[str, object]:
    """dest -> value for every conda-build argument in ``extra`` (one line, exit 2 if unusable)."""
    namespace = parser().parse_args(list(extra))
    return {k: v for k, v in vars(namespace).items() if v not in (None, False, [])}


def check(extra: Sequence[str], refused: Mapping[str, str], who: str) -> dict[str, object]:
    """Parse ``extra`` like conda-build; refuse (ToolError, exit 2) what ``refused`` names.

    ``who`` names the session in the message ("dev_build", "a release").
    """
    found = given(extra)
    by_dest = {f.dest: next((n for n in f.names if n.startswith("--")), f.names[0]) for f in FLAGS}
    for dest, why in refused.items():
        if dest in found:
            shown = by_dest.get(dest, "a recipe path")
            raise ToolError(
                f"conda-build argument {shown} (after '--') is not allowed in {who}: {why}",
                EXIT_USAGE,
            )
    return found
