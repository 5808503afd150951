"""The test-only part of a recipe, kept apart from what the build depends on."""

from __future__ import annotations

import shutil

from tools import dev_build
from tools.paths import RECIPE_DIR
from tools.recipe.sections import TEST_KEY, hash_recipe_files, listed_test_files, split_test_block

META = """\
{% set version = "1.0" %}
package:
  name: p
build:
  number: 0
test:
  files:
    - check_it.py
    - "data/x.txt"  # [linux]
  commands:
    - python check_it.py
outputs:
  - name: p
    test:
      imports:
        - p
about:
  home: x
"""


def test_split_takes_the_top_level_block_only():
    rest, block = split_test_block(META)
    assert block.startswith("test:\n") and "python check_it.py" in block
    assert "outputs:" in rest and "imports:" in rest and "about:" in rest
    assert "check_it.py" not in rest
    assert listed_test_files(block) == ["check_it.py", "data/x.txt"]


def test_a_test_only_edit_changes_only_the_test_key(tmp_path):
    recipe = tmp_path / "recipe"
    shutil.copytree(RECIPE_DIR, recipe)
    before = hash_recipe_files(recipe)
    meta = recipe / "meta.yaml"
    text = meta.read_text()
    assert "\ntest:\n" in text
    meta.write_text(text.replace("\ntest:\n", "\ntest:\n  # a test-only comment\n", 1))
    after = hash_recipe_files(recipe)
    assert {k for k in before if before[k] != after[k]} == {TEST_KEY}
    meta.write_text(text.replace("\nbuild:\n", "\nbuild:\n  # a build comment\n", 1))
    assert hash_recipe_files(recipe)["meta.yaml"] != before["meta.yaml"]


def test_dev_build_reuses_the_work_dir_for_a_test_only_change(tmp_path):
    from tools.recipe.variants import load_variants

    variant = load_variants()[0]
    old = {"meta.yaml": "m", "build.sh": "b", TEST_KEY: "t1"}
    record = {"fingerprint": dev_build.fingerprint(old, variant), "files": old}
    reuse, why = dev_build.decide_reuse(
        "auto", work_nonempty=True, record=record, files={**old, TEST_KEY: "t2"}, variant=variant
    )
    assert reuse and "only meta.yaml's test section changed" in why
    reuse, why = dev_build.decide_reuse(
        "auto", work_nonempty=True, record=record, files={**old, "build.sh": "b2"}, variant=variant
    )
    assert not reuse and "changed: build.sh" in why
