"""Reader kinds (issue 17): each field case in ``../shared/cases`` with its README values, and
generated variants of the same kind (other devices, other rates, other values) so that a fix is
for the kind, not the file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import shared_case
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.errors import RecordingFormatError
from neurofeedback.io import detect_format, read_recording

MUSE = ["TP9", "AF7", "AF8", "TP10", "Right AUX"]


def _markers(raw):
    return [(a["onset"], a["description"]) for a in raw.annotations
            if a["description"].startswith("marker/")]


# --- kind: muselsl rows longer than the header carry the stimulus marker --------------------

def test_case_marker_rows_longer_than_header():
    """README: five markers 1–5 at 0.391, 4.390, 8.390, 12.389, 16.389 s; the EEG unchanged."""
    p = shared_case("muselsl-marker-rows-longer-than-header/recording.csv")
    raw = read_recording(p)
    got = _markers(raw)
    assert [d for _, d in got] == [f"marker/{v}" for v in range(1, 6)]
    # the README's times are timestamps minus the first; the annotation sits on the marker's
    # own sample (sample / 256 Hz): the two agree within one sample period
    want = [0.391, 4.390, 8.390, 12.389, 16.389]
    np.testing.assert_allclose([t for t, _ in got], want, atol=1 / 256)
    # and exactly on the rows that carry the seventh field
    lines = p.read_text().splitlines()
    long_rows = [i - 1 for i, ln in enumerate(lines) if ln.count(",") == 6]
    assert [round(t * 256) for t, _ in got] == long_rows
    table = pd.read_csv(p, usecols=range(6))
    np.testing.assert_allclose(raw.get_data() * 1e6, table[MUSE].to_numpy().T, atol=1e-9)


def _write_long_rows(path, markers, *, n=256 * 6, header_marker=None, seed=1, sfreq=256.0,
                     newline_at_end=True):
    """A muselsl CSV whose header lacks (or has) a marker column; rows in ``markers`` get one
    more field holding the value (any text)."""
    rng = np.random.default_rng(seed)
    eeg = np.round(rng.normal(0, 20, (n, 5)), 3)
    t = np.round(1_486_223_115.483 + np.arange(n) / sfreq, 3)
    cols = ["timestamps"] + MUSE + ([header_marker] if header_marker else [])
    lines = [",".join(cols)]
    for i in range(n):
        fields = [f"{t[i]:.3f}"] + [f"{x:.3f}" for x in eeg[i]]
        if header_marker:
            fields.append("0")
        if i in markers:
            fields.append(str(markers[i]))
        lines.append(",".join(fields))
    path.write_text("\n".join(lines) + ("\n" if newline_at_end else ""))
    return eeg


@pytest.mark.parametrize("markers, header_marker, want", [
    ({10: 7, 500: 255, 1000: 3}, None, [(10, "marker/7"), (500, "marker/255"), (1000, "marker/3")]),
    ({20: 2.5, 30: 0, 40: -1}, None, [(20, "marker/2.5"), (40, "marker/-1")]),  # 0 = no marker
    ({5: "stim_on", 600: "face"}, None, [(5, "marker/stim_on"), (600, "marker/face")]),
    ({0: 1, 256 * 6 - 1: 9}, None, [(0, "marker/1"), (256 * 6 - 1, "marker/9")]),  # first, last row
    ({100: 4}, "Marker0", [(100, "marker/4")]),  # beyond a header that has Marker0
])
@pytest.mark.parametrize("newline_at_end", [True, False])
def test_generated_marker_fields_beyond_header(tmp_path, markers, header_marker, want, newline_at_end):
    p = tmp_path / "long.csv"
    eeg = _write_long_rows(p, markers, header_marker=header_marker, newline_at_end=newline_at_end)
    assert detect_format(p) == "muselsl_csv"
    raw = read_recording(p)
    assert raw.n_times == 256 * 6
    assert [(round(t * 256), d) for t, d in _markers(raw)] == want
    np.testing.assert_allclose(raw.get_data() * 1e6, eeg.T, atol=1e-9)


def test_cli_inspect_reports_the_extra_markers(tmp_path):
    p = tmp_path / "long.csv"
    _write_long_rows(p, {10: 1, 700: 2})
    res = CliRunner().invoke(app, ["inspect", str(p)])
    assert res.exit_code == 0, res.output
    assert "marker/1" in res.output and "marker/2" in res.output


@pytest.mark.parametrize("version", ["v6", "v5", "old", "2014"])
@pytest.mark.parametrize("value, want", [("7", "marker/7"), ("cue", "marker/cue")])
def test_openbci_rows_longer_than_first_row_are_markers(tmp_path, version, value, want):
    from test_io_openbci import _signal, write_openbci

    p = write_openbci(tmp_path / "ob.txt", _signal(1000, n_ch=8), version=version)
    lines = p.read_text().splitlines()
    data = [i for i, ln in enumerate(lines) if not ln.startswith(("%", "Sample"))]
    for k in (300, len(data) - 1):  # a middle row and the last row
        lines[data[k]] += f", {value}"
    p.write_text("\n".join(lines) + "\n")
    raw = read_recording(p)
    lead = 1 if version == "v5" else 0  # v5's all-zero placeholder row is dropped
    assert raw.n_times == len(data) - lead
    assert [(round(t * 250), d) for t, d in _markers(raw)] == [
        (300 - lead, want), (len(data) - 1 - lead, want)]


@pytest.mark.parametrize("rows", ["one", "all"])
def test_mindmonitor_rows_longer_than_header_are_named_not_shifted(shared_data, tmp_path, caplog,
                                                                   rows):
    from conftest import shared_file

    from neurofeedback.io import read_precomputed

    src = shared_file(shared_data, "amisepa__import_muse/museS_monitor1.csv").read_text().splitlines()
    want = read_precomputed(shared_file(shared_data, "amisepa__import_muse/museS_monitor1.csv")).table
    header, body = src[0], src[1:]
    n_hdr = header.count(",") + 1
    if rows == "one":
        body[4] += "," * (n_hdr - body[4].count(",")) + "extra"
    else:  # every row longer: pandas alone would take TimeStamp as the index and shift all columns
        body = [ln + "," * (n_hdr - ln.count(",")) + "x" for ln in body]
    p = tmp_path / "mm.csv"
    p.write_text("\n".join([header] + body) + "\n")
    with caplog.at_level("WARNING", logger="neurofeedback"):
        got = read_precomputed(p).table
    pd.testing.assert_frame_equal(got, want)
    msgs = [r.getMessage() for r in caplog.records if "more fields than the header" in r.getMessage()]
    assert len(msgs) == 1 and "ignored" in msgs[0]


def test_brainflow_csv_row_longer_than_the_others_is_an_error(tmp_path):
    from test_io_brainflow import make_board_data, write_csv

    p = tmp_path / "bf.csv"
    write_csv(p, make_board_data("muse_2", 600)[1])
    lines = p.read_text().splitlines()
    lines[200] += "\t5"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordingFormatError, match="line 201 has 9 fields"):
        read_recording(p, board="muse_2")


# --- kind: a first line longer than the sniffer's window (a 100k-column header) ---------------

N_WIDE = 100_000


def test_unknown_csv_with_a_100k_column_first_line_is_named_not_blank(tmp_path):
    p = tmp_path / "wide.csv"
    p.write_text(",".join(f"col{i}" for i in range(N_WIDE)) + "\n" + ",".join(["1"] * N_WIDE) + "\n")
    assert p.stat().st_size > 1 << 16
    with pytest.raises(RecordingFormatError, match=r"unknown format: the first line is 'col0,col1,"):
        detect_format(p)
    res = CliRunner().invoke(app, ["inspect", str(p)])
    assert res.exit_code == 2
    assert "blank" not in res.output and "unknown format" in res.output


def test_brainflow_csv_with_a_100k_field_first_line_is_sniffed(tmp_path):
    p = tmp_path / "wide_bf.csv"
    row = "\t".join(f"{v:.6f}" for v in np.arange(N_WIDE) / 7)
    p.write_text(row + "\n" + row + "\n")
    assert len(row) > 1 << 16
    assert detect_format(p) == "brainflow_csv"


def test_muselsl_header_with_100k_columns_reads(tmp_path):
    """A muselsl header followed by 100k more (empty) columns: sniffed and read, EEG intact."""
    p = tmp_path / "wide_muse.csv"
    n = 256 * 4
    rng = np.random.default_rng(3)
    eeg = np.round(rng.normal(0, 20, (n, 5)), 3)
    t = np.round(1_486_223_115.483 + np.arange(n) / 256.0, 3)
    header = ",".join(["timestamps"] + MUSE + [f"x{i}" for i in range(N_WIDE)])
    pad = "," * N_WIDE
    rows = [",".join([f"{t[i]:.3f}"] + [f"{x:.3f}" for x in eeg[i]]) + pad for i in range(n)]
    p.write_text(header + "\n" + "\n".join(rows[:3]) + "\n" + "\n".join(r[: -N_WIDE] for r in rows[3:])
                 + "\n")
    assert detect_format(p) == "muselsl_csv"
    raw = read_recording(p)
    assert raw.info["sfreq"] == 256.0 and raw.n_times == n
    np.testing.assert_allclose(raw.get_data() * 1e6, eeg.T, atol=1e-9)


@pytest.mark.parametrize("content", ["\n\n  \n", "\r\n\r\n"])
def test_truly_blank_files_still_say_blank(tmp_path, content):
    p = tmp_path / "blank.csv"
    p.write_bytes(content.encode())
    with pytest.raises(RecordingFormatError, match="only blank lines"):
        detect_format(p)


# --- kind: filled / annotated gaps never longer than the timestamps' span ---------------------

def _bad_seconds(raw):
    return sum(a["duration"] for a in raw.annotations if a["description"] in ("BAD_dropout",
                                                                                 "BAD_disconnect"))


def _lossy(n, sfreq, loss, *, packet=12, seed=0):
    """Keep-mask of ``n`` samples losing whole packets with probability ``loss``."""
    rng = np.random.default_rng(seed)
    pk = np.arange(n) // packet
    keep = rng.random(pk.max() + 1)[pk] >= loss
    keep[0] = keep[-1] = True
    return keep


@pytest.mark.parametrize("board", ["muse_2", "cyton", "ganglion"])
@pytest.mark.parametrize("loss", [0.0, 0.3, 0.6])
def test_float32_resaved_stamps_never_fill_beyond_span(tmp_path, caplog, board, loss):
    """pandas re-saved the table with float32 timestamps: Unix time in steps of 128 s. Without
    the cap one 128-s step became a ~100-s disconnect filled into a 60-s recording."""
    from test_io_brainflow import make_board_data

    from neurofeedback.boards import board_info

    sfreq = board_info(board).sfreq
    n = int(sfreq * 60)
    t0 = 1.7e9 + 36  # float32 rounds 1.7e9+36 … +96 to 1.7e9 and to 1.7e9+128 past +64
    info, data = make_board_data(board, n, stamps=t0 + np.arange(n) / sfreq)
    keep = _lossy(n, sfreq, loss)
    df = pd.DataFrame(data[:, keep].T)
    df[info.timestamp_row] = df[info.timestamp_row].astype(np.float32)
    p = tmp_path / "resaved.csv"
    df.to_csv(p, sep="\t", header=False, index=False)
    ts = pd.read_csv(p, sep="\t", header=None)[info.timestamp_row].to_numpy(float)
    span = ts[-1] - ts[0]
    assert span > 60  # the coarse stamps claim more time than the samples cover
    with caplog.at_level("WARNING", logger="neurofeedback"):
        raw = read_recording(p, board=board)
    assert raw.n_times / sfreq <= span + 1.0 + 1 / sfreq
    assert (raw.n_times - keep.sum()) / sfreq <= _bad_seconds(raw) + 1e-9
    assert any("do not fit in the timestamps' span" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("board", ["muse_2", "cyton"])
@pytest.mark.parametrize("loss", [0.3, 0.6])
def test_heavy_loss_with_precise_stamps_is_sized_by_the_span(tmp_path, board, loss):
    """Heavy packet loss, re-saved by pandas at full precision: the gaps add up to the lost time
    (within a packet per gap) and samples + gaps stay within the span."""
    from test_io_brainflow import make_board_data

    from neurofeedback.boards import board_info

    sfreq = board_info(board).sfreq
    n = int(sfreq * 60)
    info, data = make_board_data(board, n)
    keep = _lossy(n, sfreq, loss, seed=2)
    p = tmp_path / "lossy.csv"
    pd.DataFrame(data[:, keep].T).to_csv(p, sep="\t", header=False, index=False)
    raw = read_recording(p, board=board)
    span = data[info.timestamp_row, -1] - data[info.timestamp_row, 0]
    total = keep.sum() / sfreq + _bad_seconds(raw)
    assert total <= span + 1.0
    assert total == pytest.approx(n / sfreq, abs=0.02 * n / sfreq)


def test_muselsl_float32_stamps_are_one_line_not_a_traceback(tmp_path):
    n = 256 * 30
    t = (1.7e9 + 36 + np.arange(n) / 256).astype(np.float32)
    df = pd.DataFrame(np.random.default_rng(5).normal(0, 20, (n, 5)), columns=MUSE)
    df.insert(0, "timestamps", t)
    p = tmp_path / "f32.csv"
    df.to_csv(p, index=False)
    with pytest.raises(RecordingFormatError, match="too coarse"):
        read_recording(p)
    res = CliRunner().invoke(app, ["inspect", str(p)])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_openbci_index_gaps_capped_by_arrival_span(tmp_path, caplog):
    """OpenBCI: dropped packets come from the wrapping index; arrival times that span less than
    the index claims cap them (never more missing time than the timestamps span)."""
    from test_io_openbci import _signal, write_openbci

    n = 250 * 20
    keep = np.r_[0:2000, 2100:2300, 2450:n]
    p = write_openbci(tmp_path / "ob.txt", _signal(n, n_ch=8), version="v6", keep=keep)
    raw = read_recording(p)
    assert _bad_seconds(raw) == pytest.approx(250 / 250)  # 100 + 150 samples, true to the index
    # the same file with arrival times squeezed into less than the samples' own span
    lines = p.read_text().splitlines()
    out, k = [], 0
    for ln in lines:
        if ln[:1].isdigit():
            f = ln.split(", ")
            f[-3] = str(1_600_000_000_000 + k * 3)  # 3 ms apart: the GUI's clock says 333 Hz
            k += 1
            ln = ", ".join(f)
        out.append(ln)
    p.write_text("\n".join(out) + "\n")
    with caplog.at_level("WARNING", logger="neurofeedback"):
        raw = read_recording(p)
    # the samples alone (19 s) already outlast the arrival span (14.2 s): no room for gaps
    assert raw.n_times == n - 250 and _bad_seconds(raw) == 0
    assert any("do not fit in the timestamps' span" in r.getMessage() for r in caplog.records)


# --- kind: older OpenBCI GUI text layouts (the 2017 GUI) --------------------------------------

def write_gui_2017(path, *, board="ganglion", n_s=20, keep=None, time_col=True, nch_line=True,
                   seed=0):
    """An OpenBCI GUI 2017 (v2/v3) text file: index (Ganglion 0–199 at 200 Hz, Cyton 0–255 at
    250 Hz), EEG in µV, 3 accelerometer columns, optionally ``HH:MM:SS.mmm`` without a date."""
    from datetime import datetime, timedelta

    sfreq, n_ch, modulus = (200.0, 4, 200) if board == "ganglion" else (250.0, 8, 256)
    n = int(n_s * sfreq)
    rng = np.random.default_rng(seed)
    eeg = np.round(rng.normal(0, 20, (n, n_ch)) + (0 if board == "ganglion" else 1e4), 2)
    keep = np.arange(n) if keep is None else np.asarray(keep)
    lines = ["%OpenBCI Raw EEG Data"]
    if nch_line:
        lines.append(f"%Number of channels = {n_ch}")
    lines += [f"%Sample Rate = {sfreq:.1f} Hz", "%First Column = SampleIndex"]
    if time_col:
        lines.append("%Last Column = Timestamp ")
    lines.append("%Other Columns = EEG data in microVolts followed by Accel Data (in G) "
                 "interleaved with Aux Data")
    t0 = datetime(2017, 3, 14, 23, 59, 50)  # crosses midnight: the time column has no date
    for i in keep:
        f = [str(i % modulus)] + [f"{v:.2f}" for v in eeg[i]] + ["0.000"] * 3
        if time_col:
            f.append((t0 + timedelta(seconds=i / sfreq)).strftime("%H:%M:%S.%f")[:-3])
        lines.append(", ".join(f))
    path.write_text("\n".join(lines) + "\n")
    return eeg, sfreq, n_ch


@pytest.mark.parametrize("board", ["ganglion", "cyton"])
@pytest.mark.parametrize("time_col", [True, False])
@pytest.mark.parametrize("nch_line", [True, False])
def test_gui_2017_layouts(tmp_path, board, time_col, nch_line):
    sfreq = 200.0 if board == "ganglion" else 250.0
    n = int(20 * sfreq)
    cycle = 200 if board == "ganglion" else 256
    # lost: 30 samples mid-cycle, 1 sample, and 11 across the index wrap (cycle - 5 … cycle + 5)
    lost = [range(1000, 1030), range(2000, 2001), range(3 * cycle - 5, 3 * cycle + 6)]
    keep = np.setdiff1d(np.arange(n), np.concatenate([np.fromiter(r, int) for r in lost]))
    p = tmp_path / f"OpenBCI-RAW-2017-{board}.txt"
    eeg, sfreq, n_ch = write_gui_2017(p, board=board, keep=keep, time_col=time_col,
                                      nch_line=nch_line)
    assert detect_format(p) == "openbci_txt"
    raw = read_recording(p)
    assert raw.info["sfreq"] == sfreq
    assert len(raw.ch_names) == n_ch and raw.get_channel_types() == ["eeg"] * n_ch
    assert raw.n_times == keep.size
    assert raw.n_times / sfreq == pytest.approx(20 - 42 / sfreq)
    np.testing.assert_allclose(raw.get_data() * 1e6, eeg[keep].T, atol=1e-9)
    drops = [(round(a["onset"] * sfreq), round(a["duration"] * sfreq)) for a in raw.annotations
             if a["description"] == "BAD_dropout"]
    assert drops == [(3 * cycle - 5, 11), (1000 - 11, 30), (2000 - 41, 1)]
    assert raw.info["meas_date"] is None  # HH:MM:SS.mmm carries no date


def test_gui_2017_ganglion_loses_the_top_of_every_cycle(tmp_path):
    """Indices 195–199 never arrive: the largest index seen is 194, yet the cycle is 200."""
    n = 200 * 10
    keep = np.flatnonzero(np.arange(n) % 200 < 195)
    p = tmp_path / "g.txt"
    write_gui_2017(p, board="ganglion", n_s=10, keep=keep)
    raw = read_recording(p)
    drops = [round(a["duration"] * 200) for a in raw.annotations if a["description"] == "BAD_dropout"]
    assert drops == [5] * 9


# --- kind: a replayed recording keeps its markers --------------------------------------------

def _record_playback(tmp_path, path, duration, *extra):
    home = tmp_path / "home"
    res = CliRunner().invoke(app, ["record", "--board", "playback", "--file", str(path), "--speed",
                                   "10", "--subject", "pb1", "--duration", duration, "--force",
                                   "--home", str(home), "--json", *extra])
    assert res.exit_code == 0, res.output
    return next((home / "recordings").rglob("*_eeg.csv"))


def _marker_samples(raw):
    sf = raw.info["sfreq"]
    return [(round(a["onset"] * sf), a["description"]) for a in raw.annotations
            if not a["description"].startswith("BAD")]


def test_playback_of_the_case_keeps_its_five_markers(tmp_path):
    """The field case replayed through BrainFlow's playback board (which streams zeros in its
    marker row) and recorded: the five markers come back on the very samples they had."""
    p = shared_case("muselsl-marker-rows-longer-than-header/recording.csv")
    src = read_recording(p)
    csv = _record_playback(tmp_path, p, "20s")
    got = read_recording(csv)
    assert got.n_times == src.n_times
    assert _marker_samples(got) == _marker_samples(src)
    assert [d for _, d in _marker_samples(got)] == [f"marker/{v}" for v in range(1, 6)]
    np.testing.assert_allclose(got.get_data(picks="eeg"), src.get_data(picks="eeg"), rtol=0,
                               atol=1e-15)


def test_playback_keeps_text_markers_and_values_the_blocks_also_use(tmp_path):
    """Generated: text markers, and a marker value (1) that the session's own block marker also
    uses: both come back with their labels, on their samples, beside the block."""
    p = tmp_path / "m.csv"
    _write_long_rows(p, {300: 1, 700: "cue", 1100: 42, 1400: "cue"})
    csv = _record_playback(tmp_path, p, "6s", "--blocks", "rest:3,task:3")
    got = _marker_samples(read_recording(csv))
    assert got == [(0, "rest"), (300, "marker/1"), (700, "marker/cue"), (768, "task"),
                   (1100, "marker/42"), (1400, "marker/cue")]


def test_replay_markers_and_plan_without_a_board():
    import mne

    from neurofeedback.acquisition.playback import REPLAY_CODE_BASE, replay_markers
    from neurofeedback.acquisition.recorder import Block, _replay_plan

    ann = mne.Annotations([0.5, 1.0, 1.5, 2.0, 9.0], [0, 0.5, 0, 0, 0],
                          ["marker/3", "BAD_dropout", "eyes-open", "marker/2.5", "marker/4"])
    m = replay_markers(ann, 100.0, 500)  # 9.0 s is past the end
    assert m == ((50, 3.0, "marker/3"), (150, float(REPLAY_CODE_BASE), "eyes-open"),
                 (200, 2.5, "marker/2.5"))
    plan, labels = _replay_plan(m, (Block("rest", 10.0, 3),))
    assert [v for _, v, _ in plan] == [1001.0, 1000.0, 2.5]  # 3 is the block's: moved
    assert labels == {"1001": "marker/3", "1000": "eyes-open"}


# --- the other field cases, with their README values (the reader corpus) --------------------

def test_case_muse_millisecond_timestamps():
    """README: 256 Hz (3071 steps over 11 996 ms), 4 EEG channels, ~12 s, meas_date
    2018-06-02 21:54:48 UTC."""
    p = shared_case("muse-millisecond-timestamps/recording.csv")
    raw = read_recording(p)
    assert raw.info["sfreq"] == 256.0
    assert raw.get_channel_types().count("eeg") == 4
    assert raw.n_times == 3072 and raw.times[-1] == pytest.approx(12.0, abs=0.01)
    md = raw.info["meas_date"]
    assert md.strftime("%Y-%m-%d %H:%M:%S") == "2018-06-02 21:54:48" and md.utcoffset().total_seconds() == 0


def test_case_openbci_railed_channels_are_bad():
    """README: EEG 6–8 are railed (−187500.02 µV) and listed bad by the reader."""
    p = shared_case("openbci-railed-channels-in-epoch-table/recording.txt")
    raw = read_recording(p)
    assert raw.info["sfreq"] == 250.0 and len(raw.ch_names) == 8
    assert sorted(raw.info["bads"]) == ["EEG 6", "EEG 7", "EEG 8"]


def test_replayed_block_labels_do_not_become_this_sessions_blocks():
    from neurofeedback.acquisition.recorder import Block, _replay_plan

    plan, labels = _replay_plan(((0, 1000.0, "eyes-open"), (50, 1001.0, "task")),
                                (Block("eyes-open", 12.0, 1),))
    assert [lab for _, _, lab in plan] == ["source/eyes-open", "task"]
    assert labels == {"1000": "source/eyes-open", "1001": "task"}
