"""The committed sample data is exactly what the generators write today, byte for byte.

Nothing in a regenerated file may depend on the machine or the interpreter: no Python, NumPy or
MNE version (simulated sidecars name the generator only), no wall-clock time, no absolute
path, no platform line ending. If a test here fails after a deliberate change
of the simulator, regenerate and commit:

    neurofeedback sample-data recordings sample_data
    neurofeedback sample-data cohort sample_data/cohort
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neurofeedback import __version__
from neurofeedback.simulate import (
    make_cohort,
    make_sample_data,
    simulate_eeg,
    write_recording,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_data"


def _first_difference(a: bytes, b: bytes) -> str:
    """Where two files first differ: the line for text, the byte offset otherwise."""
    la, lb = a.split(b"\n"), b.split(b"\n")
    for i, (x, y) in enumerate(zip(la, lb), start=1):
        if x != y:
            return f"line {i}: committed {x[:80]!r}, regenerated {y[:80]!r}"
    return f"lengths {len(a)} and {len(b)} bytes"


def _assert_same_bytes(committed: Path, fresh: Path, names: list[str], command: str) -> None:
    for name in names:
        a, b = (committed / name).read_bytes(), (fresh / name).read_bytes()
        assert a == b, (f"{committed / name} differs from a regeneration "
                        f"({_first_difference(a, b)}); run '{command}' and commit")


def _require_samples() -> None:
    if not (SAMPLES / "README.md").is_file():
        pytest.skip("sample_data/ is not in this checkout")


def test_recordings_regenerate_byte_for_byte(tmp_path):
    _require_samples()
    written = make_sample_data(tmp_path)
    names = sorted(p.name for p in written)
    committed = sorted(p.name for p in SAMPLES.iterdir() if p.is_file())
    assert names == committed  # no stale committed file, none missing
    _assert_same_bytes(SAMPLES, tmp_path, names, "neurofeedback sample-data recordings sample_data")


@pytest.mark.slow  # writes the whole cohort (~220 MB, ~10 s) to compare its README and truth
def test_cohort_regenerates_byte_for_byte(tmp_path):
    _require_samples()
    make_cohort(tmp_path)
    # truth.json holds the sha256 of every recording and sidecar: equal truth, equal files
    _assert_same_bytes(SAMPLES / "cohort", tmp_path, ["README.md", "truth.json"],
                       "neurofeedback sample-data cohort sample_data/cohort")


def test_simulated_sidecar_names_the_generator_not_the_environment(tmp_path):
    rec = simulate_eeg(duration_s=4.0, seed=1)
    path = write_recording(rec, tmp_path / "rec.csv", format="brainflow_csv")
    doc = json.loads(path.with_suffix(".json").read_text())
    assert doc["software"] == {"neurofeedback": __version__, "generator": "neurofeedback.simulate"}
    committed = json.loads((SAMPLES / "cyton_meditation.json").read_text()) if (
        SAMPLES / "cyton_meditation.json").is_file() else doc
    assert "python" not in committed["software"] and "numpy" not in committed["software"]
