"""The recipe as conda-build would render it, per variant, without conda-build.

``render(variant, platform)`` follows conda-build's order: selectors applied to the raw meta.yaml
(conda-build's template loader does this), Jinja2 with conda-build's template functions
(``compiler()``, ``stdlib()``, ``pin_compatible()``, ``pin_subpackage()``, ``cdt()``, ``environ``),
selectors again on the rendered text, then YAML. ``check_rendered`` states what every variant's
recipe must contain (outputs, requirements, test commands), one check per section of the recipe
(``SECTION_CHECKS``); ``unset_variables`` finds the variables the recipe (meta.yaml, build.sh,
bld.bat) uses that no config of ours sets; ``render_check`` runs them over every variant of every
target platform and checks that no two variants make the same package file. It also checks what the
build scripts decide about the tests' version assert (``script_build_number``: PYTORCH_BUILD_NUMBER,
which PyTorch turns into a ``.post<N>`` suffix above 1) and that a render with any knob of ``KNOBS``
set carries ``DEV_MARK`` in every build string (``dev_mark_problems``).

Stand-in semantics (conda-build needs solved environments for these; see CONTRIBUTING.md):
``pin_compatible(name)`` pins against the variant's own version of ``name`` when the variant has
one (python, cuda-version from cuda_compiler_version, numpy) and is the bare name otherwise;
``pin_subpackage`` pins against the recipe version; ``PKG_HASH`` is conda-build's placeholder
``1234567``.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import jinja2.nodes
import yaml

from tools.cli import EXIT_FAIL, EXIT_OK, ArgumentParser, ToolError
from tools.paths import CONDA_BUILD_CONFIG, RECIPE_DIR
from tools.variants import (
    TARGET_PLATFORMS,
    Variant,
    load_variants,
    platform_namespace,
    python_version,
    select_lines,
    selector_names,
)

# The development knobs: exactly these reach build.sh (meta.yaml build/script_env). A package
# built with any of them set (non-empty) has DEV_MARK at the end of its build string.
KNOBS = ("TORCH_CUDA_ARCH_LIST", "PYTORCH_CCACHE", "CCACHE_CONFIGPATH", "MAX_JOBS",
         "PYTORCH_SKIP_TESTS", "PYTORCH_TEST_LEVEL", "PYTORCH_TEST_SELECTION")  # fmt: skip
DEV_MARK = "_dev"
# PYTORCH_TEST_LEVEL: how much of PyTorch's suite the test phase runs; unset is RELEASE_TEST_LEVEL.
TEST_LEVELS = ("none", "smoke", "core")
RELEASE_TEST_LEVEL = "core"
# Runs what the selection file named by PYTORCH_TEST_SELECTION lists (dev_test --failed-only);
# shipped in the package through meta.yaml's test/files.
SELECTION_RUNNER = "run_selected_tests.py"
PKG_HASH_PLACEHOLDER = "1234567"  # what conda-build itself uses before the hash is known


def dev_knobs(environ: Mapping[str, str]) -> list[str]:
    """The knobs ``environ`` sets (non-empty): a build with any of them is a dev build."""
    return [k for k in KNOBS if environ.get(k)]


_VERSION_RE = re.compile(r"""\{%-?\s*set\s+version\s*=\s*["']([^"']+)["']\s*-?%\}""")


def recipe_version(recipe_dir: str | Path = RECIPE_DIR) -> str:
    """The PyTorch version the recipe builds (``{% set version = "..." %}`` in meta.yaml)."""
    meta = Path(recipe_dir) / "meta.yaml"
    try:
        text = meta.read_text(encoding="utf-8")
    except OSError as exc:
        raise ToolError(f"cannot read {meta}: {exc.strerror or exc}") from None
    match = _VERSION_RE.search(text)
    if not match:
        raise ToolError(f'{meta} has no {{% set version = "..." %}} line; add one')
    return match.group(1)


# --------------------------------------------------------------------------------------------
# conda-build's template functions
# --------------------------------------------------------------------------------------------


def _pin(version: str, min_pin: str | None, max_pin: str | None) -> str:
    """conda-build's pin expressions: ``x.x`` keeps two components (``>=12.8,<12.9.0a0``)."""
    parts = version.split(".")
    spec = []
    if min_pin:
        spec.append(">=" + ".".join(parts[: min(len(parts), min_pin.count("x"))]))
    if max_pin:
        keep = max_pin.count("x")
        upper = parts[:keep]
        while len(upper) < keep:
            upper.append("0")
        last = re.match(r"\d+", upper[-1])
        upper[-1] = str(int(last.group(0)) + 1) if last else upper[-1]
        spec.append("<" + ".".join(upper) + ".0a0")
    return ",".join(spec)


@dataclass
class _Context:
    variant: Mapping[str, str]
    platform: str
    version: str

    def _target(self, language: str, component: str) -> str:
        defaults = {"linux": {"c": "gcc", "cxx": "gxx"}, "osx": {"c": "clang", "cxx": "clangxx"},
                    "win": {"c": "vs2017", "cxx": "vs2017"}}  # fmt: skip
        os_name = self.platform.split("-")[0]
        prefix = language
        if component == "compiler":
            prefix = defaults.get(os_name, {}).get(language, language)
        prefix = self.variant.get(f"{language}_{component}", prefix)
        version = self.variant.get(f"{language}_{component}_version")
        package = f"{prefix}_{self.platform}"
        return f"{package} {version}" if version else package

    def compiler(self, language: str) -> str:
        return self._target(language, "compiler")

    def stdlib(self, language: str) -> str:
        return self._target(language, "stdlib")

    def _known_version(self, name: str) -> str | None:
        if name == "cuda-version":
            cuda = self.variant.get("cuda_compiler_version", "None")
            return None if cuda == "None" else cuda
        return self.variant.get(name.replace("-", "_"))

    def pin_compatible(self, name: str, lower_bound=None, upper_bound=None,
                       min_pin="x.x.x.x.x.x", max_pin="x", exact=False) -> str:  # fmt: skip
        version = lower_bound or self._known_version(name)
        if not version:
            return name
        if exact:
            return f"{name} {version}"
        if upper_bound:
            return f"{name} >={version},<{upper_bound}"
        return f"{name} {_pin(str(version), min_pin, max_pin)}"

    def pin_subpackage(self, name: str, min_pin="x.x.x.x.x.x", max_pin="x", exact=False) -> str:
        if exact:
            return f"{name} {self.version}"
        return f"{name} {_pin(self.version, min_pin, max_pin)}"

    def cdt(self, name: str) -> str:
        arch = self.platform.split("-", 1)[1]
        cdt_arch = {"64": "x86_64", "32": "i686"}.get(arch, arch)
        cdt_name = self.variant.get("cdt_name", "cos6" if arch in ("64", "32") else "cos7")
        cdt_arch = self.variant.get("cdt_arch", cdt_arch)
        base, _, rest = name.partition(" ")
        return f"{base}-{cdt_name}-{cdt_arch}" + (f" {rest}" if rest else "")


def selector_namespace(variant: Mapping[str, str], platform: str) -> dict[str, object]:
    """Names a meta.yaml selector sees: the platform's, the Python version, the variant's keys.

    Like conda-build, numeric variant values become ints and true/false become booleans here (in
    Jinja they stay strings).
    """
    ns = platform_namespace(platform)
    python = variant.get("python")
    if python:
        major, minor = (python_version(python).split(".") + ["0"])[:2]
        ns.update(py=int(major + minor), py3k=major == "3", py2k=major == "2")
    if variant.get("numpy"):
        ns["np"] = int("".join(variant["numpy"].split(".")[:2]))
    for key, value in variant.items():
        if key in ns:
            continue
        try:
            ns[key] = int(value)
        except ValueError:
            ns[key] = value.lower() == "true" if value.lower() in ("true", "false") else value
    return ns


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """One package of a rendered recipe, with the sections conda-build would give it."""

    name: str
    version: str
    build: dict
    requirements: dict
    test: dict

    @property
    def build_string(self) -> str:
        return str(self.build.get("string", ""))

    def reqs(self, section: str) -> list[str]:
        return [str(r) for r in (self.requirements.get(section) or [])]

    @property
    def commands(self) -> list[str]:
        return [str(c) for c in (self.test.get("commands") or [])]


@dataclass(frozen=True)
class Rendered:
    variant: Variant
    platform: str
    data: dict
    outputs: list[Output] = field(default_factory=list)
    environ: dict[str, str] = field(default_factory=dict)  # conda-build's `environ` for Jinja
    recipe_dir: Path = RECIPE_DIR

    @property
    def skipped(self) -> bool:
        return str((self.data.get("build") or {}).get("skip", "")).lower() == "true"

    def output(self, name: str) -> Output:
        for out in self.outputs:
            if out.name == name:
                return out
        raise KeyError(name)


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


@functools.lru_cache(maxsize=64)
def _template(text: str) -> jinja2.Template:
    """Compiled once per distinct selected text (variants differing only in python share one)."""
    return _JINJA.from_string(text)


def _render_text(text: str, variant: Variant, platform: str, version: str, build_number: str,
                 environ: Mapping[str, str], source: str) -> dict:  # fmt: skip
    ns = selector_namespace(variant.values, platform)
    selected = select_lines(text, ns, source)
    ctx = _Context(variant.values, platform, version)
    python = python_version(variant.values.get("python", ""))
    context: dict[str, object] = dict(ns)
    context.update(variant.values)
    context.update(
        CONDA_PY="".join(python.split(".")[:2]),
        PY_VER=python,
        PKG_HASH=PKG_HASH_PLACEHOLDER,
        PKG_BUILDNUM=build_number,
        PKG_VERSION=version,
        target_platform=platform,
        build_platform=platform,
        environ=dict(environ),
        compiler=ctx.compiler,
        stdlib=ctx.stdlib,
        pin_compatible=ctx.pin_compatible,
        pin_subpackage=ctx.pin_subpackage,
        cdt=ctx.cdt,
    )
    try:
        rendered = _template(selected).render(context)
    except jinja2.TemplateError as exc:
        raise ToolError(f"{source} [{variant.name}, {platform}]: Jinja2 error: {exc}") from None
    rendered = select_lines(rendered, ns, source)
    try:
        data = yaml.load(rendered, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at rendered line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "parse error"
        raise ToolError(
            f"{source} [{variant.name}, {platform}]: rendered recipe is not valid YAML "
            f"({problem}{where})"
        ) from None
    if not isinstance(data, dict):
        raise ToolError(f"{source} [{variant.name}, {platform}]: rendered recipe is not a mapping")
    return data


def _outputs(data: dict) -> list[Output]:
    package = data.get("package") or {}
    top_name = str(package.get("name", ""))
    version = str(package.get("version", ""))
    top = {k: data.get(k) or {} for k in ("build", "requirements", "test")}
    entries = data.get("outputs") or [{"name": top_name}]
    outputs = []
    for entry in entries:
        entry = entry or {}
        name = str(entry.get("name", ""))
        inherit = name == top_name  # the output named like the package gets the top-level sections
        sections = {
            k: (entry.get(k) if k in entry else (top[k] if inherit else {})) or {}
            for k in ("build", "requirements", "test")
        }
        if "number" not in sections["build"] and "number" in top["build"]:
            sections["build"] = {**sections["build"], "number": top["build"]["number"]}
        outputs.append(Output(name=name, version=str(entry.get("version", version)), **sections))
    return outputs


def render(
    variant: Variant,
    platform: str,
    recipe_dir: str | Path = RECIPE_DIR,
    environ: Mapping[str, str] | None = None,
) -> Rendered:
    """meta.yaml rendered for one variant and target platform (two passes, as for PKG_BUILDNUM).

    ``environ`` is the environment conda-build would run in (meta.yaml's ``environ``); none by
    default, as release runs it: no knob set.
    """
    meta = Path(recipe_dir) / "meta.yaml"
    try:
        text = meta.read_text(encoding="utf-8")
    except OSError as exc:
        raise ToolError(f"cannot read {meta}: {exc.strerror or exc}") from None
    version = recipe_version(recipe_dir)
    env = environ or {}
    data = _render_text(text, variant, platform, version, "0", env, str(meta))
    if "PKG_BUILDNUM" in text:  # a second pass with the build number the first one found
        number = str((data.get("build") or {}).get("number", "0"))
        data = _render_text(text, variant, platform, version, number, env, str(meta))
    return Rendered(
        variant=variant,
        platform=platform,
        data=data,
        outputs=_outputs(data),
        environ=dict(env),
        recipe_dir=Path(recipe_dir),
    )


# --------------------------------------------------------------------------------------------
# What every variant's recipe must contain
# --------------------------------------------------------------------------------------------


def _names(reqs: Sequence[str]) -> list[str]:
    return [r.split()[0] for r in reqs if r.strip()]


def _has_prefix(commands: Sequence[str], text: str) -> bool:
    return any(text in c for c in commands)


def torch_version(version: str, build_number: int) -> str:
    """The version PyTorch's build gives itself with PYTORCH_BUILD_VERSION/PYTORCH_BUILD_NUMBER
    set: pytorch/pytorch tools/generate_torch_version.py (get_torch_version) appends
    ``.post<N>`` when N > 1."""
    return f"{version}.post{build_number}" if build_number > 1 else version


_SH_BUILD_NUMBER = re.compile(r"^\s*(?:export\s+)?PYTORCH_BUILD_NUMBER=(?P<value>\S*)\s*(?:#.*)?$")
_BAT_BUILD_NUMBER = re.compile(r'^\s*set\s+"?PYTORCH_BUILD_NUMBER=(?P<value>[^"\s]*)"?\s*$', re.I)


def script_build_number(recipe_dir: str | Path, platform: str,
                        package_number: int) -> tuple[int | None, str]:  # fmt: skip
    """(PYTORCH_BUILD_NUMBER as the build script sets it, where), read from build.sh (bld.bat on
    Windows): the last assignment, a literal number or the package's (``PKG_BUILDNUM``). None
    when the script does not set it or sets it to something else."""
    script = "bld.bat" if platform.startswith("win-") else "build.sh"
    path = Path(recipe_dir) / script
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None, f"{script} (unreadable)"
    pattern = _BAT_BUILD_NUMBER if script == "bld.bat" else _SH_BUILD_NUMBER
    found: tuple[int | None, str] = (None, f"{script} (does not set PYTORCH_BUILD_NUMBER)")
    for number, line in enumerate(lines, start=1):
        match = pattern.match(line)
        if not match:
            continue
        value = match["value"].strip("\"'")
        where = f"{script} line {number}"
        if value.isdigit():
            found = (int(value), where)
        elif "PKG_BUILDNUM" in value:
            found = (package_number, where)
        else:
            found = (None, where)
    return found


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


# --------------------------------------------------------------------------------------------
# Who sets each variable the recipe uses
# --------------------------------------------------------------------------------------------

# The keys of conda-build's internal default variant (conda-build's conda_build/variants.py:
# DEFAULT_VARIANTS, plus DEFAULT_COMPILERS through get_default_variant), with their values.
# conda-build fills in any of them that no config sets, silently: the recipe must get every one
# it uses from conda_build_config.yaml. `target_platform` (also set there) is the platform being
# built for, not a default: it is in CONDA_BUILD_PROVIDES.
CONDA_BUILD_DEFAULTS: dict[str, str] = {
    "python": "the Python conda-build itself runs under",
    "numpy": "1.22-1.26, chosen by the Python conda-build itself runs under",
    "perl": "5.26.2",
    "lua": "5",
    "r_base": "3.5, 3.4 on Windows",
    "cpu_optimization_target": "nocona",
    "cran_mirror": "https://cran.r-project.org",
    "c_compiler": "the native compiler: gcc, clang, vs2017",
    "cxx_compiler": "the native compiler: gxx, clangxx, vs2017",
    "fortran_compiler": "gfortran",
    "vc": "14 on Windows",
}

# Names conda-build provides itself, mapped to the variant key their value is derived from (None:
# from no key of the matrix). meta.yaml sees them as Jinja globals (conda-build's
# conda_build/metadata.py MetaData._get_contents: get_selectors, environ.get_dict,
# CONDA_BUILD_STATE, jinja_context.context_processor) and, the selector names among them, in
# selectors (metadata.get_selectors); build.sh and bld.bat see the environment ones
# (conda_build/environ.py get_dict). Platform selector names (linux, win64, x86_64, ...) come from
# tools.variants.platform_namespace. A name the recipe starts to use that is in neither this
# table nor the matrix fails tests/test_matrix_keys.py: add it here, with where conda-build sets
# it, or to conda_build_config.yaml.
_PROVIDED_FROM_NOTHING = (
    # jinja_context.context_processor: template functions and modules
    "compiler", "stdlib", "pin_compatible", "pin_subpackage", "cdt", "ccache", "installed",
    "resolved_packages", "load_setup_py_data", "load_setuptools", "load_npm", "load_file_regex",
    "load_file_data", "load_str_data", "time", "datetime", "environ",
    # metadata.MetaData._get_contents and metadata.get_selectors
    "CONDA_BUILD_STATE", "os", "nomkl", "build_platform",
    # variants.get_default_variant: the platform being built for (--target-platform)
    "target_platform",
    # environ.conda_build_vars
    "CONDA_BUILD", "PYTHONNOUSERSITE", "CONDA_DEFAULT_ENV", "ARCH", "PREFIX", "BUILD_PREFIX",
    "SYS_PREFIX", "SYS_PYTHON", "SUBDIR", "SRC_DIR", "HTTPS_PROXY", "HTTP_PROXY", "DIRTY", "ROOT",
    # environ.meta_vars
    "PKG_NAME", "PKG_VERSION", "PKG_BUILDNUM", "PKG_BUILD_STRING", "PKG_HASH", "RECIPE_DIR",
    # environ.python_vars, the one not derived from the variant
    "NPY_DISTUTILS_APPEND_FLAGS",
    # environ.os_vars (the caller's value, else conda-build's default)
    "CPU_COUNT", "LANG", "LC_ALL", "MAKEFLAGS", "REQUESTS_CA_BUNDLE", "SHLIB_EXT", "PATH",
    # environ.unix_vars, osx_vars, linux_vars
    "HOME", "PKG_CONFIG_PATH", "CMAKE_GENERATOR", "SSL_CERT_FILE", "OSX_ARCH",
    "MACOSX_DEPLOYMENT_TARGET", "BUILD", "CFLAGS", "CXXFLAGS", "LDFLAGS", "LD_RUN_PATH",
    # environ.windows_vars
    "SCRIPTS", "LIBRARY_PREFIX", "LIBRARY_BIN", "LIBRARY_INC", "LIBRARY_LIB", "CYGWIN_PREFIX",
    # not conda-build's own: the activation scripts of the compiler packages in the build
    # environment, which conda-build runs before build.sh (conda-forge's gcc/clang/cuda-nvcc
    # activation: CMAKE_ARGS; clang's: CONDA_BUILD_SYSROOT)
    "CMAKE_ARGS", "CONDA_BUILD_SYSROOT",
)  # fmt: skip
_PROVIDED_FROM_KEY = {
    # environ.python_vars, perl_vars, lua_vars, r_vars
    "CONDA_PY": "python", "PY_VER": "python", "PY3K": "python", "PYTHON": "python",
    "STDLIB_DIR": "python", "SP_DIR": "python", "NPY_VER": "numpy", "CONDA_NPY": "numpy",
    "PERL_VER": "perl", "CONDA_PERL": "perl", "PERL": "perl", "LUA_VER": "lua",
    "CONDA_LUA": "lua", "LUA": "lua", "LUA_INCLUDE_DIR": "lua", "R_VER": "r_base",
    "CONDA_R": "r_base", "R": "r_base",
    # metadata.get_selectors
    "py": "python", "py3k": "python", "py2k": "python", "py26": "python", "py27": "python",
    "py33": "python", "py34": "python", "py35": "python", "py36": "python", "np": "numpy",
    "pl": "perl", "luajit": "lua",
}  # fmt: skip
CONDA_BUILD_PROVIDES: dict[str, str | None] = {
    **dict.fromkeys(_PROVIDED_FROM_NOTHING),
    **_PROVIDED_FROM_KEY,
}
# Outside variables build.sh/bld.bat read only to drop them (conda-build does not pass them to
# build.sh; bld.bat inherits the caller's environment).
SCRIPT_DROPS = {"PYTHONPATH": "PyTorch's setup.py imports the tools package of its own tree"}
# Variant keys build.sh reads only on one platform (in a `case "${target_platform}"` branch): on
# the others the key need not be set.
PLATFORM_ONLY_INPUTS = {"MACOSX_SDK_VERSION": "osx-"}


@dataclass(frozen=True)
class VariableUse:
    """One use of a variable by the recipe, and the variant key its value comes from."""

    name: str  # as the recipe writes it: gpu_variant, CONDA_PY, compiler('c'), a requirement
    key: str | None  # the variant key; None: conda-build's own value, or a knob (script_env)
    where: str  # meta.yaml line 12, meta.yaml pytorch host requirement, build.sh line 25


_SH_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_SH_SET = re.compile(
    r"(?:^|[\s;&|(])(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)\+?="
)
# Names a line gives a value without `name=`: loop variables and `local`/`declare` lists.
_SH_DECLARE = re.compile(
    r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b"
    r"|\b(?:local|declare|readonly)\s+((?:-\w+\s+)*[A-Za-z_][^;&|]*)"
)
_BAT_REF = re.compile(
    r"%([A-Za-z_][A-Za-z0-9_]*)(?::[^%\n]*)?%|!([A-Za-z_][A-Za-z0-9_]*)(?::[^!\n]*)?!"
    r"|\bdefined\s+([A-Za-z_][A-Za-z0-9_]*)",
    re.IGNORECASE,
)
_BAT_SET = re.compile(r"""\bset\s+(?:/a\s+)?"?([A-Za-z_][A-Za-z0-9_]*)=""", re.IGNORECASE)


@functools.lru_cache(maxsize=8)
def script_inputs(text: str, kind: str) -> tuple[tuple[int, str], ...]:
    """(line, name) of each variable a build script reads before it assigns it (its inputs).

    ``kind`` is ``sh`` (``$x``, ``${x...}``; ``x=...``, ``for x in``, ``local x`` assign) or
    ``bat`` (``%x%``, ``%x:~0,5%``, ``!x!``, ``defined x``; ``set "x=..."`` assigns). A read on
    the line that assigns the name (``x="${x:-default}"``) is an input. Comment lines are
    skipped; names are in text order.
    """
    ref, assign = (_SH_REF, _SH_SET) if kind == "sh" else (_BAT_REF, _BAT_SET)
    assigned: set[str] = set()
    inputs: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if kind == "sh" and stripped.startswith("#"):
            continue
        if kind == "bat" and (stripped.lower().startswith(("rem ", "::")) or stripped == "rem"):
            continue
        for match in ref.finditer(line):
            name = next(g for g in match.groups() if g)
            if name not in assigned:
                inputs.setdefault(name, number)
        assigned.update(m.group(1) for m in assign.finditer(line))
        if kind == "sh":
            for match in _SH_DECLARE.finditer(line):
                if match.group(1):
                    assigned.add(match.group(1))
                else:
                    for word in match.group(2).split():
                        name = word.split("=", 1)[0]
                        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                            assigned.add(name)
    return tuple((number, name) for name, number in inputs.items())


@functools.lru_cache(maxsize=64)
def _jinja_uses(text: str) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """(line, name, keys) for the Jinja names a (selected) meta.yaml reads and does not set.

    ``compiler('c')`` and ``stdlib('c')`` are reported as the keys they read (``c_compiler``;
    ``c_stdlib`` and ``c_stdlib_version``); ``keys`` is empty for a plain name.
    """
    tree = _JINJA.parse(text)
    names = list(tree.find_all(jinja2.nodes.Name))
    stored = {n.name for n in names if n.ctx in ("store", "param")}
    uses: list[tuple[int, str, tuple[str, ...]]] = [
        (n.lineno, n.name, ()) for n in names if n.ctx == "load" and n.name not in stored
    ]
    for call in tree.find_all(jinja2.nodes.Call):
        func = call.node
        if not (isinstance(func, jinja2.nodes.Name) and func.name in ("compiler", "stdlib")):
            continue
        if call.args and isinstance(call.args[0], jinja2.nodes.Const):
            lang = str(call.args[0].value)
            keys = ((f"{lang}_compiler",) if func.name == "compiler"
                    else (f"{lang}_stdlib", f"{lang}_stdlib_version"))  # fmt: skip
            uses.append((call.lineno, f"{func.name}('{lang}')", keys))
    return tuple(sorted(uses))


def _normalised(name: str) -> str:
    return re.sub(r"[-_]", "", name)


def variable_uses(
    variant: Variant,
    platform: str,
    recipe_dir: str | Path = RECIPE_DIR,
    rendered: Rendered | None = None,
) -> list[VariableUse]:
    """Every variable the recipe uses for this variant: meta.yaml's selectors and Jinja names,
    its build/host requirements that a variant key pins, and the inputs of the build script.
    ``rendered`` is this variant's render, made here when not given (if it fails, the
    requirements are left out).

    A bare build/host requirement whose name is a variant key (ours or conda-build's internal
    default; ``-`` and ``_`` ignored) is pinned to that key's value: conda-build's
    render._categorize_deps. build.sh runs on Linux and macOS, bld.bat on Windows.
    """
    recipe_dir = Path(recipe_dir)
    meta = recipe_dir / "meta.yaml"
    try:
        text = meta.read_text(encoding="utf-8")
    except OSError as exc:
        raise ToolError(f"cannot read {meta}: {exc.strerror or exc}") from None
    values = variant.values
    platform_names = set(platform_namespace(platform))

    def key_of(name: str) -> str | None:
        if name in values:
            return name
        if name in platform_names:
            return None
        return CONDA_BUILD_PROVIDES.get(name, name)

    uses = [VariableUse(name, key_of(name), f"meta.yaml line {number} (selector)")
            for number, name in selector_names(text)]  # fmt: skip
    ns = selector_namespace(values, platform)
    try:
        jinja = _jinja_uses(select_lines(text, ns, str(meta), keep_line_numbers=True))
    except ToolError:
        jinja = ()  # a selector that cannot be evaluated: the render check reports it
    except jinja2.TemplateError as exc:
        raise ToolError(f"{meta} [{variant.name}, {platform}]: Jinja2 error: {exc}") from None
    for number, name, keys in jinja:
        for key in keys or (key_of(name),):
            uses.append(VariableUse(name, key, f"meta.yaml line {number}"))

    if rendered is None:
        try:
            rendered = render(variant, platform, recipe_dir)
        except ToolError:
            rendered = None  # the render check reports why; the requirements are unknown
    pinnable = {_normalised(k): k for k in (*CONDA_BUILD_DEFAULTS, *values)}
    for out in rendered.outputs if rendered else ():
        for section in ("build", "host"):
            for spec in out.reqs(section):
                parts = spec.split()
                if len(parts) == 1 and _normalised(parts[0]) in pinnable:
                    where = f"meta.yaml {out.name} {section} requirement"
                    uses.append(VariableUse(parts[0], pinnable[_normalised(parts[0])], where))

    script, kind = ("bld.bat", "bat") if platform.startswith("win-") else ("build.sh", "sh")
    path = recipe_dir / script
    script_env = ((rendered.data.get("build") or {}).get("script_env") or []) if rendered else KNOBS
    knobs = {str(k).split("=", 1)[0] for k in script_env}
    if path.is_file():
        for number, name in script_inputs(path.read_text(encoding="utf-8"), kind):
            elsewhere = not platform.startswith(PLATFORM_ONLY_INPUTS.get(name, platform))
            key = None if name in knobs or name in SCRIPT_DROPS or elsewhere else key_of(name)
            uses.append(VariableUse(name, key, f"{script} line {number}"))
    return uses


def unset_variables(
    variant: Variant,
    platform: str,
    recipe_dir: str | Path = RECIPE_DIR,
    rendered: Rendered | None = None,
) -> list[str]:
    """One problem per variant key the recipe uses that this variant (our configs) does not set."""
    problems = []
    seen: set[str] = set()
    for use in variable_uses(variant, platform, recipe_dir, rendered):
        if use.key is None or use.key in variant.values or use.key in seen:
            continue
        seen.add(use.key)
        what = use.name if use.name == use.key else f"{use.name} (from {use.key})"
        if use.key in CONDA_BUILD_DEFAULTS:
            problems.append(
                f"{use.where} uses {what}, which conda_build_config.yaml does not set: conda-build "
                f"would use its internal default ({CONDA_BUILD_DEFAULTS[use.key]}); set "
                f"{use.key} in conda_build_config.yaml"
            )
        else:
            problems.append(
                f"{use.where} uses {what}, which neither conda_build_config.yaml sets nor "
                f"conda-build provides; set {use.key} in conda_build_config.yaml (or, if "
                "conda-build sets it, add it to CONDA_BUILD_PROVIDES in tools/recipe.py)"
            )
    return problems


def package_files(r: Rendered) -> list[str]:
    """The package file of each output (``name-version-build.conda``), with PKG_HASH's
    placeholder: unique names here do not rely on the hash."""
    return [f"{o.name}-{o.version}-{o.build_string}.conda" for o in r.outputs]


def _cross_variant_problems(rendered: Sequence[Rendered]) -> dict[str, list[str]]:
    """Problems between the variants of one platform: a package file made by two variants (one
    --output-folder would keep only the last), a metapackage that selects another variant's
    pytorch (or several)."""
    problems: dict[str, list[str]] = {r.variant.name: [] for r in rendered}
    makers: dict[str, list[str]] = {}
    for r in rendered:
        for name in package_files(r):
            makers.setdefault(name, []).append(r.variant.name)
    for r in rendered:
        for name in package_files(r):
            others = [v for v in makers[name] if v != r.variant.name]
            if others:
                problems[r.variant.name].append(
                    f"package file {name} is also made by {', '.join(others)}: "
                    "one --output-folder keeps only the last one built"
                )
    torch_builds = {
        r.variant.name: (o.version, o.build_string)
        for r in rendered for o in r.outputs if o.name == "pytorch"
    }  # fmt: skip
    for r in rendered:
        for out in r.outputs:
            for spec in out.reqs("run"):
                parts = spec.split()
                if out.name == "pytorch" or len(parts) != 3 or parts[0] != "pytorch":
                    continue
                selected = sorted(
                    v for v, (version, build) in torch_builds.items()
                    if version == parts[1] and fnmatch.fnmatchcase(build, parts[2])
                )  # fmt: skip
                if selected != [r.variant.name]:
                    problems[r.variant.name].append(
                        f"{out.name} requires {spec!r}, which selects the pytorch of "
                        f"{', '.join(selected) or 'no variant'}, not of {r.variant.name} alone"
                    )
    return problems


def _unset_if_known(variant: Variant, platform: str, recipe_dir: str | Path,
                    rendered: Rendered | None = None) -> list[str]:  # fmt: skip
    try:
        return unset_variables(variant, platform, recipe_dir, rendered)
    except ToolError as exc:  # meta.yaml is unreadable or its selectors are broken
        return [] if rendered is None else [exc.message]


@dataclass(frozen=True)
class CheckResult:
    platform: str
    variant: str
    problems: tuple[str, ...]


def render_check(
    platforms: Sequence[str] = TARGET_PLATFORMS,
    config_paths: Sequence[str | Path] = (CONDA_BUILD_CONFIG,),
    recipe_dir: str | Path = RECIPE_DIR,
) -> list[CheckResult]:
    """Render and check every variant of every platform; one result per variant.

    Per variant: ``check_rendered`` (release render: no knob set), ``dev_mark_problems`` (rendered
    with each knob set) and ``unset_variables``; per platform, between variants: no package file
    made twice, each metapackage selecting its own variant's pytorch build.
    """
    results = []
    for platform in platforms:
        problems: dict[str, list[str]] = {}
        rendered = []
        for variant in load_variants(config_paths, platform):
            try:
                r = render(variant, platform, recipe_dir)
            except ToolError as exc:
                more = _unset_if_known(variant, platform, recipe_dir)
                problems[variant.name] = [exc.message, *more]
                continue
            problems[variant.name] = check_rendered(r)
            if not r.skipped:
                problems[variant.name] += dev_mark_problems(variant, platform, recipe_dir, r)
                problems[variant.name] += _unset_if_known(variant, platform, recipe_dir, r)
                rendered.append(r)
        for name, more in _cross_variant_problems(rendered).items():
            problems[name] += more
        results += [CheckResult(platform, name, tuple(p)) for name, p in problems.items()]
    return results


def main(argv: Sequence[str]) -> int:
    """``python -m tools.recipe``: run the render check; exit 1 if a variant is wrong."""
    parser = ArgumentParser(prog="python -m tools.recipe", description=main.__doc__)
    parser.add_argument("--platform", action="append", choices=TARGET_PLATFORMS,
                        help="target platform (repeatable; default: all)")  # fmt: skip
    args = parser.parse_args(list(argv))
    results = render_check(tuple(args.platform or TARGET_PLATFORMS))
    bad = [r for r in results if r.problems]
    for r in bad:
        for problem in r.problems:
            print(f"{r.platform} {r.variant}: {problem}")
    print(f"render check: {len(results) - len(bad)}/{len(results)} variants ok")
    return EXIT_FAIL if bad else EXIT_OK


if __name__ == "__main__":
    import sys

    from tools.cli import run_main

    sys.exit(run_main("python -m tools.recipe", main, sys.argv[1:]))
