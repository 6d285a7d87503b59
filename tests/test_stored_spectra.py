"""Stored spectra (issue 19, item 4): the store keeps each session's mean PSD per channel and per
block (``…_psd.npz``), and the session report of a stored session uses them instead of
processing the recording again.

The stored PSD must be *exactly* what the pipeline computed (same function, float64 kept as
is), and agree with an independent reference, ``scipy.signal.welch``, on a known sinusoid.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

SF = 250.0
NAMES = ["Fz", "C3", "Cz", "C4", "P3", "Pz", "P4", "Oz"]
F0, AMP_UV = 10.0, 20.0  # the sinusoid: 10 Hz, 20 µV amplitude -> A²/2 = 200 µV² of power
DURATION_S = 120.0


def _sine_data(seed: int = 7) -> np.ndarray:
    """(8, n) µV: a 10 Hz sine on every channel (own phase) plus 1 µV white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(DURATION_S * SF)) / SF
    phases = rng.uniform(0, 2 * np.pi, len(NAMES))[:, None]
    return AMP_UV * np.sin(2 * np.pi * F0 * t + phases) + rng.normal(0.0, 1.0, (len(NAMES), t.size))


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A 2-min sine recording with eyes-open/eyes-closed blocks, stored in a fresh home.

    Returns ``(home, path, data_uv, session_id, features_path)``.
    """
    import mne

    from neurofeedback.store import ingest_file

    base = tmp_path_factory.mktemp("stored-spectra")
    data = _sine_data()
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(NAMES, SF, "eeg"), verbose="error")
    raw.set_montage("colin27_1005", verbose="error")
    raw.set_annotations(mne.Annotations([0.0, 60.0], [60.0, 60.0], ["eyes-open", "eyes-closed"]))
    path = base / "sine_raw.fif"
    raw.save(path, verbose="error")
    home = base / "home"
    res = ingest_file(path, home=home, subject="sine01", session="20260105T070000")
    assert res.status == "imported"
    return home, path, data, res.session_id, res.features_path


@pytest.fixture(scope="module")
def processed(stored):
    from neurofeedback.process import process_recording

    return process_recording(stored[1])


def test_stored_psd_is_exactly_the_pipelines(stored, processed):
    """The file holds the PSD the pipeline function computes in-process, bit for bit (session
    and blocks), with the segment counts, the channel order and the versions."""
    from neurofeedback.provenance import METHOD_VERSION
    from neurofeedback.store.spectra import read_spectra, spectra_path

    home, _, _, _, features_path = stored
    sp = read_spectra(spectra_path(features_path))
    feats = processed.features
    assert sp.channels == list(processed.quality["channel"]) == NAMES
    np.testing.assert_array_equal(sp.freqs, feats.freqs)
    np.testing.assert_array_equal(sp.psd, feats.psd)  # exact, NaN rows included
    np.testing.assert_array_equal(sp.n_segments, feats.n_segments)
    assert set(sp.block_psd) == set(feats.block_psd) == {"eyes-open", "eyes-closed"}
    for label, (psd, n) in feats.block_psd.items():
        np.testing.assert_array_equal(sp.block_psd[label][0], psd)
        np.testing.assert_array_equal(sp.block_psd[label][1], n)
    # 2-s segments stepped by 1 s: 119 in 120 s, 59 inside each 60-s block, all clean
    np.testing.assert_array_equal(sp.n_segments, 119)
    np.testing.assert_array_equal(sp.block_psd["eyes-open"][1], 59)
    assert sp.meta["method_version"] == METHOD_VERSION
    assert sp.meta["config_hash"] == feats.provenance["config_hash"]
    assert sp.meta["units"]["psd_uv2_per_hz"] == "uV^2/Hz"
    assert sp.pipeline_version.startswith("neurofeedback ") and f"method version {METHOD_VERSION}" \
        in sp.pipeline_version
    # the block values of the summary come from these spectra: alpha of the stored block PSD
    from neurofeedback.spectral import band_power

    alpha = band_power(sp.block_psd["eyes-closed"][0], sp.freqs, [("alpha", 8.0, 13.0)])[:, 0]
    summ = processed.features.summary["blocks"]["eyes-closed"]["band_power"]["absolute"]
    np.testing.assert_allclose(alpha, [summ[c]["alpha"] for c in NAMES], rtol=1e-12)


def test_stored_psd_agrees_with_scipy_welch_on_a_sinusoid(stored):
    """Independent reference: scipy.signal.welch of the raw signal (2-s Hann segments, 50 %
    overlap, as configured). The peak is at 10 Hz, and around it (9-11 Hz) the stored PSD is
    scipy's within 1 % (what the 1-45 Hz band-pass may change inside its pass band, plus the
    noise of 1 µV white noise against a 20 µV sine); the power under the peak is A²/2 = 200 µV²
    within 1 %."""
    import scipy.signal

    from neurofeedback.spectral import band_power
    from neurofeedback.store.spectra import read_spectra, spectra_path

    _, _, data, _, features_path = stored
    sp = read_spectra(spectra_path(features_path))
    f_ref, p_ref = scipy.signal.welch(data, SF, window="hann", nperseg=500, noverlap=250)
    assert np.all(sp.freqs[np.argmax(sp.psd, axis=1)] == F0)
    near = (sp.freqs >= 9.0) & (sp.freqs <= 11.0)
    ref = p_ref[:, np.isin(f_ref, sp.freqs[near])]
    np.testing.assert_allclose(sp.psd[:, near], ref, rtol=0.01)
    peak = band_power(sp.psd, sp.freqs, [("peak", 9.0, 11.0)])[:, 0]
    np.testing.assert_allclose(peak, AMP_UV ** 2 / 2, rtol=0.01)


def _tables(rep) -> dict:
    return {t.name: t.frame for t in rep.tables()}


def test_report_from_stored_spectra_has_the_processed_band_values(stored, processed, caplog):
    """A stored session's report reads the derivatives (nothing processed: process_recording
    is never called) and shows the same numbers as the report of the recording processed now;
    it names the pipeline version that computed its spectra."""
    import neurofeedback.process as proc_mod
    from neurofeedback.report import build_session_report, session_report

    home, path, _, sid, _ = stored
    fresh = build_session_report(processed)
    orig = proc_mod.process_recording

    def forbidden(*a, **k):  # pragma: no cover - fails the test when reached
        raise AssertionError("a stored session's report must not process the recording")

    proc_mod.process_recording = forbidden
    try:
        from_id = session_report(sid, home=home)
        from_file = session_report(path, home=home)  # the file, once stored, is its session
    finally:
        proc_mod.process_recording = orig
    for rep in (from_id, from_file):
        assert rep.section_ids() == fresh.section_ids()
        assert set(rep.figures) == set(fresh.figures)
        mine, ref = _tables(rep), _tables(fresh)
        for name in ("features", "block_band_power", "iaf", "quality", "blocks"):
            pd.testing.assert_frame_equal(mine[name].reset_index(drop=True),
                                          ref[name].reset_index(drop=True), check_dtype=False)
        meta = dict(rep.meta)
        assert meta["Spectra"].startswith("stored at import (")
        assert "computed by neurofeedback " in meta["Spectra"] and "method version" in meta["Spectra"]
        prov = mine["provenance"].set_index("item")["value"]
        assert prov["spectra shown"] == meta["Spectra"]
    assert dict(fresh.meta)["Spectra"].startswith("computed now from the recording by neurofeedback")
    # the figures come from the same arrays: the PSD figure's lines are the stored PSD
    ax = from_id.figures["psd"].axes[0]
    ys = [ln.get_ydata() for ln in ax.get_lines() if len(ln.get_ydata()) > 10]
    assert ys, "the PSD figure draws the spectra"


def test_session_without_stored_spectra_is_processed_and_says_so(stored, tmp_path, caplog):
    """A session stored by an older version (no …_psd.npz) still gets its report: the recording
    is processed again, with a warning and a line in the report saying why."""
    import shutil

    from neurofeedback.report import session_report
    from neurofeedback.store.spectra import spectra_path

    home, _, _, sid, features_path = stored
    psd = spectra_path(features_path)
    keep = tmp_path / psd.name
    shutil.copy2(psd, keep)
    psd.unlink()
    try:
        with caplog.at_level(logging.WARNING, logger="neurofeedback"):
            rep = session_report(sid, home=home)
    finally:
        shutil.copy2(keep, psd)
    line = dict(rep.meta)["Spectra"]
    assert line.startswith("computed now from the recording") and "stored by an older version" in line
    assert any("processing the recording again" in r.getMessage() for r in caplog.records)


def test_read_spectra_errors(tmp_path):
    from neurofeedback.store.spectra import read_spectra

    with pytest.raises(FileNotFoundError):
        read_spectra(tmp_path / "none_psd.npz")
    bad = tmp_path / "bad_psd.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="bad_psd.npz"):
        read_spectra(bad)
    other = tmp_path / "other_psd.npz"
    np.savez(other, meta=np.array('{"kind": "something else"}'))
    with pytest.raises(ValueError, match="not a stored-spectra file"):
        read_spectra(other)
