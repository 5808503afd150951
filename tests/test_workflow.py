"""The shipped GitHub Actions workflow: its plan step's command, run as the runner would run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.paths import REPO_ROOT
from tools.recipe.variants import matrix, to_json

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "release.yml"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def step(job: str, key: str, value: str) -> dict:
    steps = workflow()["jobs"][job]["steps"]
    (found,) = [s for s in steps if s.get(key) == value or value in str(s.get(key, ""))]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("cuda", ["", "--cuda"])
def test_plan_step_writes_the_matrix_as_json(tmp_path, cuda):
    nox_bin = Path(sys.executable).parent / "nox"
    if not nox_bin.exists() and not shutil.which("nox"):
        pytest.skip("nox is not installed beside this Python")
    plan = step("plan", "id", "list")
    output = tmp_path / "github_output"
    env = {
        **os.environ,
        "GITHUB_OUTPUT": str(output),
        "CUDA": cuda,
        "PATH": os.pathsep.join([str(nox_bin.parent), os.environ.get("PATH", "")]),
    }
    done = subprocess.run(
        ["bash", "-e", "-c", plan["run"]],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (line,) = output.read_text().splitlines()
    key, _, value = line.partition("=")
    assert key == "variants"
    variants = json.loads(value)  # pure JSON: nothing else on stdout
    assert variants == to_json(matrix(cuda=bool(cuda)))
    assert all("gpu_variant" in v["variant"] for v in variants)  # build job's runs-on uses it
    assert any(v["variant"]["gpu_variant"].startswith("cuda") for v in variants) == bool(cuda)


def test_jobs_are_wired_plan_build_report():
    jobs = workflow()["jobs"]
    assert jobs["build"]["needs"] == "plan"
    assert "fromJSON(needs.plan.outputs.variants)" in jobs["build"]["strategy"]["matrix"]["include"]
    assert "matrix.variant.gpu_variant" in jobs["build"]["runs-on"]
    build = " ".join(str(s.get("run", "")) for s in jobs["build"]["steps"])
    assert 'nox -s release -- --variant "$VARIANT"' in build
    uploads = [s for s in jobs["build"]["steps"] if "upload-artifact" in s.get("uses", "")]
    paths = " ".join(s["with"]["path"] for s in uploads)
    for what in ("state.json", "logs/", "release-report.", "log_files.zip", "channel/"):
        assert what in paths
    assert set(jobs["report"]["needs"]) == {"plan", "build"}
    merge = step("report", "run", "--report-from")
    assert "nox -s release -- --report-from runs/" in merge["run"]


def test_every_run_step_uses_the_readme_set_up():
    readme = (REPO_ROOT / "README.md").read_text()
    setups = {
        str(s.get("run"))
        for job in workflow()["jobs"].values()
        for s in job["steps"]
        if "pip install" in str(s.get("run", ""))
    }
    assert setups == {"python3 -m pip install 'nox[uv]'"}
    assert "python3 -m pip install 'nox[uv]'" in readme
