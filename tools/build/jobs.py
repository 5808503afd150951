"""How many compile jobs a dev build can run without being OOM-killed.

PyTorch's C++ units need about 2 GiB of memory each at -O2; nvcc on CUDA units needs much more
(about 6 GiB a job). The default is the smaller of the usable cores and free memory divided by the
memory per job.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3
MEMORY_PER_JOB = {False: 2 * GIB, True: 6 * GIB}


@dataclass(frozen=True)
class Jobs:
    count: int
    reason: str


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Bytes of memory available for new work (MemAvailable), or None where unknown."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_jobs(cores: int, memory: int | None, *, cuda: bool) -> Jobs:
    """min(cores, memory // per-job memory), at least 1 (pure)."""
    cores = max(1, cores)
    if memory is None:
        return Jobs(cores, f"{cores} cores (free memory unknown)")
    per_job = MEMORY_PER_JOB[cuda]
    by_memory = max(1, memory // per_job)
    count = min(cores, by_memory)
    return Jobs(
        count,
        f"{cores} cores, {memory / GIB:.1f} GiB free memory at "
        f"{per_job // GIB} GiB per {'CUDA ' if cuda else ''}compile job",
    )


def choose_jobs(
    requested: int | None, *, cuda: bool, cores: int | None = None, memory: int | None = None
) -> Jobs:
    if requested is not None:
        return Jobs(requested, "--jobs")
    return default_jobs(
        cores if cores is not None else usable_cores(),
        memory if memory is not None else available_memory(),
        cuda=cuda,
    )
