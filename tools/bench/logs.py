"""``nox -s bench -- logs [--size 1G] [--case ...]``: validate_logs' speed and memory.

Generates (once; reused) conda-build logs of the chosen size under build_artifacts/bench/, one
per case:

- ``big``: per package a verbose build phase (CMAKE_VERBOSE_MAKEFILE-style compile lines), then a
  test phase where run_test.py runs test files with ~15k pytest -vv results (a few failures with
  tracebacks, skips, xfails);
- ``phases``: many tiny packages, each a short build phase and a tiny test phase (an import
  check and a pytest run of a few tests), one package per PHASE_EVERY bytes (16k per GiB;
  parsers that redo work per phase end, or keep kilobytes per phase, show here);
- ``short-lines``: one test phase that is the whole log, of short lines a test prints (numbers,
  dots, "ok", ...), with a few pytest results between (parsers that spend Python per line, or
  split a whole block into a list, show here).

For each it times, on the same file, in this run, alternating, best of N:

- ``grep -c -E 'PASSED|FAILED' FILE`` (the reference);
- ``python -m tools.validate_logs FILE`` (a child process: the "in-process" time, the tool
  without nox);
- ``nox -f noxfile.py -s validate_logs -- FILE`` as a user runs it, its output dropped: the
  end-to-end time, nox's own start-up included. The nox is ``sys.executable -m nox`` (``nox -s
  bench`` is python=False, so that is the nox the user ran); inside .nox/_nox_script_mode (where
  a nox without the noxfile's ``# /// script`` packages installs them and re-executes itself),
  the ``nox`` on PATH outside it, so that its install check and re-exec are timed too, with that
  environment byte-compiled first as tools/ is; run outside nox, the ``nox`` on PATH; if none,
  that timing is skipped with a note (see nox_command).

It prints both ratios to grep, what nox adds in seconds, and validate_logs' peak RSS (from wait4's
rusage of that child). It also checks that the counts validate_logs found equal the generated
ones, and that nox's exit status equals the in-process one (1 when the verdict is fail). Exit 0
when those match and, for a log of TARGET_SIZE (1 GiB) or more, every case meets the in-process
targets (<= 2x grep, < 100 MB) and the ``big`` case meets the end-to-end one (<= 1.1x grep
through nox); else 1.
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools.cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE, ArgumentParser, ToolError, run_main
from tools.paths import ARTIFACTS_DIR, REPO_ROOT

BENCH_DIR = ARTIFACTS_DIR / "bench"
TARGET_RATIO = 2.0
TARGET_RSS_MB = 100.0
TARGET_SIZE = 1 << 30
TARGET_NOX_RATIO = 1.1  # end to end, through nox; for the big case
NOX_TARGET_CASES = ("big",)
GENERATOR_VERSION = 2  # bump when the generated content changes: old files are regenerated
CASES = ("big", "phases", "short-lines")
PHASE_EVERY = 64 << 10  # bytes per package in the ``phases`` case

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    t = text.strip().upper().removesuffix("B")
    unit = t[-1:] if t[-1:] in _UNITS else ""
    try:
        value = float(t[: len(t) - len(unit)]) * _UNITS[unit]
    except ValueError:
        raise ToolError(f"--size {text!r}: expected e.g. 200M, 1G or 5000000", EXIT_USAGE) from None
    if value < 1 << 20:
        raise ToolError(f"--size {text!r}: at least 1M", EXIT_USAGE)
    return int(value)


@dataclass
class PackageTruth:
    package: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    xfailed: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class Truth:
    size: int
    version: int = GENERATOR_VERSION
    packages: list[PackageTruth] = field(default_factory=list)
    case: str = "big"


_SOURCES = [
    "aten/src/ATen/native/cpu/{}.cpp",
    "torch/csrc/autograd/{}.cpp",
    "aten/src/ATen/native/{}.cpp",
    "caffe2/serialize/{}.cc",
    "torch/csrc/jit/passes/{}.cpp",
]
_WORDS = [
    "Activation",
    "BinaryOps",
    "Blas",
    "Convolution",
    "Distance",
    "Embedding",
    "Loss",
    "Normalization",
    "Pooling",
    "Reduce",
    "Sorting",
    "TensorCompare",
    "UnaryOps",
    "Unfold",
    "Indexing",
    "Copy",
    "Fill",
    "Lerp",
    "Scan",
    "Histogram",
    "graph_fuser",
    "variable",
]


def _build_lines(rng: random.Random, n: int) -> list[bytes]:
    prefix = "$PREFIX"
    lines = []
    for i in range(n):
        src = rng.choice(_SOURCES).format(rng.choice(_WORDS) + str(rng.randint(0, 99)))
        obj = src.replace("/", "_")
        if i % 40 == 7:
            lines.append(
                f"$SRC_DIR/{src}:{rng.randint(10, 2000)}:{rng.randint(1, 80)}: warning: "
                f"unused variable 'tmp{i}' [-Wunused-variable]\n".encode()
            )
            continue
        lines.append(
            f"[{i}/{n}] $BUILD_PREFIX/bin/x86_64-conda-linux-gnu-c++ -DAT_PER_OPERATOR_HEADERS "
            f"-DCPUINFO_SUPPORTED_PLATFORM=1 -DFMT_HEADER_ONLY=1 -DUSE_DISTRIBUTED "
            f"-DUSE_C10D_GLOO -I$SRC_DIR/build/aten/src -I$SRC_DIR/aten/src -I$SRC_DIR/build "
            f"-isystem {prefix}/include -isystem $SRC_DIR/third_party/protobuf/src "
            f"-fvisibility-inlines-hidden -fmessage-length=0 "
            f"-march=nocona -mtune=haswell -ftree-vectorize -fPIC -fstack-protector-strong -O3 "
            f"-DNDEBUG -std=gnu++17 -MD -MT caffe2/CMakeFiles/torch_cpu.dir/{obj}.o "
            f"-MF caffe2/CMakeFiles/torch_cpu.dir/{obj}.o.d "
            f"-o caffe2/CMakeFiles/torch_cpu.dir/{obj}.o "
            f"-c $SRC_DIR/{src}\n".encode()
        )
    return lines


def _test_phase(rng: random.Random, pkg_file: str, truth: PackageTruth, tests: int) -> bytes:
    out: list[str] = [
        f"TEST START: {pkg_file}\n",
        "import: 'torch'\n",
        "import: 'torch.nn'\n",
        "+ python ./test/run_test.py --core --continue-through-error\n",
        "Running all tests\n",
        "Running parallel tests on 2 processes\n",
    ]
    files = [f"test_{w.lower()}" for w in _WORDS[:12]]
    per_file = tests // len(files)
    any_failed = False
    for fi, name in enumerate(files):
        n = per_file + (tests - per_file * len(files) if fi == len(files) - 1 else 0)
        out.append(f"Running {name} 1/1 ... [2025-08-01 17:{fi:02d}:33.052528]\n")
        out.append(
            f"Executing ['$PREFIX/bin/python', '-bb', '{name}.py', '--shard-id=1', "
            "'--num-shards=1', '-vv', '-rfEX', '-p', 'no:xdist', '--use-pytest', "
            "'--reruns=2'] ... [2025-08-01 17:09:33.052528]\n"
        )
        out.append("=" * 29 + " test session starts " + "=" * 30 + "\n")
        out.append(
            "platform linux -- Python 3.11.9, pytest-8.3.4, pluggy-1.5.0 -- $PREFIX/bin/python\n"
        )
        out.append(f"collecting ... collected {n} items\n\n")
        c = {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0}
        failed_here: list[str] = []
        for t in range(n):
            test = f"{name}.py::Test{name[5:].title()}CPU::test_op_{t}_cpu_float32"
            r = rng.random()
            pct = (t + 1) * 100 // n
            if r < 0.0004:
                out.append(f"{test} FAILED [{rng.random():.4f}s] [{pct:3d}%]\n")
                c["failed"] += 1
                failed_here.append(test)
            elif r < 0.15:
                out.append(f"{test} SKIPPED [0.0001s] (test requires CUDA) [{pct:3d}%]\n")
                c["skipped"] += 1
            elif r < 0.16:
                out.append(f"{test} XFAIL [{rng.random():.4f}s] [{pct:3d}%]\n")
                c["xfailed"] += 1
            else:
                out.append(f"{test} PASSED [{rng.random():.4f}s] [{pct:3d}%]\n")
                c["passed"] += 1
        if failed_here:
            out.append("\n" + "=" * 35 + " FAILURES " + "=" * 35 + "\n")
            for test in failed_here:
                out.append(
                    f"_____ {test.split('::', 1)[1].replace('::', '.')} _____\n"
                    "Traceback (most recent call last):\n"
                    f'  File "$PREFIX/lib/python3.11/site-packages/torch/testing/_internal/'
                    f'common_utils.py", line 2918, in wrapper\n    method(*args, **kwargs)\n'
                    "AssertionError: Tensor-likes are not close!\n\n"
                    "To execute this test, run the following from the base repo dir:\n"
                    f"    python test/{name}.py -k {test.rsplit('::', 1)[1]}\n\n"
                )
            out.append("=" * 27 + " short test summary info " + "=" * 28 + "\n")
            for test in failed_here:
                out.append(
                    f"FAILED [0.0123s] {test} - AssertionError: Tensor-likes are not close!\n"
                )
        words = [f"{c['failed']} failed"] if c["failed"] else []
        words.append(f"{c['passed']} passed")
        if c["skipped"]:
            words.append(f"{c['skipped']} skipped")
        if c["xfailed"]:
            words.append(f"{c['xfailed']} xfailed")
        out.append(f"{'=' * 10} {', '.join(words)} in {rng.uniform(5, 900):.2f}s {'=' * 10}\n")
        if failed_here:
            any_failed = True
            out.append("Got exit code 1\n")
            out.append(
                f"The following tests failed consistently: {['test/' + f for f in failed_here]!r}\n"
            )
            out.append(f"{name} 1/1 failed!\n")
        truth.passed += c["passed"]
        truth.failed += c["failed"]
        truth.skipped += c["skipped"]
        truth.xfailed += c["xfailed"]
        truth.failures += failed_here
    if any_failed:
        out.append("+ true\n")
    out += [
        "+ pip check\n",
        "No broken requirements found.\n",
        f"\nResource usage statistics from testing {truth.package}:\n",
        "   Process count: 5\n   CPU time: Sys=0:00:10.1, User=0:20:00.0\n",
        f"TEST END: {pkg_file}\n",
    ]
    return "".join(out).encode()


def generate_log(
    path: Path, size: int, packages: int = 4, tests_per_phase: int = 15000, seed: int = 0
) -> Truth:
    """Write a realistic conda-build log of about ``size`` bytes; return what it contains."""
    rng = random.Random(seed)
    truth = Truth(size=size)
    pyvers = ["310", "311", "312", "313", "39", "314"]
    phases = []
    for i in range(packages):
        name = f"pytorch-2.5.1-cpu_mkl_py{pyvers[i % len(pyvers)]}h{1000 + i}_0"
        pt = PackageTruth(package=name)
        phases.append(
            (name, pt, _test_phase(rng, f"/croot/linux-64/{name}.conda", pt, tests_per_phase))
        )
        truth.packages.append(pt)
    build_budget = max(0, size - sum(len(p[2]) for p in phases)) // packages
    lines = _build_lines(rng, 4000)
    block = b"".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        for name, _pt, test_bytes in phases:
            f.write(
                f"BUILD START: ['{name}.conda']\nexport PREFIX=/croot/_h_env_placehold"
                f"{'_placehold' * 20}\nexport SRC_DIR=/croot/work\n".encode()
            )
            written = 0
            while written + len(block) <= build_budget:
                f.write(block)
                written += len(block)
            for line in lines:
                if written + len(line) > build_budget:
                    break
                f.write(line)
                written += len(line)
            f.write(f"Packaging {name.split('-')[0]}\nPackaging {name}\n".encode())
            f.write(test_bytes)
        f.write(
            b"# Automatic uploading is disabled\n" + b"#" * 84 + b"\nResource usage summary:\n"
            b"\nTotal time: 2:31:07.4\n"
        )
    tmp.replace(path)
    return truth


def _tiny_phase(pkg_file: str, truth: PackageTruth, k: int) -> bytes:
    name = f"test_{_WORDS[k % len(_WORDS)].lower()}"
    out = [
        f"TEST START: {pkg_file}\n",
        "import: 'torch'\n",
        "import: 'torch.nn'\n",
        f"+ python -m pytest -v test/{name}.py\n",
        "=" * 29 + " test session starts " + "=" * 30 + "\n",
        "collected 3 items\n\n",
        f"test/{name}.py::TestImport::test_import PASSED [0.0100s] [ 33%]\n",
        f"test/{name}.py::TestImport::test_cuda SKIPPED [0.0001s] (no CUDA) [ 66%]\n",
        f"test/{name}.py::TestImport::test_version PASSED [0.0100s] [100%]\n",
        f"{'=' * 10} 2 passed, 1 skipped in 0.50s {'=' * 10}\n",
        f"TEST END: {pkg_file}\n",
    ]
    truth.passed += 2
    truth.skipped += 1
    return "".join(out).encode()


def generate_phases_log(path: Path, size: int, every: int = PHASE_EVERY, seed: int = 0) -> Truth:
    """Many tiny packages: a short build phase and a tiny test phase every ``every`` bytes."""
    rng = random.Random(seed)
    truth = Truth(size=size, case="phases")
    lines = _build_lines(rng, 2000)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    written = 0
    with open(tmp, "wb") as f:
        k = 0
        while written + every <= size or k == 0:
            name = f"pytorch-tiny{k}-2.5.1-py311h{1000 + k}_0"
            pt = PackageTruth(package=name)
            test = _tiny_phase(f"/croot/linux-64/{name}.conda", pt, k)
            head = f"BUILD START: ['{name}.conda']\n".encode()
            budget, start = every - len(test) - len(head), rng.randrange(len(lines))
            build = bytearray()
            while len(build) < budget:
                build += lines[start % len(lines)]
                start += 1
            f.write(head + bytes(build[: max(0, budget)]).rpartition(b"\n")[0] + b"\n" + test)
            written += every
            truth.packages.append(pt)
            k += 1
    tmp.replace(path)
    return truth


_SHORT = [
    b".",
    b"ok",
    b"1",
    b"0.25",
    b"step 3",
    b"x = 1",
    b"tensor(0.5000)",
    b"done",
    b"..",
    b"loss: 0.125",
    b"[1, 2, 3]",
    b"True",
    b"-",
    b"42",
    b"warming up",
    b"0",
]


def generate_short_lines_log(path: Path, size: int, seed: int = 0) -> Truth:
    """One test phase that is the whole log: short printed lines, a pytest result every ~2 KB."""
    rng = random.Random(seed)
    name = "pytorch-2.5.1-cpu_mkl_py311h1000_0"
    truth = Truth(size=size, case="short-lines")
    pt = PackageTruth(package=name)
    truth.packages.append(pt)
    block = bytearray()
    results = 0
    while len(block) < 1 << 16:
        for _ in range(300):
            block += rng.choice(_SHORT) + b"\n"
        block += f"test_prints.py::TestPrints::test_{results} PASSED [0.01s] [ 50%]\n".encode()
        results += 1
    head = (
        f"BUILD START: ['{name}.conda']\nPackaging {name}\nTEST START: /croot/linux-64/"
        f"{name}.conda\n+ python -m pytest -v -s test/test_prints.py\n"
        + "=" * 29
        + " test session starts "
        + "=" * 30
        + "\n"
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(head)
        written, blocks = len(head), 0
        while written + len(block) <= size or blocks == 0:
            f.write(block)
            written += len(block)
            blocks += 1
        pt.passed = blocks * results
        f.write(
            f"{'=' * 10} {pt.passed} passed in 12.50s {'=' * 10}\n"
            f"TEST END: /croot/linux-64/{name}.conda\n".encode()
        )
    tmp.replace(path)
    return truth


GENERATORS: dict[str, Callable[[Path, int], Truth]] = {
    "big": generate_log,
    "phases": generate_phases_log,
    "short-lines": generate_short_lines_log,
}


def _load_or_generate(
    directory: Path, size: int, label: str, case: str = "big"
) -> tuple[Path, Truth]:
    log = directory / (f"bench-{label}.log" if case == "big" else f"bench-{case}-{label}.log")
    meta = log.with_suffix(".truth.json")
    if log.exists() and meta.exists():
        try:
            data = json.loads(meta.read_text())
            if (
                data.get("version") == GENERATOR_VERSION
                and data.get("size") == size
                and data.get("case", "big") == case
            ):
                truth = Truth(
                    size=size, case=case, packages=[PackageTruth(**p) for p in data["packages"]]
                )
                print(f"reusing {log}")
                return log, truth
        except (ValueError, KeyError, TypeError):
            pass
    print(f"generating {log} ({size / (1 << 30):.2f} GiB) ...", flush=True)
    t0 = time.perf_counter()
    truth = GENERATORS[case](log, size)
    meta.write_text(json.dumps(asdict(truth)))
    print(f"generated in {time.perf_counter() - t0:.1f} s")
    return log, truth


def counts_match(data: dict, truth: Truth) -> bool:
    """The report's packages against the generated ones: each package's counts and failing ids;
    past the parser's MAX_PHASES the merged entry must hold the sum of the rest."""
    from tools.validate_logs.parser import MAX_PHASES

    found = [pkg for lg in data["logs"] for pkg in lg["packages"]]
    want = truth.packages
    if len(want) > MAX_PHASES:
        rest = want[MAX_PHASES:]
        merged = PackageTruth(
            package=f"{len(rest)} more test phases (merged)",
            passed=sum(t.passed for t in rest),
            failed=sum(t.failed for t in rest),
            skipped=sum(t.skipped for t in rest),
            xfailed=sum(t.xfailed for t in rest),
            failures=[f for t in rest for f in t.failures],
        )
        want = want[:MAX_PHASES] + [merged]
    return len(found) == len(want) and all(
        pkg["counts"]["passed"] == t.passed
        and pkg["counts"]["failed"] == t.failed
        and pkg["counts"]["skipped"] == t.skipped
        and pkg["counts"]["xfailed"] == t.xfailed
        and {f["test"] for f in pkg["failures"]} == {f.removeprefix("test/") for f in t.failures}
        for pkg, t in zip(found, want, strict=True)
    )


def _timed(
    argv: list[str],
    stdout=subprocess.DEVNULL,
    must_write: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[float, int, float]:
    """Run argv; return (wall seconds, exit status, peak RSS in MB of that child).

    Its stderr goes to an unlinked temporary file, read only for the error message: a pipe
    that nobody reads while waiting would block a child that writes more than the pipe holds.
    An exit status other than 0 or 1 (1: the verdict is fail) is a bench error, and so is
    ``must_write`` missing afterwards (a Python traceback also exits 1)."""
    if must_write is not None:
        must_write.unlink(missing_ok=True)
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=stdout, stderr=err, cwd=REPO_ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        what = ""
        if proc.returncode not in (0, 1):
            what = f"exited {proc.returncode}"
        elif must_write is not None and not must_write.exists():
            what = f"exited {proc.returncode} and wrote no {must_write.name}"
        if what:
            err.seek(0)
            text = err.read().decode(errors="replace").strip()
            raise ToolError(f"{' '.join(argv[:3])} ... {what}: {text[-300:]}", EXIT_FAIL)
    rss_kb = usage.ru_maxrss  # kilobytes on Linux
    return wall, proc.returncode, rss_kb / 1024


SCRIPT_ENV = "_nox_script_mode"  # where nox installs the noxfile's ``# /// script`` block


@dataclass
class NoxCommand:
    """How a user's ``nox`` is started from here: argv prefix, environment (None: this one)."""

    argv: list[str]
    env: dict[str, str] | None
    note: str
    script_env: bool = False  # the bench runs in nox's script environment (see nox_command)


def nox_command(environ: Mapping[str, str] | None = None) -> tuple[NoxCommand | None, str]:
    """The nox a user runs, as run from this process; (None, why) when there is none.

    ``nox -s bench`` is python=False: it runs in nox's own interpreter, so ``sys.executable -m
    nox`` is the nox the user ran, when that nox has the noxfile's script block installed. When
    it had not, nox installed the block into .nox/_nox_script_mode and re-executed itself there
    with NOX_SCRIPT_MODE=none: the bench then runs in that environment, and a user's ``nox`` does
    more each call (its own start-up, the install check, the re-exec), so the ``nox`` on PATH
    outside it is run, with that environment's marks removed. Run otherwise (``python -m
    tools.bench.logs``), that Python may lack nox: then the ``nox`` on PATH; else (None, why)."""
    environ = os.environ if environ is None else environ
    here = sys.executable or "this Python"
    prefix = Path(sys.prefix)
    if environ.get("NOX_SCRIPT_MODE") == "none" and prefix.name == SCRIPT_ENV:
        inner_bin = Path(sysconfig.get_path("scripts")).resolve()
        outer = [
            d for d in environ.get("PATH", "").split(os.pathsep) if d and _resolve(d) != inner_bin
        ]
        path = os.pathsep.join(outer)
        user_nox = shutil.which("nox", path=path)
        if user_nox:
            env = {k: v for k, v in environ.items() if k not in ("NOX_SCRIPT_MODE", "VIRTUAL_ENV")}
            env["PATH"] = path
            note = f"{user_nox} (the nox on PATH; it re-executes in {prefix} each call)"
            return NoxCommand([user_nox], env, note, script_env=True), note
        note = (
            f"{here} -m nox (in {prefix}; no nox on PATH outside it, so the install check and "
            "re-exec a user's nox does each call are not timed)"
        )
        return NoxCommand([sys.executable, "-m", "nox"], None, note, script_env=True), note
    if sys.executable and importlib.util.find_spec("nox") is not None:
        note = f"{sys.executable} -m nox"
        return NoxCommand([sys.executable, "-m", "nox"], None, note), note
    on_path = shutil.which("nox", path=environ.get("PATH"))
    if on_path:
        note = f"{on_path} ({here} has no nox)"
        return NoxCommand([on_path], None, note), note
    return None, f"nox is neither importable by {here} nor on PATH: not timed through nox"


def _resolve(directory: str) -> Path:
    try:
        return Path(directory).resolve()
    except OSError:
        return Path(directory)


def judge(
    case: str,
    size: int,
    ratio: float,
    peak: float,
    nox_ratio: float | None,
    checks_ok: bool,
) -> bool:
    """Whether a case passes: its checks always; at TARGET_SIZE or more, the in-process targets
    (every case) and the through-nox one (NOX_TARGET_CASES; skipped when nox was not found)."""
    if not checks_ok:
        return False
    if size < TARGET_SIZE:  # below 1 GiB, interpreter start-up dominates the ratios
        return True
    in_process = ratio <= TARGET_RATIO and peak < TARGET_RSS_MB
    through_nox = case not in NOX_TARGET_CASES or nox_ratio is None or nox_ratio <= TARGET_NOX_RATIO
    return in_process and through_nox


@dataclass
class CaseResult:
    ratio: float
    nox_ratio: float | None
    peak: float
    ok: bool


def main(argv: Sequence[str]) -> int:
    p = ArgumentParser(
        prog="nox -s bench -- logs",
        description="validate_logs vs grep on generated conda-build logs, "
        "in-process and through nox.",
    )
    p.add_argument("--size", default="1G", help="log size, e.g. 200M, 1G (default 1G)")
    p.add_argument(
        "--case",
        choices=(*CASES, "all"),
        default="all",
        help="which log shape (default: all of them)",
    )
    p.add_argument("--repeat", type=int, default=3, help="timed runs of each (best counts)")
    p.add_argument("--dir", type=Path, default=BENCH_DIR, help="where the log is generated")
    args = p.parse_args(list(argv))
    if args.repeat < 1:
        raise ToolError("--repeat must be at least 1", EXIT_USAGE)
    size = parse_size(args.size)
    grep = shutil.which("grep")
    if grep is None:
        raise ToolError("grep is not on PATH; the benchmark's reference needs it", EXIT_USAGE)
    nox, nox_note = nox_command()
    print(f"through nox: {nox_note}")
    # Byte-compile tools/ as an installed package is: with PYTHONDONTWRITEBYTECODE set (as in
    # some CI images) every run would otherwise recompile the sources first.
    compileall.compile_dir(REPO_ROOT / "tools", quiet=1)
    if nox is not None and nox.script_env:
        # The same for nox's script environment: uv installs it without bytecode, and nox's
        # first run there writes it, unless PYTHONDONTWRITEBYTECODE is set (then each call
        # recompiles nox, rich, jinja2, ...: about 0.4 s a call on a 2-core VM).
        compileall.compile_dir(sysconfig.get_paths()["purelib"], quiet=1)
    cases = CASES if args.case == "all" else (args.case,)
    results = [_bench_case(case, size, args, grep, nox) for case in cases]
    if len(results) > 1:
        print("\nsummary:")
        for case, r in zip(cases, results, strict=True):
            through = "no nox" if r.nox_ratio is None else f"{r.nox_ratio:6.2f}x through nox"
            print(
                f"  {case:12s} {r.ratio:6.2f}x grep in-process, {through}, "
                f"peak RSS {r.peak:6.1f} MB, {'ok' if r.ok else 'NOT OK'}"
            )
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAIL


def _bench_case(case: str, size: int, args, grep: str, nox: NoxCommand | None) -> CaseResult:
    """Time one case: grep, validate_logs in-process and through nox, alternating."""
    print(f"\n== case {case} ==")
    log, truth = _load_or_generate(args.dir, size, args.size.upper(), case)
    report = log.with_suffix(".report.json")
    grep_argv = [grep, "-c", "-E", "PASSED|FAILED", str(log)]
    val_argv = [
        sys.executable,
        "-m",
        "tools.validate_logs",
        str(log),
        "--format",
        "json",
        "--output",
        str(report),
    ]
    nox_argv = (
        None
        if nox is None
        else [*nox.argv, "-f", str(REPO_ROOT / "noxfile.py"), "-s", "validate_logs", "--", str(log)]
    )
    # grep's output goes to a file: GNU grep stops at the first match when its stdout is
    # /dev/null (it then only needs the exit status), which would time a fraction of the file.
    grep_out = log.with_suffix(".grep.txt")
    grep_times: list[float] = []
    val_times: list[float] = []
    nox_times: list[float] = []
    rss: list[float] = []
    val_code = nox_code = 0
    with open(grep_out, "wb") as out:
        _timed(grep_argv, stdout=out)  # warm the page cache: both read a cached file
        for _ in range(args.repeat):
            out.seek(0)
            grep_times.append(_timed(grep_argv, stdout=out)[0])
            wall, val_code, mb = _timed(val_argv, must_write=report)
            val_times.append(wall)
            rss.append(mb)
            if nox_argv is not None:
                # Its terminal report (stdout) and nox's own lines (stderr) are dropped.
                wall, nox_code, _ = _timed(nox_argv, env=nox.env if nox else None)
                nox_times.append(wall)
    g, v = min(grep_times), min(val_times)
    ratio = v / g if g > 0 else float("inf")
    n = min(nox_times) if nox_times else None
    nox_ratio = None if n is None else (n / g if g > 0 else float("inf"))
    peak = max(rss)

    data = json.loads(report.read_text())
    counts_ok = counts_match(data, truth)
    tests = sum(t.passed + t.failed + t.skipped + t.xfailed for t in truth.packages)
    print(
        f"log: {log} ({log.stat().st_size / (1 << 30):.2f} GiB, {len(truth.packages)} test "
        f"phases, {tests} test results)"
    )
    print(f"grep -c -E 'PASSED|FAILED': {g:.3f} s (best of {args.repeat})")
    print(
        f"validate_logs:              {v:.3f} s (best of {args.repeat}), verdict "
        f"{data['verdict']}, peak RSS {peak:.1f} MB"
    )
    if n is not None:
        print(
            f"nox -s validate_logs:       {n:.3f} s (best of {args.repeat}), {n - v:+.3f} s "
            "over validate_logs (nox's start-up; the terminal report, not JSON)"
        )
    judged = size >= TARGET_SIZE  # below 1 GiB, interpreter start-up dominates the ratios
    note = "" if judged else f" (targets are for >= 1 GiB; not judged at {args.size})"

    def met(good: bool) -> str:
        return "met" if good else "MISSED"

    if nox_ratio is None:
        through = "not timed through nox (no nox found)"
    elif case in NOX_TARGET_CASES:
        through = (
            f"{nox_ratio:.2f}x grep through nox (target <= {TARGET_NOX_RATIO:g}x): "
            f"{met(nox_ratio <= TARGET_NOX_RATIO)}"
        )
    else:
        through = f"{nox_ratio:.2f}x grep through nox (no target)"
    print(
        f"ratio: {ratio:.2f}x grep in-process (target <= {TARGET_RATIO:g}x): "
        f"{met(ratio <= TARGET_RATIO)}, {through}{note}"
    )
    rss_met = met(peak < TARGET_RSS_MB)
    print(f"peak RSS: {peak:.1f} MB (target < {TARGET_RSS_MB:g} MB): {rss_met}{note}")
    print(f"counts found == counts generated: {'yes' if counts_ok else 'NO'}")
    codes_ok = nox_argv is None or nox_code == val_code
    if nox_argv is not None:
        print(
            f"exit status through nox == in-process ({val_code}): "
            f"{'yes' if codes_ok else f'NO ({nox_code})'}"
        )
    ok = judge(case, size, ratio, peak, nox_ratio, counts_ok and codes_ok)
    return CaseResult(ratio=ratio, nox_ratio=nox_ratio, peak=peak, ok=ok)


if __name__ == "__main__":
    sys.exit(run_main("python -m tools.bench.logs", main, sys.argv[1:]))
