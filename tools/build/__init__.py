"""Running conda-build for the task sessions.

Modules: ``conda_build`` (finding it, its argv and environment, a logged run), ``cli_flags``
(conda-build's own flag table and the flags we refuse), ``ccache`` (the dev ccache config and its
stats), ``cuda_arch`` (the local GPU's compute capability through NVML), ``jobs`` (parallel jobs
from cores and memory), ``lock`` (one run per croot), ``progress`` (the status line while
conda-build runs).
"""
