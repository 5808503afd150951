"""conda's platform names (subdirs): the ones conda knows, the ones this recipe targets, and
this machine's. Kept apart from tools.recipe so that validate_logs can name the host (for
known-failure conditions) without importing the recipe renderer."""

from __future__ import annotations

import platform as _platform
import sys

from tools.cli import ToolError

# conda's known subdirs: conda-build derives its platform selector names from them.
KNOWN_SUBDIRS = (
    "emscripten-wasm32", "wasi-wasm32", "freebsd-64", "linux-32", "linux-64", "linux-aarch64",
    "linux-armv6l", "linux-armv7l", "linux-ppc64", "linux-ppc64le", "linux-riscv64",
    "linux-s390x", "osx-64", "osx-arm64", "win-32", "win-64", "win-arm64", "zos-z",
)  # fmt: skip
# The platforms this recipe is built for.
TARGET_PLATFORMS = ("linux-64", "osx-arm64", "win-64")


def host_platform() -> str:
    """The conda subdir of this machine: linux-64, osx-arm64, win-64, ..."""
    machine = _platform.machine().lower()
    arch = {"x86_64": "64", "amd64": "64", "arm64": "arm64", "aarch64": "aarch64"}.get(machine)
    os_name = {"linux": "linux", "darwin": "osx", "win32": "win"}.get(sys.platform)
    if os_name == "linux" and arch == "arm64":
        arch = "aarch64"
    if os_name == "osx" and arch == "aarch64":
        arch = "arm64"
    subdir = f"{os_name}-{arch}"
    if os_name is None or arch is None or subdir not in KNOWN_SUBDIRS:
        raise ToolError(f"unsupported host platform {sys.platform}/{machine}; "
                        f"pass one of {', '.join(TARGET_PLATFORMS)} explicitly")  # fmt: skip
    return subdir
