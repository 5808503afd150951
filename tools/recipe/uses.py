"""Which variables the recipe (meta.yaml, build.sh, bld.bat) uses, and which of them no config
of ours and nothing of conda-build's sets (``unset_variables``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import jinja2.nodes

from tools.cli import ToolError
from tools.paths import RECIPE_DIR
from tools.recipe.knobs import KNOBS
from tools.recipe.rendering import _JINJA, Rendered, render, selector_namespace
from tools.recipe.variants import Variant, platform_namespace, select_lines, selector_names

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
# tools.recipe.variants.platform_namespace. A name the recipe starts to use that is in neither this
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
                "conda-build sets it, add it to CONDA_BUILD_PROVIDES in tools/recipe/uses.py)"
            )
    return problems
