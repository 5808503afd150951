"""Fixed locations inside the repository, in one place."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RECIPE_DIR = REPO_ROOT / "recipe"
CONDA_BUILD_CONFIG = REPO_ROOT / "conda_build_config.yaml"
ARTIFACTS_DIR = REPO_ROOT / "build_artifacts"
LOGS_DIR = ARTIFACTS_DIR / "logs"
DEV_DIR = ARTIFACTS_DIR / "dev"
RELEASE_DIR = ARTIFACTS_DIR / "release"
