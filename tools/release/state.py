"""The release state file: what each variant's last attempt gave, so a release can resume.

One JSON file per release version, ``build_artifacts/release/<version>/state.json``, rewritten
after every variant: written to a temporary file in the same folder, flushed to disk, then renamed
over the old one, so a kill at any moment leaves either the previous or the new state, never half
of one. A file that cannot be read (truncated, not JSON, wrong shape) is reported in one line and
treated as empty: every variant is then built again, which costs time but never ships a wrong
"done".
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

STATE_FORMAT = 1

# Build outcomes.
BUILT = "built"
BUILD_FAILED = "build-failed"
INTERRUPTED = "interrupted"
BUILD_STATES = (BUILT, BUILD_FAILED, INTERRUPTED)

# Test verdicts: validate_logs' "pass"/"fail", "error" when the log could not be validated,
# None when there is no verdict (interrupted).
PASS = "pass"
FAIL = "fail"
ERROR = "error"


@dataclass
class VariantRecord:
    """The outcome of one variant's last attempt."""

    name: str
    build: str  # one of BUILD_STATES
    returncode: int | None = None
    verdict: str | None = None  # PASS, FAIL, ERROR or None
    reasons: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    log: str = ""  # path of the log, relative to the release folder
    fingerprint: str = ""  # of the recipe and variant configs it was built from
    finished_at: str = ""  # ISO 8601, UTC

    @property
    def done(self) -> bool:
        """Built AND its log passed validation: the only outcome a resumed release skips."""
        return self.build == BUILT and self.verdict == PASS

    @property
    def ok(self) -> bool:
        return self.done

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> VariantRecord:
        if not isinstance(data, dict):
            raise ValueError("a variant entry is not an object")
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if not isinstance(kwargs.get("name"), str) or kwargs.get("build") not in BUILD_STATES:
            raise ValueError(f"variant entry without a valid name/build: {data!r:.80}")
        record = cls(**kwargs)
        problem = _field_problem(record)
        if problem:
            raise ValueError(f"variant entry {record.name!r:.60}: {problem}")
        record.elapsed = float(record.elapsed)
        return record


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field_problem(rec: VariantRecord) -> str | None:
    """What is wrong with a record read from disk (every field is checked: the file is input)."""
    if rec.returncode is not None and not _is_int(rec.returncode):
        return "returncode is not an integer"
    if rec.verdict not in (PASS, FAIL, ERROR, None):
        return "verdict is not pass, fail or error"
    if not isinstance(rec.reasons, list) or not all(isinstance(r, str) for r in rec.reasons):
        return "reasons is not a list of strings"
    if not isinstance(rec.counts, dict) or not all(
        isinstance(k, str) and _is_int(v) and v >= 0 for k, v in rec.counts.items()
    ):
        return "counts is not a map of names to counts"
    if not (_is_int(rec.elapsed) or isinstance(rec.elapsed, float)) or not (
        0 <= rec.elapsed < 1e9
    ):  # NaN and inf fail both comparisons
        return "elapsed is not a duration in seconds"
    for name in ("log", "fingerprint", "finished_at"):
        if not isinstance(getattr(rec, name), str):
            return f"{name} is not a string"
    return None


@dataclass
class ReleaseState:
    """Every variant's last outcome for one release version."""

    version: str
    variants: dict[str, VariantRecord] = field(default_factory=dict)

    def record(self, rec: VariantRecord) -> None:
        self.variants[rec.name] = rec

    def get(self, name: str) -> VariantRecord | None:
        return self.variants.get(name)

    def to_dict(self) -> dict:
        return {
            "format": STATE_FORMAT,
            "version": self.version,
            "variants": {name: rec.to_dict() for name, rec in self.variants.items()},
        }

    @classmethod
    def from_dict(cls, data: object) -> ReleaseState:
        if not isinstance(data, dict):
            raise ValueError("the top level is not an object")
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown state format {data.get('format')!r}")
        version = data.get("version")
        variants = data.get("variants")
        if not isinstance(version, str) or not isinstance(variants, dict):
            raise ValueError("'version' or 'variants' missing")
        state = cls(version=version)
        for name, entry in variants.items():
            rec = VariantRecord.from_dict(entry)
            if rec.name != name:
                raise ValueError(f"entry {name!r} names variant {rec.name!r}")
            state.record(rec)
        return state


def load_state(path: Path, version: str) -> tuple[ReleaseState, str | None]:
    """Read the state file; return (state, warning).

    A missing file is an empty state without a warning. An unreadable, truncated or malformed file,
    or one recorded for another version, is an empty state plus a one-line warning saying so.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ReleaseState(version), None
    except (OSError, UnicodeDecodeError) as exc:
        return ReleaseState(version), (
            f"state file {path} is unreadable ({exc.__class__.__name__}); "
            "treating it as empty: every selected variant will be built"
        )
    try:
        state = ReleaseState.from_dict(json.loads(text))
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        return ReleaseState(version), (
            f"state file {path} is corrupt ({_short(exc)}); "
            "treating it as empty: every selected variant will be built"
        )
    if state.version != version:
        return ReleaseState(version), (
            f"state file {path} is for version {state.version}, not {version}; treating it as empty"
        )
    return state, None


def save_state(state: ReleaseState, path: Path) -> None:
    """Write the state atomically: temporary file in the same folder, fsync, rename over."""
    write_atomic(Path(path), json.dumps(state.to_dict(), indent=2, sort_keys=True) + "\n")


def write_atomic(path: Path, content: str | bytes) -> None:
    """Replace ``path`` by ``content``: a reader sees the old or the new file, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    return text[:120]
