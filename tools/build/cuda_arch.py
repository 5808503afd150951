"""TORCH_CUDA_ARCH_LIST for a dev build: ``--arch`` wins, else the local GPUs' compute capabilities.

GPUs are found through NVML (the ``pynvml`` module of NVIDIA's ``nvidia-ml-py`` package); see
docs/FACTS.md ("Toolchain"). A CPU build does no detection at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType

from tools.cli import EXIT_USAGE, ToolError

ARCH_HINT = "pass the compute capability with --arch, e.g. --arch 8.6 (or '8.6;9.0')"

# PyTorch's named architectures (torch.utils.cpp_extension), as the capabilities they stand for.
NAMED_ARCHES = {
    "Maxwell": ("5.0", "5.2"),
    "Pascal": ("6.0", "6.1"),
    "Volta": ("7.0",),
    "Turing": ("7.5",),
    "Ampere": ("8.0", "8.6"),
    "Ada": ("8.9",),
    "Hopper": ("9.0",),
}
_ENTRY_RE = re.compile(r"^(?P<major>\d{1,2})\.(?P<minor>\d)(?P<suffix>[af]?)(?P<ptx>\+PTX)?$")


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    capability: tuple[int, int]

    @property
    def arch(self) -> str:
        return f"{self.capability[0]}.{self.capability[1]}"


def _load_nvml(nvml: ModuleType | None) -> ModuleType:
    if nvml is not None:
        return nvml
    try:
        import pynvml
    except ImportError as exc:
        raise ToolError(
            f"cannot detect GPUs: the nvidia-ml-py package is not installed; {ARCH_HINT}",
            EXIT_USAGE,
        ) from exc
    return pynvml


def detect_gpus(nvml: ModuleType | None = None) -> list[Gpu]:
    """Every GPU NVML sees, in index order. ``nvml`` replaces the pynvml module (tests).

    No driver library, a driver that is not loaded, or no permission: ToolError (exit 2), one line
    that says what and asks for ``--arch``.
    """
    nvml = _load_nvml(nvml)
    try:
        nvml.nvmlInit()
    except nvml.NVMLError_LibraryNotFound as exc:
        raise ToolError(
            "no NVIDIA driver library (libnvidia-ml) found, so no GPU can be "
            f"detected; {ARCH_HINT}",
            EXIT_USAGE,
        ) from exc
    except nvml.NVMLError_DriverNotLoaded as exc:
        raise ToolError(
            f"the NVIDIA driver is not loaded, so no GPU can be detected; {ARCH_HINT}", EXIT_USAGE
        ) from exc
    except nvml.NVMLError_NoPermission as exc:
        raise ToolError(
            f"no permission to query the NVIDIA driver (NVML); {ARCH_HINT}", EXIT_USAGE
        ) from exc
    except nvml.NVMLError as exc:
        raise ToolError(
            f"GPU detection through NVML failed ({exc}); {ARCH_HINT}", EXIT_USAGE
        ) from exc
    try:
        gpus = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            if isinstance(name, bytes):  # older nvidia-ml-py versions return bytes
                name = name.decode("utf-8", "replace")
            major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
            gpus.append(Gpu(index=index, name=str(name), capability=(int(major), int(minor))))
        return gpus
    except nvml.NVMLError as exc:
        raise ToolError(
            f"GPU detection through NVML failed ({exc}); {ARCH_HINT}", EXIT_USAGE
        ) from exc
    finally:
        nvml.nvmlShutdown()


def gpus_visible(nvml: ModuleType | None = None) -> bool:
    """True when NVML reports at least one GPU; never raises."""
    try:
        return bool(detect_gpus(nvml))
    except Exception:
        return False


# --------------------------------------------------------------------------- arch lists


def parse_arch_list(text: str) -> list[str]:
    """Split and check a TORCH_CUDA_ARCH_LIST value (``;`` or spaces); ToolError on bad syntax."""
    entries = [e for e in re.split(r"[;\s]+", text.strip()) if e]
    if not entries:
        raise ToolError(f"--arch is empty; {ARCH_HINT}", EXIT_USAGE)
    for entry in entries:
        if entry in ("All", "Common", "Auto"):
            raise ToolError(
                f"--arch {entry!r} builds for many GPUs, which a dev build avoids; {ARCH_HINT}",
                EXIT_USAGE,
            )
        if entry.removesuffix("+PTX") not in NAMED_ARCHES and not _ENTRY_RE.match(entry):
            raise ToolError(
                f"--arch entry {entry!r} is not a compute capability like 8.6, 9.0a "
                f"or 12.0+PTX, nor an architecture name like Ampere",
                EXIT_USAGE,
            )
    return entries


def capabilities(entry: str) -> list[tuple[int, int]]:
    """The (major, minor) capabilities one arch-list entry stands for."""
    base = entry.removesuffix("+PTX")
    if base in NAMED_ARCHES:
        return [_cap(x) for x in NAMED_ARCHES[base]]
    return [_cap(base.rstrip("af"))]


def _cap(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def cuda_cap_range(cuda_version: str) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """(lowest, highest or None if unknown) compute capability nvcc of this version compiles for."""
    try:
        major, minor = (int(x) for x in cuda_version.split(".")[:2])
    except ValueError as exc:
        raise ToolError(f"CUDA version {cuda_version!r} is not like 12.8", EXIT_USAGE) from exc
    if major >= 13:
        return (7, 5), ((12, 1) if major == 13 else None)
    if major == 12:
        highest = (12, 1) if minor >= 9 else (12, 0) if minor == 8 else (9, 0)
        return (5, 0), highest
    if major == 11:
        return (3, 5), (9, 0) if minor >= 8 else (8, 6)
    return (3, 0), (7, 5)


def check_supported(entries: Iterable[str], cuda_version: str, gpus: Sequence[Gpu] = ()) -> None:
    """ToolError (exit 2) naming the GPU (or the --arch entry) whose capability this CUDA lacks."""
    low, high = cuda_cap_range(cuda_version)
    for entry in entries:
        for cap in capabilities(entry):
            if cap >= low and (high is None or cap <= high):
                continue
            owners = [g for g in gpus if g.capability == cap]
            what = (
                ", ".join(f"GPU {g.index} ({g.name}, compute capability {g.arch})" for g in owners)
                if owners
                else f"--arch entry {entry!r}"
            )
            bound = f"below {low[0]}.{low[1]}" if cap < low else f"above {high[0]}.{high[1]}"  # type: ignore[index]
            hint = "pick an older --cuda-version" if cap < low else "pick a newer --cuda-version"
            raise ToolError(
                f"{what} is not supported by CUDA {cuda_version} (nothing {bound}); "
                f"{hint} or another --arch",
                EXIT_USAGE,
            )


def arch_from_gpus(gpus: Sequence[Gpu]) -> str:
    """Sorted, de-duplicated capabilities: ``8.6`` or ``8.6;9.0``."""
    caps = sorted({g.capability for g in gpus})
    return ";".join(f"{a}.{b}" for a, b in caps)


def resolve_arch_list(
    arch: str | None, *, cuda: bool, cuda_version: str | None, nvml: ModuleType | None = None
) -> str | None:
    """The TORCH_CUDA_ARCH_LIST for a dev build, or None for a CPU build (no detection at all)."""
    if not cuda:
        if arch:
            raise ToolError("--arch only applies to CUDA builds; add --cuda", EXIT_USAGE)
        return None
    if arch:
        entries = parse_arch_list(arch)
        if cuda_version:
            check_supported(entries, cuda_version)
        return ";".join(entries)
    gpus = detect_gpus(nvml)
    if not gpus:
        raise ToolError(
            f"no NVIDIA GPU visible to detect the architecture from; {ARCH_HINT}", EXIT_USAGE
        )
    value = arch_from_gpus(gpus)
    if cuda_version:
        check_supported(value.split(";"), cuda_version, gpus)
    return value
