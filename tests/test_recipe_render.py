"""Render check: meta.yaml through selectors + Jinja2 + YAML for every variant of every platform."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tools import recipe as R
from tools.cli import ToolError
from tools.paths import CONDA_BUILD_CONFIG, RECIPE_DIR
from tools.recipe import rendering as recipe_render
from tools.recipe import variants as V

ALL = [(p, v.name) for p in V.TARGET_PLATFORMS for v in V.load_variants(platform=p)]


def render(name: str, platform: str = "linux-64", recipe_dir: Path = RECIPE_DIR) -> R.Rendered:
    return R.render(V.find_variant(V.load_variants(platform=platform), name), platform, recipe_dir)


@pytest.mark.parametrize(("platform", "name"), ALL, ids=[f"{p}:{n}" for p, n in ALL])
def test_every_variant_renders_and_checks(platform, name):
    rendered = render(name, platform)
    assert not rendered.skipped
    assert R.check_rendered(rendered) == []


def test_matrix_covered():
    assert len(ALL) == 30 + 10 + 15


# --- hand-checked content of a few variants ----------------------------------------------------


def test_linux_cuda_variant_content():
    r = render("py311-cuda12.9-mkl")
    torch = r.output("pytorch")
    assert torch.build_string == "cuda129_mkl_py311_h1234567_300"  # GPU +200, MKL +100
    assert torch.build["number"] == 300
    assert torch.build["run_exports"] == ["pytorch >=2.13.0,<2.14.0a0"]
    assert torch.reqs("build")[:4] == [
        "sysroot_linux-64 2.28",
        "gcc_linux-64 14",
        "gxx_linux-64 14",
        "cuda-nvcc_linux-64 12.9",
    ]
    assert {"cuda-version 12.9", "mkl-devel", "nccl", "cudnn"} <= set(torch.reqs("host"))
    run = torch.reqs("run")
    assert {"__cuda", "triton 3.7.1", "setuptools <82"} <= set(run)
    assert not [x for x in run if x.startswith("cuda-version")]  # the CUDA libs' run_exports pin
    assert torch.reqs("run_constrained") == ["pytorch-cpu <0.0a0"]
    requires = torch.test["requires"]
    assert {"cuda-nvcc_linux-64 12.9", "cuda-cudart-dev", "cuda-driver-dev", "ninja",
            "pytest <9.1"} <= set(requires)  # fmt: skip
    assert torch.test["source_files"] == ["test", "tools", "aten/src/ATen/native"]
    meta = r.output("pytorch-gpu")
    assert meta.reqs("run") == ["pytorch 2.13.0 cuda129_mkl_py311_*_300"]
    assert meta.build_string == "cuda129_mkl_py311_h1234567_300"
    cmds = torch.commands
    assert cmds[0] == "unset CI"
    assert cmds[3] == ('if [ "$PYTORCH_TEST_LEVEL" = core ]; then python ./test/run_test.py --core '
                       "--continue-through-error || true; fi")  # fmt: skip
    assert cmds[4] == ('if [ "$PYTORCH_TEST_LEVEL" = smoke ]; then python ./test/run_test.py -i '
                       "test_torch test_autograd test_autograd_fallback --continue-through-error "
                       "|| true; fi")  # fmt: skip
    assert "inductor/test_torchinductor.py" in cmds[5] and "= core ]" in cmds[5]
    assert cmds[6] == "pip check"
    assert r.data["build"]["script_env"] == list(R.KNOBS)


def test_linux_cpu_variant_content():
    r = render("py310-cpu-openblas")
    torch = r.output("pytorch")
    assert torch.build_string == "cpu_openblas_py310_h1234567_0"
    assert render("py310-cpu-mkl").output("pytorch").build_string == "cpu_mkl_py310_h1234567_100"
    assert "gcc_linux-64 14" in torch.reqs("build")
    assert not [b for b in torch.reqs("build") if "nvcc" in b]
    assert {"libblas * *openblas", "libcblas * *openblas", "liblapack * *openblas"} <= set(
        torch.reqs("host"))  # fmt: skip
    assert "nomkl" in torch.reqs("run")
    assert torch.reqs("run_constrained") == ["pytorch-gpu <0.0a0", "libopenblas * openmp_*",
                                             "openblas * openmp_*"]  # fmt: skip
    assert not [x for x in torch.test["requires"] if x.startswith("cuda")]
    assert [o.name for o in r.outputs] == ["pytorch", "pytorch-cpu"]
    assert r.output("pytorch-cpu").reqs("run") == ["pytorch 2.13.0 cpu_openblas_py310_*_0"]
    assert R.package_files(r) == [
        "pytorch-2.13.0-cpu_openblas_py310_h1234567_0.conda",
        "pytorch-cpu-2.13.0-cpu_openblas_py310_h1234567_0.conda",
    ]
    assert not [c for c in torch.commands if "torchinductor" in c or "--mps" in c]
    assert "libopenblas * openmp_*" not in render("py310-cpu-mkl").output(
        "pytorch").reqs("run_constrained")  # fmt: skip


def test_osx_metal_variant_content():
    r = render("py312-metal-openblas", "osx-arm64")
    torch = r.output("pytorch")
    assert torch.build_string == "metal_openblas_py312_h1234567_200"
    assert torch.reqs("build")[:3] == [
        "macosx_deployment_target_osx-arm64 12.0",
        "clang_osx-arm64",
        "clangxx_osx-arm64",
    ]
    assert "make" not in torch.reqs("build")
    assert {"llvm-openmp", "libuv"} <= set(torch.reqs("host"))
    assert ('if [ "$PYTORCH_TEST_LEVEL" = core ]; then python ./test/run_test.py --mps '
            "--continue-through-error || true; fi") in torch.commands  # fmt: skip
    assert 'python -c "import torch; assert torch.backends.mps.is_built()"' in torch.commands
    assert {"libopenblas * openmp_*", "openblas * openmp_*"} <= set(torch.reqs("run_constrained"))
    assert [o.name for o in r.outputs] == ["pytorch", "pytorch-gpu"]


def test_windows_cuda_variant_content():
    r = render("py313-cuda12.8-mkl", "win-64")
    torch = r.output("pytorch")
    assert torch.build_string == "cuda128_mkl_py313_h1234567_300"
    assert torch.reqs("build")[:4] == [
        "vs_win-64 2022",
        "vs2022_win-64",
        "vs2022_win-64",
        "cuda-nvcc_win-64 12.8",
    ]
    assert "nccl" not in torch.reqs("host")
    assert "triton 3.7.1" not in torch.reqs("run")
    assert {"cuda-nvcc_win-64 12.8", "cuda-cudart-dev"} <= set(torch.test["requires"])
    assert "cuda-driver-dev" not in torch.test["requires"]
    cmds = torch.commands
    assert cmds[0] == 'set "CI="'
    assert ('if "%PYTORCH_TEST_LEVEL%"=="core" (python ./test/run_test.py --core '
            '--continue-through-error || cmd /c "exit /b 0")') in cmds  # fmt: skip
    assert any(c.startswith('if "%PYTORCH_TEST_LEVEL%"=="smoke" (python ./test/run_test.py -i ')
               for c in cmds)  # fmt: skip
    assert not any("$" in c for c in cmds)  # no POSIX shell syntax for cmd.exe
    assert not any("libopenblas" in c for c in torch.reqs("run_constrained"))
    assert r.data["build"]["missing_dso_whitelist"] == ["*/nvcuda.dll"]


def test_solver_preferences_in_build_numbers():
    """GPU over CPU (+200), then MKL over OpenBLAS (+100), on every platform that has both."""

    def number(name, platform="linux-64"):
        return render(name, platform).output("pytorch").build["number"]

    assert (
        number("py311-cpu-openblas"),
        number("py311-cpu-mkl"),
        number("py311-cuda12.9-openblas"),
        number("py311-cuda13.0-mkl"),
    ) == (0, 100, 200, 300)
    assert (number("py311-cpu-openblas", "osx-arm64"),
            number("py311-metal-openblas", "osx-arm64")) == (0, 200)  # fmt: skip
    assert (number("py314-cpu-mkl", "win-64"), number("py314-cuda13.0-mkl", "win-64")) == (100, 300)


# --- a dev build can never pass for a release ---------------------------------------------------


@pytest.mark.parametrize("knob", R.KNOBS)
def test_dev_mark_rendered_both_ways(knob):
    for platform, name in [("linux-64", "py311-cuda12.9-mkl"),
                           ("osx-arm64", "py312-metal-openblas"),
                           ("win-64", "py310-cpu-mkl")]:  # fmt: skip
        variant = V.find_variant(V.load_variants(platform=platform), name)
        release = R.render(variant, platform)
        dev = R.render(variant, platform, environ={knob: "8.6"})
        release_files, dev_files = R.package_files(release), R.package_files(dev)
        assert not any("_dev" in f for f in release_files)
        assert dev_files == [f.replace(".conda", "_dev.conda") for f in release_files]
        assert R.check_rendered(dev) == []
        # the dev metapackage selects the dev pytorch, the release one never does
        dev_pattern = dev.outputs[1].reqs("run")[0].split()[2]
        release_pattern = release.outputs[1].reqs("run")[0].split()[2]
        assert fnmatch.fnmatchcase(dev.output("pytorch").build_string, dev_pattern)
        assert not fnmatch.fnmatchcase(dev.output("pytorch").build_string, release_pattern)
        assert not fnmatch.fnmatchcase(release.output("pytorch").build_string, dev_pattern)
    assert R.dev_knobs({knob: "1", "PATH": "/bin"}) == [knob]
    assert R.dev_knobs({knob: ""}) == []  # empty is unset, as build.sh reads it


def test_dev_mark_forgetting_a_knob_is_caught(tmp_path):
    bad = _broken(tmp_path, ' or environ.get("MAX_JOBS")', "", platforms=("win-64",))
    assert len(bad) == 15
    assert all(any(p.startswith("with MAX_JOBS set the packages are") for p in probs)
               for probs in bad.values())  # fmt: skip


def test_dev_mark_in_a_release_render_is_caught(tmp_path):
    bad = _broken(tmp_path, '{% set dev = "_dev" if dev_knob_set else "" %}',
                  '{% set dev = "_dev" %}', platforms=("osx-arm64",))  # fmt: skip
    assert len(bad) == 10
    assert all(any("expected" in p and "_dev" in p for p in probs) for probs in bad.values())


# --- the fixes of issue 12, each caught when undone ---------------------------------------------


def test_package_build_number_as_pytorch_build_number_is_caught(tmp_path):
    """PyTorch reports 2.13.0.post<N> for N > 1: every MKL or GPU variant's version check fails."""
    recipe = _copy_recipe(tmp_path)
    build_sh = recipe / "build.sh"
    text = build_sh.read_text()
    assert text.count("export PYTORCH_BUILD_NUMBER=0\n") == 1
    build_sh.write_text(
        text.replace(
            "export PYTORCH_BUILD_NUMBER=0\n", 'export PYTORCH_BUILD_NUMBER="${PKG_BUILDNUM:-0}"\n'
        )
    )
    results = R.render_check(("linux-64",), (CONDA_BUILD_CONFIG,), recipe)
    bad = {r.variant: r.problems for r in results if r.problems}
    assert sorted(bad) == sorted(v.name for v in V.load_variants()
                                 if "cpu-openblas" not in v.name)  # fmt: skip
    [problem] = bad["py311-cuda12.9-mkl"]
    assert re.fullmatch(r"build\.sh line \d+ sets PYTORCH_BUILD_NUMBER to 300: PyTorch would "
                        r"report 2\.13\.0\.post300 .* set it to 0", problem), problem  # fmt: skip
    assert R.torch_version("2.13.0", 0) == R.torch_version("2.13.0", 1) == "2.13.0"
    assert R.torch_version("2.13.0", 200) == "2.13.0.post200"


def test_bld_bat_build_number_is_read(tmp_path):
    recipe = _copy_recipe(tmp_path)
    assert R.script_build_number(recipe, "win-64", 300)[0] == 0
    bat = recipe / "bld.bat"
    bat.write_bytes(
        bat.read_bytes().replace(
            b'set "PYTORCH_BUILD_NUMBER=0"', b'set "PYTORCH_BUILD_NUMBER=%PKG_BUILDNUM%"'
        )
    )
    number, where = R.script_build_number(recipe, "win-64", 300)
    assert number == 300 and where.startswith("bld.bat line ")
    build_sh = recipe / "build.sh"
    build_sh.write_text(
        build_sh.read_text().replace(
            "export PYTORCH_BUILD_NUMBER=0\n", 'export PYTORCH_BUILD_NUMBER="$X"\n'
        )
    )
    assert R.script_build_number(recipe, "linux-64", 0)[0] is None


def test_cuda_version_run_pin_is_caught(tmp_path):
    triton = '    - triton {{ triton }}     # [linux and cuda_compiler_version != "None"]\n'
    bad = _broken(tmp_path, triton, triton +
                  "    - {{ pin_compatible('cuda-version', max_pin='x.x') }}  "
                  '# [cuda_compiler_version != "None"]\n', platforms=("linux-64",))  # fmt: skip
    assert sorted(bad) == sorted(f"linux-64:{v.name}" for v in V.load_variants() if v.is_cuda)
    assert bad["linux-64:py311-cuda12.9-mkl"] == [
        "run requirements pin ['cuda-version >=12.9,<12.10.0a0']: leave cuda-version to the CUDA "
        "libraries' run_exports"]  # fmt: skip


def test_uncapped_setuptools_and_pytest_are_caught(tmp_path):
    bad = _broken(tmp_path, "    - setuptools <82\n    - sympy", "    - setuptools\n    - sympy",
                  platforms=("win-64",))  # fmt: skip
    assert len(bad) == 15 and all("has no upper bound" in p[0] for p in bad.values())
    bad = _broken(tmp_path / "2", "    - pytest <9.1\n", "    - pytest\n", platforms=("win-64",))
    assert all(p == ["test requirements lack a capped pytest (`pytest <X`)"] for p in bad.values())


def test_missing_openmp_flavour_constraint_is_caught(tmp_path):
    line = '    - openblas * openmp_*     # [unix and blas_impl == "openblas"]\n'
    bad = _broken(tmp_path, line, "", platforms=("linux-64", "osx-arm64"))
    assert len(bad) == 15 + 10
    assert all("OpenMP flavour" in p[0] for p in bad.values())


def test_missing_test_requirements_and_sources_are_caught(tmp_path):
    bad = _broken(tmp_path, "    - cuda-driver-dev         # [linux and cuda_compiler_version != "
                  '"None"]\n', "", platforms=("linux-64",))  # fmt: skip
    assert len(bad) == 20
    assert all(p == ["test requirements lack ['cuda-driver-dev'] for the CUDA runs"]
               for p in bad.values())  # fmt: skip
    bad = _broken(tmp_path / "2", "    - aten/src/ATen/native\n", "", platforms=("win-64",))
    assert all(p == ["test source_files lack aten/src/ATen/native/ (test_ops reads "
                     "native_functions.yaml)"] for p in bad.values())  # fmt: skip


def test_inherited_ci_is_caught(tmp_path):
    bad = _broken(tmp_path, "    - unset CI  # [unix]\n", "", platforms=("osx-arm64",))
    assert len(bad) == 10 and all("`unset CI` before the suite" in p[0] for p in bad.values())


def test_recipe_version_and_source():
    assert R.recipe_version() == "2.13.0"
    r = render("py311-cpu-mkl")
    assert r.data["source"] == {
        "url": "https://github.com/pytorch/pytorch/releases/download/v2.13.0/pytorch-v2.13.0.tar.gz",
        "sha256": "66614a19060f69cfd63cd0295f65a1241bd15df2fa65c60ae51066c11c2ce812",
    }
    meta = (RECIPE_DIR / "meta.yaml").read_text()
    assert "conda-forge/pytorch-cpu-feedstock" in meta  # where the sha256 was confirmed
    assert "402ed71df3221bd239e029aad59dbe0ec98ca148" in meta


def test_recipe_version_errors(tmp_path):
    with pytest.raises(ToolError, match="cannot read"):
        R.recipe_version(tmp_path)
    (tmp_path / "meta.yaml").write_text("package:\n  name: x\n")
    with pytest.raises(ToolError, match="no {% set version"):
        R.recipe_version(tmp_path)


@pytest.mark.parametrize(
    ("version", "min_pin", "max_pin", "expected"),
    [("12.8", "x.x", "x.x", ">=12.8,<12.9.0a0"), ("2.13.0", "x.x.x", "x.x", ">=2.13.0,<2.14.0a0"),
     ("3.11", "x.x", "x", ">=3.11,<4.0a0"), ("12", "x", "x.x", ">=12,<12.1.0a0")],
)  # fmt: skip
def test_pin_expressions(version, min_pin, max_pin, expected):
    assert recipe_render._pin(version, min_pin, max_pin) == expected


def test_template_functions():
    ctx = recipe_render._Context({"c_compiler": "gcc", "c_compiler_version": "14", "python": "3.12",
                      "cuda_compiler_version": "None"}, "linux-64", "2.13.0")  # fmt: skip
    assert ctx.compiler("c") == "gcc_linux-64 14"
    assert ctx.compiler("cxx") == "gxx_linux-64"  # conda-build's native default, no version
    assert ctx.stdlib("c") == "c_linux-64"
    assert ctx.pin_compatible("python", max_pin="x.x") == "python >=3.12,<3.13.0a0"
    assert ctx.pin_compatible("cuda-version") == "cuda-version"  # not a CUDA variant
    assert ctx.pin_subpackage("pytorch", max_pin="x.x") == "pytorch >=2.13.0,<2.14.0a0"
    assert ctx.pin_subpackage("pytorch", exact=True) == "pytorch 2.13.0"
    assert ctx.cdt("libx11-devel") == "libx11-devel-cos6-x86_64"
    assert (
        recipe_render._Context({}, "linux-aarch64", "1").cdt("mesa 1.0") == "mesa-cos7-aarch64 1.0"
    )


def test_environ_reaches_jinja(tmp_path):
    recipe = _copy_recipe(tmp_path)
    meta = recipe / "meta.yaml"
    meta.write_text(
        meta.read_text().replace(
            "summary: Tensors", 'summary: {{ environ.get("SUMMARY_PREFIX", "") }}Tensors'
        )
    )
    v = V.find_variant(V.load_variants(), "py311-cpu-mkl")
    r = R.render(v, "linux-64", recipe, environ={"SUMMARY_PREFIX": "X "})
    assert r.data["about"]["summary"].startswith("X Tensors")


# --- no two variants make the same package file ------------------------------------------------


@pytest.mark.parametrize("platform", V.TARGET_PLATFORMS)
def test_no_two_variants_make_the_same_package_file(platform):
    """release builds every variant into one --output-folder: a shared name is overwritten.

    Names come from our render with PKG_HASH's placeholder, so they are unique without the hash.
    """
    variants = V.load_variants(platform=platform)
    files = [f for v in variants for f in R.package_files(R.render(v, platform))]
    assert len(files) == 2 * len(variants)
    assert len(set(files)) == len(files), sorted(f for f in files if files.count(f) > 1)
    assert all(f.endswith(".conda") and "h1234567" in f for f in files)


@pytest.mark.parametrize("platform", V.TARGET_PLATFORMS)
def test_each_metapackage_selects_its_own_pytorch_build(platform):
    rendered = [R.render(v, platform) for v in V.load_variants(platform=platform)]
    builds = {r.variant.name: r.output("pytorch").build_string for r in rendered}
    for r in rendered:
        meta = next(o for o in r.outputs if o.name in ("pytorch-cpu", "pytorch-gpu"))
        name, version, pattern = meta.reqs("run")[0].split()
        assert (name, version) == ("pytorch", "2.13.0")
        selected = [v for v, b in builds.items() if fnmatch.fnmatchcase(b, pattern)]
        assert selected == [r.variant.name]
        assert meta.build_string == builds[r.variant.name]  # same shape; the real hashes differ


def test_python_independent_metapackage_is_caught(tmp_path):
    """The recipe before the fix: one metapackage name for all the Pythons (the real
    conda-build rendered pytorch-cpu-2.13.0-cpu_mkl_hae8db99_0.conda for each of them)."""
    recipe = _copy_recipe(tmp_path)
    meta = recipe / "meta.yaml"
    text = meta.read_text()
    for old, new in [
        ("string: {{ flavour }}_{{ blas_impl }}_py{{ CONDA_PY }}_h{{ PKG_HASH }}_{{ build }}"
         "{{ dev }}\n    requirements:",
         "string: {{ flavour }}_{{ blas_impl }}_h{{ PKG_HASH }}_{{ build }}{{ dev }}\n"
         "    requirements:"),
        ("- pytorch {{ version }} {{ flavour }}_{{ blas_impl }}_py{{ CONDA_PY }}_*_{{ build }}",
         "- pytorch {{ version }} {{ flavour }}_{{ blas_impl }}_*_{{ build }}"),
    ]:  # fmt: skip
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    meta.write_text(text)
    results = R.render_check(("win-64",), (CONDA_BUILD_CONFIG,), recipe)
    problems = {r.variant: r.problems for r in results}
    assert len(problems) == 15 and all(problems.values())
    p311 = problems["py311-cpu-mkl"]
    assert ("package file pytorch-cpu-2.13.0-cpu_mkl_h1234567_100.conda is also made by "
            "py310-cpu-mkl, py312-cpu-mkl, py313-cpu-mkl, py314-cpu-mkl: one --output-folder keeps "
            "only the last one built") in p311  # fmt: skip
    assert any("selects the pytorch of py310-cpu-mkl, py311-cpu-mkl, py312-cpu-mkl, "
               "py313-cpu-mkl, py314-cpu-mkl, not of py311-cpu-mkl alone" in p
               for p in p311)  # fmt: skip
    assert any("does not pin this variant's flavour, BLAS, python" in p for p in p311)


def test_metapackage_pinning_another_python_is_caught(tmp_path):
    bad = _broken(tmp_path, "_py{{ CONDA_PY }}_*_{{ build }}", "_py310_*_{{ build }}",
                  platforms=("osx-arm64",))  # fmt: skip
    assert sorted(bad) == [f"osx-arm64:py3{m}-{g}-openblas" for m in (11, 12, 13, 14)
                           for g in ("cpu", "metal")]  # fmt: skip
    assert all(any("misses" in p for p in probs) for probs in bad.values())


# --- a recipe edit that breaks one variant fails the check --------------------------------------


def _copy_recipe(tmp_path: Path) -> Path:
    dest = tmp_path / "recipe"
    shutil.copytree(RECIPE_DIR, dest)
    return dest


def _broken(tmp_path: Path, old: str, new: str, platforms=V.TARGET_PLATFORMS) -> dict[str, list]:
    recipe = _copy_recipe(tmp_path)
    meta = recipe / "meta.yaml"
    text = meta.read_text()
    assert text.count(old) == 1, old
    meta.write_text(text.replace(old, new))
    results = R.render_check(platforms, (CONDA_BUILD_CONFIG,), recipe)
    return {f"{r.platform}:{r.variant}": list(r.problems) for r in results if r.problems}


def test_unchanged_copy_passes(tmp_path):
    assert _broken(tmp_path, "license_family: BSD", "license_family: BSD") == {}


def test_selector_edit_breaking_one_python_is_caught(tmp_path):
    bad = _broken(
        tmp_path,
        '- mkl-devel               # [blas_impl == "mkl"]',
        '- mkl-devel               # [blas_impl == "mkl" and py != 312]',
    )
    assert sorted(bad) == ["linux-64:py312-cpu-mkl", "linux-64:py312-cuda12.9-mkl",
                           "linux-64:py312-cuda13.0-mkl", "win-64:py312-cpu-mkl",
                           "win-64:py312-cuda12.8-mkl", "win-64:py312-cuda13.0-mkl"]  # fmt: skip
    assert all("lack ['mkl-devel'] for blas_impl mkl" in p[0] for p in bad.values())


def test_losing_the_mps_run_is_caught(tmp_path):
    bad = _broken(
        tmp_path,
        '|| true; fi  # [gpu_variant == "metal"]',
        '|| true; fi  # [gpu_variant == "cuda-12.9"]',
    )
    assert sorted(bad) == sorted(
        [f"osx-arm64:py3{m}-metal-openblas" for m in (10, 11, 12, 13, 14)]
        + [
            f"linux-64:py3{m}-cuda12.9-{b}"
            for m in (10, 11, 12, 13, 14)
            for b in ("mkl", "openblas")
        ]
    )


def test_masking_a_fatal_check_is_caught(tmp_path):
    bad = _broken(tmp_path, "    - pip check\n", "    - pip check || true\n",
                  platforms=("linux-64",))  # fmt: skip
    assert len(bad) == 30
    assert all(any("lack `pip check`" in p for p in probs) for probs in bad.values())


def test_removing_a_knob_from_script_env_is_caught(tmp_path):
    bad = _broken(tmp_path, "    - MAX_JOBS\n", "", platforms=("win-64",))
    assert len(bad) == 15
    assert all(p[0].startswith("build/script_env is") for p in bad.values())


def test_yaml_error_in_one_variant_is_caught(tmp_path):
    bad = _broken(tmp_path, "  license: BSD-3-Clause\n",
                  '  license: BSD-3-Clause\n{% if gpu_variant == "metal" %}  oops: [\n{% endif %}',
                  platforms=("osx-arm64",))  # fmt: skip
    assert sorted(bad) == [f"osx-arm64:py3{m}-metal-openblas" for m in (10, 11, 12, 13, 14)]
    assert all("rendered recipe is not valid YAML" in p[0] for p in bad.values())


def test_jinja_error_and_unknown_selector_are_caught(tmp_path):
    bad = _broken(tmp_path, "{{ triton }}", "{{ triton_version }}", platforms=("linux-64",))
    # only the 20 CUDA variants: selectors drop the line before Jinja sees it, as in conda-build
    assert sorted(bad) == sorted(f"linux-64:{v.name}" for v in V.load_variants() if v.is_cuda)
    assert all("Jinja2 error: 'triton_version' is undefined" in p[0] for p in bad.values())
    bad = _broken(tmp_path / "2", "- make                    # [linux]",
                  "- make                    # [linnux]", platforms=("linux-64",))  # fmt: skip
    assert all(re.search(r"line \d+: unknown selector name 'linnux'", p[0]) for p in bad.values())


def test_main_reports(capsys):
    assert R.main(["--platform", "win-64"]) == 0
    assert capsys.readouterr().out.strip() == "render check: 15/15 variants ok"


def test_other_platforms_are_skipped():
    v = V.load_variants(platform="linux-aarch64")[0]
    rendered = R.render(v, "linux-aarch64")
    assert rendered.skipped
    assert R.check_rendered(rendered) == ["variant is skipped on linux-aarch64, a target platform"]


# --- the test commands, run by bash as conda-build's test script does (set -ex) -----------------


def _run_test_script(tmp_path: Path, commands, *, env=None, python_rc: int = 0):
    """All commands in one script under `bash -e -x`, as conda-build writes run_test.sh, with a
    fake `python`/`pip` that record their arguments (and whether CI was set) and exit python_rc."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("python", "pip"):
        fake = bin_dir / tool
        fake.write_text(
            f'#!/bin/sh\necho "{tool} $* CI=${{CI-unset}}" >> "{tmp_path}/calls"\n'
            f"exit {python_rc if tool == 'python' else 0}\n"
        )
        fake.chmod(0o755)
    full = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), **(env or {})}
    script = tmp_path / "run_test.sh"
    script.write_text("".join(f"{c}\n" for c in commands) + "exit 0\n")
    proc = subprocess.run(["bash", "-e", "-x", str(script)], env=full, cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return proc, [c for c in calls if "run_test.py" in c]


CORE = "python ./test/run_test.py --core --continue-through-error CI=unset"
SMOKE = ("python ./test/run_test.py -i test_torch test_autograd test_autograd_fallback "
         "--continue-through-error CI=unset")  # fmt: skip
INDUCTOR = ("python ./test/run_test.py -i inductor/test_torchinductor.py --continue-through-error "
            "CI=unset")  # fmt: skip


@pytest.mark.parametrize(
    ("env", "suites", "message"),
    [({}, [CORE, INDUCTOR], None),  # release: unset is the core selection
     ({"PYTORCH_TEST_LEVEL": "core"}, [CORE, INDUCTOR], None),
     ({"PYTORCH_TEST_LEVEL": "smoke"}, [SMOKE], None),
     ({"PYTORCH_TEST_LEVEL": "none"}, [], "PYTORCH_TEST_LEVEL=none, PyTorch test suite skipped"),
     ({"PYTORCH_SKIP_TESTS": "1"}, [], "PYTORCH_SKIP_TESTS=1, PyTorch test suite skipped"),
     ({"PYTORCH_SKIP_TESTS": "0"}, [CORE, INDUCTOR], None),
     ({"PYTORCH_SKIP_TESTS": "1", "PYTORCH_TEST_LEVEL": "smoke"}, [SMOKE], None),  # level wins
     ({"CI": "true"}, [CORE, INDUCTOR], None)],  # the suite never sees the runner's CI
    ids=["unset", "core", "smoke", "none", "skip-alias", "skip-0", "level-wins", "ci-true"],
)  # fmt: skip
def test_test_levels_run_the_rendered_commands(tmp_path, env, suites, message):
    commands = render("py311-cuda12.9-mkl").output("pytorch").commands
    proc, calls = _run_test_script(tmp_path, commands, env=env, python_rc=0)
    assert proc.returncode == 0, proc.stderr
    assert calls == suites
    if message:
        assert message in proc.stdout
    assert "+ pip check" in proc.stderr.splitlines()  # the fatal checks run at every level


def test_unknown_test_level_fails_the_test_phase(tmp_path):
    commands = render("py311-cpu-mkl").output("pytorch").commands
    proc, calls = _run_test_script(tmp_path, commands, env={"PYTORCH_TEST_LEVEL": "all"})
    assert proc.returncode == 1 and calls == []
    assert "PYTORCH_TEST_LEVEL must be none, smoke or core, got 'all'" in proc.stderr


def test_failing_suite_is_masked_but_visible(tmp_path):
    commands = render("py311-cpu-mkl").output("pytorch").commands
    suite = [c for c in commands if "run_test.py" in c or "TEST_LEVEL" in c or c == "unset CI"]
    proc, calls = _run_test_script(tmp_path, suite, python_rc=1)
    assert proc.returncode == 0  # `|| true`: the suite cannot fail the package...
    assert calls == [CORE]
    # ...but the log shows it: bash echoes the command, then `+ true` because it failed
    trace = proc.stderr.splitlines()
    index = trace.index("+ python ./test/run_test.py --core --continue-through-error")
    assert trace[index + 1] == "+ true"


def test_fatal_checks_are_not_masked(tmp_path):
    commands = render("py311-cpu-mkl").output("pytorch").commands
    check = next(c for c in commands if "assert not torch.backends.cuda.is_built()" in c)
    proc, _ = _run_test_script(tmp_path, [check], env={"PYTORCH_SKIP_TESTS": "1"}, python_rc=1)
    assert proc.returncode == 1


def test_windows_test_commands_mirror_the_levels():
    """cmd.exe cannot run here: the Windows commands name the same levels and the same files."""
    cmds = render("py311-cuda12.8-mkl", "win-64").output("pytorch").commands
    unix = render("py311-cuda12.9-mkl").output("pytorch").commands
    suite = [c for c in cmds if "run_test.py" in c]
    assert [re.search(r"run_test\.py (.*?) --continue", c).group(1) for c in suite] == [
        re.search(r"run_test\.py (.*?) --continue", c).group(1) for c in unix
        if "run_test.py" in c and "inductor" not in c]  # fmt: skip
    assert all("%PYTORCH_TEST_LEVEL%" in c for c in suite)
    assert any("PYTORCH_SKIP_TESTS=1, PyTorch test suite skipped" in c for c in cmds)
    assert any("exit /b 1" in c and "must be none, smoke or core" in c for c in cmds)


def test_selection_knob_runs_only_the_selection_and_unset_runs_the_release_suite(tmp_path):
    """PYTORCH_TEST_SELECTION (dev_test --failed-only) replaces the suite; unset, the release
    selection runs (the fatal checks run either way)."""
    commands = render("py311-cpu-mkl").output("pytorch").commands
    proc, _ = _run_test_script(
        tmp_path / "sel", commands, env={"PYTORCH_TEST_SELECTION": str(tmp_path / "sel.json")}
    )
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "sel" / "calls").read_text().splitlines()
    assert [c for c in calls if "run_selected_tests.py" in c] == [
        "python ./run_selected_tests.py CI=unset"
    ]
    assert not [c for c in calls if "run_test.py" in c]
    assert "the selected tests only" in proc.stdout
    assert "+ pip check" in proc.stderr.splitlines()
    proc, suites = _run_test_script(tmp_path / "unset", commands)
    assert proc.returncode == 0 and suites == [CORE]
    assert "run_selected_tests.py" not in (tmp_path / "unset" / "calls").read_text()


def test_selection_runner_calls_run_test_py_per_file_without_a_shell(tmp_path):
    """recipe/run_selected_tests.py, run by a real Python, with a fake `python` on PATH."""
    import json
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python"
    fake.write_text(
        f'#!/bin/sh\nfor a in "$@"; do printf "%s|" "$a"; done >> "{tmp_path}/calls"'
        f'\necho >> "{tmp_path}/calls"\nexit 1\n'
    )
    fake.chmod(0o755)
    selection = tmp_path / "sel.json"
    selection.write_text(
        json.dumps(
            {
                "files": ["test_nn", "test_jit"],
                "tests": {"test_nn": ["TestNN::test_a[x-1]", "TestNN::test_b"]},
            }
        )
    )
    proc = subprocess.run(
        [sys.executable, str(RECIPE_DIR / "run_selected_tests.py")],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTORCH_TEST_SELECTION": str(selection)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0  # like the release suite under `|| true`
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        "./test/run_test.py|--continue-through-error|-i|test_nn|--|-k|"
        "(TestNN and test_a[x-1]) or (TestNN and test_b)|",
        "./test/run_test.py|--continue-through-error|-i|test_jit|",
    ]
