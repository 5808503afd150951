"""``python -m tools.recipe``: every variant of every target platform rendered and checked, no
two variants making the same package file, no variable left unset.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.cli import EXIT_FAIL, EXIT_OK, ArgumentParser, ToolError
from tools.paths import CONDA_BUILD_CONFIG, RECIPE_DIR
from tools.recipe.checks import check_rendered, dev_mark_problems
from tools.recipe.rendering import Rendered, package_files, render
from tools.recipe.uses import unset_variables
from tools.recipe.variants import TARGET_PLATFORMS, Variant, load_variants


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
