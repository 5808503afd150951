"""Every variable the recipe uses is set by our matrix (or is conda-build's own).

conda-build fills a variant key that no config sets from its internal defaults (conda-build's
conda_build/variants.py DEFAULT_VARIANTS), which depend on the Python conda-build itself runs
under: without a `numpy` key the real conda-build 26.7.1 rendered `numpy 1.23.*` into the host of
every variant of this recipe, Python 3.12 and 3.13 included, which have no numpy 1.23. These tests
collect what the recipe uses (tools.recipe.variable_uses: meta.yaml's Jinja names and selectors,
compiler()/stdlib(), build/host requirements a variant key pins, the inputs of build.sh/bld.bat)
and fail on any that only conda-build's defaults, or nothing, would set.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools import recipe as R
from tools.paths import CONDA_BUILD_CONFIG, RECIPE_DIR
from tools.recipe import variants as V

ALL = [(p, v) for p in V.TARGET_PLATFORMS for v in V.load_variants(platform=p)]
IDS = [f"{p}:{v.name}" for p, v in ALL]

# NumPy minor version -> (oldest, newest) Python it supports: the "Python versions supported"
# line of each release's notes (numpy.org/doc/stable/release/<version>-notes.html). conda
# channels build each release for those Pythons.
NUMPY_PYTHONS = {
    "1.22": ("3.8", "3.10"),
    "1.23": ("3.8", "3.11"),
    "1.24": ("3.8", "3.11"),
    "1.25": ("3.9", "3.11"),
    "1.26": ("3.9", "3.12"),
    "2.0": ("3.9", "3.12"),
    "2.1": ("3.10", "3.13"),
    "2.2": ("3.10", "3.13"),
    "2.3": ("3.11", "3.14"),
    "2.4": ("3.11", "3.14"),
}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def numpy_releases_for(pin: str, python: str) -> list[str]:
    """The NumPy releases a host pin `numpy <pin>` can resolve to under ``python``.

    conda-build turns the variant value into `numpy <pin>.*` (conda_build/utils.py
    ensure_valid_spec), so "2" matches 2.0, 2.1, ... and "2.1" matches 2.1 only.
    """
    return [
        minor
        for minor, (oldest, newest) in NUMPY_PYTHONS.items()
        if (minor == pin or minor.startswith(pin + "."))
        and _version(oldest) <= _version(python) <= _version(newest)
    ]


# --- the repository's matrix ------------------------------------------------------------------


@pytest.mark.parametrize(("platform", "variant"), ALL, ids=IDS)
def test_every_variable_the_recipe_uses_is_set(platform, variant):
    assert R.unset_variables(variant, platform) == []


@pytest.mark.parametrize(("platform", "variant"), ALL, ids=IDS)
def test_numpy_pin_has_builds_for_the_variants_python(platform, variant):
    numpy, python = variant.values["numpy"], variant.values["python"]
    assert numpy_releases_for(numpy, python), f"no numpy {numpy}.* for Python {python}"


def test_numpy_is_numpy_2_for_every_variant():
    assert {v.values["numpy"] for _, v in ALL} == {"2"}
    assert numpy_releases_for("2", "3.10") == ["2.0", "2.1", "2.2"]
    assert numpy_releases_for("2", "3.13") == ["2.1", "2.2", "2.3", "2.4"]


def test_numpy_2_has_builds_for_314():
    assert numpy_releases_for("2", "3.14") == ["2.3", "2.4"]


def test_conda_builds_internal_numpy_had_no_builds_for_312_and_313():
    """What the real conda-build rendered without our numpy key (running under Python 3.11)."""
    assert [p for p in ("3.10", "3.11", "3.12", "3.13") if not numpy_releases_for("1.23", p)] == [
        "3.12",
        "3.13",
    ]


def test_used_keys_hand_checked():
    """The keys the recipe reads, per platform (CUDA variants add cuda_compiler)."""
    common = {"python", "numpy", "blas_impl", "gpu_variant", "cuda_compiler_version",
              "c_compiler", "cxx_compiler", "c_stdlib", "c_stdlib_version"}  # fmt: skip
    for platform, name, extra in [
        ("linux-64", "py311-cpu-mkl", set()),
        ("linux-64", "py311-cuda12.9-mkl", {"cuda_compiler"}),
        ("osx-arm64", "py312-metal-openblas", {"MACOSX_SDK_VERSION"}),  # build.sh, macOS only
        ("win-64", "py313-cuda12.8-mkl", {"cuda_compiler"}),
    ]:
        variant = V.find_variant(V.load_variants(platform=platform), name)
        uses = R.variable_uses(variant, platform)
        assert {u.key for u in uses if u.key} == common | extra, (platform, name)
    # where python and numpy come from: the host requirements conda-build pins, CONDA_PY
    variant = V.find_variant(V.load_variants(), "py311-cpu-mkl")
    uses = R.variable_uses(variant, "linux-64")
    assert {(u.name, u.where) for u in uses if u.key == "numpy"} == {
        ("numpy", "meta.yaml pytorch host requirement")
    }
    assert {u.name for u in uses if u.key == "python"} == {"python", "CONDA_PY", "PYTHON"}


def test_the_internal_defaults_the_recipe_uses_are_in_our_config():
    """python and numpy: the keys of conda-build's internal default list that matter here."""
    used = {u.key for p, v in ALL for u in R.variable_uses(v, p)} & set(R.CONDA_BUILD_DEFAULTS)
    assert used == {"python", "numpy", "c_compiler", "cxx_compiler"}
    text = CONDA_BUILD_CONFIG.read_text()
    for platform in V.TARGET_PLATFORMS:
        assert used <= set(V.parse_config_text(text, platform, "cbc"))


def test_no_key_of_ours_shadows_a_conda_build_variable():
    keys = {k for p in V.TARGET_PLATFORMS for v in V.load_variants(platform=p) for k in v.values}
    assert not keys & set(R.CONDA_BUILD_PROVIDES)
    assert "target_platform" not in keys  # conda-build sets it from the platform being built


@pytest.mark.parametrize("platform", V.TARGET_PLATFORMS)
def test_override_files_keep_every_key_the_recipe_uses(tmp_path, platform):
    """dev_build and release pass `-m conda_build_config.yaml -m <override>`: one variant, with
    python and numpy still set (an override without them would bring the defaults back)."""
    for variant in V.load_variants(platform=platform):
        path = V.write_override([variant], tmp_path / f"{platform}-{variant.name}.yaml")
        narrowed = V.load_variants([CONDA_BUILD_CONFIG, path], platform=platform)
        assert narrowed == [variant]
        assert R.unset_variables(narrowed[0], platform) == []


def test_render_check_includes_it():
    results = R.render_check()
    assert len(results) == len(ALL) and not [r for r in results if r.problems]


# --- the test can fail ----------------------------------------------------------------------------


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    recipe = tmp_path / "recipe"
    shutil.copytree(RECIPE_DIR, recipe)
    config = tmp_path / "conda_build_config.yaml"
    shutil.copy(CONDA_BUILD_CONFIG, config)
    return recipe, config


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _unset(recipe: Path, config: Path, platforms=V.TARGET_PLATFORMS) -> dict[str, list[str]]:
    """Problems of unset_variables per variant (only those that have some)."""
    found = {}
    for platform in platforms:
        for variant in V.load_variants([config], platform):
            problems = R.unset_variables(variant, platform, recipe)
            if problems:
                found[f"{platform}:{variant.name}"] = problems
    return found


def test_unchanged_copies_pass(tmp_path):
    assert _unset(*_copy(tmp_path)) == {}


def test_host_perl_is_caught(tmp_path):
    recipe, config = _copy(tmp_path)
    _edit(recipe / "meta.yaml", "    - pip\n    - setuptools >=77", "    - pip\n    - perl\n"
          "    - setuptools >=77")  # fmt: skip
    found = _unset(recipe, config)
    assert len(found) == len(ALL)
    assert found["linux-64:py311-cpu-mkl"] == [
        "meta.yaml pytorch host requirement uses perl, which conda_build_config.yaml does not "
        "set: conda-build would use its internal default (5.26.2); set perl in "
        "conda_build_config.yaml"
    ]
    # and through the render check, as `python -m tools.recipe` runs it
    results = R.render_check(("win-64",), (config,), recipe)
    assert all(any("uses perl" in p for p in r.problems) for r in results)


def test_unknown_jinja_variable_is_caught(tmp_path):
    recipe, config = _copy(tmp_path)
    _edit(recipe / "meta.yaml", "  summary: Tensors", "  summary: {{ foo }} Tensors")
    found = _unset(recipe, config, ("osx-arm64",))
    assert len(found) == 10
    [problem] = found["osx-arm64:py310-cpu-openblas"]
    assert problem.startswith("meta.yaml line ")
    assert problem.endswith(
        " uses foo, which neither conda_build_config.yaml sets nor conda-build provides; set foo "
        "in conda_build_config.yaml (or, if conda-build sets it, add it to CONDA_BUILD_PROVIDES "
        "in tools/recipe/uses.py)"
    )
    line = int(problem.split()[2])
    assert "{{ foo }}" in (recipe / "meta.yaml").read_text().splitlines()[line - 1]
    # the render check gives the Jinja error and this reason
    [result] = [r for r in R.render_check(("osx-arm64",), (config,), recipe)
                if r.variant == "py310-cpu-openblas"]  # fmt: skip
    assert "Jinja2 error: 'foo' is undefined" in result.problems[0]
    assert result.problems[1] == problem


def test_numpy_missing_from_the_matrix_is_caught(tmp_path):
    """The bug of issue 8: the config without numpy."""
    recipe, config = _copy(tmp_path)
    _edit(config, "numpy:\n  - 2\n", "")
    found = _unset(recipe, config)
    assert len(found) == len(ALL)
    assert found["linux-64:py313-cpu-mkl"] == [
        "meta.yaml pytorch host requirement uses numpy, which conda_build_config.yaml does not "
        "set: conda-build would use its internal default (1.22-1.26, chosen by the Python "
        "conda-build itself runs under); set numpy in conda_build_config.yaml"
    ]


def test_derived_names_and_selectors_need_their_key(tmp_path):
    recipe, config = _copy(tmp_path)
    _edit(config, "numpy:\n  - 2\n", "")
    _edit(recipe / "meta.yaml", "    - numpy\n    - packaging", "    - numpy >=2\n    - packaging")
    assert _unset(recipe, config) == {}  # a version in the recipe: nothing pins it from a key
    _edit(recipe / "meta.yaml", "  summary: Tensors", "  summary: np{{ CONDA_NPY }} Tensors")
    found = _unset(recipe, config, ("linux-64",))
    assert len(found) == 30
    assert all(p[0].endswith("uses CONDA_NPY (from numpy), which conda_build_config.yaml does "
                             "not set: conda-build would use its internal default (1.22-1.26, "
                             "chosen by the Python conda-build itself runs under); set numpy in "
                             "conda_build_config.yaml") for p in found.values())  # fmt: skip
    recipe, config = _copy(tmp_path / "2")
    _edit(config, "numpy:\n  - 2\n", "")
    _edit(recipe / "meta.yaml", "    - pip check\n", "    - pip check  # [np >= 2]\n")
    found = _unset(recipe, config, ("win-64",))
    assert len(found) == 15
    assert all(" (selector) uses np (from numpy)" in p[0] for p in found.values())


def test_compiler_without_a_key_is_caught(tmp_path):
    recipe, config = _copy(tmp_path)
    _edit(recipe / "meta.yaml", "    - cmake\n    - ninja", "    - {{ compiler('fortran') }}\n"
          "    - cmake\n    - ninja")  # fmt: skip
    found = _unset(recipe, config, ("linux-64",))
    assert len(found) == 30
    assert all("uses compiler('fortran') (from fortran_compiler), which conda_build_config.yaml "
               "does not set: conda-build would use its internal default (gfortran)" in p[0]
               for p in found.values())  # fmt: skip


def test_build_sh_reading_an_unset_key_is_caught(tmp_path):
    recipe, config = _copy(tmp_path)
    _edit(recipe / "build.sh", 'target_platform="${target_platform:-}"\n',
          'target_platform="${target_platform:-}"\nopt="${cpu_optimization_target}"\n'
          'echo "${foo_flavour:-x}"\n')  # fmt: skip
    found = _unset(recipe, config, ("linux-64", "osx-arm64", "win-64"))
    assert len(found) == 30 + 10  # not win-64: it runs bld.bat
    problems = found["osx-arm64:py311-metal-openblas"]
    assert len(problems) == 2
    assert problems[0].startswith("build.sh line 31 uses cpu_optimization_target, which "
                                  "conda_build_config.yaml does not set: conda-build would use "
                                  "its internal default (nocona)")  # fmt: skip
    assert problems[1].startswith("build.sh line 32 uses foo_flavour, which neither")


def test_bld_bat_reading_an_unset_key_is_caught(tmp_path):
    recipe, config = _copy(tmp_path)
    bat = recipe / "bld.bat"
    added = b'set "is_cuda=0"\r\nif "%lua%"=="5" exit /b 1\r\n'
    bat.write_bytes(bat.read_bytes().replace(b'set "is_cuda=0"\r\n', added))
    found = _unset(recipe, config)
    assert sorted(found) == [f"win-64:{v.name}" for v in V.load_variants(platform="win-64")]
    assert all(p[0].startswith("bld.bat line ") and " uses lua, which conda_build_config.yaml "
               "does not set: conda-build would use its internal default (5)" in p[0]
               for p in found.values())  # fmt: skip


def test_a_knob_reaches_the_script_only_through_script_env(tmp_path):
    recipe, config = _copy(tmp_path)
    _edit(recipe / "meta.yaml", "    - MAX_JOBS\n", "")
    found = _unset(recipe, config, ("linux-64",))
    assert len(found) == 30
    line = next(n for n, name in R.script_inputs((recipe / "build.sh").read_text(), "sh")
                if name == "MAX_JOBS")  # fmt: skip
    assert all(p[0].startswith(f"build.sh line {line} uses MAX_JOBS, which neither")
               for p in found.values())  # fmt: skip


# --- the script reader --------------------------------------------------------------------------


def test_script_inputs_sh():
    text = "\n".join([
        "#!/bin/bash",
        "# ${in_a_comment}",
        'x="${x:-default}"',  # read on the line that assigns it: an input
        'y=1; echo "$y ${z}"',  # reads on a line count before its assignments: y is an input
        "export W=2",
        'echo "${W}" "$CPU_COUNT" "$1" "$*"',
        "case a in b) local_v=3 ;; esac",
        'echo "${local_v}"',
    ])  # fmt: skip
    assert R.script_inputs(text, "sh") == ((3, "x"), (4, "y"), (4, "z"), (6, "CPU_COUNT"))


def test_script_inputs_bat():
    text = "\r\n".join([
        "rem %in_a_comment%",
        ":: %also_a_comment%",
        'if not defined gpu_variant set "gpu_variant=cpu"',
        'set "mine=1"',
        'if "%mine%"=="1" echo %gpu_variant:~0,5% !PREFIX! %%i 100%',
        'set /a "_jobs=MAX_JOBS"',
        "echo %_jobs% %MAX_JOBS%",
    ])  # fmt: skip
    assert R.script_inputs(text, "bat") == ((3, "gpu_variant"), (5, "PREFIX"), (7, "MAX_JOBS"))


def test_recipe_scripts_inputs_hand_checked():
    sh = R.script_inputs((RECIPE_DIR / "build.sh").read_text(), "sh")
    assert [n for _, n in sh] == [
        "SRC_DIR", "PREFIX", "PYTHON", "blas_impl", "gpu_variant", "cuda_compiler_version",
        "target_platform", "c_stdlib_version", "PYTHONPATH", "TORCH_CUDA_ARCH_LIST",
        "BUILD_PREFIX", "CMAKE_ARGS", "CONDA_BUILD_SYSROOT", "MACOSX_SDK_VERSION",
        "PYTORCH_CCACHE", "CCACHE_CONFIGPATH", "MAX_JOBS", "CPU_COUNT", "CFLAGS", "CXXFLAGS",
        "LDFLAGS", "PKG_VERSION",
    ]  # fmt: skip
    bat = R.script_inputs((RECIPE_DIR / "bld.bat").read_text(), "bat")
    assert [n for _, n in bat] == [
        "gpu_variant", "cuda_compiler_version", "PYTHONPATH", "blas_impl", "LIBRARY_PREFIX",
        "TORCH_CUDA_ARCH_LIST", "BUILD_PREFIX", "CMAKE_ARGS", "MAX_JOBS", "CPU_COUNT",
        "PYTORCH_CCACHE", "CCACHE_CONFIGPATH", "PKG_VERSION", "SRC_DIR", "PYTHON",
    ]  # fmt: skip
    # the build number never comes from the package: PyTorch would append .post<N>
    assert "PKG_BUILDNUM" not in {n for _, n in sh} | {n for _, n in bat}


def test_script_inputs_loop_and_local_names():
    text = "\n".join([
        "f() {",
        '    local a="$1" b c=""',
        "    for d in x y; do",
        '        echo "$a $b $c $d $e"',
        "    done",
        "}",
    ])  # fmt: skip
    assert R.script_inputs(text, "sh") == ((4, "e"),)


def test_a_macos_only_key_is_not_needed_elsewhere(tmp_path):
    recipe, config = _copy(tmp_path)
    _edit(config, "MACOSX_SDK_VERSION:          # [osx]\n  - 14.5                     # [osx]\n",
          "")  # fmt: skip
    found = _unset(recipe, config)
    assert sorted(found) == [f"osx-arm64:{v.name}" for v in V.load_variants(platform="osx-arm64")]
    assert all(p[0].startswith("build.sh line ") and " uses MACOSX_SDK_VERSION, which neither"
               in p[0] for p in found.values())  # fmt: skip
