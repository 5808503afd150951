"""The team's shared cache (PYTORCH_CCACHE_REMOTE) against real servers on loopback.

Two builds stand for two machines: separate croots and separate local cache dirs, one remote.
The second machine's first build must be served by the remote (ccache's stats log counts
``remote_storage_hit``). redis: Debian's redis-server, started here (`.ci/run` installs it); the
test skips, saying so, where there is none. HTTP: ccache's HTTP storage speaks plain GET/PUT/HEAD
of one object per key; a small stdlib server on loopback serves it.
"""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tools.bench import ccache as ccache_bench
from tools.build import ccache as ccache_mod

HAVE_GCC = bool(shutil.which("gcc") and shutil.which("g++"))
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not HAVE_GCC, reason="gcc/g++ not on PATH")]
UNITS = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine(tmp_path: Path, name: str, remote: str) -> Counter:
    """One machine's first build of the same tree: its own croot and local cache."""
    tool = ccache_mod.find_ccache()
    croot = tmp_path / name / "croot"
    work = croot / "work"
    sources = ccache_bench.generate_tree(work, cpp_units=1, c_units=UNITS - 1)
    stats_log = tmp_path / f"{name}.stats"
    env = ccache_bench.dev_ccache_env(
        croot, tmp_path / name / "cache", stats_log, tmp_path / f"{name}.conf", remote=remote
    )
    compilers = ccache_bench.install_compilers(croot / "_build_env")
    ccache_bench.compile_tree(tool.path, compilers, sources, work=work, env=env)
    counters = Counter(
        x.strip() for x in stats_log.read_text().splitlines() if x.strip() and not x.startswith("#")
    )
    stats = ccache_mod.read_stats_log(stats_log)
    counters["calls"] = stats.calls
    counters["hits"] = stats.hits
    return counters


def check_two_machines(tmp_path: Path, remote: str) -> None:
    first = machine(tmp_path, "a", remote)
    assert first["calls"] == UNITS and first["hits"] == 0
    second = machine(tmp_path, "b", remote)
    assert second["calls"] == UNITS
    assert second["hits"] / UNITS >= 0.99, second
    assert second["remote_storage_hit"] / UNITS >= 0.99, second  # from the remote, not local
    assert second["local_storage_hit"] == 0


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if not server:
        pytest.skip("no redis-server here (Debian package redis-server; .ci/run installs it)")
    port = free_port()
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("redis-server did not start")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_second_machine_is_served_by_redis(tmp_path, redis_url):
    check_two_machines(tmp_path, redis_url)


class _Store(http.server.BaseHTTPRequestHandler):
    objects: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's names)
        body = self.objects.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802
        self.send_response(200 if self.path in self.objects else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        self.objects[self.path] = self.rfile.read(length)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_second_machine_is_served_by_http(tmp_path):
    _Store.objects = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Store)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        check_two_machines(tmp_path, f"http://127.0.0.1:{server.server_address[1]}/ccache")
        assert _Store.objects  # the first machine filled it
    finally:
        server.shutdown()
        server.server_close()
