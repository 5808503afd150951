"""What every variant's rendered recipe must contain, one check per section of the recipe
(``SECTION_CHECKS``), each taking plain data and returning problems; ``check_rendered`` runs them.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.cli import ToolError
from tools.paths import RECIPE_DIR
from tools.recipe.knobs import (
    DEV_MARK,
    KNOBS,
    PKG_HASH_PLACEHOLDER,
    RELEASE_TEST_LEVEL,
    SELECTION_RUNNER,
    TEST_LEVELS,
    dev_knobs,
)
from tools.recipe.rendering import (
    Output,
    Rendered,
    _names,
    _pin,
    package_files,
    render,
    script_build_number,
    torch_version,
)
from tools.recipe.variants import Variant, python_version


def _spec_has_upper_bound(spec: str, name: str) -> bool:
    parts = spec.split()
    return len(parts) >= 2 and parts[0] == name and "<" in parts[1]


# The section checks: one per part of the recipe, each reading plain data (``Sections``: the
# rendered dicts; ``Expected``: what the variant asks for) and returning its problems in the order
# it finds them. ``check_rendered`` runs them in ``SECTION_CHECKS`` order.


@dataclass(frozen=True)
class Expected:
    """What one variant's rendered recipe must say: the variant's values, the recipe's version,
    and the names and build strings that follow from them."""

    platform: str
    version: str
    gpu: str = "cpu"  # gpu_variant
    cuda: str | None = None  # the CUDA version, None for a CPU or Metal variant
    blas: str = ""  # blas_impl
    python: str = ""  # as the build string writes it: "311"
    knobs: tuple[str, ...] = ()  # the development knobs the render had set
    c_compiler: str | None = None
    cxx_compiler: str | None = None
    c_stdlib: str | None = None
    recipe_dir: Path = RECIPE_DIR  # where build.sh and bld.bat are read

    @classmethod
    def of(cls, r: Rendered) -> Expected:
        v = r.variant.values
        return cls(
            platform=r.platform,
            version=str((r.data.get("package") or {}).get("version", "")),
            gpu=v.get("gpu_variant", "cpu"),
            cuda=r.variant.cuda_version,
            blas=v.get("blas_impl", ""),
            python=python_version(v.get("python", "")).replace(".", ""),
            knobs=tuple(dev_knobs(r.environ)),
            c_compiler=v.get("c_compiler"),
            cxx_compiler=v.get("cxx_compiler"),
            c_stdlib=v.get("c_stdlib"),
            recipe_dir=r.recipe_dir,
        )

    @property
    def os_name(self) -> str:
        return self.platform.split("-")[0]

    @property
    def flavour(self) -> str:
        """The build string's first part: ``cuda129``, ``cpu``, ``metal``."""
        return f"cuda{self.cuda.replace('.', '')}" if self.cuda else self.gpu

    @property
    def meta_name(self) -> str:
        return "pytorch-cpu" if self.gpu == "cpu" else "pytorch-gpu"

    @property
    def mark(self) -> str:
        return DEV_MARK if self.knobs else ""

    def build_string(self, number: int) -> str:
        """The build string of both packages at build number ``number``."""
        stem = f"{self.flavour}_{self.blas}_py{self.python}"
        return f"{stem}_h{PKG_HASH_PLACEHOLDER}_{number}{self.mark}"


@dataclass(frozen=True)
class Sections:
    """The parts of one rendered recipe the section checks read."""

    source: dict = field(default_factory=dict)
    build: dict = field(default_factory=dict)  # the top-level build section
    outputs: tuple[Output, ...] = ()

    @classmethod
    def of(cls, r: Rendered) -> Sections:
        return cls(
            source=r.data.get("source") or {},
            build=r.data.get("build") or {},
            outputs=tuple(r.outputs),
        )

    def package(self, name: str) -> Output:
        for out in self.outputs:
            if out.name == name:
                return out
        raise KeyError(name)


def _build_number(torch: Output) -> int:
    return int(torch.build.get("number", -1))


def check_source(recipe: Sections, want: Expected) -> list[str]:
    """source: the release tarball of the recipe's version (it carries the submodules) and a
    sha256 that looks like one."""
    problems: list[str] = []
    url, sha = str(recipe.source.get("url", "")), str(recipe.source.get("sha256", ""))
    if not url.endswith(f"/v{want.version}/pytorch-v{want.version}.tar.gz"):
        problems.append(f"source url is not the release tarball with submodules: {url}")
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        problems.append(f"source sha256 is not 64 hex digits: {sha!r}")
    return problems


def check_outputs(recipe: Sections, want: Expected) -> list[str]:
    """outputs: pytorch, then the variant's metapackage. The checks after this one read these two
    packages; ``check_rendered`` stops here when they are not there."""
    names = [o.name for o in recipe.outputs]
    if names != ["pytorch", want.meta_name]:
        return [f"outputs are {names}, expected ['pytorch', '{want.meta_name}']"]
    return []


def check_script_env(recipe: Sections, want: Expected) -> list[str]:
    """build/script_env: exactly the development knobs reach the build script."""
    script_env = [str(x) for x in recipe.build.get("script_env") or []]
    if sorted(script_env) != sorted(KNOBS):
        return [f"build/script_env is {script_env}, expected exactly {list(KNOBS)}"]
    return []


def check_pytorch_build(recipe: Sections, want: Expected) -> list[str]:
    """pytorch's build section. Build number: +200 for GPU builds, +100 for MKL ones (the solver's
    preferences), on a base below 100; the build string ends with the dev mark exactly when a
    knob is set; run_exports pin the minor version."""
    problems: list[str] = []
    torch = recipe.package("pytorch")
    number = _build_number(torch)
    offset = (200 if want.gpu != "cpu" else 0) + (100 if want.blas == "mkl" else 0)
    if not 0 <= number - offset < 100:
        problems.append(f"build number {number}: expected a base below 100 plus {offset} "
                        "(GPU +200, MKL +100)")  # fmt: skip
    expected_build = want.build_string(number)
    if torch.build_string != expected_build:
        why = f" (knobs set: {', '.join(want.knobs)})" if want.knobs else ""
        problems.append(f"pytorch build string {torch.build_string!r}, expected "
                        f"{expected_build!r}{why}")  # fmt: skip
    run_exports = [str(x) for x in torch.build.get("run_exports") or []]
    wanted_export = f"pytorch {_pin(want.version, 'x.x.x.x.x.x', 'x.x')}"
    if wanted_export not in run_exports:
        problems.append(f"pytorch run_exports {run_exports} lack {wanted_export!r}")
    return problems


def check_build_script(recipe: Sections, want: Expected) -> list[str]:
    """build.sh / bld.bat: the PYTORCH_BUILD_NUMBER they set keeps the torch version the test
    commands assert."""
    number = _build_number(recipe.package("pytorch"))
    buildnum, where = script_build_number(want.recipe_dir, want.platform, number)
    if buildnum is None:
        return [f"{where}: PYTORCH_BUILD_NUMBER must be a literal 0 (or 1): the torch "
                "version the tests assert depends on it"]  # fmt: skip
    if torch_version(want.version, buildnum) != want.version:
        return [
            f"{where} sets PYTORCH_BUILD_NUMBER to {buildnum}: PyTorch would report "
            f"{torch_version(want.version, buildnum)} (tools/generate_torch_version.py appends "
            f".post<N> for N > 1) and the test's version assert ({want.version}) fails; set it "
            "to 0"
        ]
    return []


def check_build_requirements(recipe: Sections, want: Expected) -> list[str]:
    """pytorch's build requirements: the compilers, stdlib('c'), nvcc exactly for CUDA, and what
    the build runs (in build or host)."""
    problems: list[str] = []
    torch = recipe.package("pytorch")
    build, host = torch.reqs("build"), torch.reqs("host")
    for lang, compiler in (("c", want.c_compiler), ("cxx", want.cxx_compiler)):
        package = f"{compiler}_{want.platform}"
        if not any(b.split()[0] == package for b in build):
            problems.append(f"build requirements lack the {lang} compiler {package}")
    if not any(b.startswith(f"{want.c_stdlib}_{want.platform}") for b in build):
        problems.append("build requirements lack stdlib('c')")
    nvcc = [b for b in build if b.startswith("cuda-nvcc_")]
    if bool(nvcc) != bool(want.cuda):
        problems.append(f"CUDA compiler in build requirements: {nvcc} for gpu_variant {want.gpu}")
    # cmake/ninja run on the build machine; the rest is PyTorch's [build-system] requires
    build_needs = ("cmake", "ninja", "python", "pip", "numpy", "setuptools", "packaging",
                   "pyyaml", "requests", "six", "typing_extensions")  # fmt: skip
    for name in build_needs:
        if name not in _names(build) + _names(host):
            problems.append(f"build/host requirements lack {name}")
    return problems


def check_blas_requirements(recipe: Sections, want: Expected) -> list[str]:
    """pytorch's requirements for its BLAS: host libraries per blas_impl, no nomkl for MKL, the
    OpenMP flavour of OpenBLAS constrained where it has one (Linux, macOS) and only there."""
    problems: list[str] = []
    torch = recipe.package("pytorch")
    blas, host, run = want.blas, torch.reqs("host"), torch.reqs("run")
    blas_host = {"mkl": ["mkl-devel"], "openblas": ["libblas", "libcblas", "liblapack"]}.get(blas)
    constrained = torch.reqs("run_constrained")
    if blas_host is None:
        problems.append(f"unknown blas_impl {blas!r}")
        return problems
    missing = [b for b in blas_host if b not in _names(host)]
    if missing:
        problems.append(f"host requirements lack {missing} for blas_impl {blas}")
    if blas == "openblas" and not all(
        f"{b} * *openblas" in host for b in ("libblas", "libcblas", "liblapack")
    ):
        problems.append("OpenBLAS variants must pin libblas/libcblas/liblapack to *openblas")
    if blas == "mkl" and "mkl-devel" in _names(host) and "nomkl" in _names(run):
        problems.append("an MKL variant must not depend on nomkl")
    if blas != "mkl" and "mkl-devel" in _names(host):
        problems.append(f"blas_impl {blas} variant depends on mkl-devel")
    openmp = {"libopenblas * openmp_*", "openblas * openmp_*"}
    want_openmp = blas == "openblas" and want.os_name in ("linux", "osx")
    if want_openmp and not openmp <= set(constrained):
        problems.append("an OpenBLAS variant must constrain libopenblas/openblas to their "
                        "OpenMP flavour (`* openmp_*`) in run_constrained")  # fmt: skip
    if not want_openmp and openmp & set(constrained):
        problems.append(f"blas_impl {blas} on {want.platform} constrains the OpenBLAS flavour")
    return problems


def check_cuda_requirements(recipe: Sections, want: Expected) -> list[str]:
    """pytorch's CUDA requirements: the CUDA libraries, __cuda and (Linux only) nccl for a CUDA
    variant, none of them for another; no cuda-version pin of ours in run."""
    problems: list[str] = []
    torch = recipe.package("pytorch")
    cuda, host, run = want.cuda, torch.reqs("host"), torch.reqs("run")
    if cuda:
        if f"cuda-version {cuda}" not in host:
            problems.append(f"host requirements lack 'cuda-version {cuda}'")
        for name in ("cuda-cudart-dev", "libcublas-dev", "cudnn"):
            if name not in _names(host):
                problems.append(f"host requirements lack {name} for CUDA")
        if "__cuda" not in _names(run):
            problems.append("CUDA variant does not depend on __cuda")
        if (want.os_name == "linux") != ("nccl" in _names(host)):
            problems.append("nccl must be a host requirement on Linux CUDA builds only")
    elif any(n.startswith("cuda") or n in ("cudnn", "nccl", "__cuda") for n in _names(host + run)):
        problems.append(f"{want.gpu} variant has CUDA requirements")
    # The CUDA libraries' run_exports pin what the package needs; a cuda-version pin of ours
    # (pin_compatible, max_pin x.x) would only keep it from newer CUDA minor versions.
    pinned = [x for x in run if x.split()[0] == "cuda-version"]
    if pinned:
        problems.append(f"run requirements pin {pinned}: leave cuda-version to the CUDA "
                        "libraries' run_exports")  # fmt: skip
    return problems


def check_run_requirements(recipe: Sections, want: Expected) -> list[str]:
    """pytorch's run requirements: what torch imports, setuptools capped as torch's metadata
    caps it, and the other metapackage excluded in run_constrained."""
    problems: list[str] = []
    torch = recipe.package("pytorch")
    run = torch.reqs("run")
    run_needs = ("python", "filelock", "fsspec", "jinja2", "networkx", "sympy", "typing_extensions",
                 "setuptools")  # fmt: skip
    for name in run_needs:
        if name not in _names(run):
            problems.append(f"run requirements lack {name}")
    setuptools = [x for x in run if x.split()[0] == "setuptools"]
    if setuptools and not all(_spec_has_upper_bound(x, "setuptools") for x in setuptools):
        problems.append(f"run requirement {setuptools[0]!r} has no upper bound: torch's metadata "
                        "caps setuptools (<82), so `pip check` fails on a newer one")  # fmt: skip
    other = "pytorch-gpu" if want.gpu == "cpu" else "pytorch-cpu"
    if f"{other} <0.0a0" not in torch.reqs("run_constrained"):
        problems.append(f"pytorch does not exclude {other} in run_constrained")
    return problems


def check_metapackage(recipe: Sections, want: Expected) -> list[str]:
    """The metapackage: one per variant, named for its Python like pytorch (so no two variants
    make the same file), selecting exactly this variant's pytorch build."""
    problems: list[str] = []
    torch, meta = recipe.package("pytorch"), recipe.package(want.meta_name)
    meta_name, number, version = want.meta_name, _build_number(torch), want.version
    flavour, blas, py, mark = want.flavour, want.blas, want.python, want.mark
    expected_meta = want.build_string(number)
    if meta.build_string != expected_meta:
        problems.append(f"{meta_name} build string {meta.build_string!r}, "
                        f"expected {expected_meta!r}")  # fmt: skip
    meta_run = meta.reqs("run")
    if len(meta_run) != 1 or len(meta_run[0].split()) != 3:
        problems.append(f"{meta_name} run requirements {meta_run}: want 'pytorch VERSION BUILD'")
    else:
        name, pinned_version, pattern = meta_run[0].split()
        if name != "pytorch" or pinned_version != version:
            problems.append(f"{meta_name} pins {meta_run[0]!r}, not pytorch {version}")
        if not fnmatch.fnmatchcase(torch.build_string, pattern):
            problems.append(f"{meta_name} build pattern {pattern!r} misses {torch.build_string!r}")
        elif not (pattern.startswith(f"{flavour}_{blas}_py{py}_")
                  and pattern.endswith(f"_{number}{mark}")):  # fmt: skip
            problems.append(f"{meta_name} build pattern {pattern!r} does not pin this variant's "
                            f"flavour, BLAS, python and build number ({flavour}_{blas}_py{py}_*_"
                            f"{number}{mark})")  # fmt: skip
    if str(meta.build.get("number")) != str(torch.build.get("number")):
        problems.append(f"{meta_name} build number differs from pytorch's")
    return problems


def check_test_requirements(recipe: Sections, want: Expected) -> list[str]:
    """pytorch's test/requires (a capped pytest, ninja, the CUDA toolchain for CUDA variants only)
    and test/source_files (what run_test.py needs from the source tree)."""
    problems: list[str] = []
    torch = recipe.package("pytorch")
    requires = [str(x) for x in torch.test.get("requires") or []]
    if not any(_spec_has_upper_bound(x, "pytest") for x in requires):
        problems.append("test requirements lack a capped pytest (`pytest <X`)")
    if "ninja" not in _names(requires):
        problems.append("test requirements lack ninja (cpp_extension and inductor tests)")
    cuda_test = {f"cuda-nvcc_{want.platform}", "cuda-cudart-dev"}
    if want.os_name == "linux":
        cuda_test.add("cuda-driver-dev")
    present = cuda_test & set(_names(requires))
    if want.cuda and present != cuda_test:
        problems.append(f"test requirements lack {sorted(cuda_test - present)} for the CUDA runs")
    if not want.cuda and present:
        problems.append(f"{want.gpu} variant has CUDA test requirements {sorted(present)}")
    sources = [str(x) for x in torch.test.get("source_files") or []]
    for folder, why in (
        ("test", "run_test.py"),
        ("tools", "run_test.py imports it"),
        ("aten/src/ATen/native", "test_ops reads native_functions.yaml"),
    ):
        if folder not in sources:
            problems.append(f"test source_files lack {folder}/ ({why})")
    return problems


def _suite_commands(commands: Sequence[str]) -> list[str]:
    return [c for c in commands if "run_test.py" in c]


def _test_level_of(command: str) -> str | None:
    """The PYTORCH_TEST_LEVEL a test command runs at (POSIX ``= core ]``, cmd ``=="core"``)."""
    match = re.search(r"PYTORCH_TEST_LEVEL%?\"?\s*=?=\s*\"?(\w+)", command)
    return match.group(1) if match else None


def check_test_suite(recipe: Sections, want: Expected) -> list[str]:
    """pytorch's test commands that run PyTorch's suite: the selection runner
    (PYTORCH_TEST_SELECTION, shipped in test/files), CI unset and the level resolved and
    validated before the suite, one command per level, each masked so the suite never fails the
    package, the inductor (Linux CUDA) and MPS (Metal) runs at the release level only."""
    problems: list[str] = []
    torch = recipe.package("pytorch")
    os_name, cuda, gpu = want.os_name, want.cuda, want.gpu
    cmds = torch.commands
    suite = _suite_commands(cmds)
    selected = [c for c in cmds if SELECTION_RUNNER in c]
    if len(selected) != 1 or "PYTORCH_TEST_SELECTION" not in selected[0]:
        problems.append(
            f"expected one command that runs {SELECTION_RUNNER} when "
            f"PYTORCH_TEST_SELECTION is set, found {selected}"
        )
    elif os_name != "win" and "|| true" not in selected[0]:
        problems.append(f"the selection command is not followed by `|| true`: {selected[0]}")
    if SELECTION_RUNNER not in [str(x) for x in torch.test.get("files") or []]:
        problems.append(f"test files lack {SELECTION_RUNNER} (PYTORCH_TEST_SELECTION)")
    first_suite = cmds.index(suite[0]) if suite else len(cmds)
    unset_ci = 'set "CI="' if os_name == "win" else "unset CI"
    if unset_ci not in cmds[:first_suite]:
        problems.append(f"test commands do not `{unset_ci}` before the suite: a CI runner's "
                        "CI=true changes what run_test.py prints")  # fmt: skip
    if not any("PYTORCH_TEST_LEVEL" in c and "PYTORCH_SKIP_TESTS" in c
               for c in cmds[:first_suite]):  # fmt: skip
        problems.append("no test command resolves PYTORCH_TEST_LEVEL (and PYTORCH_SKIP_TESTS=1 as "
                        "none) before the suite")  # fmt: skip
    if not any(all(f"{level}" in c for level in TEST_LEVELS) and ("exit 1" in c or "exit /b 1" in c)
               for c in cmds[:first_suite]):  # fmt: skip
        problems.append("no test command refuses a PYTORCH_TEST_LEVEL other than "
                        f"{', '.join(TEST_LEVELS)}")  # fmt: skip
    core = [c for c in suite if _test_level_of(c) == "core"]
    if len([c for c in core if "./test/run_test.py --core --continue-through-error" in c]) != 1:
        problems.append("expected one `run_test.py --core --continue-through-error` command at "
                        "PYTORCH_TEST_LEVEL=core")  # fmt: skip
    smoke = [c for c in suite if _test_level_of(c) == "smoke"]
    if len(smoke) != 1 or "./test/run_test.py -i " not in smoke[0]:
        problems.append(f"expected one `run_test.py -i FILES` command at PYTORCH_TEST_LEVEL=smoke, "
                        f"found {smoke}")  # fmt: skip
    for c in suite:
        if _test_level_of(c) not in TEST_LEVELS:
            problems.append(f"suite command runs at no PYTORCH_TEST_LEVEL ({c})")
    for c in suite:
        if "PYTORCH_TEST_LEVEL" not in c:
            problems.append(f"test suite command ignores PYTORCH_TEST_LEVEL: {c}")
        if os_name == "win":
            if "|| exit 0" in c or 'cmd /c "exit /b 0"' not in c:
                problems.append("Windows suite command must reset the status, not `|| exit 0`")
        elif "|| true" not in c:
            problems.append(f"suite command is not followed by `|| true`: {c}")
    for text, wanted in (("run_test.py -i inductor/test_torchinductor.py", bool(cuda) and
                          os_name == "linux"), ("run_test.py --mps", gpu == "metal")):  # fmt: skip
        found = [c for c in suite if text in c]
        if bool(found) != wanted:
            problems.append(f"`{text}` present={bool(found)} for {gpu} on {want.platform}")
        for c in found:
            if _test_level_of(c) != RELEASE_TEST_LEVEL:
                problems.append(f"`{text}` must run at the {RELEASE_TEST_LEVEL} level only: {c}")
    return problems


def check_test_assertions(recipe: Sections, want: Expected) -> list[str]:
    """pytorch's test commands that must fail the package (all but the suite and the selection
    runner): `pip check` after the suite, none masked, the asserts on what torch was built with
    and on its version."""
    problems: list[str] = []
    torch = recipe.package("pytorch")
    cuda, gpu, blas = want.cuda, want.gpu, want.blas
    cmds = torch.commands
    suite = _suite_commands(cmds)
    fatal = [c for c in cmds if "run_test.py" not in c and SELECTION_RUNNER not in c]
    if "pip check" not in fatal:
        problems.append("test commands lack `pip check`")
    elif suite and cmds.index("pip check") < cmds.index(suite[-1]):
        problems.append("`pip check` must come after the test suite")
    if any("|| true" in c or "|| exit 0" in c for c in fatal):
        problems.append("a check that must fail the package is masked by `|| true`/`|| exit 0`")
    asserts = {
        "torch.backends.cuda.is_built()": bool(cuda),
        "torch.backends.cudnn.is_available()": bool(cuda),
        "torch.backends.mps.is_built()": gpu == "metal",
        f"torch.version.cuda == '{cuda}'": bool(cuda),
        "'BLAS_INFO=mkl'": blas == "mkl",
        "'BLAS_INFO=open'": blas == "openblas",
    }
    for text, wanted in asserts.items():
        has_assert = any(f"assert {text}" in c for c in fatal)
        if has_assert != wanted:
            problems.append(f"assert {text}: present={has_assert}, expected {wanted}")
    if not cuda and not any("assert not torch.backends.cuda.is_built()" in c for c in fatal):
        problems.append("non-CUDA variant does not assert that CUDA is not built")
    if f"__version__.split('+')[0] == '{want.version}'" not in " ".join(fatal):
        problems.append("test commands do not assert torch.__version__")
    return problems


def check_test_imports(recipe: Sections, want: Expected) -> list[str]:
    """test/imports: both packages test `import torch`."""
    problems: list[str] = []
    torch, meta = recipe.package("pytorch"), recipe.package(want.meta_name)
    if "torch" not in (torch.test.get("imports") or []):
        problems.append("test imports lack torch")
    if "torch" not in (meta.test.get("imports") or []):
        problems.append(f"{meta.name} does not test `import torch`")
    return problems


SectionCheck = Callable[[Sections, Expected], list[str]]

# In the order check_rendered reports them; check_outputs first of those that read the packages.
SECTION_CHECKS: tuple[SectionCheck, ...] = (
    check_source,
    check_outputs,
    check_script_env,
    check_pytorch_build,
    check_build_script,
    check_build_requirements,
    check_blas_requirements,
    check_cuda_requirements,
    check_run_requirements,
    check_metapackage,
    check_test_requirements,
    check_test_suite,
    check_test_assertions,
    check_test_imports,
)


def check_rendered(r: Rendered) -> list[str]:
    """Problems of one rendered variant (empty when it is right): those of each of
    ``SECTION_CHECKS`` in turn, none after ``check_outputs`` when the outputs are wrong."""
    if r.skipped:
        return [f"variant is skipped on {r.platform}, a target platform"]
    recipe, want = Sections.of(r), Expected.of(r)
    problems: list[str] = []
    for check in SECTION_CHECKS:
        found = check(recipe, want)
        problems += found
        if found and check is check_outputs:
            break  # the checks after it read the two packages it found missing
    return problems


def dev_mark_problems(variant: Variant, platform: str, recipe_dir: str | Path = RECIPE_DIR,
                      release: Rendered | None = None) -> list[str]:  # fmt: skip
    """A dev build can never pass for a release: rendered with each knob set (one at a time), every
    package file is the release one with DEV_MARK at the end of its build string."""
    release = release or render(variant, platform, recipe_dir)
    problems = []
    expected = [f"{o.name}-{o.version}-{o.build_string}{DEV_MARK}.conda" for o in release.outputs]
    for knob in KNOBS:
        if any(o.build_string.endswith(DEV_MARK) for o in release.outputs):
            problems.append(f"rendered without any knob, a build string ends with {DEV_MARK}")
            break
        try:
            dev = render(variant, platform, recipe_dir, environ={knob: "1"})
        except ToolError as exc:
            problems.append(f"with {knob} set: {exc.message}")
            continue
        got = package_files(dev)
        if got != expected:
            problems.append(f"with {knob} set the packages are {got}, expected {expected} "
                            f"(meta.yaml must add {DEV_MARK} for every knob)")  # fmt: skip
    return problems
