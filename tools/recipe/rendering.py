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

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import jinja2.nodes
import yaml

from tools.cli import ToolError
from tools.paths import RECIPE_DIR
from tools.recipe.knobs import PKG_HASH_PLACEHOLDER
from tools.recipe.variants import Variant, platform_namespace, python_version, select_lines

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


def package_files(r: Rendered) -> list[str]:
    """The package file of each output (``name-version-build.conda``), with PKG_HASH's
    placeholder: unique names here do not rely on the hash."""
    return [f"{o.name}-{o.version}-{o.build_string}.conda" for o in r.outputs]
