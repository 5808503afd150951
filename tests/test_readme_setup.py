"""The README's set-up in a fresh virtual environment: machine output on stdout stays pure."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv

import pytest

from tools.paths import REPO_ROOT
from tools.recipe.variants import matrix, to_json


def readme_setup() -> list[str]:
    """The install line of README's 'Set-up: two commands' block, as argv."""
    text = (REPO_ROOT / "README.md").read_text()
    block = text.split("## Set-up: two commands", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    (line,) = [x for x in block.splitlines() if "pip install" in x]
    m = re.fullmatch(r"python3 -m pip install '([^']+)'", line.strip())
    assert m, line
    return ["-m", "pip", "install", m.group(1)]


@pytest.mark.slow
def test_release_list_json_parses_on_a_fresh_readme_set_up(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "NOX_SCRIPT_MODE")
    }
    install = subprocess.run(
        [str(python), *readme_setup()], env=clean, capture_output=True, text=True, timeout=600
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    clean["PATH"] = os.pathsep.join([str(python.parent), clean.get("PATH", "")])
    # The first call installs the noxfile's script block, the second reuses it: both stay pure.
    for _ in range(2):
        done = subprocess.run(
            [
                str(python.parent / "nox"),
                "--envdir",
                str(tmp_path / "nox-envs"),
                "-s",
                "release",
                "--",
                "--list",
                "--format",
                "json",
            ],
            cwd=REPO_ROOT,
            env=clean,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout) == to_json(matrix())
