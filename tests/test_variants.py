"""tools/recipe/variants.py against hand-checked expectations (tests/fixtures/variants/)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from tools import platforms
from tools.cli import EXIT_USAGE, ToolError, run_main
from tools.paths import CONDA_BUILD_CONFIG
from tools.recipe import variants as V

FIX = Path(__file__).parent / "fixtures" / "variants"


def names(vs):
    return [v.name for v in vs]


# --- the repository's matrix ------------------------------------------------------------------

PYTHONS = ("310", "311", "312", "313", "314")
LINUX_64 = [f"py{py}-{gpu}-{blas}" for py in PYTHONS for blas in ("mkl", "openblas")
            for gpu in ("cpu", "cuda12.9", "cuda13.0")]  # fmt: skip
OSX_ARM64 = [f"py{py}-{gpu}-openblas" for py in PYTHONS for gpu in ("cpu", "metal")]
WIN_64 = [f"py{py}-{gpu}-mkl" for py in PYTHONS for gpu in ("cpu", "cuda12.8", "cuda13.0")]


def test_matrix_lists_spelled_out():
    assert LINUX_64[:6] == ["py310-cpu-mkl", "py310-cuda12.9-mkl", "py310-cuda13.0-mkl",
                            "py310-cpu-openblas", "py310-cuda12.9-openblas",
                            "py310-cuda13.0-openblas"]  # fmt: skip
    assert OSX_ARM64[-2:] == ["py314-cpu-openblas", "py314-metal-openblas"]
    assert WIN_64[-3:] == ["py314-cpu-mkl", "py314-cuda12.8-mkl", "py314-cuda13.0-mkl"]
    assert (len(LINUX_64), len(OSX_ARM64), len(WIN_64)) == (30, 10, 15)


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("linux-64", LINUX_64), ("osx-arm64", OSX_ARM64), ("win-64", WIN_64)],
)
def test_repo_matrix_per_platform(platform, expected):
    assert names(V.load_variants(platform=platform)) == expected


def test_repo_matrix_values_are_strings_and_zipped_consistently():
    v = V.find_variant(V.load_variants(platform="linux-64"), "py310-cuda12.9-openblas")
    assert v.values == {
        "python": "3.10",  # a string: YAML would have made 3.10 the float 3.1
        "numpy": "2",
        "blas_impl": "openblas",
        "gpu_variant": "cuda-12.9",
        "cuda_compiler_version": "12.9",
        "cuda_compiler": "cuda-nvcc",
        "c_compiler_version": "14",
        "cxx_compiler_version": "14",
        "c_compiler": "gcc",
        "cxx_compiler": "gxx",
        "c_stdlib": "sysroot",
        "c_stdlib_version": "2.28",
    }
    assert (v.python, v.is_cuda, v.cuda_version) == ("3.10", True, "12.9")
    cpu = V.find_variant(V.load_variants(platform="linux-64"), "py313-cpu-mkl")
    assert (cpu.is_cuda, cpu.cuda_version) == (False, None)
    assert (cpu.values["cuda_compiler_version"], cpu.values["c_compiler_version"]) == ("None", "14")


def test_repo_matrix_osx_and_win_keys():
    metal = V.find_variant(V.load_variants(platform="osx-arm64"), "py312-metal-openblas")
    assert metal.values["c_compiler"] == "clang"
    assert "c_compiler_version" not in metal.values  # removed by its [linux] selector
    macos = (metal.values["c_stdlib_version"], metal.values["MACOSX_SDK_VERSION"])
    assert macos == ("12.0", "14.5")
    assert not metal.is_cuda
    assert "MACOSX_SDK_VERSION" not in V.load_variants(platform="linux-64")[0].values
    win = V.find_variant(V.load_variants(platform="win-64"), "py311-cuda12.8-mkl")
    assert (win.values["c_compiler"], win.values["c_stdlib"], win.cuda_version) == (
        "vs2022", "vs", "12.8")  # fmt: skip


def test_matrix_is_cpu_only_unless_cuda():
    assert names(V.matrix()) == [n for n in LINUX_64 if "cuda" not in n]
    assert names(V.matrix(cuda=True)) == LINUX_64
    assert names(V.matrix(platform="osx-arm64")) == OSX_ARM64  # Metal is not CUDA
    assert names(V.matrix(platform="win-64")) == [n for n in WIN_64 if "cpu" in n]
    assert names(V.matrix(cuda=True, platform="win-64")) == WIN_64


def test_to_json_shape():
    data = V.to_json(V.matrix()[:1])
    assert json.loads(json.dumps(data)) == [
        {"name": "py310-cpu-mkl", "variant": V.matrix()[0].values}
    ]
    assert data[0]["variant"]["python"] == "3.10"


# --- selectors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux-64", ["py311-cpu-mkl", "py311-cuda12.8-mkl", "py311-cpu-openblas",
                      "py311-cuda12.8-openblas", "py312-cpu-mkl", "py312-cuda12.8-mkl",
                      "py312-cpu-openblas", "py312-cuda12.8-openblas"]),
        ("osx-arm64", ["py311-cpu-openblas", "py311-metal-openblas", "py312-cpu-openblas",
                       "py312-metal-openblas"]),
        ("win-64", ["py311-cpu-mkl", "py311-cuda12.8-mkl"]),
    ],
)  # fmt: skip
def test_selectors_fixture(platform, expected):
    vs = V.load_variants([FIX / "selectors.yaml"], platform=platform)
    assert names(vs) == expected
    if platform == "linux-64":
        assert all(v.values["linux_only_key"] == "yes" for v in vs)
    else:
        assert all("linux_only_key" not in v.values for v in vs)


@pytest.mark.parametrize(
    ("expr", "linux64", "osx_arm64", "win64"),
    [
        ("linux", True, False, False),
        ("osx and arm64", False, True, False),
        ("x86_64", True, False, True),
        ("x86", True, False, True),
        ("unix", True, True, False),
        ("not win", True, True, False),
        ("linux64 or win64", True, False, True),
        ("aarch64", False, False, False),
        ("target_platform == 'osx-arm64'", False, True, False),
        ("target_platform.startswith('win')", False, False, True),
    ],
)
def test_selector_language(expr, linux64, osx_arm64, win64):
    got = [V.evaluate_selector(expr, V.platform_namespace(p))
           for p in ("linux-64", "osx-arm64", "win-64")]  # fmt: skip
    assert got == [linux64, osx_arm64, win64]


def test_selector_line_rules():
    ns = V.platform_namespace("win-64")
    text = "\n".join([
        "# a comment line",
        "a: 1  # [win]",
        "b: 2  # [linux]",
        "c: 3  # note [win] trailing words",  # selector inside a comment, text after it
        "d: [x, y]",  # conda-build reads a bare trailing [..] as a selector too
        "e: 5",
    ])  # fmt: skip
    with pytest.raises(ToolError, match=r"line 5: unknown selector name 'x', 'y'"):
        V.select_lines(text, ns, "t.yaml")
    kept = V.select_lines(text.replace("d: [x, y]", "d: z"), ns, "t.yaml")
    assert kept.splitlines() == ["", "a: 1", "c: 3", "d: z", "e: 5"]


@pytest.mark.parametrize("expr", ["__import__('os')", "(lambda: 1)()", "linux.__class__", "1 +"])
def test_selector_rejects_code(expr):
    with pytest.raises(ToolError):
        V.evaluate_selector(expr, V.platform_namespace("linux-64"))


# --- zip_keys and overriding -----------------------------------------------------------------


def test_zip_keys_product():
    vs = V.load_variants([FIX / "zipped.yaml"])
    assert names(vs) == ["py310-cpu", "py310-cuda12.6", "py310-cuda12.8",
                         "py312-cpu", "py312-cuda12.6", "py312-cuda12.8"]  # fmt: skip
    assert [(v.values["gpu_variant"], v.values["cuda_compiler_version"]) for v in vs[:3]] == [
        ("cpu", "None"), ("cuda-12.6", "12.6"), ("cuda-12.8", "12.8")]  # fmt: skip


def test_later_file_replaces_whole_zip_group():
    vs = V.load_variants([FIX / "zipped.yaml", FIX / "override_whole_group.yaml"])
    assert names(vs) == ["py310-cuda12.9", "py312-cuda12.9"]
    assert vs[0].values["cuda_compiler_version"] == "12.9"


def test_later_file_subset_of_one_zipped_key_narrows_the_group():
    vs = V.load_variants([FIX / "zipped.yaml", FIX / "override_subset.yaml"])
    assert names(vs) == ["py310-cuda12.8", "py312-cuda12.8"]
    assert vs[0].values["gpu_variant"] == "cuda-12.8"  # narrowed consistently


def test_later_file_same_length_zipped_key_replaces_that_key():
    vs = V.load_variants([FIX / "zipped.yaml", FIX / "override_same_length.yaml"])
    assert [(v.values["gpu_variant"], v.values["cuda_compiler_version"]) for v in vs[:3]] == [
        ("cpu", "None"), ("cuda-12.6", "12.6.3"), ("cuda-12.8", "12.8.1")]  # fmt: skip


def test_later_file_replaces_independent_key():
    vs = V.load_variants([FIX / "zipped.yaml", FIX / "override_scalar.yaml"])
    assert names(vs) == ["py313-cpu", "py313-cuda12.6", "py313-cuda12.8"]


def test_ambiguous_partial_override_is_rejected_with_conda_builds_reason():
    with pytest.raises(ToolError) as err:
        V.load_variants([FIX / "zipped.yaml", FIX / "override_ambiguous.yaml"])
    msg = err.value.message
    assert "\n" not in msg
    assert msg.startswith(f"variant config in {FIX / 'override_ambiguous.yaml'} is ambiguous "
                          "because it does not fully implement all zipped keys "
                          "(missing ['gpu_variant']) or specifies a subspace that is not fully "
                          "implemented (we did not find ['13.0']")  # fmt: skip


# --- override files -----------------------------------------------------------------------------

EXPECTED_OVERRIDE = """\
# variant: py311-cuda12.9-mkl
# Written by tools/recipe/variants.py for conda-build -m: narrows the matrix to the
# variant(s) named above. Generated; do not edit.
python:
- '3.11'
numpy:
- '2'
blas_impl:
- mkl
gpu_variant:
- cuda-12.9
cuda_compiler_version:
- '12.9'
cuda_compiler:
- cuda-nvcc
c_compiler_version:
- '14'
cxx_compiler_version:
- '14'
c_compiler:
- gcc
cxx_compiler:
- gxx
c_stdlib:
- sysroot
c_stdlib_version:
- '2.28'
zip_keys:
- - gpu_variant
  - cuda_compiler_version
  - cuda_compiler
"""


def test_override_text_hand_checked(tmp_path):
    variant = V.find_variant(V.load_variants(), "py311-cuda12.9-mkl")
    assert V.override_yaml([variant]) == EXPECTED_OVERRIDE
    path = V.write_override([variant], tmp_path / "sub" / "variant.yaml")
    assert path.read_text() == EXPECTED_OVERRIDE
    assert path.read_text().splitlines()[0] == "# variant: py311-cuda12.9-mkl"


@pytest.mark.parametrize("platform", V.TARGET_PLATFORMS)
def test_override_narrows_to_each_variant(tmp_path, platform):
    """Read back after the tracked config, as `conda build -m cbc -m override` would."""
    before = CONDA_BUILD_CONFIG.read_bytes()
    for variant in V.load_variants(platform=platform):
        path = V.write_override([variant], tmp_path / f"{variant.name}.yaml")
        text = path.read_text()
        # conda-build would take a trailing [...] for a selector: block style only
        assert not any(line.rstrip().endswith("]") for line in text.splitlines()[1:])
        assert V.load_variants([CONDA_BUILD_CONFIG, path], platform=platform) == [variant]
        # the keys conda-build has internal defaults for are pinned by the override too
        data = yaml.safe_load(text)
        assert (data["python"], data["numpy"]) == ([variant.values["python"]], ["2"])
    assert CONDA_BUILD_CONFIG.read_bytes() == before  # tracked files are never modified


def test_override_for_a_product_subset(tmp_path):
    all_linux = V.load_variants()
    chosen = [
        V.find_variant(all_linux, n)
        for n in ("py311-cpu-mkl", "py311-cuda12.9-mkl", "py312-cpu-mkl", "py312-cuda12.9-mkl")
    ]
    path = V.write_override(chosen, tmp_path / "o.yaml")
    assert path.read_text().splitlines()[0] == (
        "# variant: py311-cpu-mkl,py311-cuda12.9-mkl,py312-cpu-mkl,py312-cuda12.9-mkl"
    )
    assert V.load_variants([CONDA_BUILD_CONFIG, path]) == chosen


def test_override_refuses_a_subset_one_file_cannot_express():
    all_linux = V.load_variants()
    chosen = [V.find_variant(all_linux, n) for n in ("py311-cpu-mkl", "py312-cuda12.9-openblas")]
    with pytest.raises(ToolError, match="one per invocation"):
        V.override_yaml(chosen)
    with pytest.raises(ToolError, match="no variant chosen"):
        V.override_yaml([])


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "pattern"),
    [
        (["malformed.yaml"], r"malformed\.yaml: not valid YAML \(.* at line 3\); fix the file"),
        (["unknown_selector.yaml"], r"unknown_selector\.yaml line 3: unknown selector name "
                                    r"'linx' in \[linx\]"),
        (["py_selector.yaml"], r"py_selector\.yaml line 4: Python-version selectors"),
        (["unequal_zip.yaml"], r"unequal_zip\.yaml: zipped keys have unequal lengths "
                               r"\(gpu_variant=2, cuda_compiler_version=1\)"),
        (["dash_key.yaml"], r"dash_key\.yaml: key 'blas-impl' contains '-'"),
        (["does_not_exist.yaml"], r"variant config not found: .*does_not_exist\.yaml"),
    ],
)  # fmt: skip
def test_bad_configs_give_one_line(files, pattern):
    with pytest.raises(ToolError) as err:
        V.load_variants([FIX / f for f in files])
    assert "\n" not in err.value.message
    assert re.search(pattern, err.value.message), err.value.message
    assert err.value.exit_code == EXIT_USAGE


def test_unknown_variant_name_lists_the_valid_ones():
    with pytest.raises(ToolError) as err:
        V.find_variant(V.matrix(), "py39-cpu-mkl")
    assert err.value.message == (
        "unknown variant 'py39-cpu-mkl'; choose one of: "
        + ", ".join(n for n in LINUX_64 if "cuda" not in n)
    )


def test_unknown_platform():
    with pytest.raises(ToolError, match="unknown target platform 'linux-65'"):
        V.load_variants(platform="linux-65")


def test_bad_config_through_the_cli_contract(capsys):
    def main(argv):
        V.load_variants([FIX / "unknown_selector.yaml"])
        return 0

    assert run_main("nox -s release --", main, []) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "unknown selector name 'linx'" in err


@pytest.mark.parametrize(
    ("sys_platform", "machine", "expected"),
    [("linux", "x86_64", "linux-64"), ("darwin", "arm64", "osx-arm64"),
     ("win32", "AMD64", "win-64"), ("linux", "aarch64", "linux-aarch64")],
)  # fmt: skip
def test_host_platform(monkeypatch, sys_platform, machine, expected):
    monkeypatch.setattr(sys, "platform", sys_platform)
    monkeypatch.setattr(platforms._platform, "machine", lambda: machine)
    assert platforms.host_platform() == expected


def test_host_platform_unknown(monkeypatch):
    monkeypatch.setattr(sys, "platform", "sunos5")
    with pytest.raises(ToolError, match="unsupported host platform"):
        platforms.host_platform()


# --- conda-forge's value forms and .ci_support files (fixtures written in their shape) ----------

CI_LINUX = FIX / "ci_support_linux_64_cuda12.9_mkl.yaml"
CI_OSX = FIX / "ci_support_osx_arm64.yaml"
CI_WIN = FIX / "ci_support_win_64_cuda13.0.yaml"


@pytest.mark.parametrize(
    ("value", "version", "label"),
    [("3.11", "3.11", "py311"), ("3.11.*", "3.11", "py311"), ("3.11.* *_cpython", "3.11", "py311"),
     ("3.13.* *_cp313", "3.13", "py313"), ("3.13.* *_cp313t", "3.13", "py313t"),
     ("3.10.12", "3.10", "py310")],
)  # fmt: skip
def test_python_value_forms(value, version, label):
    assert V.python_version(value) == version
    assert V._python_label(value) == label


def test_ci_support_file_linux():
    vs = V.load_variants([CI_LINUX], platform="linux-64")
    assert names(vs) == [f"py{p}-cuda12.9-mkl" for p in PYTHONS]
    assert [v.python for v in vs] == ["3.10", "3.11", "3.12", "3.13", "3.14"]
    # numpy is zipped with python: each Python keeps its own value
    assert [(v.values["python"], v.values["numpy"]) for v in vs] == [
        ("3.10.* *_cpython", "2.0"), ("3.11.* *_cpython", "2.0"), ("3.12.* *_cpython", "2.0"),
        ("3.13.* *_cp313", "2"), ("3.14.* *_cp314", "2")]  # fmt: skip
    v = vs[1]
    assert (v.values["channel_targets"], v.values["is_rc"]) == ("conda-forge main", "False")
    assert v.values["target_platform"] == "linux-64" and v.cuda_version == "12.9"
    assert "pin_run_as_build" not in v.values  # a mapping: passed through, not a matrix key


def test_ci_support_files_osx_and_win():
    osx = V.load_variants([CI_OSX], platform="osx-arm64")
    assert names(osx) == ([f"py{p}-cpu-openblas" for p in PYTHONS]
                          + [f"py{p}-metal-openblas" for p in PYTHONS])  # fmt: skip
    win = V.load_variants([CI_WIN], platform="win-64")
    assert names(win) == [f"py{p}-cuda13.0-mkl" for p in PYTHONS]


def test_channel_targets_zip_names_one_key_of_the_pair():
    """channel_targets/is_rc zipped, two values: the name gets the shorter of the two keys."""
    vs = V.load_variants([CONDA_BUILD_CONFIG, FIX / "channel_targets.yaml"], platform="win-64")
    assert names(vs)[:4] == ["py310-cpu-mkl-is_rcFalse", "py310-cpu-mkl-is_rcTrue",
                             "py310-cuda12.8-mkl-is_rcFalse",
                             "py310-cuda12.8-mkl-is_rcTrue"]  # fmt: skip
    assert {v.values["channel_targets"] for v in vs} == {"conda-forge main",
                                                         "conda-forge pytorch_rc"}  # fmt: skip
    assert all((v.values["is_rc"] == "True") == v.name.endswith("True") for v in vs)


def test_free_threading_python_is_its_own_name(tmp_path):
    config = tmp_path / "ft.yaml"
    config.write_text("python:\n- 3.13.* *_cp313\n- 3.13.* *_cp313t\nblas_impl:\n- mkl\n")
    assert names(V.load_variants([config])) == ["py313-mkl", "py313t-mkl"]


def test_ci_support_variants_render_and_check():
    """What conda-build renders from such a file: our recipe, for the file's target platform."""
    from tools import recipe as R

    for path in (CI_LINUX, CI_OSX, CI_WIN):
        for v in V.load_variants([path], platform="linux-64"):
            platform = v.values["target_platform"]
            v = V.find_variant(V.load_variants([path], platform=platform), v.name)
            rendered = R.render(v, platform)
            assert R.check_rendered(rendered) == [], (path.name, v.name)
            assert rendered.output("pytorch").build_string.split("_")[2] == v.name.split("-")[0]


def _release_list(monkeypatch, capsys, platform, argv):
    from tools.release import flow as release

    monkeypatch.setattr(platforms, "host_platform", lambda: platform)
    assert release.main(["--list", "--format", "json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_release_list_on_a_ci_support_file(monkeypatch, capsys):
    listed = _release_list(monkeypatch, capsys, "linux-64",
                           ["--config", str(CI_LINUX), "--cuda"])  # fmt: skip
    assert [x["name"] for x in listed] == [f"py{p}-cuda12.9-mkl" for p in PYTHONS]
    listed = _release_list(monkeypatch, capsys, "linux-64",
                           ["--config", str(CI_LINUX), "--cuda", "--python", "3.11"])  # fmt: skip
    assert [x["name"] for x in listed] == ["py311-cuda12.9-mkl"]
    assert listed[0]["variant"]["python"] == "3.11.* *_cpython"
    listed = _release_list(monkeypatch, capsys, "osx-arm64",
                           ["--config", str(CI_OSX), "--python", "3.14"])  # fmt: skip
    assert [x["name"] for x in listed] == ["py314-cpu-openblas", "py314-metal-openblas"]
