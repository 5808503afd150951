"""Whole logs: tests/fixtures/logs/*.log against the verdict in their .expect.yaml sidecar, and the
real PyTorch CI fragments of ../shared/corpus/pytorch-ci/ (skipped when that folder is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tools.validate_logs import validate
from tools.validate_logs.policy import Policy

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "pytorch-ci"
CASES = sorted(p.stem for p in FIXTURES.glob("*.log"))


def test_every_fixture_has_an_expectation_with_its_source():
    assert len(CASES) >= 14
    for name in CASES:
        text = (FIXTURES / f"{name}.expect.yaml").read_text()
        head = "".join(line for line in text.splitlines(True) if line.startswith("#"))
        assert text.startswith("# Source") and "docs/FACTS.md" in head, name
        assert "../shared" not in text, name  # the repository stands on its own


def check_log(report, expect: dict) -> None:
    """One log's report against an expectation (verdict, log reasons, per package: verdict,
    counts, failures with their outcomes, crashed, reasons)."""
    (log,) = report.logs
    assert log.verdict == expect["verdict"], log
    assert report.verdict == expect["verdict"]
    for text in expect.get("log_reasons", []):
        assert any(text in r for r in log.reasons), (text, log.reasons)
    assert len(log.packages) == len(expect["packages"]), log.packages
    for pkg, want in zip(log.packages, expect["packages"], strict=True):
        assert pkg.package == want["package"]
        assert pkg.verdict == want["verdict"], pkg.reasons
        for key, value in want.get("counts", {}).items():
            assert getattr(pkg.counts, key) == value, (key, pkg.counts)
        got = {f.test: f.outcome for f in pkg.failures}
        for test in want.get("failures", []):
            assert test in got, (test, got)
        for test, outcome in want.get("failure_outcomes", {}).items():
            assert got[test] == outcome
        if "crashed" in want:
            assert pkg.crashed == want["crashed"]
        joined = " | ".join(pkg.reasons)
        for text in want.get("reasons", []):
            assert text in joined, (text, joined)


@pytest.mark.parametrize("name", CASES)
def test_fixture_verdict(name):
    expect = yaml.safe_load((FIXTURES / f"{name}.expect.yaml").read_text())
    report = validate([FIXTURES / f"{name}.log"], Policy(**expect.get("policy", {})))
    check_log(report, expect)


# The real conda-build's logs (../shared/corpus/conda-build/logs/) with a maintainer's verdict.
CB_CORPUS = CORPUS.parent / "conda-build" / "logs"
CB_EXPECT = yaml.safe_load(
    (FIXTURES.parent / "conda_build_corpus.expect.yaml").read_text(encoding="utf-8")
)["logs"]


@pytest.mark.skipif(not CB_CORPUS.is_dir(), reason="../shared/corpus/conda-build/ is absent")
@pytest.mark.parametrize("name", sorted(CB_EXPECT))
def test_real_conda_build_log_verdict(name):
    check_log(validate([CB_CORPUS / name], Policy()), CB_EXPECT[name])


@pytest.mark.skipif(not CB_CORPUS.is_dir(), reason="../shared/corpus/conda-build/ is absent")
def test_every_real_conda_build_log_has_a_verdict():
    assert {p.name for p in CB_CORPUS.glob("*.log")} == set(CB_EXPECT)


def test_few_failures_fail_with_a_stricter_threshold():
    report = validate([FIXTURES / "few_failures.log"], Policy(max_failure_rate=0.005))
    assert report.verdict == "fail"


def test_multi_package_passes_untested_with_allow_untested_but_still_fails_on_tests_failed():
    report = validate([FIXTURES / "multi_package.log"], Policy(allow=frozenset({"untested"})))
    assert [p.verdict for p in report.logs[0].packages] == ["pass", "untested", "fail"]
    assert report.verdict == "fail"
    report = validate(
        [FIXTURES / "multi_package.log"], Policy(allow=frozenset({"untested", "tests_failed"}))
    )
    assert report.verdict == "pass"


# What each real CI fragment must reveal (found in the failures, crashes, timeouts or reasons).
CORPUS_EXPECT = {
    "collection_assertionerror.log": ["collection error", "test_overrides 1/1", "AssertionError"],
    "collection_syntaxerror.log": ["collection error", "test_ops 3/4", "SyntaxError"],
    "cuda_oom_class.log": ["out of memory", "OutOfMemoryError"],
    "error_log_multiple_matches.log": [
        "inductor/test_triton_kernels.py::KernelTests::test_triton_kernel_tracing_dynamic_True"
    ],
    "pytest_failure.log": [
        "distributed/test_c10d_spawn_gloo.py::TestDistributedNNFunctionsGloo::test_all_gather",
        "timed out",
    ],
    "pytest_failures_section.log": [
        "test_torch.py::TestTorchDeviceTypeCPU::test_cauchy_kstest_cpu_bfloat16"
    ],
    "python_importerror_missing_so.log": ["ImportError: librocm_smi64.so.1"],
    "python_importerror_name.log": ["ImportError: cannot import name"],
    "python_test_keyboardinterrupt.log": ["KeyboardInterrupt", "timed out"],
    "test_file_failed_wrapper.log": ["test_cuda 1/1", "AttributeError"],
    "test_file_signal_crash.log": ["SIGBUS in nn/test_pruning 1/1"],
    "test_file_timeout.log": ["timed out: inductor/test_torchinductor_opinfo 4/10"],
    "unittest_failed_consistently.log": [
        "dynamo/test_dynamic_shapes.py::DynamicShapesReproTests::"
        "test_vars_traced_correctly_under_compile_dynamic_shapes"
    ],
}
CRASHED = {"test_file_signal_crash.log"}
FAILING = set(CORPUS_EXPECT) - {
    "error_log_multiple_matches.log",
    "pytest_failures_section.log",
    "unittest_failed_consistently.log",
}


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/pytorch-ci/ is absent")
@pytest.mark.parametrize("name", sorted(CORPUS_EXPECT))
def test_corpus_fragment_failures_and_crashes_are_found(name):
    report = validate([CORPUS / name], unframed=True)
    (pkg,) = report.logs[0].packages
    found = " | ".join([f"{f.test}" for f in pkg.failures] + pkg.reasons + pkg.crashes)
    for text in CORPUS_EXPECT[name]:
        assert text in found, (text, found)
    assert pkg.crashed == (name in CRASHED)
    if name in FAILING:
        assert report.verdict == "fail"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/pytorch-ci/ is absent")
def test_corpus_covers_every_file():
    assert {p.name for p in CORPUS.glob("*.log")} == set(CORPUS_EXPECT)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/pytorch-ci/ is absent")
def test_corpus_fragment_without_framing_says_no_test_phase():
    report = validate([CORPUS / "pytest_failure.log"])
    assert report.verdict == "fail" and report.logs[0].packages == []
    assert any("no test phase" in r for r in report.logs[0].reasons)
