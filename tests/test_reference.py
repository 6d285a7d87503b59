"""The reference: recorded per reader (Muse → Fpz, OpenBCI → SRB2 by default, …), carried into
the provenance, ``inspect``, the report and the store; and the optional re-reference, checked
against ``mne.set_eeg_reference`` on the same data and against physics on a simulated Muse."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mne
import numpy as np
import pytest
from _signals import alpha_peak, powerlaw_noise
from conftest import shared_file
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.config import load_settings
from neurofeedback.errors import ConfigError
from neurofeedback.io import read_recording
from neurofeedback.io._reference import (
    GANGLION,
    MUSE,
    SRB2,
    SYNTHETIC,
    UNKNOWN,
    edf_reference,
    recording_reference,
    set_reference,
)
from neurofeedback.preprocessing import preprocess
from neurofeedback.process import process_raw, process_recording
from neurofeedback.reference import MIN_AVERAGE_CHANNELS, apply_reference, reference_line
from neurofeedback.simulate import simulate_eeg, write_recording

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
runner = CliRunner()


# ---------------------------------------------------------------------------------------------
# what each reader records


@pytest.mark.parametrize("rel, expected", [
    ("NeuroTechX__eeg-notebooks_v0.1/data_2017-02-04-15_45_13.csv", MUSE),       # muselsl
    ("OpenBCI__OpenBCI_GUI/OpenBCI_GUI-v5-blinks-jawClench-alpha.txt", SRB2),    # %Board Cyton
    ("OpenBCI__OpenBCI_GUI/OpenBCI_GUI-v6-blinks-jawClench-alpha.txt", SRB2),
    ("OpenBCI__OpenBCI_GUI/OpenBCI-sampleData-1-blinks-jawClench-alpha.txt", SRB2),  # no %Board
    ("roflecopter__openbci-session/OpenBCI-GUI-2024-01-24_16-28-32.txt", SRB2),
    ("chipaudette__EEGHacker/openBCI_raw_2014-10-04_19-06-13_O1_Alpha.txt", SRB2),  # 2014 GUI
    # PhysioNet EEGMMIDB: labels 'Fc5.' etc., no reference in labels, transducer or prefilter
    ("Yannkess__EEG_signal_denoise/S001R01.edf", UNKNOWN),
])
def test_reference_of_real_recordings(shared_data, rel, expected):
    raw = read_recording(shared_file(shared_data, rel))
    assert recording_reference(raw) == expected
    assert SRB2 == "SRB2 (default; the file does not say)"  # the exact words the brief asks for


@pytest.mark.parametrize("name, expected", [
    ("muse_eyes_open_closed.csv", MUSE),
    ("cyton_meditation.csv", SRB2),          # BrainFlow CSV, sidecar board CYTON_BOARD
    ("cyton_meditation_raw.fif", UNKNOWN),   # a simulated FIF that says nothing about it
])
def test_reference_of_sample_data(name, expected):
    assert recording_reference(read_recording(SAMPLE / name)) == expected


def test_reference_of_mind_monitor_raw_eeg(tmp_path):
    from test_io_muse import write_mindmonitor

    p = tmp_path / "raw256.csv"
    write_mindmonitor(p, 256 * 4, period_s=1 / 256)
    assert recording_reference(read_recording(p)) == MUSE


@pytest.mark.parametrize("board, names, sfreq, expected", [
    ("muse_2", ["TP9", "AF7", "AF8", "TP10"], 256.0, MUSE),
    ("muse_s", ["TP9", "AF7", "AF8", "TP10"], 256.0, MUSE),
    ("ganglion", ["Fp1", "Fp2", "O1", "O2"], 200.0, GANGLION),
    ("cyton_daisy", [f"E{i}" for i in range(16)], 125.0, SRB2),
    ("synthetic", [f"E{i}" for i in range(16)], 250.0, SYNTHETIC),
])
def test_reference_of_brainflow_boards(tmp_path, board, names, sfreq, expected):
    rec = simulate_eeg(ch_names=names, sfreq=sfreq, duration_s=10.0, seed=1)
    p = write_recording(rec, tmp_path / f"{board}.csv", format="brainflow_csv", board=board)
    raw = read_recording(p)
    assert recording_reference(raw) == expected
    # the recorder's canonical FIF keeps it (info['description'] is written to FIF)
    fif = tmp_path / f"{board}_raw.fif"
    raw.save(fif, verbose=False)
    assert recording_reference(read_recording(fif)) == expected


def test_edf_labels_state_the_reference(tmp_path):
    """EDF+ has no reference field; 'EEG Fp1-REF' style labels say it (checked on the header)."""
    pytest.importorskip("edfio")
    names = ["EEG Fp1-REF", "EEG Fp2-REF", "EEG C3-REF"]
    rng = np.random.default_rng(0)
    raw = mne.io.RawArray(rng.normal(0, 20e-6, (3, 2560)), mne.create_info(names, 256.0, "eeg"),
                          verbose=False)
    p = tmp_path / "labels.edf"
    mne.export.export_raw(p, raw, fmt="edf", verbose=False)
    assert edf_reference(p) == "REF (from the channel labels)"
    assert recording_reference(read_recording(p)) == "REF (from the channel labels)"
    # labels without a common suffix say nothing
    q = tmp_path / "plain.edf"
    mne.export.export_raw(q, raw.copy().rename_channels(
        dict(zip(names, ["Fp1", "Fp2", "C3"]))), fmt="edf", verbose=False)
    assert recording_reference(read_recording(q)) == UNKNOWN


def test_brainvision_header_states_the_reference(tmp_path):
    rec = simulate_eeg(ch_names=["Fp1", "Fp2", "C3", "C4"], sfreq=250.0, duration_s=10.0, seed=2)
    p = write_recording(rec, tmp_path / "rec.vhdr", format="brainvision")
    assert recording_reference(read_recording(p)) == UNKNOWN  # pybv writes no reference
    text = p.read_text(encoding="utf-8")
    p.write_text(text.replace("[Comment]", "[Comment]\nReference Channel Name = FCz", 1)
                 if "[Comment]" in text else text + "\n[Comment]\nReference Channel Name = FCz\n",
                 encoding="utf-8")
    assert recording_reference(read_recording(p)) == "FCz (from the header)"


def test_fif_custom_ref_applied_is_reported():
    rng = np.random.default_rng(3)
    raw = mne.io.RawArray(rng.normal(0, 1e-5, (3, 1000)), mne.create_info(["C3", "Cz", "C4"], 250.0, "eeg"),
                          verbose=False)
    assert recording_reference(raw) == UNKNOWN
    raw.set_eeg_reference("average", verbose=False)
    assert recording_reference(raw).startswith("custom (re-referenced in MNE")
    set_reference(raw, "Cz")  # our own line wins and keeps other description lines
    assert recording_reference(raw) == "Cz"


# ---------------------------------------------------------------------------------------------
# where it is shown and kept


def test_inspect_json_and_text_show_the_reference():
    muse = SAMPLE / "muse_eyes_open_closed.csv"
    res = runner.invoke(app, ["inspect", str(muse), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["reference"]["recorded"] == "Fpz" and doc["reference"]["current"] == "Fpz"
    assert doc["reference"]["applied"] is False
    assert doc["provenance"]["reference"] == doc["reference"]
    res = runner.invoke(app, ["inspect", str(SAMPLE / "cyton_meditation.csv")])
    assert res.exit_code == 0, res.output
    assert "Reference: SRB2 (default; the file does not say) (as recorded)" in res.stdout


def test_store_keeps_the_reference(tmp_path):
    """The BIDS copy's _eeg.json says EEGReference; reading the copy back gives it again."""
    from neurofeedback.store import ingest_file

    res = ingest_file(SAMPLE / "muse_eyes_open_closed.csv", home=tmp_path / "home", subject="ref01")
    side = json.loads(Path(res.bids_path).with_suffix(".json").read_text(encoding="utf-8"))
    assert side["EEGReference"] == "Fpz"
    assert recording_reference(read_recording(res.bids_path)) == "Fpz"
    summary = json.loads(Path(res.summary_path).read_text(encoding="utf-8"))
    assert summary["reference"]["recorded"] == "Fpz"


def test_session_report_lists_the_reference():
    from neurofeedback.report.session import build_session_report

    rep = build_session_report(process_recording(SAMPLE / "muse_eyes_open_closed.csv"))
    assert ("Reference", "Fpz (as recorded)") in rep.meta


# ---------------------------------------------------------------------------------------------
# the array core against MNE


def _random_raw(names, bads, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.normal(0.0, 20.0, (len(names), 2000)) + rng.normal(0, 50.0, (len(names), 1))  # µV
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(names, 250.0, "eeg"), verbose=False)
    raw.info["bads"] = list(bads)
    return data, raw


@pytest.mark.parametrize("reference", ["average", ["TP9", "TP10"], ["Cz"]])
def test_apply_reference_equals_mne(reference):
    """Same data, same bads: equal to MNE's set_eeg_reference within float64 rounding of the
    µV↔V scaling (rtol 1e-12 of values of ~100 µV; the operations are the same mean and
    subtraction, only in another order)."""
    names = ["TP9", "AF7", "AF8", "TP10", "Fp1", "Fp2", "Cz", "O1", "O2", "P3"]
    bads = ["O2"]  # 9 good channels: enough for 'average'
    data, raw = _random_raw(names, bads)
    good = np.array([n not in bads for n in names])
    out, info = apply_reference(data, names, good, reference)
    assert info["applied"] and info["skipped"] is None
    ref_raw, _ = mne.set_eeg_reference(raw.copy(), reference, projection=False, verbose=False)
    np.testing.assert_allclose(out, ref_raw.get_data() * 1e6, rtol=1e-12, atol=1e-9)
    assert info["used_as_reference"] == ([] if reference == "average" else list(reference))
    assert not np.shares_memory(out, data)


def test_as_recorded_changes_nothing():
    names = ["TP9", "AF7", "AF8", "TP10"]
    data, _ = _random_raw(names, [])
    out, info = apply_reference(data, names, np.ones(4, bool), "as-recorded")
    assert out is data and info["applied"] is False and info["skipped"] is None


def test_average_needs_eight_good_channels(caplog):
    """Decision: a logged skip with a reason (not an error), so a batch of mixed devices runs
    through; each file's provenance says which reference it has."""
    names = [f"E{i}" for i in range(MIN_AVERAGE_CHANNELS)]
    data, _ = _random_raw(names, [])
    good = np.ones(len(names), bool)
    out, info = apply_reference(data, names, good, "average")
    assert info["applied"]
    good[0] = False  # 7 good channels
    with caplog.at_level(logging.WARNING, logger="neurofeedback"):
        out, info = apply_reference(data, names, good, "average")
    assert out is data and not info["applied"]
    assert info["skipped"] == "average reference needs at least 8 good channels, the recording has 7"
    assert "not applied" in caplog.text
    # a Muse through the whole pipeline: data as recorded, the reason in the provenance
    s = load_settings().replace(preprocessing={"reference": "average"})
    proc = process_recording(SAMPLE / "muse_eyes_open_closed.csv", settings=s)
    ref = proc.summary()["provenance"]["reference"]
    assert ref["current"] == "Fpz" and "needs at least 8 good channels, the recording has 4" in ref["skipped"]
    assert reference_line(ref).startswith("Fpz (as recorded); average of the good channels not applied")


def test_bad_reference_channel_is_skipped_with_a_reason():
    names = ["TP9", "AF7", "AF8", "TP10"]
    data, _ = _random_raw(names, [])
    good = np.array([True, True, True, False])  # TP10 flat or railed
    out, info = apply_reference(data, names, good, ["TP9", "TP10"])
    assert out is data and not info["applied"] and "TP10 bad" in info["skipped"]
    out, info = apply_reference(data, names, np.ones(4, bool), ["A1", "A2"])
    assert out is data and "A1, A2 not in the recording" in info["skipped"]


# ---------------------------------------------------------------------------------------------
# physics: a source only at the mastoids appears frontally after linking them


def _muse_with_mastoid_alpha(seed=4, sfreq=256.0, duration_s=60.0):
    """Pink noise everywhere (independent, 8 µV), a 10 Hz rhythm (10 µV) at TP9 and TP10 only."""
    rng = np.random.default_rng(seed)
    n = int(sfreq * duration_s)
    names = ["TP9", "AF7", "AF8", "TP10"]
    data = np.stack([powerlaw_noise(n, sfreq, 1.0, rng, std=8.0) for _ in names])
    alpha = alpha_peak(n, sfreq, 10.0, rng, std=10.0)
    data[0] += alpha
    data[3] += alpha
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(names, sfreq, "eeg"), verbose=False)
    set_reference(raw, MUSE)
    return raw


def test_linked_mastoids_bring_mastoid_alpha_to_the_frontal_channels():
    raw = _muse_with_mastoid_alpha()
    base = load_settings().replace(preprocessing={"line_freq": None})
    linked = base.replace(preprocessing={"reference": ["TP9", "TP10"]})
    before = process_raw(raw, base).summary()
    after = process_raw(raw, linked).summary()
    rel_b, rel_a = before["band_power"]["relative"], after["band_power"]["relative"]
    for ch in ("AF7", "AF8"):
        # AF7 − (TP9 + TP10)/2 = AF7 − alpha: the mastoid rhythm is now in the frontal channel
        assert rel_b[ch]["alpha"] < 0.3
        assert rel_a[ch]["alpha"] > rel_b[ch]["alpha"] + 0.3
    # the reference channels are no longer EEG at their sites: marked, no values
    q = {r["channel"]: r["status"] for r in after["quality"]}
    assert q["TP9"] == q["TP10"] == "reference"
    assert set(after["bad_channels"]) >= {"TP9", "TP10"}
    assert rel_a.get("TP9") is None and rel_a.get("TP10") is None
    ref = after["reference"]
    assert ref["applied"] and ref["recorded"] == "Fpz" and ref["used_as_reference"] == ["TP9", "TP10"]
    assert ref["current"] == "TP9+TP10 (linked: their mean)"
    assert after["provenance"]["reference"] == ref


def test_preprocess_marks_the_new_reference_on_the_raw():
    raw = _muse_with_mastoid_alpha(duration_s=20.0)
    s = load_settings().replace(preprocessing={"line_freq": None, "reference": ["TP9", "TP10"]})
    pre = preprocess(raw, s)
    assert recording_reference(pre.raw) == "TP9+TP10 (linked: their mean)"
    assert pre.raw.info["custom_ref_applied"]
    # data_uv is the re-referenced array: AF7 − mean(TP9, TP10) of the filtered input
    plain = preprocess(raw, load_settings().replace(preprocessing={"line_freq": None}))
    expect = plain.data_uv[1].astype(float) - plain.data_uv[[0, 3]].astype(float).mean(axis=0)
    np.testing.assert_allclose(pre.data_uv[1], expect, atol=1e-3)  # float32 filtered µV


# ---------------------------------------------------------------------------------------------
# settings


@pytest.mark.parametrize("value, words", [
    ("avg", "Allowed values are 'as-recorded', 'average' or a list of channel names"),
    ([], "Allowed values are"),
    (["TP9", "tp9"], "Each reference channel must be given once"),
    (["TP9", ""], "Each reference channel must be a non-empty channel name"),
    (4, "Allowed values are"),
])
def test_invalid_reference_setting_is_one_line(value, words):
    with pytest.raises(ConfigError) as err:
        load_settings().replace(preprocessing={"reference": value})
    msg = str(err.value)
    assert "\n" not in msg
    assert "Invalid value for the 'preprocessing.reference' parameter" in msg and words in msg


def test_reference_from_pipeline_yaml(tmp_path, monkeypatch):
    from neurofeedback.config import PACKAGE_CONFIGS

    for f in PACKAGE_CONFIGS.glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        if f.name == "pipeline.yaml":
            assert "  reference: as-recorded\n" in text
            text = text.replace("  reference: as-recorded\n", "  reference: [TP9, TP10]\n")
        (tmp_path / f.name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("NEUROFEEDBACK_CONFIGS", str(tmp_path))
    assert load_settings().preprocessing.reference == ("TP9", "TP10")


def test_processing_key_changes_with_the_reference():
    s = load_settings()
    keys = {s.replace(preprocessing={"reference": v}).config_hash()
            for v in ("as-recorded", "average", ["TP9", "TP10"], ["TP10", "TP9"], ["Cz"])}
    assert len(keys) == 5
    assert s.config_hash() == s.replace(preprocessing={"reference": "as-recorded"}).config_hash()
