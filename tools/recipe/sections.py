"""The test-only part of a recipe: meta.yaml's top-level ``test:`` block and the files it lists.

conda-build tests a package with the recipe stored inside it (``conda-build --test PKG`` reads the
package's ``info/recipe``; measured on conda-build 26.7.1), so a change to the test section only
takes effect in a package built after it. dev_build therefore treats a change that touches only
this part as a reuse of the work dir (conda-build repackages and tests again, nothing is
recompiled), and dev_test refuses to test a package whose stored test section is not the
recipe's.

The block is found in the meta.yaml text (Jinja and selectors included), not in a render: from a
line ``test:`` at column 0 to the next line that starts a top-level key. Outputs' own ``test:``
sections are part of ``outputs:`` and count as a recipe change.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path

from tools.cli import EXIT_USAGE, ToolError

_TOP_KEY_RE = re.compile(r"^[A-Za-z_][\w-]*\s*:")
_FILE_ITEM_RE = re.compile(r"^\s+-\s+['\"]?([^'\"#\s]+)")


def split_test_block(meta_text: str) -> tuple[str, str]:
    """(meta.yaml without its top-level test block, the test block)."""
    rest: list[str] = []
    block: list[str] = []
    inside = False
    for line in meta_text.splitlines(keepends=True):
        if _TOP_KEY_RE.match(line):
            inside = line.split(":", 1)[0].strip() == "test"
        (block if inside else rest).append(line)
    return "".join(rest), "".join(block)


def listed_test_files(block: str) -> list[str]:
    """Recipe-relative paths under the test block's ``files:`` list."""
    names: list[str] = []
    in_files = False
    for line in block.splitlines():
        stripped = line.strip()
        if re.match(r"^\s{1,4}[\w-]+\s*:", line):
            in_files = stripped.startswith("files:")
            continue
        m = _FILE_ITEM_RE.match(line)
        if in_files and m:
            names.append(m.group(1))
    return names


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_test_section(recipe_dir: Path) -> str:
    """sha256 of the test block and of the files it lists (what a package's tests are made of)."""
    meta = (recipe_dir / "meta.yaml").read_text(encoding="utf-8")
    _rest, block = split_test_block(meta)
    h = hashlib.sha256(block.encode())
    for name in sorted(listed_test_files(block)):
        path = recipe_dir / name
        h.update(name.encode() + b"\0")
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
    return h.hexdigest()


def hash_recipe_files(recipe_dir: Path) -> dict[str, str]:
    """Relative path -> sha256 of every recipe file, with the test-only part kept apart.

    ``meta.yaml`` is hashed without its test block; the block and the files it lists are hashed
    together as the entry ``TEST_KEY``, so callers can tell a test-only change from a build one.
    """
    meta = (recipe_dir / "meta.yaml").read_text(encoding="utf-8")
    rest, block = split_test_block(meta)
    listed = set(listed_test_files(block))
    out: dict[str, str] = {}
    for path in sorted(recipe_dir.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(recipe_dir).as_posix()
        if rel == "meta.yaml":
            out[rel] = _sha(rest.encode())
        elif rel not in listed:
            out[rel] = _sha(path.read_bytes())
    out[TEST_KEY] = hash_test_section(recipe_dir)
    return out


TEST_KEY = "meta.yaml#test"


def hash_recipe(recipe_dir: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file of the recipe, for dev_build and release alike
    (patches included, ``__pycache__`` skipped; the test-only part apart, as
    ``tools.recipe.sections.TEST_KEY``). A missing or unreadable recipe is a one-line ToolError."""
    if not (recipe_dir / "meta.yaml").is_file():
        raise ToolError(
            f"no recipe at {recipe_dir} (meta.yaml missing); pass --recipe-dir", EXIT_USAGE
        )
    try:
        return hash_recipe_files(recipe_dir)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise ToolError(f"cannot read the recipe at {recipe_dir} ({reason})", EXIT_USAGE) from None


def recipe_fingerprint(files: Mapping[str, str], *, test_section: bool, **inputs: object) -> str:
    """sha256 over the recipe files (``hash_recipe``: relative path -> sha256) and ``inputs``,
    what else a build depends on (dev_build: the variant; release: the variant configs).

    The one recipe fingerprint of the suite. ``test_section`` says whether the test-only part
    (``tools.recipe.sections.TEST_KEY``) counts: not for dev_build's work dir (a package is tested
    with the recipe stored in it, so a test-only change needs a new package, not a new build
    tree); it does for release (a package built before the change carries the old tests).
    """
    kept = {k: v for k, v in files.items() if test_section or k != TEST_KEY}
    payload = json.dumps({"files": dict(sorted(kept.items())), **inputs}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
