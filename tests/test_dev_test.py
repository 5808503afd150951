"""dev_test: the pure parts (selection, comparison, flaky tests) and its one-line refusals."""

from __future__ import annotations

import json

import pytest
import yaml

from tools import dev_build, dev_test
from tools.cli import EXIT_USAGE, ToolError, run_main
from tools.paths import RECIPE_DIR
from tools.recipe.variants import load_variants


def test_split_test_id_forms():
    assert dev_test.split_test_id("test/test_nn.py::TestNN::test_x[p-1]") == (
        "test_nn",
        "TestNN::test_x[p-1]",
    )
    assert dev_test.split_test_id("test_nn.py::TestNN::test_x") == ("test_nn", "TestNN::test_x")
    assert dev_test.split_test_id("inductor/test_torchinductor.py::T::t") == (
        "inductor/test_torchinductor",
        "T::t",
    )
    assert dev_test.split_test_id("test_jit") == ("test_jit", None)


def test_selection_keeps_files_in_order_and_a_crashed_file_runs_whole():
    sel = dev_test.selection_from_failures(
        [
            "test_nn.py::TestNN::test_a",
            "test_torch.py::TestTorch::test_b",
            "test_nn.py::TestNN::test_c",
            "test_nn.py::TestNN::test_a",
            "test_jit",
            "test_jit.py::TestJit::test_d",
        ]
    )
    assert sel.files == ("test_nn", "test_torch", "test_jit")
    assert sel.tests == {
        "test_nn": ("TestNN::test_a", "TestNN::test_c"),
        "test_torch": ("TestTorch::test_b",),
    }
    assert json.loads(json.dumps(sel.to_dict()))["tests"]["test_nn"] == [
        "TestNN::test_a",
        "TestNN::test_c",
    ]


def test_compare_fixed_still_new():
    cmp = dev_test.compare(["a", "b", "c"], ["b", "d"])
    assert (cmp.fixed, cmp.still_failing, cmp.new) == (("a", "c"), ("b",), ("d",))


def test_flaky_are_the_tests_that_failed_in_some_runs_only():
    runs = [["a", "b"], ["b"], ["b", "c"]]
    assert dev_test.flaky_tests(runs) == ["a", "c"]
    assert dev_test.flaky_tests([["a"], ["a"]]) == []


def test_known_failures_snippet_loads_as_a_known_failures_file(tmp_path):
    from tools.validate_logs.known import load_known_failures

    text = dev_test.known_failures_snippet(['test_nn.py::TestNN::test_x[a"b]'], "py311-cpu-mkl", 5)
    path = tmp_path / "kf.yaml"
    path.write_text(text)
    (entry,) = load_known_failures(path)
    assert yaml.safe_load(text)["known_failures"][0]["reason"].startswith("FILL IN")
    assert entry is not None


def test_repeat_and_from_are_checked():
    for bad in (
        ["--repeat", "0"],
        ["--repeat", "51"],
        ["--from", "x.log"],
        ["--", "--croot=x"],
        ["--", "--no-te"],
    ):
        with pytest.raises(ToolError) as err:
            dev_test.parse_args(bad)
        assert err.value.exit_code == EXIT_USAGE


def test_no_package_names_the_dev_build_command(tmp_path, capsys, monkeypatch):
    stand_in = tmp_path / "conda-build"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    code = run_main(
        dev_test.PROG,
        dev_test.main,
        ["--croot", str(tmp_path / "croot"), "--python", "3.12", "--conda-build", str(stand_in)],
    )
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and err.count("\n") == 1
    assert "no package of py312-cpu-mkl from dev_build" in err
    assert "nox -s dev_build -- --python 3.12" in err


def test_a_changed_test_section_needs_a_new_package(tmp_path, capsys):
    import shutil

    recipe = tmp_path / "recipe"
    shutil.copytree(RECIPE_DIR, recipe)
    croot = tmp_path / "croot"
    croot.mkdir()
    pkg = croot / "linux-64" / "pytorch-x.conda"
    pkg.parent.mkdir()
    pkg.write_bytes(b"")
    from tools.recipe.sections import hash_test_section

    dev_build.write_packages_record(
        croot, "py311-cpu-mkl", {"packages": [str(pkg)], "test_section": hash_test_section(recipe)}
    )
    opts = dev_test.parse_args(["--croot", str(croot), "--recipe-dir", str(recipe)])
    variant = dev_build.choose_variant(
        load_variants(), python="3.11", cuda=False, cuda_version=None, blas=None
    )
    assert dev_test.find_package(opts, variant)[0] == pkg
    meta = recipe / "meta.yaml"
    meta.write_text(
        meta.read_text().replace(
            "  imports:\n    - torch\n", "  imports:\n    - torch\n    - torch.nn\n", 1
        )
    )
    with pytest.raises(ToolError) as err:
        dev_test.find_package(opts, variant)
    assert "test section changed" in err.value.message
    assert "nox -s dev_build" in err.value.message
