"""muselsl CSV and Mind Monitor CSV readers on generated files."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from neurofeedback.errors import PrecomputedFeaturesError
from neurofeedback.io import (
    MUSE_BANDS,
    PrecomputedBandPowers,
    detect_format,
    read_precomputed,
    read_recording,
)

CH = ["TP9", "AF7", "AF8", "TP10"]


def write_muselsl(path, n=256 * 10, *, t0=1_486_223_115.483, marker_col="Marker", seed=0, keep=None,
                  markers=None):
    rng = np.random.default_rng(seed)
    eeg = np.round(rng.normal(0, 20, (n, 5)), 3)
    t = np.round(t0 + np.arange(n) / 256.0, 3)  # ms-rounded, as muselsl writes them
    m = np.zeros(n, dtype=int)
    for i, v in (markers or {}).items():
        m[i] = v
    df = pd.DataFrame(eeg, columns=CH + ["Right AUX"])
    df.insert(0, "timestamps", t)
    df[marker_col] = m
    if keep is not None:
        df = df.iloc[keep]
    df.to_csv(path, index=False, float_format="%.3f")
    return df


def test_muselsl_rate_names_types_units(tmp_path):
    p = tmp_path / "muse.csv"
    df = write_muselsl(p, markers={300: 1, 700: 2})
    assert detect_format(p) == "muselsl_csv"
    # the median difference of ms-rounded stamps is 4 ms (250 Hz); the reader must say 256
    assert np.median(np.diff(df["timestamps"])) == pytest.approx(0.004, abs=1e-6)
    raw = read_recording(p)
    assert raw.info["sfreq"] == 256.0
    assert raw.ch_names == CH + ["Right AUX"]
    assert raw.get_channel_types() == ["eeg"] * 4 + ["misc"]
    np.testing.assert_allclose(raw.get_data() * 1e6, df[CH + ["Right AUX"]].to_numpy().T, atol=1e-9)
    assert raw.info["meas_date"].timestamp() == pytest.approx(1_486_223_115.483)
    assert [(round(a["onset"] * 256), a["description"]) for a in raw.annotations] == [
        (300, "marker/1"), (700, "marker/2")]
    pos = raw.get_montage().get_positions()["ch_pos"]
    assert all(np.all(np.isfinite(pos[c])) for c in CH)


def test_muselsl_lsl_clock_has_no_meas_date_and_marker0(tmp_path):
    p = tmp_path / "lsl.csv"
    write_muselsl(p, t0=149_958.124, marker_col="Marker0")
    raw = read_recording(p)
    assert raw.info["meas_date"] is None
    assert raw.info["sfreq"] == 256.0


def test_muselsl_gap_is_annotated(tmp_path):
    p = tmp_path / "gap.csv"
    n = 256 * 10
    keep = np.r_[0:1000, 1128:n]  # half a second lost
    write_muselsl(p, n=n, keep=keep)
    raw = read_recording(p)
    assert raw.n_times == keep.size
    bad = [a for a in raw.annotations if a["description"] == "BAD_dropout"]
    assert len(bad) == 1
    assert bad[0]["onset"] == pytest.approx(1000 / 256)
    assert bad[0]["duration"] == pytest.approx(128 / 256)


# ---------------------------------------------------------------------------------------------
# Mind Monitor

MM_COLUMNS = (["TimeStamp"] + [f"{b}_{c}" for b in ("Delta", "Theta", "Alpha", "Beta", "Gamma") for c in CH]
              + [f"RAW_{c}" for c in CH] + ["AUX_RIGHT", "Accelerometer_X", "Accelerometer_Y",
              "Accelerometer_Z", "Gyro_X", "Gyro_Y", "Gyro_Z", "HeadBandOn"]
              + [f"HSI_{c}" for c in CH] + ["Battery", "Elements"])


def write_mindmonitor(path, n, *, period_s, seed=0, hsi=None, events=(), stamp="full"):
    """A Mind Monitor export with ``n`` data rows ``period_s`` apart; events after given rows."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2020, 6, 14, 10, 19, 29, 289000)
    rows = []
    for i in range(n):
        t = t0 + timedelta(seconds=i * period_s)
        r = {"TimeStamp": t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if stamp == "full"
             else f"{t.minute}:{t.second + t.microsecond / 1e6:04.1f}"}
        for j, c in enumerate(MM_COLUMNS[1:21]):
            r[c] = rng.normal(0.5, 0.4)
        for c in MM_COLUMNS[21:26]:
            r[c] = 800 + rng.normal(0, 30)
        for c in MM_COLUMNS[26:32]:
            r[c] = 0.1
        r["HeadBandOn"] = 1
        for j, c in enumerate(CH):
            r[f"HSI_{c}"] = 1 if hsi is None else hsi[j]
        r["Battery"] = 100
        r["Elements"] = ""
        rows.append(r)
        for k, text in events:
            if k == i:
                rows.append({"TimeStamp": r["TimeStamp"], "Elements": text})
    df = pd.DataFrame(rows, columns=MM_COLUMNS)
    df.to_csv(path, index=False)
    return df


def test_mindmonitor_band_powers_are_precomputed(tmp_path):
    p = tmp_path / "mm.csv"
    df = write_mindmonitor(p, 30, period_s=1.0, hsi=[1, 4, 2, 1], events=[(5, "/muse/elements/blink")])
    assert detect_format(p) == "mindmonitor_csv"
    with pytest.raises(PrecomputedFeaturesError, match="use read_precomputed") as err:
        read_recording(p)
    assert p.name in str(err.value) and "\n" not in str(err.value)
    bp = read_precomputed(p)
    assert isinstance(bp, PrecomputedBandPowers)
    assert isinstance(read_recording(p, allow_precomputed=True), PrecomputedBandPowers)
    assert bp.channels == tuple(CH)
    assert bp.bands == MUSE_BANDS
    assert bp.bands["alpha"] == [7.5, 13.0]
    assert bp.duration_s == pytest.approx(29.0)
    assert bp.meas_date.isoformat() == "2020-06-14T10:19:29.289000+00:00"
    data = df[df["Elements"].isna() | (df["Elements"] == "")]
    assert len(bp.table) == len(data) * 4 * 5  # the event row is not a sample
    # values are the CSV's
    got = bp.table.query("channel == 'AF8' and band == 'theta'")["absolute_bels"].to_numpy()
    np.testing.assert_allclose(got, data["Theta_AF8"].to_numpy(dtype=float))
    clean = bp.table.groupby("channel")["clean"].all()
    assert clean.to_dict() == {"AF7": False, "AF8": False, "TP10": True, "TP9": True}
    assert list(bp.events["description"]) == ["blink"]


def test_session_means_are_the_muse_relative_powers(tmp_path):
    p = tmp_path / "mm.csv"
    df = write_mindmonitor(p, 20, period_s=1.0, hsi=[1, 4, 1, 1])
    bp = read_precomputed(p)
    means = bp.session_means()
    # reference: per row 10**b / sum over bands 10**b, then the mean over rows
    bands = ["Delta", "Theta", "Alpha", "Beta", "Gamma"]
    lin = 10.0 ** df[[f"{b}_TP9" for b in bands]].to_numpy(dtype=float)
    ref = (lin / lin.sum(axis=1, keepdims=True)).mean(axis=0)
    got = means.query("channel == 'TP9'").set_index("band").loc[[b.lower() for b in bands]]
    np.testing.assert_allclose(got["precomputed_relative_mean"].to_numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(got["precomputed_absolute_bels_mean"].to_numpy(),
                               df[[f"{b}_TP9" for b in bands]].to_numpy(dtype=float).mean(axis=0))
    sums = means.groupby("channel")["precomputed_relative_mean"].sum()
    np.testing.assert_allclose(sums[["TP9", "AF8", "TP10"]].to_numpy(), 1.0)
    # AF7 had a bad fit throughout: nothing clean to average
    assert means.query("channel == 'AF7'")["n_rows"].eq(0).all()
    assert bp.session_means(clean_only=False).query("channel == 'AF7'")["n_rows"].eq(20).all()


def test_mindmonitor_mangled_timestamps(tmp_path):
    p = tmp_path / "mangled.csv"
    # crosses an hour: 10:59:50 ... 11:00:10 written as 59:50.x then 0:xx.x
    write_mindmonitor(p, 3, period_s=1.0, stamp="mmss")
    df = pd.read_csv(p)
    base = datetime(2020, 6, 14, 10, 59, 55, 300000)
    df["TimeStamp"] = [f"{(base + timedelta(seconds=3 * i)).minute}:"
                       f"{(base + timedelta(seconds=3 * i)).second + 0.3:04.1f}" for i in range(len(df))]
    df.to_csv(p, index=False)
    bp = read_precomputed(p)
    np.testing.assert_allclose(bp.table["onset_s"].unique(), [0.0, 3.0, 6.0])
    assert bp.meas_date is None
    assert "mangled" in bp.note


def test_mindmonitor_constant_rate_is_raw_eeg(tmp_path):
    p = tmp_path / "raw256.csv"
    df = write_mindmonitor(p, 256 * 4, period_s=1 / 256, events=[(512, "/Marker/1")])
    raw = read_recording(p)
    assert read_recording(p, allow_precomputed=True).info["sfreq"] == 256.0
    assert raw.info["sfreq"] == 256.0
    assert raw.ch_names == CH + ["AUX_RIGHT"]
    assert raw.get_channel_types() == ["eeg"] * 4 + ["misc"]
    data = df[df["Elements"].isna() | (df["Elements"] == "")]
    np.testing.assert_allclose(raw.get_data() * 1e6,
                               data[[f"RAW_{c}" for c in CH] + ["AUX_RIGHT"]].to_numpy(float).T,
                               rtol=1e-12)
    assert raw.info["meas_date"].isoformat().startswith("2020-06-14T10:19:29.289")
    ann = [(round(a["onset"] * 256), a["description"]) for a in raw.annotations]
    assert ann == [(512, "marker/1")]
