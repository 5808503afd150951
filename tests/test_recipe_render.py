"""Render check: meta.yaml through selectors + Jinja2 + YAML for every variant of every platform."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tools import recipe as R
from tools import variants as V
from tools.cli import ToolError
from tools.paths import CONDA_BUILD_CONFIG, RECIPE_DIR

ALL = [(p, v.name) for p in V.TARGET_PLATFORMS for v in V.load_variants(platform=p)]


def render(name: str, platform: str = "linux-64", recipe_dir: Path = RECIPE_DIR) -> R.Rendered:
    return R.render(V.find_variant(V.load_variants(platform=platform), name), platform, recipe_dir)


@pytest.mark.parametrize(("platform", "name"), ALL, ids=[f"{p}:{n}" for p, n in ALL])
def test_every_variant_renders_and_checks(platform, name):
    rendered = render(name, platform)
    assert not rendered.skipped
    assert R.check_rendered(rendered) == []


def test_matrix_covered():
    assert len(ALL) == 24 + 8 + 8


# --- hand-checked content of a few variants ----------------------------------------------------


def test_linux_cuda_variant_content():
    r = render("py311-cuda12.8-mkl")
    torch = r.output("pytorch")
    assert torch.build_string == "cuda128_mkl_py311_h1234567_200"
    assert torch.build["number"] == 200
    assert torch.reqs("build")[:4] == [
        "sysroot_linux-64 2.28",
        "gcc_linux-64 14",
        "gxx_linux-64 14",
        "cuda-nvcc_linux-64 12.8",
    ]
    assert {"cuda-version 12.8", "mkl-devel", "nccl", "cudnn"} <= set(torch.reqs("host"))
    assert {"__cuda", "triton 3.7.1", "cuda-version >=12.8,<12.9.0a0"} <= set(torch.reqs("run"))
    assert torch.reqs("run_constrained") == ["pytorch-cpu <0.0a0"]
    meta = r.output("pytorch-gpu")
    assert meta.reqs("run") == ["pytorch 2.13.0 cuda128_mkl_py311_*_200"]
    assert meta.build_string == "cuda128_mkl_py311_h1234567_200"
    cmds = torch.commands
    assert cmds[0] == (
        'if [ "${PYTORCH_SKIP_TESTS:-}" = 1 ]; then echo "PYTORCH_SKIP_TESTS=1, PyTorch test suite '
        'skipped"; else python ./test/run_test.py --core --continue-through-error || true; fi'
    )
    assert "inductor/test_torchinductor.py" in cmds[1]
    assert cmds[2] == "pip check"
    assert r.data["build"]["script_env"] == list(R.KNOBS)


def test_linux_cpu_openblas_variant_content():
    r = render("py310-cpu-openblas")
    torch = r.output("pytorch")
    assert torch.build_string == "cpu_openblas_py310_h1234567_0"
    assert "gcc_linux-64 14" in torch.reqs("build")
    assert not [b for b in torch.reqs("build") if "nvcc" in b]
    assert {"libblas * *openblas", "libcblas * *openblas", "liblapack * *openblas"} <= set(
        torch.reqs("host"))  # fmt: skip
    assert "nomkl" in torch.reqs("run")
    assert [o.name for o in r.outputs] == ["pytorch", "pytorch-cpu"]
    assert r.output("pytorch-cpu").reqs("run") == ["pytorch 2.13.0 cpu_openblas_py310_*_0"]
    assert R.package_files(r) == [
        "pytorch-2.13.0-cpu_openblas_py310_h1234567_0.conda",
        "pytorch-cpu-2.13.0-cpu_openblas_py310_h1234567_0.conda",
    ]
    assert not [c for c in torch.commands if "torchinductor" in c or "--mps" in c]


def test_osx_metal_variant_content():
    r = render("py312-metal-openblas", "osx-arm64")
    torch = r.output("pytorch")
    assert torch.build_string == "metal_openblas_py312_h1234567_200"
    assert torch.reqs("build")[:3] == [
        "macosx_deployment_target_osx-arm64 11.0",
        "clang_osx-arm64",
        "clangxx_osx-arm64",
    ]
    assert "make" not in torch.reqs("build")
    assert {"llvm-openmp", "libuv"} <= set(torch.reqs("host"))
    assert any("./test/run_test.py --mps --continue-through-error || true" in c
               for c in torch.commands)  # fmt: skip
    assert 'python -c "import torch; assert torch.backends.mps.is_built()"' in torch.commands
    assert [o.name for o in r.outputs] == ["pytorch", "pytorch-gpu"]


def test_windows_cuda_variant_content():
    r = render("py313-cuda12.8-mkl", "win-64")
    torch = r.output("pytorch")
    assert torch.reqs("build")[:4] == [
        "vs_win-64 2022",
        "vs2022_win-64",
        "vs2022_win-64",
        "cuda-nvcc_win-64 12.8",
    ]
    assert "nccl" not in torch.reqs("host")
    assert "triton 3.7.1" not in torch.reqs("run")
    assert torch.commands[0] == (
        'if "%PYTORCH_SKIP_TESTS%"=="1" (echo PYTORCH_SKIP_TESTS=1, PyTorch test suite skipped) '
        'else (python ./test/run_test.py --core --continue-through-error || cmd /c "exit /b 0")'
    )
    assert not any("$" in c for c in torch.commands)  # no POSIX shell syntax for cmd.exe
    assert r.data["build"]["missing_dso_whitelist"] == ["*/nvcuda.dll"]


def test_gpu_builds_outrank_cpu_builds():
    cpu = render("py311-cpu-mkl").output("pytorch").build["number"]
    gpu = render("py311-cuda12.6-mkl").output("pytorch").build["number"]
    metal = render("py311-metal-openblas", "osx-arm64").output("pytorch").build["number"]
    assert gpu > cpu and metal > render("py311-cpu-openblas", "osx-arm64").output(
        "pytorch").build["number"]  # fmt: skip


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
    assert R._pin(version, min_pin, max_pin) == expected


def test_template_functions():
    ctx = R._Context({"c_compiler": "gcc", "c_compiler_version": "14", "python": "3.12",
                      "cuda_compiler_version": "None"}, "linux-64", "2.13.0")  # fmt: skip
    assert ctx.compiler("c") == "gcc_linux-64 14"
    assert ctx.compiler("cxx") == "gxx_linux-64"  # conda-build's native default, no version
    assert ctx.stdlib("c") == "c_linux-64"
    assert ctx.pin_compatible("python", max_pin="x.x") == "python >=3.12,<3.13.0a0"
    assert ctx.pin_compatible("cuda-version") == "cuda-version"  # not a CUDA variant
    assert ctx.pin_subpackage("pytorch", max_pin="x.x") == "pytorch >=2.13.0,<2.14.0a0"
    assert ctx.pin_subpackage("pytorch", exact=True) == "pytorch 2.13.0"
    assert ctx.cdt("libx11-devel") == "libx11-devel-cos6-x86_64"
    assert R._Context({}, "linux-aarch64", "1").cdt("mesa 1.0") == "mesa-cos7-aarch64 1.0"


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
    """The recipe before the fix: one metapackage name for all four Pythons (the real
    conda-build rendered pytorch-cpu-2.13.0-cpu_mkl_hae8db99_0.conda for each of them)."""
    recipe = _copy_recipe(tmp_path)
    meta = recipe / "meta.yaml"
    text = meta.read_text()
    for old, new in [
        ("string: {{ flavour }}_{{ blas_impl }}_py{{ CONDA_PY }}_h{{ PKG_HASH }}_{{ build }}\n"
         "    requirements:",
         "string: {{ flavour }}_{{ blas_impl }}_h{{ PKG_HASH }}_{{ build }}\n    requirements:"),
        ("- pytorch {{ version }} {{ flavour }}_{{ blas_impl }}_py{{ CONDA_PY }}_*_{{ build }}",
         "- pytorch {{ version }} {{ flavour }}_{{ blas_impl }}_*_{{ build }}"),
    ]:  # fmt: skip
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    meta.write_text(text)
    results = R.render_check(("win-64",), (CONDA_BUILD_CONFIG,), recipe)
    problems = {r.variant: r.problems for r in results}
    assert len(problems) == 8 and all(problems.values())
    p311 = problems["py311-cpu-mkl"]
    assert ("package file pytorch-cpu-2.13.0-cpu_mkl_h1234567_0.conda is also made by "
            "py310-cpu-mkl, py312-cpu-mkl, py313-cpu-mkl: one --output-folder keeps only the last "
            "one built") in p311  # fmt: skip
    assert any("selects the pytorch of py310-cpu-mkl, py311-cpu-mkl, py312-cpu-mkl, "
               "py313-cpu-mkl, not of py311-cpu-mkl alone" in p for p in p311)  # fmt: skip
    assert any("does not pin this variant's flavour, BLAS, python" in p for p in p311)


def test_metapackage_pinning_another_python_is_caught(tmp_path):
    bad = _broken(tmp_path, "_py{{ CONDA_PY }}_*_{{ build }}", "_py310_*_{{ build }}",
                  platforms=("osx-arm64",))  # fmt: skip
    assert sorted(bad) == [f"osx-arm64:py3{m}-{g}-openblas" for m in (11, 12, 13)
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
    assert sorted(bad) == ["linux-64:py312-cpu-mkl", "linux-64:py312-cuda12.6-mkl",
                           "linux-64:py312-cuda12.8-mkl", "win-64:py312-cpu-mkl",
                           "win-64:py312-cuda12.8-mkl"]  # fmt: skip
    assert all("lack ['mkl-devel'] for blas_impl mkl" in p[0] for p in bad.values())


def test_losing_the_mps_run_is_caught(tmp_path):
    bad = _broken(
        tmp_path,
        '|| true; fi  # [gpu_variant == "metal"]',
        '|| true; fi  # [gpu_variant == "cuda-12.6"]',
    )
    assert sorted(bad) == sorted(
        [f"osx-arm64:py3{m}-metal-openblas" for m in (10, 11, 12, 13)]
        + [f"linux-64:py3{m}-cuda12.6-{b}" for m in (10, 11, 12, 13) for b in ("mkl", "openblas")]
    )


def test_masking_a_fatal_check_is_caught(tmp_path):
    bad = _broken(tmp_path, "    - pip check\n", "    - pip check || true\n",
                  platforms=("linux-64",))  # fmt: skip
    assert len(bad) == 24
    assert all(any("lack `pip check`" in p for p in probs) for probs in bad.values())


def test_removing_a_knob_from_script_env_is_caught(tmp_path):
    bad = _broken(tmp_path, "    - MAX_JOBS\n", "", platforms=("win-64",))
    assert len(bad) == 8
    assert all(p[0].startswith("build/script_env is") for p in bad.values())


def test_yaml_error_in_one_variant_is_caught(tmp_path):
    bad = _broken(tmp_path, "  license: BSD-3-Clause\n",
                  '  license: BSD-3-Clause\n{% if gpu_variant == "metal" %}  oops: [\n{% endif %}',
                  platforms=("osx-arm64",))  # fmt: skip
    assert sorted(bad) == [f"osx-arm64:py3{m}-metal-openblas" for m in (10, 11, 12, 13)]
    assert all("rendered recipe is not valid YAML" in p[0] for p in bad.values())


def test_jinja_error_and_unknown_selector_are_caught(tmp_path):
    bad = _broken(tmp_path, "{{ triton }}", "{{ triton_version }}", platforms=("linux-64",))
    # only the 16 CUDA variants: selectors drop the line before Jinja sees it, as in conda-build
    assert sorted(bad) == sorted(f"linux-64:{v.name}" for v in V.load_variants() if v.is_cuda)
    assert all("Jinja2 error: 'triton_version' is undefined" in p[0] for p in bad.values())
    bad = _broken(tmp_path / "2", "- make                    # [linux]",
                  "- make                    # [linnux]", platforms=("linux-64",))  # fmt: skip
    assert all(re.search(r"line \d+: unknown selector name 'linnux'", p[0]) for p in bad.values())


def test_main_reports(capsys):
    assert R.main(["--platform", "win-64"]) == 0
    assert capsys.readouterr().out.strip() == "render check: 8/8 variants ok"


def test_other_platforms_are_skipped():
    v = V.load_variants(platform="linux-aarch64")[0]
    rendered = R.render(v, "linux-aarch64")
    assert rendered.skipped
    assert R.check_rendered(rendered) == ["variant is skipped on linux-aarch64, a target platform"]


# --- the suite commands, run by bash as conda-build's test script does (set -ex) ----------------


def _run_suite_command(tmp_path: Path, command: str, *, skip: str | None, python_rc: int):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    fake = bin_dir / "python"  # a stand-in for the test env's python: records, exits python_rc
    fake.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/calls"\nexit {python_rc}\n')
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    if skip is not None:
        env["PYTORCH_SKIP_TESTS"] = skip
    proc = subprocess.run(["bash", "-e", "-x", "-c", command], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return proc, calls


def test_suite_command_runs_masks_failure_and_honours_skip(tmp_path):
    command = render("py311-cpu-mkl").output("pytorch").commands[0]
    proc, calls = _run_suite_command(tmp_path / "a", command, skip=None, python_rc=1)
    assert proc.returncode == 0  # `|| true`: the suite cannot fail the package...
    assert calls == ["./test/run_test.py --core --continue-through-error"]
    # ...but the log shows it: bash echoes the command, then `+ true` because it failed
    trace = proc.stderr.splitlines()
    index = trace.index("+ python ./test/run_test.py --core --continue-through-error")
    assert trace[index + 1] == "+ true"
    proc, calls = _run_suite_command(tmp_path / "b", command, skip="1", python_rc=1)
    assert (proc.returncode, calls) == (0, [])
    assert "PYTORCH_SKIP_TESTS=1, PyTorch test suite skipped" in proc.stdout
    proc, calls = _run_suite_command(tmp_path / "c", command, skip="0", python_rc=0)
    assert calls == ["./test/run_test.py --core --continue-through-error"]


def test_fatal_checks_are_not_masked(tmp_path):
    commands = render("py311-cpu-mkl").output("pytorch").commands
    check = next(c for c in commands if "assert not torch.backends.cuda.is_built()" in c)
    proc, calls = _run_suite_command(tmp_path, check, skip="1", python_rc=1)
    assert proc.returncode == 1 and len(calls) == 1
