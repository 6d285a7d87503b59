"""EDF, BDF, FIF and BrainVision through MNE: detection by magic bytes, names, order, volts."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import mne
import numpy as np
import pytest

from neurofeedback.errors import RecordingFormatError
from neurofeedback.io import FORMATS, detect_format, read_recording

SFREQ = 256.0
# PhysioNet-style names: dots, odd case
NAMES = ["Fc5.", "Fp1.", "O1..", "Cz..", "Fpz."]
CLEAN = ["FC5", "Fp1", "O1", "Cz", "Fpz"]


def _raw(names=NAMES, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 20e-6, (len(names), int(SFREQ * 4)))
    raw = mne.io.RawArray(data, mne.create_info(names, SFREQ, "eeg"), verbose=False)
    raw.set_meas_date(datetime(2024, 3, 1, 9, 30, tzinfo=timezone.utc))
    raw.set_annotations(mne.Annotations([1.0], [0.5], ["T1"]))
    return raw


@pytest.mark.filterwarnings("ignore:Encountered data in 'double' format")
@pytest.mark.parametrize("fmt, name", [("edf", "rec.edf"), ("bdf", "rec.bdf"),
                                       ("brainvision", "rec.vhdr"), ("fif", "rec_raw.fif")])
def test_export_and_read_back(tmp_path, fmt, name):
    raw = _raw()
    p = tmp_path / name
    if fmt == "fif":
        raw.save(p, verbose=False)
    else:
        mne.export.export_raw(p, raw, fmt=fmt, verbose=False)
    assert detect_format(p) == fmt
    got = read_recording(p)
    assert got.ch_names == CLEAN
    assert got.info["sfreq"] == SFREQ
    # volts in, volts out (EDF/BDF quantise to the file's resolution)
    np.testing.assert_allclose(got.get_data(), raw.get_data(), atol=2e-8)
    assert got.info["meas_date"] == raw.info["meas_date"]
    # BrainVision stores it as a "Comment" marker, which MNE reads as "Comment/T1"
    assert [a["description"].removeprefix("Comment/") for a in got.annotations] == ["T1"]
    pos = got.get_montage().get_positions()["ch_pos"]
    assert all(np.all(np.isfinite(pos[c])) for c in CLEAN)


def test_content_not_extension_decides(tmp_path):
    raw = _raw()
    edf = tmp_path / "rec.edf"
    mne.export.export_raw(edf, raw, fmt="edf", verbose=False)
    renamed = tmp_path / "rec.dat"
    shutil.copy(edf, renamed)
    assert detect_format(renamed) == "edf"


def test_eeg_first_and_other_types_kept(tmp_path):
    rng = np.random.default_rng(1)
    info = mne.create_info(["EOG", "Oz", "Pz", "STI"], SFREQ, ["eog", "eeg", "eeg", "stim"])
    raw = mne.io.RawArray(rng.normal(0, 1e-5, (4, 512)), info, verbose=False)
    p = tmp_path / "mixed_raw.fif"
    raw.save(p, verbose=False)
    got = read_recording(p)
    assert got.ch_names == ["Oz", "Pz", "EOG", "STI"]
    assert got.get_channel_types() == ["eeg", "eeg", "eog", "stim"]


def test_names_that_would_collide_are_left_alone(tmp_path):
    raw = _raw(["Cz.", "CZ", "O1."])
    p = tmp_path / "collide_raw.fif"
    raw.save(p, verbose=False)
    assert read_recording(p).ch_names == ["Cz.", "CZ", "O1"]


def test_format_argument_is_validated(tmp_path):
    p = tmp_path / "x_raw.fif"
    _raw().save(p, verbose=False)
    with pytest.raises(RecordingFormatError) as err:
        read_recording(p, format="gdf")
    msg = str(err.value)
    assert "Invalid value for the 'format' parameter" in msg and "but got 'gdf' instead" in msg
    assert p.name in msg
    assert read_recording(p, format="fif").ch_names == CLEAN
    assert FORMATS == ("brainflow_csv", "openbci_txt", "muselsl_csv", "mindmonitor_csv", "edf",
                       "bdf", "fif", "brainvision", "xdf")
