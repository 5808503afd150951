"""The section checks of tools.recipe, one at a time, on small hand-made renders.

Each test starts from a render that the check passes, breaks one rule (or a few) and asserts the
exact messages, so that a check dropped, weakened or reworded fails here. test_recipe_render.py
runs the same checks over the real recipe.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import recipe as R
from tools.recipe import rendering as recipe_render
from tools.recipe import variants as V

VERSION = "2.13.0"
SHA = "0123456789abcdef" * 4
URL = f"https://github.com/pytorch/pytorch/releases/download/v{VERSION}/pytorch-v{VERSION}.tar.gz"

CUDA = R.Expected(platform="linux-64", version=VERSION, gpu="cuda-12.9", cuda="12.9", blas="mkl",
                  python="311", c_compiler="gcc", cxx_compiler="gxx",
                  c_stdlib="sysroot")  # fmt: skip
CPU = R.Expected(platform="osx-arm64", version=VERSION, gpu="cpu", blas="openblas", python="312",
                 c_compiler="clang", cxx_compiler="clangxx",
                 c_stdlib="macosx_deployment_target")  # fmt: skip

CORE = ('if [ "$PYTORCH_TEST_LEVEL" = core ]; then python ./test/run_test.py --core '
        "--continue-through-error || true; fi")  # fmt: skip
SMOKE = ('if [ "$PYTORCH_TEST_LEVEL" = smoke ]; then python ./test/run_test.py -i test_torch '
         "--continue-through-error || true; fi")  # fmt: skip
INDUCTOR = ('if [ "$PYTORCH_TEST_LEVEL" = core ]; then python ./test/run_test.py -i '
            "inductor/test_torchinductor.py --continue-through-error || true; fi")  # fmt: skip
SELECT = 'if [ -n "$PYTORCH_TEST_SELECTION" ]; then python ./run_selected_tests.py || true; fi'
RESOLVE = ('[ -n "$PYTORCH_TEST_LEVEL" ] || PYTORCH_TEST_LEVEL=core; '
           '[ "$PYTORCH_SKIP_TESTS" != 1 ] || PYTORCH_TEST_LEVEL=none')  # fmt: skip
REFUSE = 'case "$PYTORCH_TEST_LEVEL" in none|smoke|core) ;; *) exit 1 ;; esac'
VERSION_ASSERT = (
    f"python -c \"import torch; assert torch.__version__.split('+')[0] == '{VERSION}'\""
)


def _assert(text: str) -> str:
    return f'python -c "import torch; assert {text}"'


BUILD_NEEDS = ["python", "pip", "setuptools", "numpy", "packaging", "pyyaml", "requests", "six",
               "typing_extensions"]  # fmt: skip
RUN_NEEDS = ["python", "filelock", "fsspec", "jinja2", "networkx", "sympy", "typing_extensions",
             "setuptools <82"]  # fmt: skip


def cuda_render() -> dict:
    """A Linux CUDA 12.9 MKL variant, rendered by hand: every check passes it."""
    build_string = "cuda129_mkl_py311_h1234567_300"
    return {
        "package": {"name": "pytorch", "version": VERSION},
        "source": {"url": URL, "sha256": SHA},
        "build": {"number": 300, "script_env": list(R.KNOBS)},
        "outputs": [
            {
                "name": "pytorch",
                "build": {
                    "number": 300,
                    "string": build_string,
                    "run_exports": ["pytorch >=2.13.0,<2.14.0a0"],
                },  # fmt: skip
                "requirements": {
                    "build": [
                        "sysroot_linux-64 2.28",
                        "gcc_linux-64 14",
                        "gxx_linux-64 14",
                        "cuda-nvcc_linux-64 12.9",
                        "cmake",
                        "ninja",
                    ],  # fmt: skip
                    "host": [
                        *BUILD_NEEDS,
                        "mkl-devel",
                        "cuda-version 12.9",
                        "cuda-cudart-dev",
                        "libcublas-dev",
                        "cudnn",
                        "nccl",
                    ],  # fmt: skip
                    "run": [*RUN_NEEDS, "__cuda"],
                    "run_constrained": ["pytorch-cpu <0.0a0"],
                },
                "test": {
                    "requires": [
                        "cuda-nvcc_linux-64 12.9",
                        "cuda-cudart-dev",
                        "cuda-driver-dev",
                        "ninja",
                        "pytest <9.1",
                    ],  # fmt: skip
                    "source_files": ["test", "tools", "aten/src/ATen/native"],
                    "files": ["run_selected_tests.py"],
                    "imports": ["torch"],
                    "commands": [
                        "unset CI",
                        SELECT,
                        RESOLVE,
                        REFUSE,
                        CORE,
                        SMOKE,
                        INDUCTOR,
                        "pip check",
                        VERSION_ASSERT,
                        _assert("'BLAS_INFO=mkl' in x"),
                        _assert("torch.backends.cuda.is_built()"),
                        _assert("torch.version.cuda == '12.9'"),
                        _assert("torch.backends.cudnn.is_available()"),
                    ],  # fmt: skip
                },
            },
            {
                "name": "pytorch-gpu",
                "build": {"number": 300, "string": build_string},
                "requirements": {"run": ["pytorch 2.13.0 cuda129_mkl_py311_*_300"]},
                "test": {"imports": ["torch"]},
            },
        ],
    }


def cpu_render() -> dict:
    """A macOS arm64 CPU OpenBLAS variant, rendered by hand: every check passes it."""
    blas = [f"{name} * *openblas" for name in ("libblas", "libcblas", "liblapack")]
    return {
        "package": {"name": "pytorch", "version": VERSION},
        "source": {"url": URL, "sha256": SHA},
        "build": {"number": 0, "script_env": list(R.KNOBS)},
        "outputs": [
            {
                "name": "pytorch",
                "build": {
                    "number": 0,
                    "string": "cpu_openblas_py312_h1234567_0",
                    "run_exports": ["pytorch >=2.13.0,<2.14.0a0"],
                },  # fmt: skip
                "requirements": {
                    "build": [
                        "macosx_deployment_target_osx-arm64 12.0",
                        "clang_osx-arm64",
                        "clangxx_osx-arm64",
                        "cmake",
                        "ninja",
                    ],  # fmt: skip
                    "host": [*BUILD_NEEDS, *blas],
                    "run": [*RUN_NEEDS, "nomkl"],
                    "run_constrained": [
                        "pytorch-gpu <0.0a0",
                        "libopenblas * openmp_*",
                        "openblas * openmp_*",
                    ],  # fmt: skip
                },
                "test": {
                    "requires": ["ninja", "pytest <9.1"],
                    "source_files": ["test", "tools", "aten/src/ATen/native"],
                    "files": ["run_selected_tests.py"],
                    "imports": ["torch"],
                    "commands": [
                        "unset CI",
                        SELECT,
                        RESOLVE,
                        REFUSE,
                        CORE,
                        SMOKE,
                        "pip check",
                        VERSION_ASSERT,
                        _assert("'BLAS_INFO=open' in x"),
                        _assert("not torch.backends.cuda.is_built()"),
                    ],  # fmt: skip
                },
            },
            {
                "name": "pytorch-cpu",
                "build": {"number": 0, "string": "cpu_openblas_py312_h1234567_0"},
                "requirements": {"run": ["pytorch 2.13.0 cpu_openblas_py312_*_0"]},
                "test": {"imports": ["torch"]},
            },
        ],
    }


def sections(data: dict) -> R.Sections:
    outputs = tuple(
        R.Output(name=o["name"], version=VERSION, build=o.get("build", {}),
                 requirements=o.get("requirements", {}), test=o.get("test", {}))
        for o in data["outputs"]
    )  # fmt: skip
    return R.Sections(source=data["source"], build=data["build"], outputs=outputs)


def torch(data: dict) -> dict:
    return data["outputs"][0]


def meta(data: dict) -> dict:
    return data["outputs"][1]


def commands(data: dict) -> list[str]:
    return torch(data)["test"]["commands"]


@pytest.mark.parametrize(
    ("render", "want"), [(cuda_render, CUDA), (cpu_render, CPU)], ids=["cuda", "cpu"]
)
@pytest.mark.parametrize("check", [c for c in R.SECTION_CHECKS if c is not R.check_build_script])
def test_the_hand_made_renders_pass_every_check(render, want, check):
    assert check(sections(render()), want) == []


def test_section_checks_run_in_the_order_of_the_recipe():
    """The order of check_rendered's messages is this order."""
    assert [c.__name__ for c in R.SECTION_CHECKS] == [
        "check_source", "check_outputs", "check_script_env", "check_pytorch_build",
        "check_build_script", "check_build_requirements", "check_blas_requirements",
        "check_cuda_requirements", "check_run_requirements", "check_metapackage",
        "check_test_requirements", "check_test_suite", "check_test_assertions",
        "check_test_imports",
    ]  # fmt: skip


# --- source, outputs, build ----------------------------------------------------------------------


def test_check_source():
    data = cuda_render()
    data["source"] = {"url": URL.replace("v2.13.0", "v2.12.0"), "sha256": SHA.upper()}
    assert R.check_source(sections(data), CUDA) == [
        "source url is not the release tarball with submodules: "
        "https://github.com/pytorch/pytorch/releases/download/v2.12.0/pytorch-v2.12.0.tar.gz",
        f"source sha256 is not 64 hex digits: {SHA.upper()!r}",
    ]
    data["source"] = {"url": URL, "sha256": SHA[:-1]}
    assert R.check_source(sections(data), CUDA) == [
        f"source sha256 is not 64 hex digits: {SHA[:-1]!r}"
    ]


def test_check_outputs():
    data = cuda_render()
    assert R.check_outputs(sections(data), CPU) == [
        "outputs are ['pytorch', 'pytorch-gpu'], expected ['pytorch', 'pytorch-cpu']"
    ]
    data["outputs"].reverse()
    assert R.check_outputs(sections(data), CUDA) == [
        "outputs are ['pytorch-gpu', 'pytorch'], expected ['pytorch', 'pytorch-gpu']"
    ]


def test_check_script_env():
    data = cuda_render()
    data["build"]["script_env"] = list(reversed(R.KNOBS))  # the order does not matter
    assert R.check_script_env(sections(data), CUDA) == []
    data["build"]["script_env"] = [k for k in R.KNOBS if k != "MAX_JOBS"]
    assert R.check_script_env(sections(data), CUDA) == [
        "build/script_env is ['TORCH_CUDA_ARCH_LIST', 'PYTORCH_CCACHE', 'CCACHE_CONFIGPATH', "
        "'PYTORCH_SKIP_TESTS', 'PYTORCH_TEST_LEVEL', 'PYTORCH_TEST_SELECTION'], expected exactly "
        "['TORCH_CUDA_ARCH_LIST', 'PYTORCH_CCACHE', 'CCACHE_CONFIGPATH', 'MAX_JOBS', "
        "'PYTORCH_SKIP_TESTS', 'PYTORCH_TEST_LEVEL', 'PYTORCH_TEST_SELECTION']"
    ]


def test_check_pytorch_build():
    data = cuda_render()
    torch(data)["build"].update(number=250, string="cuda129_mkl_py311_h1234567_250", run_exports=[])
    assert R.check_pytorch_build(sections(data), CUDA) == [
        "build number 250: expected a base below 100 plus 300 (GPU +200, MKL +100)",
        "pytorch run_exports [] lack 'pytorch >=2.13.0,<2.14.0a0'",
    ]
    dev = R.Expected(**{**CUDA.__dict__, "knobs": ("MAX_JOBS",)})
    assert R.check_pytorch_build(sections(cuda_render()), dev) == [
        "pytorch build string 'cuda129_mkl_py311_h1234567_300', expected "
        "'cuda129_mkl_py311_h1234567_300_dev' (knobs set: MAX_JOBS)"
    ]
    data = cpu_render()
    torch(data)["build"]["string"] = "cpu_openblas_py312_h1234567_0_dev"
    assert R.check_pytorch_build(sections(data), CPU) == [
        "pytorch build string 'cpu_openblas_py312_h1234567_0_dev', expected "
        "'cpu_openblas_py312_h1234567_0'"
    ]


def test_check_build_script(tmp_path: Path):
    want = R.Expected(**{**CUDA.__dict__, "recipe_dir": tmp_path})
    assert R.check_build_script(sections(cuda_render()), want) == [
        "build.sh (unreadable): PYTORCH_BUILD_NUMBER must be a literal 0 (or 1): the torch "
        "version the tests assert depends on it"
    ]
    (tmp_path / "build.sh").write_text("set -ex\nexport PYTORCH_BUILD_NUMBER=0\n")
    assert R.check_build_script(sections(cuda_render()), want) == []
    (tmp_path / "build.sh").write_text('set -ex\nexport PYTORCH_BUILD_NUMBER="$PKG_BUILDNUM"\n')
    assert R.check_build_script(sections(cuda_render()), want) == [
        "build.sh line 2 sets PYTORCH_BUILD_NUMBER to 300: PyTorch would report 2.13.0.post300 "
        "(tools/generate_torch_version.py appends .post<N> for N > 1) and the test's version "
        "assert (2.13.0) fails; set it to 0"
    ]
    # the CPU OpenBLAS package's number is 0: the same line is harmless there
    cpu = R.Expected(**{**CPU.__dict__, "recipe_dir": tmp_path})
    assert R.check_build_script(sections(cpu_render()), cpu) == []
    win = R.Expected(**{**CUDA.__dict__, "platform": "win-64", "recipe_dir": tmp_path})
    (tmp_path / "bld.bat").write_text('set "PYTORCH_BUILD_NUMBER=%MY_NUMBER%"\n')
    assert R.check_build_script(sections(cuda_render()), win) == [
        "bld.bat line 1: PYTORCH_BUILD_NUMBER must be a literal 0 (or 1): the torch "
        "version the tests assert depends on it"
    ]


# --- requirements --------------------------------------------------------------------------------


def test_check_build_requirements():
    data = cuda_render()
    reqs = torch(data)["requirements"]
    reqs["build"] = ["gcc_linux-64 14", "cmake"]
    reqs["host"].remove("pyyaml")
    assert R.check_build_requirements(sections(data), CUDA) == [
        "build requirements lack the cxx compiler gxx_linux-64",
        "build requirements lack stdlib('c')",
        "CUDA compiler in build requirements: [] for gpu_variant cuda-12.9",
        "build/host requirements lack ninja",
        "build/host requirements lack pyyaml",
    ]
    data = cpu_render()
    torch(data)["requirements"]["build"].append("cuda-nvcc_osx-arm64 12.9")
    assert R.check_build_requirements(sections(data), CPU) == [
        "CUDA compiler in build requirements: ['cuda-nvcc_osx-arm64 12.9'] for gpu_variant cpu"
    ]


def test_check_blas_requirements():
    data = cpu_render()
    reqs = torch(data)["requirements"]
    reqs["host"] = [r for r in reqs["host"] if not r.startswith("libcblas")] + ["mkl-devel"]
    reqs["run_constrained"].remove("openblas * openmp_*")
    assert R.check_blas_requirements(sections(data), CPU) == [
        "host requirements lack ['libcblas'] for blas_impl openblas",
        "OpenBLAS variants must pin libblas/libcblas/liblapack to *openblas",
        "blas_impl openblas variant depends on mkl-devel",
        "an OpenBLAS variant must constrain libopenblas/openblas to their OpenMP flavour "
        "(`* openmp_*`) in run_constrained",
    ]
    # Windows OpenBLAS has no OpenMP flavour to constrain
    win = R.Expected(**{**CPU.__dict__, "platform": "win-64"})
    assert R.check_blas_requirements(sections(cpu_render()), win) == [
        "blas_impl openblas on win-64 constrains the OpenBLAS flavour"
    ]
    data = cuda_render()
    torch(data)["requirements"]["run"].append("nomkl")
    torch(data)["requirements"]["host"].remove("mkl-devel")
    assert R.check_blas_requirements(sections(data), CUDA) == [
        "host requirements lack ['mkl-devel'] for blas_impl mkl"
    ]
    torch(data)["requirements"]["host"].append("mkl-devel")
    assert R.check_blas_requirements(sections(data), CUDA) == [
        "an MKL variant must not depend on nomkl"
    ]
    accelerate = R.Expected(**{**CPU.__dict__, "blas": "accelerate"})
    assert R.check_blas_requirements(sections(cpu_render()), accelerate) == [
        "unknown blas_impl 'accelerate'"
    ]


def test_check_cuda_requirements():
    data = cuda_render()
    reqs = torch(data)["requirements"]
    reqs["host"] = [r for r in reqs["host"] if r not in ("cuda-version 12.9", "cudnn", "nccl")]
    reqs["run"] = [r for r in reqs["run"] if r != "__cuda"] + ["cuda-version >=12.9,<12.10.0a0"]
    assert R.check_cuda_requirements(sections(data), CUDA) == [
        "host requirements lack 'cuda-version 12.9'",
        "host requirements lack cudnn for CUDA",
        "CUDA variant does not depend on __cuda",
        "nccl must be a host requirement on Linux CUDA builds only",
        "run requirements pin ['cuda-version >=12.9,<12.10.0a0']: leave cuda-version to the "
        "CUDA libraries' run_exports",
    ]
    win = R.Expected(**{**CUDA.__dict__, "platform": "win-64"})
    assert R.check_cuda_requirements(sections(cuda_render()), win) == [
        "nccl must be a host requirement on Linux CUDA builds only"
    ]
    data = cpu_render()
    torch(data)["requirements"]["host"].append("cuda-cudart-dev")
    assert R.check_cuda_requirements(sections(data), CPU) == ["cpu variant has CUDA requirements"]


def test_check_run_requirements():
    data = cuda_render()
    reqs = torch(data)["requirements"]
    reqs["run"] = [r for r in reqs["run"] if r not in ("fsspec", "setuptools <82")]
    reqs["run"].append("setuptools >=70")
    reqs["run_constrained"] = ["pytorch-gpu <0.0a0"]
    assert R.check_run_requirements(sections(data), CUDA) == [
        "run requirements lack fsspec",
        "run requirement 'setuptools >=70' has no upper bound: torch's metadata caps setuptools "
        "(<82), so `pip check` fails on a newer one",
        "pytorch does not exclude pytorch-cpu in run_constrained",
    ]


# --- the metapackage -----------------------------------------------------------------------------


def test_check_metapackage():
    data = cuda_render()
    meta(data)["build"] = {"number": 301, "string": "cuda129_mkl_py311_h1234567_301"}
    meta(data)["requirements"]["run"] = ["pytorch 2.12.0 cpu_*"]
    assert R.check_metapackage(sections(data), CUDA) == [
        "pytorch-gpu build string 'cuda129_mkl_py311_h1234567_301', "
        "expected 'cuda129_mkl_py311_h1234567_300'",
        "pytorch-gpu pins 'pytorch 2.12.0 cpu_*', not pytorch 2.13.0",
        "pytorch-gpu build pattern 'cpu_*' misses 'cuda129_mkl_py311_h1234567_300'",
        "pytorch-gpu build number differs from pytorch's",
    ]
    data = cuda_render()
    meta(data)["requirements"]["run"] = ["pytorch 2.13.0 cuda129_*"]
    assert R.check_metapackage(sections(data), CUDA) == [
        "pytorch-gpu build pattern 'cuda129_*' does not pin this variant's flavour, BLAS, python "
        "and build number (cuda129_mkl_py311_*_300)"
    ]
    meta(data)["requirements"]["run"] = ["pytorch", "numpy"]
    assert R.check_metapackage(sections(data), CUDA) == [
        "pytorch-gpu run requirements ['pytorch', 'numpy']: want 'pytorch VERSION BUILD'"
    ]
    dev = R.Expected(**{**CPU.__dict__, "knobs": ("PYTORCH_CCACHE",)})
    data = cpu_render()
    for out in data["outputs"]:
        out["build"]["string"] += "_dev"
    assert R.check_metapackage(sections(data), dev) == [
        "pytorch-cpu build pattern 'cpu_openblas_py312_*_0' misses "
        "'cpu_openblas_py312_h1234567_0_dev'"
    ]
    meta(data)["requirements"]["run"] = ["pytorch 2.13.0 cpu_openblas_py312_*_0*"]
    assert R.check_metapackage(sections(data), dev) == [
        "pytorch-cpu build pattern 'cpu_openblas_py312_*_0*' does not pin this variant's "
        "flavour, BLAS, python and build number (cpu_openblas_py312_*_0_dev)"
    ]
    meta(data)["requirements"]["run"] = ["pytorch 2.13.0 cpu_openblas_py312_*_0_dev"]
    assert R.check_metapackage(sections(data), dev) == []


# --- tests ---------------------------------------------------------------------------------------


def test_check_test_requirements():
    data = cuda_render()
    test = torch(data)["test"]
    test["requires"] = ["cuda-nvcc_linux-64 12.9", "pytest"]
    test["source_files"] = ["test"]
    assert R.check_test_requirements(sections(data), CUDA) == [
        "test requirements lack a capped pytest (`pytest <X`)",
        "test requirements lack ninja (cpp_extension and inductor tests)",
        "test requirements lack ['cuda-cudart-dev', 'cuda-driver-dev'] for the CUDA runs",
        "test source_files lack tools/ (run_test.py imports it)",
        "test source_files lack aten/src/ATen/native/ (test_ops reads native_functions.yaml)",
    ]
    data = cpu_render()
    torch(data)["test"]["requires"].append("cuda-cudart-dev")
    assert R.check_test_requirements(sections(data), CPU) == [
        "cpu variant has CUDA test requirements ['cuda-cudart-dev']"
    ]


def test_check_test_suite_unix():
    data = cuda_render()
    cmds = commands(data)
    cmds.remove("unset CI")
    cmds.remove(SMOKE)
    cmds[cmds.index(CORE)] = CORE.replace(" || true", "")
    torch(data)["test"]["files"] = []
    assert R.check_test_suite(sections(data), CUDA) == [
        "test files lack run_selected_tests.py (PYTORCH_TEST_SELECTION)",
        "test commands do not `unset CI` before the suite: a CI runner's CI=true changes what "
        "run_test.py prints",
        "expected one `run_test.py -i FILES` command at PYTORCH_TEST_LEVEL=smoke, found []",
        f"suite command is not followed by `|| true`: {CORE.replace(' || true', '')}",
    ]
    data = cuda_render()
    cmds = commands(data)
    inductor_at_smoke = INDUCTOR.replace("= core ]", "= smoke ]")
    cmds[cmds.index(INDUCTOR)] = inductor_at_smoke
    assert R.check_test_suite(sections(data), CUDA) == [
        "expected one `run_test.py -i FILES` command at PYTORCH_TEST_LEVEL=smoke, found "
        f"{[SMOKE, inductor_at_smoke]}",
        "`run_test.py -i inductor/test_torchinductor.py` must run at the core level only: "
        + inductor_at_smoke,
    ]
    cmds.remove(inductor_at_smoke)
    assert R.check_test_suite(sections(data), CUDA) == [
        "`run_test.py -i inductor/test_torchinductor.py` present=False for cuda-12.9 on linux-64"
    ]


def test_check_test_suite_levels_and_selection():
    data = cpu_render()
    cmds = commands(data)
    cmds.remove(RESOLVE)
    cmds.remove(REFUSE)
    cmds[cmds.index(SELECT)] = SELECT.replace(" || true", "")
    cmds.append("python ./test/run_test.py --mps || true")
    assert R.check_test_suite(sections(data), CPU) == [
        "the selection command is not followed by `|| true`: " + SELECT.replace(" || true", ""),
        "no test command resolves PYTORCH_TEST_LEVEL (and PYTORCH_SKIP_TESTS=1 as none) before "
        "the suite",
        "no test command refuses a PYTORCH_TEST_LEVEL other than none, smoke, core",
        "suite command runs at no PYTORCH_TEST_LEVEL (python ./test/run_test.py --mps || true)",
        "test suite command ignores PYTORCH_TEST_LEVEL: python ./test/run_test.py --mps || true",
        "`run_test.py --mps` present=True for cpu on osx-arm64",
        "`run_test.py --mps` must run at the core level only: "
        "python ./test/run_test.py --mps || true",
    ]
    data = cpu_render()
    commands(data).remove(SELECT)
    commands(data).remove(CORE)
    assert R.check_test_suite(sections(data), CPU) == [
        "expected one command that runs run_selected_tests.py when PYTORCH_TEST_SELECTION is "
        "set, found []",
        "expected one `run_test.py --core --continue-through-error` command at "
        "PYTORCH_TEST_LEVEL=core",
    ]


def test_check_test_suite_windows():
    win = R.Expected(**{**CPU.__dict__, "platform": "win-64", "blas": "mkl"})
    core = ('if "%PYTORCH_TEST_LEVEL%"=="core" (python ./test/run_test.py --core '
            '--continue-through-error || cmd /c "exit /b 0")')  # fmt: skip
    smoke = ('if "%PYTORCH_TEST_LEVEL%"=="smoke" (python ./test/run_test.py -i test_torch '
             '--continue-through-error || cmd /c "exit /b 0")')  # fmt: skip
    data = cpu_render()
    torch(data)["test"]["commands"] = [
        'set "CI="',
        "if defined PYTORCH_TEST_SELECTION (python ./run_selected_tests.py)",
        'if not defined PYTORCH_TEST_LEVEL (if "%PYTORCH_SKIP_TESTS%"=="1" (set '
        "PYTORCH_TEST_LEVEL=none) else (set PYTORCH_TEST_LEVEL=core))",
        'if not "%PYTORCH_TEST_LEVEL%"=="none" if not "%PYTORCH_TEST_LEVEL%"=="smoke" if not '
        '"%PYTORCH_TEST_LEVEL%"=="core" exit /b 1',
        core,
        smoke,
    ]
    assert R.check_test_suite(sections(data), win) == []
    commands(data)[0] = "unset CI"
    commands(data)[-1] = smoke.replace('cmd /c "exit /b 0"', "exit 0")
    assert R.check_test_suite(sections(data), win) == [
        'test commands do not `set "CI="` before the suite: a CI runner\'s CI=true changes what '
        "run_test.py prints",
        "Windows suite command must reset the status, not `|| exit 0`",
    ]


def test_check_test_assertions():
    data = cuda_render()
    cmds = commands(data)
    cmds.remove(VERSION_ASSERT)
    cmds.remove(_assert("torch.backends.cudnn.is_available()"))
    cmds.insert(0, cmds.pop(cmds.index("pip check")))
    cmds.append(_assert("'BLAS_INFO=open' in x") + " || true")
    assert R.check_test_assertions(sections(data), CUDA) == [
        "`pip check` must come after the test suite",
        "a check that must fail the package is masked by `|| true`/`|| exit 0`",
        "assert torch.backends.cudnn.is_available(): present=False, expected True",
        "assert 'BLAS_INFO=open': present=True, expected False",
        "test commands do not assert torch.__version__",
    ]
    data = cpu_render()
    cmds = commands(data)
    cmds.remove("pip check")
    cmds.remove(_assert("not torch.backends.cuda.is_built()"))
    cmds.append(_assert("torch.backends.mps.is_built()"))
    assert R.check_test_assertions(sections(data), CPU) == [
        "test commands lack `pip check`",
        "assert torch.backends.mps.is_built(): present=True, expected False",
        "non-CUDA variant does not assert that CUDA is not built",
    ]


def test_check_test_imports():
    data = cpu_render()
    torch(data)["test"]["imports"] = ["numpy"]
    del meta(data)["test"]["imports"]
    assert R.check_test_imports(sections(data), CPU) == [
        "test imports lack torch",
        "pytorch-cpu does not test `import torch`",
    ]


# --- check_rendered: the section checks in turn ---------------------------------------------------


def _rendered(data: dict, recipe_dir: Path) -> R.Rendered:
    variant = V.Variant("py311-cuda12.9-mkl", {"python": "3.11.* *_cpython",
                        "cuda_compiler_version": "12.9", "gpu_variant": "cuda-12.9",
                        "blas_impl": "mkl", "c_compiler": "gcc", "cxx_compiler": "gxx",
                        "c_stdlib": "sysroot"})  # fmt: skip
    return R.Rendered(variant=variant, platform="linux-64", data=data,
                      outputs=recipe_render._outputs(data), recipe_dir=recipe_dir)  # fmt: skip


def test_check_rendered_runs_the_sections_in_turn(tmp_path: Path):
    (tmp_path / "build.sh").write_text("export PYTORCH_BUILD_NUMBER=0\n")
    assert R.Expected.of(_rendered(cuda_render(), tmp_path)) == R.Expected(
        **{**CUDA.__dict__, "recipe_dir": tmp_path}
    )
    assert R.check_rendered(_rendered(cuda_render(), tmp_path)) == []
    data = cuda_render()
    data["source"]["sha256"] = "x"
    torch(data)["test"]["imports"] = []
    assert R.check_rendered(_rendered(data, tmp_path)) == [
        "source sha256 is not 64 hex digits: 'x'",
        "test imports lack torch",
    ]


def test_check_rendered_stops_at_wrong_outputs(tmp_path: Path):
    """The checks after check_outputs read both packages: none of them runs without them."""
    data = cuda_render()
    data["source"]["sha256"] = "x"
    data["build"]["script_env"] = []
    meta(data)["name"] = "pytorch-cpu"
    assert R.check_rendered(_rendered(data, tmp_path)) == [
        "source sha256 is not 64 hex digits: 'x'",
        "outputs are ['pytorch', 'pytorch-cpu'], expected ['pytorch', 'pytorch-gpu']",
    ]
    data["build"]["skip"] = True
    assert R.check_rendered(_rendered(data, tmp_path)) == [
        "variant is skipped on linux-64, a target platform"
    ]
