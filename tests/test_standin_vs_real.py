"""The conda-build stand-in replays the corpus of the real conda-build 26.7.1 and must match it.

For every case of the corpus table (../shared/corpus/conda-build/README.md) the stand-in runs with
the same arguments (paths moved into a tmp dir, the toy recipes copied there) and the same caller
environment, in the corpus's order on one build root, so that each case starts from the state the
previous one left (the ``.meta`` "croot before" lists). Per case:

1. the exit status equals the real one;
2. the sequence of conda-build's markers (``MARKERS``, paths normalised to placeholders) equals
   the real log's, and so does the sequence of the test commands' output (``TEST_OUTPUT``), which
   is compared on its own because the real log does not always interleave it with bash's trace;
3. the build root's files (two levels deep, as the ``.meta`` lists are) equal "croot after",
   channel index files aside.

The two ``--test`` cases recorded on a dev_build croot (tests/fixtures/conda_build/
test_only_on_dev_croot*.{log,meta}) are replayed on a croot the stand-in builds the way dev_build
does, and compared the same way, with the whole croot listed (as those ``.meta`` lists are).

Skipped when the corpus is absent (a clone of the repository alone does not have it).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.paths import REPO_ROOT

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "conda-build"
LOGS, RECIPES = CORPUS / "logs", CORPUS / "recipes"
STANDIN = REPO_ROOT / "tests" / "standin" / "conda-build"
REALCB_TOY = REPO_ROOT / "tests" / "fixtures" / "standin" / "realcb-toy"
DEV_LOGS = REPO_ROOT / "tests" / "fixtures" / "conda_build"
pytestmark = pytest.mark.skipif(
    not (LOGS / "toy_01_first.meta").is_file(), reason=f"no conda-build corpus at {CORPUS}"
)

# The corpus's order: each case's "croot before" is the previous case's "croot after" (toy_13
# builds in another build root, croot_id; its .meta lists show the shared one, unchanged).
SEQUENCE = [
    "toy_01_first",
    "toy_02_second",
    "toy_03_dirty_after_moved",
    "toy_04_no_remove_work_dir",
    "toy_05_dirty_no_remove",
    "toy_06_dirty_only",
    "toy_07_no_test",
    "toy_08_output_folder",
    "toy_09_output_folder_missing",
    "toy_10_test_fails",
    "toy_11_build_fails",
    "toy_12_after_failed_build_no_dirty",
    "toy2_outputs",
    "toy_13_with_build_id",
    "toy_14_passthrough_probe",
]
TEST_ONLY = "toy_15_test_only"
# conda-build --test <package> on the croot a dev_build left (recorded apart from the corpus).
DEV_CASES = ["test_only_on_dev_croot", "test_only_on_dev_croot_dirty"]

# conda-build's markers: (regex on a line of stdout+stderr, the behaviour it pins, whether the
# corpus shows it). Each line matching one of them is compared, in order, after normalisation.
MARKERS = [
    (r"^Adding in variants from ", "variant files, also the package's own at test time", True),
    (r"^WARNING: Number of parsed outputs", "render warning of a recipe without outputs", True),
    (r"^\S+/conda_build/environ\.py:\d+: UserWarning: ", "script_env warnings, with values", True),
    (r"^  warnings\.warn\($", "the warnings' continuation line", True),
    (r"^Attempting to finalize metadata for ", "one per output", True),
    (r"^BUILD START: ", "the packages a build makes", True),
    (r"^Copying ", "a fresh source copy (absent when work/ is reused)", True),
    (r"^Applying patch", "patches (with a fresh source only)", False),
    (r"^source tree in: ", "the work dir, fresh or reused", True),
    (r"^export (PREFIX|SRC_DIR)=", "build and test prefixes and dirs", True),
    (r"^(BUILD_SH|BUILD_ENV|ENVDUMP|TOY2) ", "what build.sh saw: options, env, reuse", True),
    (r"^toy build failing on purpose$", "build.sh's output before it failed", True),
    (r"^Resource usage statistics from (building|testing) ", "phase summaries", True),
    (r"^Packaging ", "packaging, per output", True),
    (r"^WARNING: No files or script found", "an output without files", True),
    (r"^number of files: ", "what build.sh put in $PREFIX got packaged", True),
    (r"^TEST (START|END): ", "the test phase of each package", True),
    (r"^Renaming work directory ", "work/ renamed (test phase, end of the build loop)", True),
    (r"^shutil\.move\(work\)=", "the rename's second line", True),
    (r"^WARNING: Not moving work directory", "--no-remove-work-dir at test time", True),
    (r"^  environment location: ", "the test prefix", True),
    (r"^    \S+: +\S+ file://", "packages installed into the test prefix", True),
    (r"^WARNING: Multiple meta files found", "test of a second output", True),
    (r"^\+ ", "bash's trace of the test commands, `+ exit 0` last", True),
    (r"^Leaving build/test (directories|environments):$", "--dirty leaves everything", True),
    (r"^  (Work|Test|Build):$", "the --dirty block's headings", True),
    (r"^ \S+ $", "the --dirty block's folders", True),
    (r"^source activate ", "the --dirty block's environments", True),
    (r"^--dirty flag and --keep-old-work not specified", "--test cleans up", True),
    (r"^Nothing to test for", "a package without tests", False),
    (r"^All tests passed$", "--test succeeded", True),
    (r"^WARNING: Tests failed for ", "a failed test moves the package to broken/", True),
    (r"^Traceback \(most recent call last\):$", "tracebacks", True),
    (r"^  File \"", "traceback frames", True),
    (r"^subprocess\.CalledProcessError: ", "the failed command", True),
    (r"^(The above exception was|During handling of the above)", "chained tracebacks", True),
    (r"^conda_build\.exceptions\.", "the final error line", True),
    (r"^anaconda upload|^    \S+\.(conda|tar\.bz2)( \\)?$", "the packages made", True),
    (r'^ +"[^"]+": ', "the hash inputs of each package", True),
    (r"^#{84}$", "the closing summary", True),
    (r"^Source and build intermediates have been left in ", "leftover build folders", True),
    (r"^There are currently \d+ accumulated\.$", "their number", True),
]
# The test commands' own output (the toy recipes' echo lines and programs).
TEST_OUTPUT = [
    r"^TEST_ENV ",
    r"^hello from toy$",
    r"^(top-level|meta) test ran for ",
    r"^560$",
    r"^toy test failing on purpose$",
    r"^(test/test_toy|test_nn)\.py::",
    r"^FAILED test/",
    r"^=+ \d+ .* in [\d.]+s =+$",
    r"^knobs in test",
]
_MARKER_RE = re.compile("|".join(f"(?:{m})" for m, _, _ in MARKERS))
_OUTPUT_RE = re.compile("|".join(f"(?:{m})" for m in TEST_OUTPUT))
INDEX_FILES = re.compile(
    r"(^|/)(channeldata\.json|index\.html|[\w]*repodata[\w]*\.json|\.cache)(/|$)"
)


# --------------------------------------------------------------------------- the corpus


def case_file(case: str, ext: str) -> Path:
    return (DEV_LOGS if case in DEV_CASES else LOGS) / f"{case}.{ext}"


def read_meta(case: str) -> dict:
    text = case_file(case, "meta").read_text()
    env_line = re.search(r"^# env: ?(.*)$", text, re.M).group(1).strip()
    env = dict(x.split("=", 1) for x in env_line.split()) if "=" in env_line else {}
    argv = re.search(r"^# argv: (.*)$", text, re.M).group(1).split()[1:]
    rc = int(re.search(r"^## rc=(\d+)", text, re.M).group(1))

    def listing(title: str) -> list[str] | None:
        m = re.search(rf"^## croot {title}:\n(.*?)(?=^## |\Z)", text, re.M | re.S)
        if not m or not m.group(1).startswith("."):
            return None
        return m.group(1).split()

    return {
        "env": env,
        "argv": argv,
        "rc": rc,
        "before": listing("before"),
        "after": listing("after"),
    }


def real_facts() -> dict[str, str]:
    """Paths and values of the corpus machine, read from toy_01's log and argv."""
    log = (LOGS / "toy_01_first.log").read_text()
    dump = dict(re.findall(r"^ENVDUMP (\w+)=(.*)$", log, re.M))
    recipe = Path(read_meta("toy_01_first")["argv"][0])
    caller_path = dump["PATH"].split(":", 4)[4]  # after the prefixes and condabin
    return {
        "base": str(recipe.parent),
        "root": dump["ROOT"],
        "home": dump["HOME"],
        "path": caller_path,
        "py": dump["PY_VER"],
        "cores": dump["CPU_COUNT"],
    }


# --------------------------------------------------------------------------- normalisation


def normaliser(
    base: str,
    root: str,
    home: str,
    caller_path: str,
    case_env: dict,
    cores: str | None,
    py: str | None,
):
    """Replace one machine's paths and values by placeholders (``<BASE>``, ``<ROOT>``, ...)."""
    pairs = sorted([(base, "<BASE>"), (root, "<ROOT>"), (home, "<HOME>")], key=lambda p: -len(p[0]))

    def norm(line: str) -> str:
        line = line.replace(caller_path, "<PATH>")
        line = re.sub(r"\S*/site-packages/conda_build/", "<SITE>/conda_build/", line)
        for old, new in pairs:
            line = line.replace(old, new)
        line = re.sub(r"(_h_env|_test_env)(?:_placehold)+(?:_[a-z]*)?", r"\1<PAD>", line)
        line = re.sub(r"_\d{13}\b", "_<ID>", line)
        line = re.sub(r"[^\s(']*/tmp\w+/info/recipe", "<TMP>/info/recipe", line)
        line = re.sub(r"\(content: [\d.]+\)", "(content: <T>)", line)
        if "CPU_COUNT" not in case_env and cores is not None:
            line = re.sub(r"\bCPU_COUNT=\d+", "CPU_COUNT=<N>", line)
        if "SSL_CERT_FILE" not in case_env:
            line = re.sub(r"^(ENVDUMP (SSL_CERT_FILE|REQUESTS_CA_BUNDLE))=.*", r"\1=<CA>", line)
        if py is not None:  # the interpreter conda-build runs under sets the default python
            line = line.replace(f"python{py}", "python<PY>").replace(f"PY_VER={py}", "PY_VER=<PY>")
            line = line.replace(f"CONDA_PY={py.replace('.', '')}", "CONDA_PY=<PY>")
        if sys.version_info >= (3, 12):  # OrderedDict's repr changed in 3.12
            line = re.sub(r"^ENVDUMP pin_run_as_build=.*", "ENVDUMP pin_run_as_build=<repr>", line)
        # Python prints sets in hash order: compare their elements sorted.
        m = re.match(r"^(ENVDUMP \w+=)\{('[^']*'(?:, '[^']*')*)\}$", line)
        if m:
            line = m.group(1) + "{" + ", ".join(sorted(m.group(2).split(", "))) + "}"
        return line

    return norm


def sequences(text: str, norm) -> tuple[list[str], list[str]]:
    markers, output = [], []
    for line in text.splitlines():
        if _MARKER_RE.search(line):
            markers.append(norm(line))
        elif _OUTPUT_RE.search(line):
            output.append(norm(line))
    return markers, output


def listing(croot: Path, norm) -> list[str]:
    if not croot.exists():
        return []
    paths = ["."]
    for p in croot.rglob("*"):
        rel = p.relative_to(croot)
        if len(rel.parts) <= 2:
            paths.append(f"./{rel}")
    return sorted(norm(p) for p in paths if not INDEX_FILES.search(p))


def diff(real: list[str], ours: list[str]) -> str:
    return "\n".join(
        difflib.unified_diff(real, ours, "real conda-build", "stand-in", lineterm="", n=2)
    )


# --------------------------------------------------------------------------- running


def base_env(tmp: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp / "home"), "LANG": "C.UTF-8"}


def run_standin(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, str(STANDIN), *argv],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout


def rewrite(argv: list[str], real_base: str, tmp: Path) -> list[str]:
    return [a.replace(real_base, str(tmp)) for a in argv]


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """Run every case of SEQUENCE in order on one build root; then the --test case."""
    facts = real_facts()
    tmp = tmp_path_factory.mktemp("real")
    (tmp / "home").mkdir()
    (tmp / "outfolder").mkdir()  # toy_08 writes to an existing one, toy_09 to a missing one
    for name in ("toy", "toy2"):
        shutil.copytree(RECIPES / name, tmp / name)
        for p in (tmp / name).rglob("*"):
            p.chmod(p.stat().st_mode | 0o200)
    results = {}
    for case in SEQUENCE:
        meta = read_meta(case)
        env = {**base_env(tmp), **meta["env"]}
        before = listing(tmp / "croot", lambda x: x)
        rc, out = run_standin(rewrite(meta["argv"], facts["base"], tmp), env, tmp)
        results[case] = {
            "rc": rc,
            "out": out,
            "env": meta["env"],
            "before": before,
            "croot": listing(tmp / "croot", lambda x: x),
            "croot_id": tmp / "croot_id",
        }
    # toy_15: a built package (tests/fixtures/standin/realcb-toy), then only its test phase.
    meta = read_meta(TEST_ONLY)
    t15 = tmp / "t15"
    t15.mkdir()
    rc, out = run_standin(
        [str(REALCB_TOY), "--croot", str(t15 / "croot"), "--no-build-id", "--no-test"],
        base_env(tmp),
        t15,
    )
    assert rc == 0, out
    rc, out = run_standin(rewrite(meta["argv"], facts["base"], tmp), base_env(tmp), t15)
    results[TEST_ONLY] = {
        "rc": rc,
        "out": out,
        "env": meta["env"],
        "before": None,
        "croot": None,
        "croot_id": None,
    }
    return tmp, facts, results


def norms(tmp: Path, facts: dict, case_env: dict):
    real = normaliser(
        facts["base"],
        facts["root"],
        facts["home"],
        facts["path"],
        case_env,
        facts["cores"],
        facts["py"],
    )
    ours = normaliser(
        str(tmp),
        sys.prefix,
        str(tmp / "home"),
        os.environ["PATH"],
        case_env,
        str(os.cpu_count()),
        f"{sys.version_info.major}.{sys.version_info.minor}",
    )
    return real, ours


ALL_CASES = [*SEQUENCE, TEST_ONLY]


@pytest.mark.parametrize("case", ALL_CASES)
def test_exit_status_matches(replay, case):
    _, _, results = replay
    assert results[case]["rc"] == read_meta(case)["rc"], results[case]["out"][-3000:]


@pytest.mark.parametrize("case", ALL_CASES)
def test_markers_match(replay, case):
    tmp, facts, results = replay
    real_norm, our_norm = norms(tmp, facts, results[case]["env"])
    real_markers, real_output = sequences((LOGS / f"{case}.log").read_text(), real_norm)
    our_markers, our_output = sequences(results[case]["out"], our_norm)
    assert len(real_markers) > 20
    assert our_markers == real_markers, diff(real_markers, our_markers)
    assert our_output == real_output, diff(real_output, our_output)


@pytest.mark.parametrize("case", SEQUENCE)
def test_croot_before_and_after_match(replay, case):
    tmp, facts, results = replay
    meta = read_meta(case)
    real_norm, our_norm = norms(tmp, facts, results[case]["env"])
    for title, real, ours in (
        ("before", meta["before"], results[case]["before"]),
        ("after", meta["after"], results[case]["croot"]),
    ):
        real = sorted(real_norm(p) for p in (real or []) if not INDEX_FILES.search(p))
        ours = sorted(our_norm(p) for p in ours)
        if real == ["."]:
            real = []  # "(no croot)" before toy_01
        assert ours == real, f"croot {title}:\n" + diff(real, ours)


def test_build_id_folder_is_removed_after_success(replay):
    """README of the corpus (toy_13): with a build id the whole <name>_<13 digits> folder goes.
    (toy_13's .meta lists show the shared build root, which that run did not touch.)"""
    _, _, results = replay
    croot_id = results["toy_13_with_build_id"]["croot_id"]
    assert sorted(p.name for p in croot_id.iterdir()) == ["linux-64", "noarch"]
    assert [p.name for p in (croot_id / "linux-64").iterdir()] == ["toy-1.0-mkl_hae8db99_0.conda"]


def test_every_marker_is_in_the_corpus_unless_marked():
    """Keeps MARKERS honest: a marker said to be in the corpus matches a line of some real log."""
    text = "\n".join((LOGS / f"{case}.log").read_text() for case in ALL_CASES)
    for pattern, what, in_corpus in MARKERS:
        found = re.search(pattern, text, re.M) is not None
        assert found == in_corpus, (pattern, what)


# --------------------------------------------------------------------------- --test on a dev croot


def listing_all(croot: Path) -> list[str]:
    """Every path under the croot, as the test_only_on_dev_croot ``.meta`` lists are."""
    return sorted(["."] + [f"./{p.relative_to(croot)}" for p in croot.rglob("*")])


def dev_path_shift(meta: dict) -> int:
    """How many characters longer the path was where the recorded dev croot was built.

    conda-build pads a test prefix to 253 characters (config.py test_prefix). The dev build's
    ``_test_env_placehold...`` in "croot before" is shorter than the one the --test run made for
    the same croot (the second top-level one of the --dirty case; the one in the new build-id
    folder, counted from the croot, of the other): the recorded croot was built elsewhere and
    moved. That is also why config.clean() did not take it (it removes the test prefix of the
    croot's own path). The replay builds at a path that much longer and renames it.
    """
    env_re = re.compile(r"\./(?:(\w+_\d{13})/)?(_test_env[_a-z]*)")
    (dev,) = [m.group(2) for p in meta["before"] if (m := env_re.fullmatch(p))]
    new = [m for p in meta["after"] if (m := env_re.fullmatch(p)) and p not in meta["before"]]
    assert len(new) == 1
    from_croot = len(new[0].group(2)) + (len(new[0].group(1)) + 1 if new[0].group(1) else 0)
    assert from_croot > len(dev)
    return from_croot - len(dev)


def dev_override(croot: Path) -> Path:
    """dev_build's ``-m`` override for py311-cpu-mkl (the variant of the recorded package)."""
    path = croot / "variant.yaml"
    path.write_text("# variant: py311-cpu-mkl\npython:\n  - 3.11\nblas_impl:\n  - mkl\n")
    return path


@pytest.fixture(scope="module")
def dev_replay(tmp_path_factory):
    """Per case: build the dev croot with the stand-in as dev_build runs conda-build, then the
    recorded ``--test`` command on it (the fixture's package is a real zstd .conda the stand-in
    cannot read, so the replay tests the stand-in's own package of the same name)."""
    if not (RECIPES / "toydev" / "meta.yaml").is_file():
        pytest.skip(f"no toydev recipe in {RECIPES}")
    facts = real_facts()
    tmp = tmp_path_factory.mktemp("dev")
    (tmp / "home").mkdir()
    shutil.copytree(RECIPES / "toydev", tmp / "toydev")
    for p in (tmp / "toydev").rglob("*"):
        p.chmod(p.stat().st_mode | 0o200)
    results = {}
    for case in DEV_CASES:
        meta = read_meta(case)
        argv = rewrite(meta["argv"], facts["base"], tmp)
        croot = Path(argv[argv.index("--croot") + 1])
        built = croot.with_name(croot.name + "x" * dev_path_shift(meta))
        built.mkdir()
        (built / "dev_build-fingerprint.json").write_text(json.dumps({}))  # dev_build's own file
        rc, out = run_standin(
            [
                str(tmp / "toydev"),
                "--croot",
                str(built),
                "-m",
                str(tmp / "toydev" / "variants.yaml"),
                "-m",
                str(dev_override(built)),
                "--no-build-id",
                "--dirty",
                "--no-remove-work-dir",
                "--override-channels",
                "-c",
                (tmp / "emptychannel").as_uri(),
            ],
            base_env(tmp),
            tmp,
        )
        assert rc == 0, out
        built.rename(croot)
        # The log's "TEST START: c1/linux-64/..." (build.py test() prints the package as given)
        # shows the recorded run got the package relative to the base; its argv was made absolute.
        package = argv.index("--test") + 1
        argv[package] = os.path.relpath(argv[package], tmp)
        before = listing_all(croot)
        rc, out = run_standin(argv, base_env(tmp), tmp)
        results[case] = {
            "rc": rc,
            "out": out,
            "env": meta["env"],
            "before": before,
            "croot": listing_all(croot),
        }
    return tmp, facts, results


@pytest.mark.parametrize("case", DEV_CASES)
def test_dev_croot_exit_status_matches(dev_replay, case):
    _, _, results = dev_replay
    assert results[case]["rc"] == read_meta(case)["rc"], results[case]["out"][-3000:]


@pytest.mark.parametrize("case", DEV_CASES)
def test_dev_croot_markers_match(dev_replay, case):
    tmp, facts, results = dev_replay
    real_norm, our_norm = norms(tmp, facts, results[case]["env"])
    real_markers, real_output = sequences(case_file(case, "log").read_text(), real_norm)
    our_markers, our_output = sequences(results[case]["out"], our_norm)
    assert len(real_markers) > 20
    assert our_markers == real_markers, diff(real_markers, our_markers)
    assert our_output == real_output, diff(real_output, our_output)


@pytest.mark.parametrize("case", DEV_CASES)
def test_dev_croot_before_and_after_match(dev_replay, case):
    """Whole croot lists, channel index files aside; build ids and placeholder lengths normalised
    (duplicates kept: the --dirty case ends with two test envs in the croot)."""
    tmp, facts, results = dev_replay
    meta = read_meta(case)
    real_norm, our_norm = norms(tmp, facts, results[case]["env"])
    for title, real, ours in (
        ("before", meta["before"], results[case]["before"]),
        ("after", meta["after"], results[case]["croot"]),
    ):
        real = sorted(real_norm(p) for p in real if not INDEX_FILES.search(p))
        ours = sorted(our_norm(p) for p in ours if not INDEX_FILES.search(p))
        assert ours == real, f"croot {title}:\n" + diff(real, ours)
