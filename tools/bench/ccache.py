"""``nox -s bench -- ccache``: cold vs warm compile of a C++ tree with dev_build's ccache settings.

The tree lives in ``<croot>/work`` like a conda-build work dir, and the compilers are "installed"
into ``<croot>/_build_env/bin`` as fresh copies before each build (conda-build reinstalls them on
every run), so the warm build shows what dev_build's settings give a real second run. Printed as a
ratio warm/cold; the target is at most 20%. The same helpers back the real-ccache test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tools.build import ccache as ccache_mod
from tools.cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE, ArgumentParser, ToolError

TARGET_RATIO = 0.20

HEADER = """\
#pragma once
#include <algorithm>
#include <map>
#include <numeric>
#include <string>
#include <vector>
#define UNIT_SCALE 3
namespace tree {
template <typename T, int N>
struct Acc {
  std::vector<T> items;
  T total() const { return std::accumulate(items.begin(), items.end(), T{}) * N; }
};
}  // namespace tree
"""

UNIT_CPP = """\
#include "common.hpp"
#include <sstream>
namespace tree {{
std::string unit_{i}(int n) {{
  std::map<std::string, Acc<long, {i}>> m;
  for (int k = 0; k < n; ++k) m[std::to_string(k % 7)].items.push_back(k * UNIT_SCALE);
  std::ostringstream out;
  for (auto &kv : m) out << kv.first << ":" << kv.second.total() << ";";
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), {i});
  std::sort(v.rbegin(), v.rend());
  out << v.front();
  return out.str();
}}
}}  // namespace tree
"""

UNIT_C = """\
#include <stdio.h>
#include <string.h>
#include "common.h"
int unit_c_{i}(const char *s) {{ return (int)strlen(s) * SCALE + {i}; }}
"""


def generate_tree(work: Path, cpp_units: int, c_units: int = 0) -> list[Path]:
    """A source tree of C++ units (about 1.5 s each at -O1 -g) and C units (tens of ms)."""
    src, inc = work / "src", work / "include"
    src.mkdir(parents=True, exist_ok=True)
    inc.mkdir(parents=True, exist_ok=True)
    (inc / "common.hpp").write_text(HEADER)
    (inc / "common.h").write_text("#pragma once\n#define SCALE 2\n")
    sources = []
    for i in range(cpp_units):
        path = src / f"unit_{i}.cpp"
        path.write_text(UNIT_CPP.format(i=i))
        sources.append(path)
    for i in range(c_units):
        path = src / f"unit_c_{i}.c"
        path.write_text(UNIT_C.format(i=i))
        sources.append(path)
    return sources


@dataclass(frozen=True)
class Compilers:
    cc: Path
    cxx: Path


def system_compilers() -> tuple[Path, Path]:
    cc, cxx = shutil.which("gcc"), shutil.which("g++")
    if not cc or not cxx:
        raise ToolError("gcc and g++ are needed on PATH for the ccache benchmark", EXIT_USAGE)
    return Path(os.path.realpath(cc)), Path(os.path.realpath(cxx))


def install_compilers(build_env: Path) -> Compilers:
    """Fresh copies of the gcc/g++ drivers in ``build_env/bin`` (new mtime), as conda-build does.

    A relocated gcc driver looks for cc1/cc1plus relative to itself (``../lib/gcc``), so that
    folder is linked to the system's. Everything in ``build_env`` is recreated.
    """
    cc, cxx = system_compilers()
    if build_env.exists():
        shutil.rmtree(build_env)
    (build_env / "bin").mkdir(parents=True)
    prog = subprocess.run(
        [str(cc), "-print-prog-name=cc1"], capture_output=True, text=True, check=True
    ).stdout.strip()
    gcc_dir = next((p for p in Path(prog).parents if p.name == "gcc"), None)
    if gcc_dir is not None:
        (build_env / gcc_dir.parent.name).mkdir(exist_ok=True)
        (build_env / gcc_dir.parent.name / "gcc").symlink_to(gcc_dir)
    out = Compilers(
        build_env / "bin" / "x86_64-conda-linux-gnu-gcc",
        build_env / "bin" / "x86_64-conda-linux-gnu-g++",
    )
    shutil.copy(cc, out.cc)  # copy, not copy2: a new mtime, like a fresh install
    shutil.copy(cxx, out.cxx)
    return out


def compile_tree(
    ccache: str,
    compilers: Compilers,
    sources: Sequence[Path],
    *,
    work: Path,
    env: Mapping[str, str],
    jobs: int = 0,
) -> float:
    """Compile every source with absolute paths (as CMake does) from ``work/build``; seconds."""
    build = work / "build"
    build.mkdir(exist_ok=True)
    include = work / "include"

    def one(src: Path) -> None:
        compiler = compilers.cxx if src.suffix == ".cpp" else compilers.cc
        std = ["-std=c++17"] if src.suffix == ".cpp" else []
        argv = [
            ccache,
            str(compiler),
            *std,
            "-O1",
            "-g",
            "-DNDEBUG",
            f"-I{include}",
            "-c",
            str(src),
            "-o",
            str(build / (src.name + ".o")),
        ]
        proc = subprocess.run(argv, cwd=build, env=dict(env), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"compile failed: {argv}\n{proc.stderr}")

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs or (os.cpu_count() or 1)) as pool:
        list(pool.map(one, sources))
    return time.perf_counter() - start


def dev_ccache_env(
    croot: Path,
    cache_dir: Path,
    stats_log: Path,
    config_path: Path,
    base_env: Mapping[str, str] | None = None,
    remote: str | None = None,
) -> dict[str, str]:
    """Write dev_build's ccache config (the same writer) and return an env that uses only it.

    ``remote`` is what a user puts in ``PYTORCH_CCACHE_REMOTE`` (a shared cache).
    """
    settings = ccache_mod.config_settings(
        croot=croot,
        cache_dir=cache_dir,
        stats_log=stats_log,
        environ={ccache_mod.REMOTE_ENV: remote} if remote else {},
    )
    ccache_mod.write_config(settings, config_path)
    env = {k: v for k, v in (base_env or os.environ).items() if not k.startswith("CCACHE_")}
    env[ccache_mod.CONFIG_ENV] = str(config_path)
    return env


def main(argv: Sequence[str]) -> int:
    p = ArgumentParser(
        prog="nox -s bench -- ccache",
        description="Cold vs warm compile through dev_build's ccache settings.",
    )
    p.add_argument("--units", type=int, default=24, help="C++ source files (default 24)")
    p.add_argument("--jobs", type=int, default=0, help="parallel compiles (default: all cores)")
    args = p.parse_args(list(argv))
    tool = ccache_mod.find_ccache()
    with tempfile.TemporaryDirectory(prefix="ccache-bench-") as tmp:
        croot = Path(tmp) / "croot"
        work = croot / "work"
        sources = generate_tree(work, args.units)
        cache_dir = Path(tmp) / "cache"
        results = []
        for run in ("cold", "warm"):
            stats_log = Path(tmp) / f"{run}.stats"
            env = dev_ccache_env(croot, cache_dir, stats_log, croot / "ccache.conf")
            compilers = install_compilers(croot / "_build_env")
            shutil.rmtree(work / "build", ignore_errors=True)
            seconds = compile_tree(
                tool.path, compilers, sources, work=work, env=env, jobs=args.jobs
            )
            results.append((run, seconds, ccache_mod.read_stats_log(stats_log)))
    print(
        f"ccache {tool.version} ({tool.path}), {args.units} C++ units, dev_build settings, "
        "compilers reinstalled before each build"
    )
    for run, seconds, stats in results:
        print(f"  {run}: {seconds:7.2f} s   hit rate {stats.describe()}")
    ratio = results[1][1] / results[0][1]
    verdict = "ok" if ratio <= TARGET_RATIO else "ABOVE TARGET"
    print(f"  warm/cold = {ratio:.3f} (target <= {TARGET_RATIO:.2f}): {verdict}")
    return EXIT_OK if ratio <= TARGET_RATIO else EXIT_FAIL
