"""A corpus of bad inputs: each one fails with one of our errors, one line, naming the file."""

from __future__ import annotations

import logging

import mne
import numpy as np
import pytest

from neurofeedback.boards import board_info
from neurofeedback.errors import BoardError, NeurofeedbackError, RecordingFormatError
from neurofeedback.io import detect_format, read_precomputed, read_recording
from neurofeedback.io.sidecar import make_sidecar, write_sidecar

MUSE = board_info("muse_2")


def _bf_text(n=20, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 10, (MUSE.num_rows, n))
    data[MUSE.timestamp_row] = 1.7e9 + np.arange(n) / 256
    data[MUSE.marker_row] = 0
    return ["\t".join(f"{v:.6f}" for v in row) for row in data.T]


def _bf_file(tmp_path, lines, *, sidecar=True):
    p = tmp_path / "rec.csv"
    p.write_text("\n".join(lines) + "\n")
    if sidecar:
        write_sidecar(p, make_sidecar(MUSE.board_id))
    return p


def missing(tmp_path):
    return tmp_path / "nope.csv", {}


def directory(tmp_path):
    d = tmp_path / "session.csv"
    d.mkdir()
    return d, {}


def empty(tmp_path):
    p = tmp_path / "empty.txt"
    p.touch()
    return p, {}


def blank_lines(tmp_path):
    p = tmp_path / "blank.csv"
    p.write_text("\n\n   \n")
    return p, {}


def openbci_header_only(tmp_path):
    p = tmp_path / "OpenBCI-RAW-header.txt"
    p.write_text("%OpenBCI Raw EEG Data\n%Number of channels = 8\n%Sample Rate = 250 Hz\n")
    return p, {}


def openbci_one_sample(tmp_path):
    p = tmp_path / "OpenBCI-RAW-one.txt"
    p.write_text("%OpenBCI Raw EEG Data\n%Sample Rate = 250 Hz\n0, " + ", ".join(["1.0"] * 8) + ", 0\n")
    return p, {}


def openbci_no_rate(tmp_path):
    p = tmp_path / "OpenBCI-RAW-norate.txt"
    rows = [f"{i % 256}, " + ", ".join(f"{v:.2f}" for v in np.full(8, 1000.0 + i)) + ", 0" for i in range(50)]
    p.write_text("%OpenBCI Raw EEG Data\n" + "\n".join(rows) + "\n")
    return p, {}


def openbci_text_in_eeg(tmp_path):
    p = tmp_path / "OpenBCI-RAW-text.txt"
    rows = [f"{i}, " + ", ".join(["5.0"] * 8) + ", 0" for i in range(20)]
    rows[7] = "7, 5.0, 5.0, oops, 5.0, 5.0, 5.0, 5.0, 5.0, 0"
    p.write_text("%OpenBCI Raw EEG Data\n%Sample Rate = 250 Hz\n" + "\n".join(rows) + "\n")
    return p, {}


def garbage_binary(tmp_path):
    p = tmp_path / "garbage.bin"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes() + b"\x00")
    return p, {}


def garbage_with_edf_extension(tmp_path):
    p = tmp_path / "garbage.edf"
    p.write_bytes(b"\x00\x01\x02 not an edf at all " * 50)
    return p, {}


def truncated_edf(tmp_path):
    raw = mne.io.RawArray(np.zeros((2, 512)), mne.create_info(["Cz", "Pz"], 256.0, "eeg"), verbose=False)
    full = tmp_path / "full.edf"
    mne.export.export_raw(full, raw, fmt="edf", verbose=False)
    p = tmp_path / "truncated.edf"
    p.write_bytes(full.read_bytes()[:300])
    return p, {}


def brainvision_data_file(tmp_path):
    p = tmp_path / "rec.eeg"
    p.write_bytes(b"\x00" * 64)
    return p, {}


def unknown_text(tmp_path):
    p = tmp_path / "notes.csv"
    p.write_text("subject,age\ns01,34\n")
    return p, {}


def brainflow_wrong_columns(tmp_path):
    lines = ["\t".join(ln.split("\t")[:5]) for ln in _bf_text()]
    return _bf_file(tmp_path, lines), {}


def brainflow_extra_field_midway(tmp_path):
    lines = _bf_text()
    lines[9] += "\t1.0"
    return _bf_file(tmp_path, lines), {}


def brainflow_nan(tmp_path):
    lines = _bf_text()
    cells = lines[12].split("\t")
    cells[2] = "nan"
    lines[12] = "\t".join(cells)
    return _bf_file(tmp_path, lines), {}


def brainflow_empty_cell(tmp_path):
    lines = _bf_text()
    cells = lines[3].split("\t")
    cells[1] = ""
    lines[3] = "\t".join(cells)
    return _bf_file(tmp_path, lines), {}


def brainflow_non_numeric(tmp_path):
    lines = _bf_text()
    cells = lines[5].split("\t")
    cells[3] = "abc"
    lines[5] = "\t".join(cells)
    return _bf_file(tmp_path, lines, sidecar=False), {"board": "muse_2"}


def brainflow_one_sample(tmp_path):
    return _bf_file(tmp_path, _bf_text(1)), {}


def brainflow_no_sidecar_no_board(tmp_path):
    return _bf_file(tmp_path, _bf_text(), sidecar=False), {}


def brainflow_unknown_board(tmp_path):
    return _bf_file(tmp_path, _bf_text(), sidecar=False), {"board": "no_such_board"}


def brainflow_bad_sidecar(tmp_path):
    p = _bf_file(tmp_path, _bf_text(), sidecar=False)
    p.with_suffix(".json").write_text("{not json")
    return p, {}


def muselsl_constant_timestamps(tmp_path):
    p = tmp_path / "muse_constant.csv"
    rows = ["timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker"]
    rows += [f"1486223115.483,{i}.0,1.0,2.0,3.0,4.0,0" for i in range(100)]
    p.write_text("\n".join(rows) + "\n")
    return p, {}


def muselsl_nan(tmp_path):
    p = tmp_path / "muse_nan.csv"
    rows = ["timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker"]
    rows += [f"{1486223115.483 + i / 256:.3f},{i}.0,1.0,2.0,3.0,4.0,0" for i in range(100)]
    rows[40] = rows[40].replace(",1.0,", ",,")
    p.write_text("\n".join(rows) + "\n")
    return p, {}


def muselsl_not_eeg(tmp_path):
    p = tmp_path / "muse_acc.csv"
    p.write_text("timestamps,X,Y,Z\n1.0,0,0,1\n2.0,0,0,1\n")
    return p, {}


def mindmonitor_one_row(tmp_path):
    p = tmp_path / "mm_one.csv"
    p.write_text("TimeStamp,Delta_TP9,RAW_TP9,Elements\n2020-06-14 10:19:29.289,0.5,800,\n")
    return p, {}


def bad_format_argument(tmp_path):
    p = _bf_file(tmp_path, _bf_text())
    return p, {"format": "csv"}


CASES = [
    missing, directory, empty, blank_lines, openbci_header_only, openbci_one_sample,
    openbci_no_rate, openbci_text_in_eeg, garbage_binary, garbage_with_edf_extension, truncated_edf,
    brainvision_data_file, unknown_text, brainflow_wrong_columns, brainflow_extra_field_midway,
    brainflow_nan, brainflow_empty_cell, brainflow_non_numeric, brainflow_one_sample,
    brainflow_no_sidecar_no_board, brainflow_unknown_board, muselsl_constant_timestamps,
    muselsl_nan, muselsl_not_eeg, mindmonitor_one_row, bad_format_argument,
]

# what each message must say, beyond naming the file
EXPECT = {
    "missing": "no such file",
    "directory": "is a directory",
    "empty": "is empty",
    "openbci_header_only": "header only",
    "openbci_one_sample": "need at least 2",
    "openbci_no_rate": "Sample Rate",
    "openbci_text_in_eeg": "'oops' in EEG column 4 at line 10",
    "garbage_binary": "unknown format: binary",
    "garbage_with_edf_extension": ".edf extension",
    "truncated_edf": "cannot be read as EDF",
    "brainvision_data_file": "rec.vhdr",
    "unknown_text": "unknown format",
    "brainflow_wrong_columns": "has 5 columns but board MUSE_2_BOARD writes 8",
    "brainflow_extra_field_midway": "line 10 has 9 fields",
    "brainflow_nan": "NaN value in EEG channel 'AF7' at line 13",
    "brainflow_empty_cell": "NaN value in EEG channel 'TP9' at line 4",
    "brainflow_non_numeric": "'abc'",
    "brainflow_one_sample": "need at least 2",
    "brainflow_no_sidecar_no_board": "pass --board NAME or keep the .json sidecar beside it",
    "brainflow_unknown_board": "no_such_board",
    "muselsl_constant_timestamps": "never increase",
    "muselsl_nan": "AF7",
    "muselsl_not_eeg": "no Muse EEG columns",
    "mindmonitor_one_row": "need at least 2",
    "bad_format_argument": "Invalid value for the 'format' parameter",
}


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__)
def test_bad_input_fails_cleanly(tmp_path, case):
    path, kwargs = case(tmp_path)
    with pytest.raises(NeurofeedbackError) as err:
        read_recording(path, **kwargs)
    msg = str(err.value)
    assert path.name in msg
    assert "\n" not in msg
    assert EXPECT.get(case.__name__, "") in msg
    # the CLI's way in (band-power exports allowed) fails the same way
    with pytest.raises(type(err.value)):
        read_recording(path, allow_precomputed=True, **kwargs)


def test_error_types(tmp_path):
    p, kw = brainflow_unknown_board(tmp_path)
    with pytest.raises(BoardError):
        read_recording(p, **kw)
    for case in (missing, empty, unknown_text, brainflow_nan):
        p, kw = case(_sub(tmp_path, case.__name__))
        with pytest.raises(RecordingFormatError):
            read_recording(p, **kw)


def _sub(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    return d


def test_bad_sidecar_names_the_sidecar(tmp_path):
    p, kw = brainflow_bad_sidecar(tmp_path)
    with pytest.raises(RecordingFormatError) as err:
        read_recording(p, **kw)
    assert "rec.json" in str(err.value) and "not valid JSON" in str(err.value)


def test_detect_and_precomputed_errors(tmp_path):
    p, _ = unknown_text(tmp_path)
    with pytest.raises(RecordingFormatError, match="notes.csv"):
        detect_format(p)
    q = _bf_file(_sub(tmp_path, "bf"), _bf_text())
    with pytest.raises(RecordingFormatError, match="not a Mind Monitor export"):
        read_precomputed(q)


def test_verbose_is_restored(tmp_path, caplog):
    logger = logging.getLogger("neurofeedback")
    before = logger.level
    p = _bf_file(tmp_path, _bf_text())
    read_recording(p, verbose="DEBUG")
    assert logger.level == before
    with pytest.raises(RecordingFormatError):
        read_recording(tmp_path / "nope.csv", verbose=False)
    assert logger.level == before
