"""The variant matrix of the recipe, read the way conda-build reads ``conda_build_config.yaml``.

What follows conda-build (conda_build/variants.py and metadata.py, read in its source):

- each file is filtered line by line by its selector comments (``- mkl  # [x86_64]``) for the
  target platform, then parsed as YAML with every scalar kept as a string;
- keys whose value became empty are dropped; ``zip_keys`` groups are merged across files;
- later files win per key; a later file that sets every key of a zipped group replaces the group
  (lists must have equal lengths); one that sets only some keys must name a subset of the values
  already there (that subset then narrows the matrix) or conda-build calls it ambiguous;
- the matrix is the product over the independent keys and the zipped groups.

Value forms of conda-forge's configs (a feedstock's ``.ci_support/<job>.yaml`` is one CI job's
complete config, written by conda-smithy): ``python: 3.11.* *_cpython`` (the name part is
``py311``, ``Variant.python`` is ``3.11``; ``*_cp313t`` is ``py313t``), numpy zipped with python,
``channel_targets`` zipped with ``is_rc`` (named by the shorter of the two when they vary), keys the
recipe does not use and mappings (``pin_run_as_build``) kept as they are. Unlike conda-build we do
not collapse a key the recipe does not use to its first value: such a key with several values
multiplies the list (conda-smithy gives one value to every key outside the job's matrix).

Deliberate deviations (conda-build would carry on silently; we stop with one clear line):

- an unknown selector name is an error (conda-build evaluates it as false);
- ``py``/``np``-style selectors are refused in variant configs: conda-build evaluates them there
  against its own interpreter, not per variant;
- a zipped key set by a later file while the rest of its group was never defined is an error.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tools.cli import ToolError
from tools.paths import CONDA_BUILD_CONFIG
from tools.platforms import KNOWN_SUBDIRS, TARGET_PLATFORMS

# Keys that are merged rather than exploded (conda-build's default extend_keys).
_EXTEND_KEYS = frozenset({"pin_run_as_build", "ignore_version", "ignore_build_only_deps",
                          "extend_keys"})  # fmt: skip
# Selector names that depend on the Python version of the variant.
_PYTHON_SELECTORS = frozenset({"py", "py3k", "py2k", "py27", "py36", "np"})

# A selector is a trailing ``[expr]``, either at the very end of the line or inside a trailing
# comment (then more text without parentheses may follow it) - the rule conda-build applies.
_SELECTOR_LINE = re.compile(
    r"^(?P<body>.+?)\s*(?P<comment>#.*)?\[(?P<expr>[^\[\]]+)\](?(comment)[^()]*)$"
)

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.Compare, ast.Eq,
    ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.Name,
    ast.Load, ast.Constant, ast.Tuple, ast.List, ast.Call, ast.Attribute,
)  # fmt: skip
_ALLOWED_FUNCTIONS = {"int": int, "float": float, "len": len, "str": str}
_ALLOWED_METHODS = frozenset({"startswith", "endswith", "lower", "upper", "split", "rsplit",
                              "strip", "replace", "get", "join", "index"})  # fmt: skip


# --------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------


def platform_namespace(platform: str) -> dict[str, object]:
    """Selector names for a target platform (``linux``, ``x86_64``, ``linux64``, ``unix``, ...)."""
    if platform not in KNOWN_SUBDIRS:
        raise ToolError(
            f"unknown target platform '{platform}'; use one of: {', '.join(TARGET_PLATFORMS)}"
        )
    ns: dict[str, object] = {}
    for subdir in KNOWN_SUBDIRS:
        os_name, arch = subdir.split("-", 1)
        ns[os_name] = platform.startswith(os_name + "-")
        ns[{"32": "x86", "64": "x86_64"}.get(arch, arch)] = platform.endswith("-" + arch)
    ns.update(
        x86=platform.endswith(("-32", "-64")),
        linux32=platform == "linux-32",
        linux64=platform == "linux-64",
        win32=platform == "win-32",
        win64=platform == "win-64",
        arm=platform.startswith("linux-arm"),
        unix=platform.startswith(("linux-", "osx-", "emscripten-")),
        target_platform=platform,
        build_platform=platform,
    )
    return ns


def evaluate_selector(expr: str, namespace: Mapping[str, object]) -> bool:
    """Evaluate one selector; an unknown name or a disallowed construct is a ToolError."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"selector [{expr}] is not a valid expression ({exc.msg})") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ToolError(f"selector [{expr}] uses {type(node).__name__}, which is not allowed")
        if isinstance(node, ast.Attribute) and node.attr not in _ALLOWED_METHODS:
            raise ToolError(f"selector [{expr}] uses .{node.attr}, which is not allowed")
    unknown = sorted(
        {
            n.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Name) and n.id not in namespace and n.id not in _ALLOWED_FUNCTIONS
        }
    )
    if unknown:
        raise ToolError(
            f"unknown selector name {', '.join(repr(u) for u in unknown)} in [{expr}] "
            "(conda-build would silently treat it as false); fix the spelling"
        )
    code = compile(tree, "<selector>", "eval")
    try:
        return bool(eval(code, {"__builtins__": {}, **_ALLOWED_FUNCTIONS}, dict(namespace)))  # noqa: S307
    except Exception as exc:  # a type error inside a well-formed selector, e.g. "a" < 3
        raise ToolError(f"selector [{expr}] cannot be evaluated ({exc})") from None


def select_lines(text: str, namespace: Mapping[str, object], source: str,
                 keep_line_numbers: bool = False) -> str:  # fmt: skip
    """Apply selector comments line by line, as conda-build does before parsing YAML.

    Comment-only lines become empty, lines whose selector is false are dropped (emptied with
    ``keep_line_numbers``, so line N of the result is line N of ``text``), selectors are removed
    from the lines kept.
    """
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line or line.lstrip().startswith("#"):
            out.append("")
            continue
        match = _SELECTOR_LINE.match(line) if "[" in line and "]" in line else None
        if match is None:
            out.append(line)
            continue
        try:
            keep = evaluate_selector(match["expr"], namespace)
        except ToolError as exc:
            raise ToolError(f"{source} line {number}: {exc.message}") from None
        if keep:
            quote = line[-1] if line[-1] in "'\"" else ""
            out.append((match["body"] + quote).rstrip())
        elif keep_line_numbers:
            out.append("")
    return "\n".join(out) + "\n"


def selector_names(text: str) -> list[tuple[int, str]]:
    """(line number, name) of every name the selectors of ``text`` read, functions excluded."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line or line.lstrip().startswith("#") or "[" not in line:
            continue
        match = _SELECTOR_LINE.match(line)
        if match is None:
            continue
        try:
            tree = ast.parse(match["expr"].strip(), mode="eval")
        except SyntaxError:
            continue  # select_lines reports it
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        found += [(number, n) for n in sorted(names - set(_ALLOWED_FUNCTIONS))]
    return found


# --------------------------------------------------------------------------------------------
# Reading and combining config files
# --------------------------------------------------------------------------------------------


def _as_list(value: object) -> list:
    return list(value) if isinstance(value, list) else [value]


def _trim_empty(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if v not in ("", None, [], {})}


def _zip_groups(spec: Mapping, source: str) -> list[tuple[str, ...]]:
    raw = spec.get("zip_keys")
    if not raw:
        return []
    if isinstance(raw, list) and all(isinstance(k, str) for k in raw):
        return [tuple(raw)]
    if isinstance(raw, list) and all(
        isinstance(g, list) and all(isinstance(k, str) for k in g) for g in raw
    ):
        return [tuple(g) for g in raw if g]
    raise ToolError(f"{source}: zip_keys must be a list of key lists; fix the file")


def parse_config_text(text: str, platform: str, source: str) -> dict:
    """One variant config (its text) as conda-build sees it for ``platform``; validated."""
    namespace = platform_namespace(platform)
    selected = _select_config_lines(text, namespace, source)
    try:
        data = yaml.load(selected, Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "parse error"
        raise ToolError(f"{source}: not valid YAML ({problem}{where}); fix the file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ToolError(f"{source}: a variant config must be a mapping of keys to value lists")
    spec = _trim_empty(data)
    _validate_spec(spec, source)
    return spec


def _select_config_lines(text: str, namespace: Mapping[str, object], source: str) -> str:
    try:
        return select_lines(text, namespace, source)
    except ToolError as exc:
        names = set(re.findall(r"'(\w+)'", exc.message))
        if names & _PYTHON_SELECTORS and "unknown selector name" in exc.message:
            raise ToolError(
                exc.message.split(": unknown")[0]
                + ": Python-version selectors (py, np, ...) are not supported in variant configs: "
                "conda-build evaluates them against its own interpreter, not per variant; "
                "list the values explicitly"
            ) from None
        raise


def _validate_spec(spec: Mapping, source: str) -> None:
    """conda-build's own checks of one file (validate_spec), each as one line."""
    problems = [f"key '{k}' contains '-'" for k in spec if "-" in k]
    groups = _zip_groups(spec, source)
    seen: set[str] = set()
    for group in groups:
        for key in group:
            if key not in spec:
                problems.append(f"zip_keys entry '{key}' has no values")
            if key in seen:
                problems.append(f"zip_keys entry '{key}' is in more than one group")
            seen.add(key)
        lengths = {k: len(_as_list(spec[k])) for k in group if k in spec}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k}={n}" for k, n in lengths.items())
            problems.append(f"zipped keys have unequal lengths ({shown})")
    for key, value in spec.items():
        if key == "zip_keys" or key in _EXTEND_KEYS or isinstance(value, dict):
            continue
        for item in _as_list(value):
            if not isinstance(item, str):
                problems.append(f"key '{key}' has a nested list value; use plain strings")
                break
    if problems:
        raise ToolError(f"{source}: {'; '.join(problems)}; fix the file")


def read_config(path: str | Path, platform: str) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ToolError(f"variant config not found: {path}; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolError(f"cannot read variant config {path}: {exc}") from None
    return parse_config_text(text, platform, str(path))


def combine_specs(
    specs: Sequence[tuple[str, Mapping]],
) -> tuple[dict[str, list[str]], list[tuple[str, ...]], dict[str, object]]:
    """Merge specs, later ones winning, with conda-build's rules for zipped groups.

    Returns (exploding key -> values, zip groups, pass-through keys).
    """
    groups: list[tuple[str, ...]] = []
    for source, spec in specs:
        for group in _zip_groups(spec, source):
            if group not in groups:
                groups.append(group)
    owner: dict[str, tuple[str, ...]] = {}
    for group in groups:
        for key in group:
            if key in owner and owner[key] != group:
                raise ToolError(
                    f"zip_keys: '{key}' is in two different groups across the config files; "
                    "a key may be zipped in one group only"
                )
            owner[key] = group

    values: dict[str, list[str]] = {}
    passthru: dict[str, object] = {}
    for source, spec in specs:
        for key, value in spec.items():
            if key == "zip_keys":
                continue
            if key in _EXTEND_KEYS or isinstance(value, dict):
                passthru[key] = value
                continue
            new = _as_list(value)
            group = owner.get(key, (key,))
            if all(k in spec for k in group):
                for k in group:
                    if len(_as_list(spec[k])) != len(new):
                        raise ToolError(
                            f"All entries associated by a zip_key field must be the same length. "
                            f"In {source}, {key} and {k} are different "
                            f"({len(new)} and {len(_as_list(spec[k]))})"
                        )
                    values[k] = _as_list(spec[k])
            elif key in values:
                same_length = all(
                    len(_as_list(spec[k] if k in spec else values[k])) == len(new)
                    for k in group
                    if k in spec or k in values
                )
                if same_length:
                    values[key] = new
                missing_values = [v for v in new if v not in values[key]]
                if missing_values:
                    missing_keys = [k for k in group if k not in spec]
                    raise ToolError(
                        f"variant config in {source} is ambiguous because it does not fully "
                        f"implement all zipped keys (missing {missing_keys}) or specifies a "
                        f"subspace that is not fully implemented (we did not find "
                        f"{missing_values} from {key}: {new} in {key}:{values[key]}); "
                        "set every key of the zipped group in that file"
                    )
            else:
                others = [k for k in group if k != key]
                raise ToolError(
                    f"{source}: '{key}' is zipped with {others}, which no config file defines; "
                    "define the whole group"
                )
    for group in groups:
        lengths = {k: len(values[k]) for k in group if k in values}
        missing = [k for k in group if k not in values]
        if missing:
            raise ToolError(f"zip_keys entry {missing} has no values in any config file")
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k}={n}" for k, n in lengths.items())
            raise ToolError(f"zipped keys have unequal lengths after merging ({shown})")
    return values, groups, passthru


def explode(
    values: Mapping[str, list[str]], groups: Sequence[tuple[str, ...]]
) -> list[dict[str, str]]:
    """Every combination: the product over independent keys and zipped groups, in config order."""
    dims: list[tuple[tuple[str, ...], list[tuple[str, ...]]]] = []
    placed: set[str] = set()
    for key in values:
        if key in placed:
            continue
        group = next((g for g in groups if key in g), (key,))
        dims.append((group, list(zip(*(values[k] for k in group), strict=True))))
        placed.update(group)
    combos = []
    for choice in itertools.product(*(options for _, options in dims)):
        combo: dict[str, str] = {}
        for (group, _), picked in zip(dims, choice, strict=True):
            combo.update(zip(group, picked, strict=True))
        combos.append(combo)
    return combos


def _narrow(
    combos: list[dict[str, str]], specs: Sequence[tuple[str, Mapping]]
) -> list[dict[str, str]]:
    """conda-build's last step: each key keeps the values its highest-priority file names."""
    seen: set[str] = set()
    for _, spec in reversed(specs):
        for key, value in spec.items():
            if key == "zip_keys" or key in _EXTEND_KEYS or isinstance(value, dict) or key in seen:
                continue
            allowed = _as_list(value)
            kept = [c for c in combos if c.get(key) in allowed]
            combos = kept or combos  # conda-build ignores a filter that would remove everything
            seen.add(key)
    return combos


# --------------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One concrete build configuration: a readable name and a string value for every key."""

    name: str
    values: dict[str, str]
    zip_keys: tuple[tuple[str, ...], ...] = field(default=(), compare=False, repr=False)

    @property
    def python(self) -> str | None:
        """The Python version, ``3.11``, whatever form the config wrote (``3.11.* *_cpython``)."""
        value = self.values.get("python")
        return None if value is None else python_version(value)

    @property
    def is_cuda(self) -> bool:
        return self.cuda_version is not None

    @property
    def cuda_version(self) -> str | None:
        version = self.values.get("cuda_compiler_version")
        if version is not None:
            return None if version in ("", "None") else version
        gpu = self.values.get("gpu_variant", "")
        return gpu.split("-", 1)[1] if gpu.startswith("cuda-") else None


# conda-forge's python values carry a build-string pattern: `3.11.* *_cpython`, `3.13.* *_cp313`,
# `3.13.* *_cp313t` (free-threading). The version is the first word without `.*`.
_PYTHON_VALUE = re.compile(r"^(?P<version>\d+(?:\.\d+)*)(?:\.\*)?(?:\s+(?P<build>\S+))?$")


def python_version(value: str) -> str:
    """``3.11`` for each form a config writes: ``3.11``, ``3.11.*``, ``3.11.* *_cpython``."""
    match = _PYTHON_VALUE.match(value.strip())
    if not match:
        return value.strip().split()[0] if value.strip() else value
    return ".".join(match["version"].split(".")[:2])


def _python_label(value: str) -> str:
    """``py311``; a free-threading build (``*_cp313t``) is ``py313t``."""
    match = _PYTHON_VALUE.match(value.strip())
    label = "py" + python_version(value).replace(".", "")
    if match and match["build"] and re.search(r"_cp\d+t$", match["build"]):
        label += "t"
    return label


def _label(key: str, value: str) -> str:
    """A value as a name part: no `-` (it separates the parts), spaces become `_`."""
    return re.sub(r"[^A-Za-z0-9.+_]", "", re.sub(r"\s+", "_", value.strip()))


def _base_name(values: Mapping[str, str]) -> list[str]:
    parts = []
    if "python" in values:
        parts.append(_python_label(values["python"]))
    if "gpu_variant" in values:
        parts.append(_label("gpu_variant", values["gpu_variant"]))
    elif "cuda_compiler_version" in values:
        cuda = values["cuda_compiler_version"]
        parts.append("cpu" if cuda in ("", "None") else "cuda" + cuda)
    if "blas_impl" in values:
        parts.append(_label("blas_impl", values["blas_impl"]))
    return parts


def name_variants(combos: Sequence[Mapping[str, str]],
                  groups: Sequence[Sequence[str]] = ()) -> list[str]:  # fmt: skip
    """Short names: python, GPU flavour, BLAS, plus any other key they do not determine.

    Of the keys of one zip group that vary beyond the base name (conda-forge's
    ``channel_targets``/``is_rc``), only the one with the shortest labels is named: the others
    follow from it.
    """
    bases = [tuple(_base_name(c)) for c in combos]
    varying = []
    for key in combos[0] if combos else ():
        by_base: dict[tuple, set[str]] = {}
        for base, combo in zip(bases, combos, strict=True):
            by_base.setdefault(base, set()).add(combo[key])
        if any(len(vals) > 1 for vals in by_base.values()):
            varying.append(key)

    def width(key: str) -> int:
        return max(len(f"{key}{_label(key, c[key])}") for c in combos)

    extra_keys = []
    for key in varying:
        group = next((g for g in groups if key in g), (key,))
        partners = [k for k in varying if k in group]
        if key == min(partners, key=lambda k: (width(k), partners.index(k))):
            extra_keys.append(key)
    names = [
        "-".join([*base, *(f"{k}{_label(k, c[k])}" for k in extra_keys)]) or "default"
        for base, c in zip(bases, combos, strict=True)
    ]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ToolError(f"the variant matrix lists the same variant twice ({dupes[0]}); "
                        "remove the duplicate values")  # fmt: skip
    return names


def variants_from_specs(specs: Sequence[tuple[str, Mapping]]) -> list[Variant]:
    values, groups, _ = combine_specs(specs)
    combos = _narrow(explode(values, groups), specs)
    if not combos or not combos[0]:
        return []
    frozen_groups = tuple(groups)
    return [
        Variant(name=n, values=dict(c), zip_keys=frozen_groups)
        for n, c in zip(name_variants(combos, groups), combos, strict=True)
    ]


def _paths(config_paths: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(config_paths, (str, Path)):
        return [Path(config_paths)]
    return [Path(p) for p in config_paths]


def load_variants(
    config_paths: str | Path | Iterable[str | Path] = (CONDA_BUILD_CONFIG,),
    platform: str = "linux-64",
) -> list[Variant]:
    """Every variant of the matrix for ``platform`` (CUDA included), later files overriding."""
    paths = _paths(config_paths)
    if not paths:
        raise ToolError("no variant config given; pass conda_build_config.yaml")
    specs = [(str(p), read_config(p, platform)) for p in paths]
    variants = variants_from_specs(specs)
    if not variants:
        raise ToolError(f"the variant configs define no variant for {platform}")
    return variants


def matrix(
    cuda: bool = False,
    platform: str = "linux-64",
    config_paths: str | Path | Iterable[str | Path] = (CONDA_BUILD_CONFIG,),
) -> list[Variant]:
    """The variants to build: CPU (and Metal) only unless ``cuda`` is true."""
    variants = load_variants(config_paths, platform)
    return variants if cuda else [v for v in variants if not v.is_cuda]


def find_variant(variants: Sequence[Variant], name: str) -> Variant:
    for variant in variants:
        if variant.name == name:
            return variant
    valid = ", ".join(v.name for v in variants) or "(none)"
    raise ToolError(f"unknown variant '{name}'; choose one of: {valid}")


def _dimensions(variants: Sequence[Variant]) -> list[tuple[str, ...]]:
    keys = list(variants[0].values)
    groups = [tuple(k for k in g if k in variants[0].values) for g in variants[0].zip_keys]
    dims: list[tuple[str, ...]] = []
    placed: set[str] = set()
    for key in keys:
        if key in placed:
            continue
        group = next((g for g in groups if key in g), (key,))
        dims.append(group)
        placed.update(group)
    return dims


def override_yaml(variants: Sequence[Variant]) -> str:
    """Content of a conda-build ``-m`` file that narrows the matrix to exactly ``variants``.

    Every key is written (zipped groups whole, so conda-build replaces them consistently). A set of
    variants that is not a product of per-key choices cannot be written as one file: ToolError.
    """
    if not variants:
        raise ToolError("no variant chosen; pick at least one (nox -s release -- --list)")
    keys = set(variants[0].values)
    if any(set(v.values) != keys for v in variants):
        raise ToolError("the chosen variants come from different matrices; choose from one list")
    dims = _dimensions(variants)
    options: list[list[tuple[str, ...]]] = []
    for group in dims:
        seen: list[tuple[str, ...]] = []
        for v in variants:
            picked = tuple(v.values[k] for k in group)
            if picked not in seen:
                seen.append(picked)
        options.append(seen)
    product_size = 1
    for opts in options:
        product_size *= len(opts)
    unique = {tuple(sorted(v.values.items())) for v in variants}
    if product_size != len(unique):
        raise ToolError(
            "these variants cannot be selected by one -m file (conda-build multiplies independent "
            f"keys, which would give {product_size} variants): build them one per invocation"
        )
    data: dict[str, object] = {}
    for group, opts in zip(dims, options, strict=True):
        for index, key in enumerate(group):
            data[key] = [picked[index] for picked in opts]
    zipped = [list(g) for g in dims if len(g) > 1]
    if zipped:
        data["zip_keys"] = zipped
    names = ",".join(dict.fromkeys(v.name for v in variants))
    body = yaml.safe_dump(data, default_flow_style=False, sort_keys=False)
    return (
        f"# variant: {names}\n"
        "# Written by tools/recipe/variants.py for conda-build -m: narrows the matrix to the\n"
        "# variant(s) named above. Generated; do not edit.\n" + body
    )


def write_override(variants: Sequence[Variant], path: str | Path) -> Path:
    path = Path(path)
    text = override_yaml(variants)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ToolError(f"cannot write variant override {path}: {exc}") from None
    return path


def to_json(variants: Sequence[Variant]) -> list[dict]:
    return [{"name": v.name, "variant": dict(v.values)} for v in variants]
