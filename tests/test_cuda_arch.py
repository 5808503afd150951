"""CUDA arch list: --arch checks, NVML detection via a fake module, the real nvidia-ml-py."""

from __future__ import annotations

import types

import pynvml
import pytest

from tools.build import cuda_arch
from tools.cli import ToolError


def fake_nvml(gpus=(), init_error=None):
    """A stand-in for the pynvml module: same function names, the REAL pynvml exception classes."""
    state = {"init": 0, "shutdown": 0}

    def nvmlInit():
        if init_error is not None:
            raise pynvml.NVMLError(init_error)
        state["init"] += 1

    def nvmlShutdown():
        state["shutdown"] += 1

    mod = types.SimpleNamespace(
        nvmlInit=nvmlInit,
        nvmlShutdown=nvmlShutdown,
        nvmlDeviceGetCount=lambda: len(gpus),
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetName=lambda h: gpus[h][0],
        nvmlDeviceGetCudaComputeCapability=lambda h: gpus[h][1],
        NVMLError=pynvml.NVMLError,
        NVMLError_LibraryNotFound=pynvml.NVMLError_LibraryNotFound,
        NVMLError_DriverNotLoaded=pynvml.NVMLError_DriverNotLoaded,
        NVMLError_NoPermission=pynvml.NVMLError_NoPermission,
        state=state,
    )
    return mod


def test_zero_gpus_with_cuda_asks_for_arch():
    nvml = fake_nvml([])
    assert cuda_arch.detect_gpus(nvml) == []
    assert not cuda_arch.gpus_visible(nvml)
    with pytest.raises(ToolError) as err:
        cuda_arch.resolve_arch_list(None, cuda=True, cuda_version="12.8", nvml=nvml)
    assert err.value.exit_code == 2
    assert "--arch" in err.value.message and "\n" not in err.value.message
    assert nvml.state["shutdown"] == nvml.state["init"]


def test_one_gpu():
    nvml = fake_nvml([("NVIDIA GeForce RTX 3090", (8, 6))])
    gpus = cuda_arch.detect_gpus(nvml)
    assert gpus == [cuda_arch.Gpu(0, "NVIDIA GeForce RTX 3090", (8, 6))]
    assert cuda_arch.gpus_visible(nvml)
    assert cuda_arch.resolve_arch_list(None, cuda=True, cuda_version="12.8", nvml=nvml) == "8.6"


def test_mixed_gpus_sorted_and_deduplicated():
    nvml = fake_nvml(
        [
            ("NVIDIA H100 80GB HBM3", (9, 0)),
            (b"NVIDIA A10", (8, 6)),
            ("NVIDIA GeForce RTX 3080", (8, 6)),
        ]
    )
    assert [g.name for g in cuda_arch.detect_gpus(nvml)][1] == "NVIDIA A10"  # bytes decoded
    assert cuda_arch.resolve_arch_list(None, cuda=True, cuda_version="12.8", nvml=nvml) == "8.6;9.0"


def test_gpu_unsupported_by_cuda_version_is_named():
    nvml = fake_nvml([("NVIDIA A100", (8, 0)), ("Tesla P100-PCIE-16GB", (6, 0))])
    with pytest.raises(ToolError) as err:
        cuda_arch.resolve_arch_list(None, cuda=True, cuda_version="13.0", nvml=nvml)
    msg = err.value.message
    assert "GPU 1 (Tesla P100-PCIE-16GB, compute capability 6.0)" in msg
    assert "CUDA 13.0" in msg and "below 7.5" in msg
    # The same GPUs are fine for CUDA 12.8 (minimum 5.0).
    assert cuda_arch.resolve_arch_list(None, cuda=True, cuda_version="12.8", nvml=nvml) == "6.0;8.0"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "no NVIDIA driver library"),
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "driver is not loaded"),
        (pynvml.NVML_ERROR_NO_PERMISSION, "no permission"),
    ],
)
def test_nvml_errors_are_one_line_asking_for_arch(code, words):
    nvml = fake_nvml(init_error=code)
    with pytest.raises(ToolError) as err:
        cuda_arch.detect_gpus(nvml)
    assert words in err.value.message
    assert "--arch" in err.value.message
    assert err.value.exit_code == 2
    assert nvml.state["shutdown"] == 0  # nvmlShutdown only after a successful init
    assert cuda_arch.gpus_visible(nvml) is False


def test_cpu_build_does_no_detection():
    def boom():
        raise AssertionError("NVML must not be touched for a CPU build")

    nvml = fake_nvml([("X", (8, 6))])
    nvml.nvmlInit = boom
    assert cuda_arch.resolve_arch_list(None, cuda=False, cuda_version=None, nvml=nvml) is None
    with pytest.raises(ToolError, match="--arch only applies to CUDA builds"):
        cuda_arch.resolve_arch_list("8.6", cuda=False, cuda_version=None, nvml=nvml)


def test_arch_option_wins_over_detection():
    nvml = fake_nvml([("NVIDIA H100", (9, 0))])
    assert cuda_arch.resolve_arch_list("8.6", cuda=True, cuda_version="12.8", nvml=nvml) == "8.6"
    assert nvml.state["init"] == 0


@pytest.mark.parametrize(
    "good", ["8.6", "8.6;9.0", "8.6 9.0", "9.0a", "12.0+PTX", "Ampere", "10.0f"]
)
def test_arch_syntax_accepted(good):
    assert cuda_arch.parse_arch_list(good)


@pytest.mark.parametrize("bad", ["", "sm_86", "8", "8.6.1", "86", "All", "Ampere;7,5", "$(rm)"])
def test_arch_syntax_rejected(bad):
    with pytest.raises(ToolError) as err:
        cuda_arch.parse_arch_list(bad)
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("arch", "cuda", "ok"),
    [
        ("7.5", "13.0", True),
        ("7.0", "13.0", False),
        ("5.0", "12.8", True),
        ("3.7", "12.6", False),
        ("12.0", "12.8", True),
        ("12.0", "12.6", False),
        ("Pascal", "13.0", False),
        ("Turing", "13.0", True),
    ],
)
def test_arch_checked_against_cuda_version(arch, cuda, ok):
    if ok:
        assert cuda_arch.resolve_arch_list(arch, cuda=True, cuda_version=cuda) == arch
    else:
        with pytest.raises(ToolError, match=f"not supported by CUDA {cuda}"):
            cuda_arch.resolve_arch_list(arch, cuda=True, cuda_version=cuda)


def _real_gpu_present() -> bool:
    return cuda_arch.gpus_visible()


@pytest.mark.skipif(_real_gpu_present(), reason="a GPU is visible: the no-GPU message cannot occur")
def test_real_nvidia_ml_py_without_gpu_gives_documented_message():
    with pytest.raises(ToolError) as err:
        cuda_arch.detect_gpus()  # the real pynvml module
    assert err.value.exit_code == 2
    assert "--arch" in err.value.message
    assert err.value.message.startswith(
        ("no NVIDIA driver library", "the NVIDIA driver is not", "no permission")
    )


@pytest.mark.skipif(not _real_gpu_present(), reason="no NVIDIA GPU on this machine")
def test_real_detection_on_a_gpu_machine():
    gpus = cuda_arch.detect_gpus()
    print("detected:", gpus, cuda_arch.arch_from_gpus(gpus))
    assert gpus and all(g.capability >= (3, 0) for g in gpus)
