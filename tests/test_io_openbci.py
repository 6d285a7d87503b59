"""OpenBCI GUI text reader on generated files: layouts, dropped packets, names, bads."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from neurofeedback.io import detect_format, read_openbci_txt, read_recording

SFREQ = 250.0
T0_MS = 1_700_000_000_000  # Unix ms of the first sample


def _signal(n, n_ch=8, seed=0):
    rng = np.random.default_rng(seed)
    # DC offsets like a Cyton's plus noise, 2 decimals as the GUI writes
    return np.round(rng.normal(0, 20, (n, n_ch)) + np.arange(1, n_ch + 1) * 1e4, 2)


def write_openbci(path, eeg, *, version="v6", keep=None, rate_line=True, markers=None,
                  n_channels_line=True, ts_unit="ms"):
    """Write an OpenBCI GUI text file of ``eeg`` (n, n_ch) µV.

    ``keep`` selects which of the n samples are written (the others are "dropped packets"):
    the sample index (mod 256) and timestamps still count the dropped ones.
    """
    n, n_ch = eeg.shape
    keep = np.arange(n) if keep is None else np.asarray(keep)
    lines = ["%OpenBCI Raw EEG Data"]
    if n_channels_line:
        lines.append(f"%Number of channels = {n_ch}")
    if rate_line:
        lines.append("%Sample Rate = 250 Hz")
    if version in ("v5", "v6"):
        lines.append("%Board = OpenBCI_GUI$BoardCytonSerial")
    if version == "v6":
        lines.append(", ".join(["Sample Index"] + [f"EXG Channel {i}" for i in range(n_ch)]
                               + [f"Accel Channel {i}" for i in range(3)]
                               + ["Timestamp", "Marker Channel", "Timestamp (Formatted)"]))
    if version == "v5":
        lines.append(",".join(["0.0"] * (1 + n_ch + 3 + 2)))  # the all-zero placeholder row
    for i in keep:
        ms = T0_MS + i * 4
        ts = f"{ms}" if ts_unit == "ms" else f"{ms / 1000:.3f}"
        vals = ", ".join(f"{v:.2f}" for v in eeg[i])
        acc = "0.000, 0.000, 0.000"
        if version == "v6":
            mk = 0 if markers is None else markers[i]
            lines.append(f"{i % 256}, {vals}, {acc}, {ts}, {mk}, 12:00:00.000")
        elif version == "v5":
            lines.append(f"{i % 256}, {vals}, {acc}, {ts}, 12:00:00.000")
        elif version == "old":  # v3/v4
            lines.append(f"{i % 256}, {vals}, {acc}, 12:00:00.000, {ts}")
        else:  # 2014: index, EEG, one aux column, no timestamps
            lines.append(f"{i % 256}, {vals}, 0")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("version", ["v6", "v5", "old", "2014"])
def test_layouts_give_the_same_eeg(tmp_path, version):
    eeg = _signal(600)
    p = write_openbci(tmp_path / f"{version}.txt", eeg, version=version)
    assert detect_format(p) == "openbci_txt"
    raw = read_openbci_txt(p)
    assert raw.info["sfreq"] == SFREQ
    assert raw.ch_names == [f"EEG {i}" for i in range(1, 9)]
    assert raw.get_channel_types() == ["eeg"] * 8
    # µV → V exactly once; the v5 placeholder row is gone
    np.testing.assert_allclose(raw.get_data(), eeg.T * 1e-6, rtol=0, atol=1e-12)
    if version == "2014":
        assert raw.info["meas_date"] is None
    else:
        assert raw.info["meas_date"].timestamp() == pytest.approx(T0_MS / 1000)
    assert len(raw.annotations) == 0


@pytest.mark.parametrize("ts_unit", ["ms", "s"])
def test_v6_timestamp_in_ms_or_s(tmp_path, ts_unit):
    p = write_openbci(tmp_path / "r.txt", _signal(50), ts_unit=ts_unit)
    assert read_openbci_txt(p).info["meas_date"].timestamp() == pytest.approx(T0_MS / 1000)


@pytest.mark.parametrize("start, n_lost", [(500, 30), (250, 20), (100, 300)])
def test_dropped_packets_become_bad_dropout(tmp_path, start, n_lost):
    # (250, 20) crosses the 255 → 0 wrap; (100, 300) loses more than a whole index cycle
    n = 1200
    eeg = _signal(n)
    keep = np.r_[0:start, start + n_lost:n]
    p = write_openbci(tmp_path / "drop.txt", eeg, keep=keep)
    raw = read_openbci_txt(p)
    assert raw.n_times == keep.size  # nothing inserted
    np.testing.assert_allclose(raw.get_data(), eeg[keep].T * 1e-6, atol=1e-12)
    bad = [a for a in raw.annotations if a["description"] == "BAD_dropout"]
    seen_lost = n_lost % 256  # the index cannot see whole cycles
    assert len(bad) == 1
    assert bad[0]["onset"] == pytest.approx(start / SFREQ)
    assert bad[0]["duration"] == pytest.approx(seen_lost / SFREQ)


def test_rate_inferred_from_timestamps_when_header_lacks_it(tmp_path, caplog):
    p = write_openbci(tmp_path / "norate.txt", _signal(2000), rate_line=False)
    with caplog.at_level(logging.WARNING, logger="neurofeedback"):
        raw = read_openbci_txt(p)
    assert raw.info["sfreq"] == SFREQ
    assert "inferred from the timestamps" in caplog.text


def test_channel_names_override_and_board_labels(tmp_path):
    p = write_openbci(tmp_path / "r.txt", _signal(100))
    names = ["EEG 1", "O1", "EEG 3", "EEG 4", "EEG 5", "EEG 6", "EEG 7", "EEG 8"]
    raw = read_openbci_txt(p, channel_names=names)
    assert raw.ch_names == names
    pos = raw.get_montage().get_positions()["ch_pos"]
    placed = {name for name, xyz in pos.items() if np.all(np.isfinite(xyz))}
    assert placed == {"O1"}  # only the standard site gets a position
    raw = read_recording(p, board="cyton")
    assert raw.ch_names == ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]
    assert raw.get_montage() is not None


def test_railed_and_flat_channels_are_bads_but_kept(tmp_path):
    eeg = _signal(1000)
    eeg[:, 2] = 187500.02  # railed throughout
    eeg[:60, 5] = -187500.02  # railed 6% of the time
    eeg[:30, 6] = 187500.0  # 3%: not enough
    eeg[:, 7] = 0.0  # zeroed
    p = write_openbci(tmp_path / "railed.txt", eeg)
    raw = read_openbci_txt(p)
    assert raw.info["bads"] == ["EEG 3", "EEG 6", "EEG 8"]
    np.testing.assert_allclose(raw.get_data()[2], 0.18750002)  # kept as data, in volts


def test_markers_of_v6_become_annotations(tmp_path):
    markers = np.zeros(500)
    markers[[100, 350]] = [1, 2]
    p = write_openbci(tmp_path / "m.txt", _signal(500), markers=markers)
    raw = read_openbci_txt(p)
    assert [(a["onset"], a["description"]) for a in raw.annotations] == [
        (pytest.approx(0.4), "marker/1"), (pytest.approx(1.4), "marker/2")]


def test_partial_last_line_is_dropped(tmp_path, caplog):
    eeg = _signal(300)
    p = write_openbci(tmp_path / "cut.txt", eeg)
    with open(p, "a") as fh:
        fh.write("44, 10000.00, 20000.0")  # crash mid-line
    with caplog.at_level(logging.WARNING, logger="neurofeedback"):
        raw = read_openbci_txt(p)
    assert raw.n_times == 300
    assert "partial last line" in caplog.text


def test_complete_last_line_without_newline_is_kept(tmp_path):
    eeg = _signal(300)
    p = write_openbci(tmp_path / "nonl.txt", eeg)
    p.write_text(p.read_text().rstrip("\n"))
    assert read_openbci_txt(p).n_times == 300
