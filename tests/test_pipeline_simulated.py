"""End to end on simulated recordings: simulate → write → read → preprocess → features vs truth."""

import numpy as np
import pytest

from neurofeedback.process import process_recording
from neurofeedback.simulate import add_box_artifact, simulate_eeg, write_recording

CYTON = ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2")


@pytest.mark.parametrize("fmt, suffix", [("brainflow_csv", ".csv"), ("openbci_txt", ".txt"), ("edf", ".edf")])
def test_iaf_and_exponent_recovered_with_artifacts_present(tmp_path, fmt, suffix):
    peaks = [9.0, 9.4, 9.8, 10.2, 10.6, 11.0, 11.4, 11.8]
    expos = [1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 1.3, 1.7]
    rec = simulate_eeg(
        ch_names=CYTON, sfreq=250.0, duration_s=180.0, aperiodic_exponent=expos,
        alpha_peak_hz=peaks, alpha_amplitude_uv=6.0, line_freq=50.0, line_amplitude_uv=10.0,
        blink_rate_per_min=10.0, movement_bursts=2, dc_offset_uv=[2e4, -1e4, 5e3, 3e4, -2e4, 1e4, 4e4, -3e4],
        seed=11,
    )
    path = write_recording(rec, tmp_path / f"sim{suffix}", format=fmt)
    proc = process_recording(path, board="cyton" if fmt == "openbci_txt" else None)
    s = proc.summary()
    assert s["line_freq"] == 50.0
    assert s["n_clean_epochs"] < s["n_epochs"]  # blinks and movements were rejected
    names = s["channels"]
    got_iaf = np.array([s["iaf_hz"][c] for c in names])
    got_exp = np.array([s["aperiodic"][c]["exponent"] for c in names])
    np.testing.assert_array_less(np.abs(got_iaf - np.array(peaks)), 0.25)
    np.testing.assert_array_less(np.abs(got_exp - np.array(expos)), 0.1)
    # blinks truth: every simulated blink is corrected (what is left on Fp1 around its peak
    # stays under the 80 µV blink threshold) or lies inside a BAD annotation on Fp1
    oc = s["provenance"]["ocular"]
    assert oc["applied"] and oc["proxy_channels"] == ["Fp1", "Fp2"]
    bad = [(a["onset"], a["onset"] + a["duration"]) for a in proc.raw.annotations
           if a["description"].startswith("BAD") and (not a["ch_names"] or "Fp1" in a["ch_names"])]
    peaks_s = rec.truth["blink_peaks_s"]
    assert len(peaks_s) >= 15
    assert oc["n_blinks"] >= 0.9 * len(peaks_s)
    fp1 = proc.raw.get_data(picks=["Fp1"])[0] * 1e6
    sf = proc.raw.info["sfreq"]
    left = [p for p in peaks_s if fp1[int((p - 0.2) * sf):int((p + 0.2) * sf)].max() >= 80.0
            and not any(a <= p <= b for a, b in bad)]
    assert not left, left


def test_box_artifact_in_a_written_file_is_rejected_over_its_length(tmp_path):
    rec = simulate_eeg(ch_names=CYTON, sfreq=250.0, duration_s=90.0, seed=3)
    rec = add_box_artifact(rec, channel="C3", onset_s=30.0, duration_s=15.0, amplitude_uv=500.0)
    proc = process_recording(write_recording(rec, tmp_path / "box.csv", format="brainflow_csv"))
    t = proc.features.epochs
    onsets = t.loc[~t["clean"], "onset_s"].unique()
    inside = np.arange(28.0, 44.0, 2.0)  # every 4 s epoch overlapping [30, 45]
    assert set(inside) <= set(onsets)
    assert not set(np.arange(0.0, 24.0, 2.0)) & set(onsets)
