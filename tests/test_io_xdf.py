"""XDF (issue 17): the example files of xdf-modules, checked against pyxdf run directly, and XDF
files written here (tests/_xdf_writer.py) for units, marker streams, stream choice and errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from _xdf_writer import Stream, write_xdf
from conftest import shared_file
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.errors import RecordingFormatError
from neurofeedback.io import detect_format, read_recording, read_xdf

pyxdf = pytest.importorskip("pyxdf")

XDF = "xdf-modules__example-files"


def _load(path):
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=True, handle_clock_resets=True,
                                dejitter_timestamps=True)
    return streams


def _by_type(streams, kind):
    return [s for s in streams if s["info"]["type"][0] == kind]


def _one_line_exit_2(result, *needles):
    assert result.exit_code == 2, result.output
    err = [ln for ln in result.output.splitlines() if "error" in ln]
    assert len(err) == 1, result.output
    assert "Traceback" not in result.output
    for n in needles:
        assert n in err[0], err[0]
    return err[0]


# --- the real example files -------------------------------------------------------------------


def test_minimal_matches_pyxdf(shared_data, caplog):
    path = shared_file(shared_data, f"{XDF}/minimal.xdf")
    assert detect_format(path) == "xdf"
    ref = _load(path)
    eeg = _by_type(ref, "EEG")[0]
    marker = _by_type(ref, "StringMarker")[0]
    with caplog.at_level(logging.INFO, logger="neurofeedback"):
        raw = read_recording(path)
    assert raw.ch_names == ["EEG 1", "EEG 2", "EEG 3"]  # the stream has no <desc><channels>
    assert raw.info["sfreq"] == float(eeg["info"]["nominal_srate"][0]) == 10.0
    assert raw.n_times == len(eeg["time_stamps"]) == 9
    # int16 values, no unit given → read as µV, i.e. value × 1e-6 V
    np.testing.assert_allclose(raw.get_data() * 1e6, eeg["time_series"].T.astype(float), rtol=1e-12)
    assert "no unit given" in caplog.text
    # markers at the string stream's times relative to the EEG's first sample; the last
    # (5.9 s, 0.1 s after the last EEG sample) is outside the EEG and said, not placed silently
    mt = marker["time_stamps"]
    inside = mt <= eeg["time_stamps"][-1] + 1e-9
    want = [v[0] for v, ok in zip(marker["time_series"], inside) if ok]
    assert list(raw.annotations.description) == want
    np.testing.assert_allclose(raw.annotations.onset, mt[inside] - eeg["time_stamps"][0], atol=1e-9)
    assert "1 marker(s) fall outside" in caplog.text


def test_clock_resets_monotonic_time_axis(shared_data, caplog):
    path = shared_file(shared_data, f"{XDF}/clock_resets.xdf")
    ref = _load(path)
    eeg = _by_type(ref, "EEG")[0]
    markers = _by_type(ref, "Markers")[0]
    ts = eeg["time_stamps"]
    # pyxdf survives the resets: two segments, synchronised timestamps increase throughout
    assert len(eeg["info"]["clock_segments"]) == 2
    assert np.all(np.diff(ts) > 0)
    with caplog.at_level(logging.WARNING, logger="neurofeedback"):
        raw = read_recording(path)
    assert raw.get_channel_types() == ["eeg"] * 8
    # the sender ran at ~92.7 Hz, not its nominal 100 Hz: the measured rate is used, and said
    sfreq = raw.info["sfreq"]
    assert 92 < sfreq < 94 and "nominal 100 Hz" in caplog.text
    # the 274 s without samples between the segments is inserted (BAD_disconnect), so time on
    # the raw follows the recorder's clock: the last sample sits where its timestamp says
    disc = [a for a in raw.annotations if a["description"] == "BAD_disconnect"]
    assert len(disc) == 1 and 270 < disc[0]["duration"] < 280
    assert abs(raw.times[-1] - (ts[-1] - ts[0])) < 0.01 * (ts[-1] - ts[0])
    # every sample kept, in order: the data outside the filled gap is pyxdf's
    keep = np.ones(raw.n_times, bool)
    i0 = int(round(disc[0]["onset"] * sfreq))
    keep[i0: i0 + int(round(disc[0]["duration"] * sfreq))] = False
    assert keep.sum() == len(ts) == 27815
    np.testing.assert_allclose(raw.get_data()[:, keep] * 1e6, eeg["time_series"].T, rtol=1e-6)
    # two short steps without catch-up just before the reset (36 and 33 ms, 3.4 and 3 periods)
    # are dropouts by the readers' rule; pyxdf's dejitter would have smeared them
    drops = [a for a in raw.annotations if a["description"] == "BAD_dropout"]
    assert len(drops) == 2 and all(a["duration"] < 0.05 for a in drops)
    # all 175 markers, in order, none in the gap, each within 1% of its synchronised time
    ann = [a for a in raw.annotations if not a["description"].startswith("BAD_")]
    assert [a["description"] for a in ann] == [v[0] for v in markers["time_series"]]
    onsets = np.array([a["onset"] for a in ann])
    assert np.all(np.diff(onsets) > 0)
    np.testing.assert_allclose(onsets, markers["time_stamps"] - ts[0], rtol=0.01, atol=0.1)


def test_empty_streams_no_eeg_one_line(shared_data):
    path = shared_file(shared_data, f"{XDF}/empty_streams.xdf")
    names = [s["info"]["name"][0] for s in _load(path)]
    with pytest.raises(RecordingFormatError) as err:
        read_recording(path)
    msg = str(err.value)
    assert "\n" not in msg and "holds no EEG stream" in msg
    for n in names:
        assert repr(n) in msg
    res = CliRunner().invoke(app, ["inspect", str(path)])
    _one_line_exit_2(res, "empty_streams.xdf", "holds no EEG stream", "--stream NAME")


def test_empty_streams_named_stream(shared_data):
    """Choosing the 10-sample counter stream by name reads it; the empty one is refused."""
    path = shared_file(shared_data, f"{XDF}/empty_streams.xdf")
    ref = [s for s in _load(path) if s["info"]["name"][0] == "Data stream: test stream 0 counter"][0]
    raw = read_recording(path, stream="Data stream: test stream 0 counter")
    assert raw.n_times == 10 and raw.info["sfreq"] == 1.0
    np.testing.assert_array_equal(raw.get_data()[0] * 1e6, ref["time_series"][:, 0])
    # its only marker ('ctrl', {"state": 2}) is 0.2 s before the first sample, within half a
    # sample at 1 Hz: placed on the first sample
    assert [(a["description"], a["onset"]) for a in raw.annotations] == [('{"state": 2}', 0.0)]
    with pytest.raises(RecordingFormatError, match="holds no samples"):
        read_recording(path, stream="Empty data stream: test stream 0 counter")
    with pytest.raises(RecordingFormatError, match="has no stream named 'nope'"):
        read_recording(path, stream="nope")
    with pytest.raises(RecordingFormatError, match="holds text"):
        read_recording(path, stream="ctrl")


def test_minimal_cli_rate_too_low_one_line(shared_data):
    path = shared_file(shared_data, f"{XDF}/minimal.xdf")
    res = CliRunner().invoke(app, ["inspect", str(path)])
    _one_line_exit_2(res, "minimal.xdf", "sampling rate 10 Hz is too low")


# --- files written here ---------------------------------------------------------------------


def _eeg(name="EEG", *, sfreq=250.0, n_ch=4, seconds=8.0, labels=None, unit="microvolts", t0=1000.0,
         fmt="float32", scale=1.0, offset=0.0, seed=0, jitter=0.0, kind="EEG"):
    rng = np.random.default_rng(seed)
    n = int(seconds * sfreq)
    t = np.arange(n) / sfreq
    x = 20 * np.sin(2 * np.pi * 10 * t)[:, None] + rng.normal(0, 5, (n, n_ch))  # µV
    ts = t0 + t + (rng.uniform(0, jitter, n) if jitter else 0.0)
    labels = labels or [f"Ch{k}" for k in range(n_ch)]
    chans = [{"label": lab, "type": "EEG", "unit": unit} for lab in labels] if unit is not None else \
        [{"label": lab} for lab in labels]
    data = (x * scale).astype(np.float32 if fmt == "float32" else np.float64)
    return Stream(name, kind, sfreq, fmt, data, ts, channels=chans, clock_offset=offset), x


def _markers(times, labels, name="Markers"):
    return Stream(name, "Markers", 0, "string", [[lab] for lab in labels], np.asarray(times, float))


@pytest.mark.parametrize("unit, scale", [("microvolts", 1.0), ("µV", 1.0), ("uV", 1.0),
                                          ("millivolts", 1e-3), ("mV", 1e-3), ("V", 1e-6), ("volts", 1e-6)])
def test_units_to_volts(tmp_path, unit, scale):
    s, x_uv = _eeg(unit=unit, scale=scale, fmt="double64")
    p = tmp_path / "u.xdf"
    write_xdf(p, [s])
    raw = read_recording(p)
    np.testing.assert_allclose(raw.get_data(), x_uv.T * 1e-6, rtol=1e-9, atol=1e-15)


def test_unknown_unit_said(tmp_path, caplog):
    s, x_uv = _eeg(unit="counts")
    p = tmp_path / "c.xdf"
    write_xdf(p, [s])
    with caplog.at_level(logging.WARNING, logger="neurofeedback"):
        raw = read_recording(p)
    assert "unit 'counts'" in caplog.text and "read as µV" in caplog.text
    np.testing.assert_allclose(raw.get_data(), x_uv.T.astype(np.float32) * 1e-6, rtol=1e-6)


@pytest.mark.parametrize("device, sfreq, labels, names", [
    ("Muse", 256.0, ["TP9", "AF7", "AF8", "TP10"], ["TP9", "AF7", "AF8", "TP10"]),
    ("Cyton", 250.0, ["fp1", "fp2", "c3", "c4", "p7", "p8", "o1", "o2"],
     ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]),
    ("Amp", 500.0, ["FZ", "Cz", "pz"], ["Fz", "Cz", "Pz"]),
])
def test_devices_and_rates_with_markers(tmp_path, device, sfreq, labels, names):
    """Labels from <desc> (10-05 spelling), the rate, the samples and marker onsets to 1 sample;
    the EEG sender's clock 5 s ahead is corrected with the clock offsets."""
    s, x_uv = _eeg(device, sfreq=sfreq, n_ch=len(labels), labels=labels, offset=-5.0, t0=1005.0,
                   jitter=0.3 / sfreq)
    # recorder clock: the EEG starts at 1000.0; markers sent on the recorder's clock
    mk = _markers([1001.0, 1003.25, 1006.5], ["eyes-open", "eyes-closed", "eyes-open"])
    p = tmp_path / f"{device}.xdf"
    write_xdf(p, [mk, s])
    raw = read_recording(p)
    assert raw.ch_names == names
    assert raw.info["sfreq"] == sfreq and raw.n_times == x_uv.shape[0]
    np.testing.assert_allclose(raw.get_data(), x_uv.T.astype(np.float32) * 1e-6, rtol=1e-6)
    assert list(raw.annotations.description) == ["eyes-open", "eyes-closed", "eyes-open"]
    np.testing.assert_allclose(raw.annotations.onset, [1.0, 3.25, 6.5], atol=1.0 / sfreq)
    assert raw.info["device_info"]["model"] == device


def test_eeg_chosen_over_accelerometer(tmp_path, caplog):
    acc = Stream("Muse ACC", "Accelerometer", 52.0, "float32",
                 np.zeros((400, 3), np.float32), 999.0 + np.arange(400) / 52.0)
    s, x_uv = _eeg("Muse EEG", sfreq=256.0, labels=["TP9", "AF7", "AF8", "TP10"])
    p = tmp_path / "acc.xdf"
    write_xdf(p, [acc, s, _markers([1002.0], ["go"])])
    with caplog.at_level(logging.INFO, logger="neurofeedback"):
        raw = read_recording(p)
    assert raw.ch_names == ["TP9", "AF7", "AF8", "TP10"] and raw.info["sfreq"] == 256.0
    assert "ignored 1 other numeric stream(s): 'Muse ACC'" in caplog.text
    assert [(a["description"], round(a["onset"], 3)) for a in raw.annotations] == [("go", 2.0)]
    # the accelerometer by name is read instead (its channels without labels: EEG 1..3)
    acc_raw = read_recording(p, stream="Muse ACC")
    assert acc_raw.info["sfreq"] == 52.0 and acc_raw.n_times == 400


def test_non_eeg_channels_are_misc(tmp_path):
    s, _ = _eeg(labels=["Fp1", "Fp2", "AUX", "O1"])
    s.channels[2]["type"] = "AUX"
    p = tmp_path / "aux.xdf"
    write_xdf(p, [s])
    raw = read_recording(p)
    assert raw.ch_names == ["Fp1", "Fp2", "O1", "AUX"]
    assert raw.get_channel_types() == ["eeg", "eeg", "eeg", "misc"]


def test_only_markers_exit_2(tmp_path):
    p = tmp_path / "markers_only.xdf"
    write_xdf(p, [_markers([1.0, 2.0], ["a", "b"], name="Stim")])
    with pytest.raises(RecordingFormatError, match="holds no EEG stream.*'Stim' \\(type Markers, string"):
        read_recording(p)
    res = CliRunner().invoke(app, ["inspect", str(p)])
    _one_line_exit_2(res, "markers_only.xdf", "holds no EEG stream", "'Stim'")


def test_two_eeg_streams_need_a_name(tmp_path):
    a, xa = _eeg("left", n_ch=2, labels=["F3", "F4"])
    b, xb = _eeg("right", n_ch=3, labels=["O1", "Oz", "O2"], seed=1)
    p = tmp_path / "two.xdf"
    write_xdf(p, [a, b])
    with pytest.raises(RecordingFormatError, match="holds 2 EEG streams.*'left'.*'right'"):
        read_recording(p)
    raw = read_recording(p, stream="right")
    assert raw.ch_names == ["O1", "Oz", "O2"]
    res = CliRunner().invoke(app, ["inspect", "--stream", "nope", str(p)])
    _one_line_exit_2(res, "two.xdf", "has no stream named 'nope'")


def test_irregular_eeg_refused(tmp_path):
    s, _ = _eeg()
    s.nominal_srate = 0
    p = tmp_path / "irr.xdf"
    write_xdf(p, [s])
    with pytest.raises(RecordingFormatError, match="irregular \\(nominal rate 0"):
        read_recording(p)


def test_gap_is_filled_and_annotated(tmp_path):
    s, x_uv = _eeg(seconds=10.0)
    s.timestamps = s.timestamps.copy()
    s.timestamps[1250:] += 3.0  # the sender stalled 3 s after 5 s
    p = tmp_path / "gap.xdf"
    write_xdf(p, [s, _markers([1009.0], ["late"])])
    raw = read_recording(p)
    assert raw.n_times == 2500 + 750
    [gap] = [a for a in raw.annotations if a["description"] == "BAD_disconnect"]
    assert gap["onset"] == pytest.approx(5.0, abs=1 / 250) and gap["duration"] == pytest.approx(3.0, abs=1 / 250)
    [late] = [a for a in raw.annotations if a["description"] == "late"]
    assert late["onset"] == pytest.approx(9.0, abs=1 / 250)


def test_meas_date_from_header(tmp_path):
    s, _ = _eeg()
    p = tmp_path / "dated.xdf"
    write_xdf(p, [s], datetime="2025-01-31T00:21:17+0000")
    assert read_recording(p).info["meas_date"].isoformat() == "2025-01-31T00:21:17+00:00"
    write_xdf(p, [s])
    assert read_recording(p).info["meas_date"] is None  # LSL clock: no date


def test_cut_damaged_and_mislabelled(tmp_path, caplog):
    s, _ = _eeg()
    p = tmp_path / "cut.xdf"
    write_xdf(p, [s], chunk=100)
    data = p.read_bytes()
    # cut mid-recording (LabRecorder killed): the whole chunks before the cut are read, and said
    p.write_bytes(data[: len(data) // 3])
    with caplog.at_level(logging.WARNING):
        raw = read_xdf(p)
    assert 0 < raw.n_times < 2000 and raw.n_times % 100 == 0
    ours = [r for r in caplog.records if r.name == "neurofeedback"]
    assert any("no footer" in r.getMessage() for r in ours)
    assert any("pyxdf: found likely XDF file corruption" in r.getMessage() for r in ours)
    assert not [r for r in caplog.records if r.name.startswith("pyxdf")]  # said once, as ours
    # cut inside the file header: one line naming the file
    p.write_bytes(data[:30])
    with pytest.raises(RecordingFormatError) as err:
        read_xdf(p)
    assert "\n" not in str(err.value) and "cut.xdf" in str(err.value)
    fake = tmp_path / "fake.xdf"
    fake.write_bytes(b"\x00\x01binary")
    with pytest.raises(RecordingFormatError, match="extension but does not start like a XDF"):
        detect_format(fake)
    other = tmp_path / "blob.dat"
    other.write_bytes(b"\x00\x01binary")
    with pytest.raises(RecordingFormatError, match="BrainVision or XDF"):
        detect_format(other)


def test_generated_xdf_through_inspect_and_the_store(tmp_path):
    """A 256 Hz Muse-like XDF with a 10 Hz rhythm: `inspect --json` finds the alpha peak and the
    markers, and the store imports it (its BIDS copy is BrainVision, written from the Raw)."""
    import json

    from neurofeedback.store import ingest_file

    s, _ = _eeg("Muse EEG", sfreq=256.0, seconds=60.0, labels=["TP9", "AF7", "AF8", "TP10"])
    p = tmp_path / "rec.xdf"
    write_xdf(p, [s, _markers([1010.0, 1030.0], ["eyes-closed", "eyes-open"])],
              datetime="2025-01-31T00:21:17+0000")
    res = CliRunner().invoke(app, ["inspect", "--json", "--line-freq", "none", str(p)])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["format"] == "xdf" and summary["sfreq"] == 256.0
    assert summary["channels"] == ["TP9", "AF7", "AF8", "TP10"]
    assert all(abs(v - 10.0) < 0.6 for v in summary["iaf_hz"].values())
    out = ingest_file(p, home=tmp_path / "home", subject="x1")
    assert out.status == "imported" and out.bids_path.suffix == ".vhdr"
    assert out.session == "20250131T002117"  # from the XDF header's datetime


@pytest.mark.parametrize("sfreq, gap_s", [(250.0, 0.3), (256.0, 0.1), (500.0, 0.5)])
def test_short_dropout_found_in_jittery_stamps(tmp_path, sfreq, gap_s):
    """A dropout shorter than pyxdf's dejitter break (1 s and 500 samples) stays a dropout at
    the right place, not a smeared rate change; arrival jitter of a third of a period is not."""
    s, x_uv = _eeg(sfreq=sfreq, seconds=20.0, jitter=0.33 / sfreq, seed=3)
    s.timestamps = s.timestamps.copy()
    k = int(8 * sfreq)
    s.timestamps[k:] += gap_s
    p = tmp_path / "drop.xdf"
    write_xdf(p, [s, _markers([1015.0 + gap_s], ["after"])])
    raw = read_recording(p)
    assert raw.info["sfreq"] == sfreq and raw.n_times == x_uv.shape[0]  # < 1 s: nothing inserted
    [drop] = [a for a in raw.annotations if a["description"] == "BAD_dropout"]
    assert drop["onset"] == pytest.approx(8.0, abs=1.5 / sfreq)
    assert drop["duration"] == pytest.approx(gap_s, abs=1.5 / sfreq)
    # the marker 15 s after the EEG's start on the recorder's clock is on sample 15 s - gap
    [after] = [a for a in raw.annotations if a["description"] == "after"]
    assert after["onset"] == pytest.approx(15.0, abs=1.5 / sfreq)
