"""Writers: one simulated recording in every format the project reads.

The same recording gives the same bytes wherever it is written (the committed sample data is
compared byte for byte with a fresh regeneration): text is written with ``\n`` line ends on
every OS, and simulated sidecars record the generator instead of the interpreter's and
libraries' versions (:func:`_simulated_software`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from .. import __version__
from .._validate import check_option
from ._recording import SimulatedRecording
from ._signals import _MUSE_NAMES

#: Formats :func:`write_recording` can write.
FORMATS = ("fif", "edf", "bdf", "brainvision", "brainflow_csv", "openbci_txt", "muselsl_csv")


def _simulated_software() -> dict[str, str]:
    """The ``software`` of a simulated sidecar: the generator and the package version only.

    A recorder's sidecar lists the Python, NumPy, MNE, SciPy and BrainFlow versions that made
    the file. None of them recorded a simulated file, and stamping them would make the same
    seed give different bytes on every patch release of Python or a library. NumPy's random
    generators and FFT do shape the simulated values; instead of being stamped, those bytes
    are pinned by the tests, which compare the committed sample data with a regeneration.
    """
    return {"neurofeedback": __version__, "generator": "neurofeedback.simulate"}


def _marker_row(rec: SimulatedRecording) -> np.ndarray:
    markers = np.zeros(rec.n_times)
    for b in rec.truth.get("blocks", []):
        i = int(round(b["onset_s"] * rec.sfreq))
        if i < rec.n_times:
            markers[i] = b["marker"]
    return markers


def _unix_times(rec: SimulatedRecording) -> np.ndarray:
    return rec.meas_date.timestamp() + np.arange(rec.n_times) / rec.sfreq


def _auto_board(rec: SimulatedRecording) -> str:
    layout = (len(rec.ch_names), rec.sfreq)
    choices = {(4, 256.0): "muse_2", (8, 250.0): "cyton", (16, 250.0): "synthetic"}
    if layout not in choices:
        raise ValueError(
            f"Cannot choose a BrainFlow board for {layout[0]} channels at {layout[1]:g} Hz "
            "(known layouts: 4 ch at 256 Hz = muse_2, 8 ch at 250 Hz = cyton, 16 ch at 250 Hz "
            "= synthetic); pass board= explicitly."
        )
    return choices[layout]


def _write_brainflow_csv(rec: SimulatedRecording, path: Path, *, board, subject) -> Path:
    from brainflow.data_filter import DataFilter

    from ..boards import board_info
    from ..io.sidecar import make_sidecar, write_sidecar

    info = board_info(_auto_board(rec) if board is None else board)
    if len(info.eeg_rows) != len(rec.ch_names) or info.sfreq != rec.sfreq:
        raise ValueError(
            f"Invalid value for the 'board' parameter. {info.name} has {len(info.eeg_rows)} EEG "
            f"rows at {info.sfreq} Hz, but the recording has {len(rec.ch_names)} channels at "
            f"{rec.sfreq:g} Hz."
        )
    table = np.zeros((info.num_rows, rec.n_times))
    table[list(info.eeg_rows)] = rec.data_uv
    table[info.timestamp_row] = _unix_times(rec)
    if info.marker_row is not None:
        table[info.marker_row] = _marker_row(rec)
    DataFilter.write_file(np.ascontiguousarray(table), str(path), "w")
    markers = rec.block_markers()
    end = rec.meas_date + timedelta(seconds=rec.duration_s)
    doc = make_sidecar(
        info.board_id,
        channel_names=list(rec.ch_names),
        subject=subject,
        blocks=[
            {"label": b["label"], "duration_s": b["duration_s"], "marker": b["marker"]}
            for b in rec.truth.get("blocks", [])
        ],
        markers={str(v): k for k, v in markers.items()},
        notes=f"Simulated by neurofeedback.simulate (seed={rec.truth.get('seed')}).",
        start_time=rec.meas_date.isoformat(),
        end_time=end.isoformat(),
        ended_cleanly=True,
        n_samples=rec.n_times,
        software=_simulated_software(),
    )
    write_sidecar(path, doc)
    return path


# OpenBCI GUI v6 text, column for column as OpenBCI_GUI-v6-blinks-jawClench-alpha.txt
_OPENBCI_V6_COLUMNS = (
    ["Sample Index"]
    + [f"EXG Channel {i}" for i in range(8)]
    + [f"Accel Channel {i}" for i in range(3)]
    + [
        "Not Used",
        "Digital Channel 0 (D11)",
        "Digital Channel 1 (D12)",
        "Digital Channel 2 (D13)",
        "Digital Channel 3 (D17)",
        "Not Used",
        "Digital Channel 4 (D18)",
    ]
    + [f"Analog Channel {i}" for i in range(3)]
    + ["Timestamp", "Marker Channel", "Timestamp (Formatted)"]
)


def _write_openbci_txt(rec: SimulatedRecording, path: Path) -> Path:
    if len(rec.ch_names) != 8 or rec.sfreq != 250.0:
        raise ValueError(
            "The 'openbci_txt' format is the Cyton's: it needs 8 channels at 250 Hz, but the "
            f"recording has {len(rec.ch_names)} channels at {rec.sfreq:g} Hz."
        )
    ms = np.rint(_unix_times(rec) * 1000.0).astype(np.int64)
    day_ms = ms % 86_400_000
    hh, rem = np.divmod(day_ms, 3_600_000)
    mm, rem = np.divmod(rem, 60_000)
    ss, mmm = np.divmod(rem, 1000)
    markers = _marker_row(rec)
    lines = [
        "%OpenBCI Raw EXG Data",
        "%Number of channels = 8",
        "%Sample Rate = 250 Hz",
        "%Board = OpenBCI_GUI$BoardCytonSerial",
        ", ".join(_OPENBCI_V6_COLUMNS),
    ]
    eeg = rec.data_uv
    zeros10 = ",".join(["0"] * 10)
    for j in range(rec.n_times):
        vals = ", ".join(f"{v:.3f}" for v in eeg[:, j])
        lines.append(
            f"{j % 256}, {vals}, 0.000, 0.000, 0.000,{zeros10}, {ms[j]},{markers[j]:g}, "
            f"{hh[j]:02d}:{mm[j]:02d}:{ss[j]:02d}.{mmm[j]:03d}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="ascii", newline="\n")
    return path


def _write_muselsl_csv(rec: SimulatedRecording, path: Path) -> Path:
    names = set(rec.ch_names)
    extra = names - set(_MUSE_NAMES) - {"Right AUX"}
    if not set(_MUSE_NAMES) <= names or extra:
        raise ValueError(
            "The 'muselsl_csv' format needs the channels TP9, AF7, AF8, TP10 (and optionally "
            f"'Right AUX'), but the recording has {list(rec.ch_names)}."
        )
    cols = [_unix_times(rec)]
    for name in (*_MUSE_NAMES, "Right AUX"):
        if name in names:
            cols.append(rec.data_uv[rec.ch_names.index(name)])
        else:
            cols.append(np.zeros(rec.n_times))
    cols.append(_marker_row(rec))
    # muselsl writes every column with float_format '%.3f' (marker column is integer)
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        np.savetxt(
            fh,
            np.column_stack(cols),
            fmt=["%.3f"] * 6 + ["%d"],
            delimiter=",",
            header="timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker",
            comments="",
        )
    return path


def _write_brainvision(rec: SimulatedRecording, path: Path) -> Path:
    from pybv import write_brainvision

    if path.suffix.lower() != ".vhdr":
        raise ValueError(
            f"Invalid value for the 'path' parameter. A BrainVision recording is named by its "
            f"header file '*.vhdr', but got {path.name!r} instead."
        )
    events = [
        {
            "onset": int(round(b["onset_s"] * rec.sfreq)),
            "duration": int(round(b["duration_s"] * rec.sfreq)),
            "description": b["label"],
            "type": "Comment",
        }
        for b in rec.truth.get("blocks", [])
    ]
    write_brainvision(
        data=rec.data_uv * 1e-6,
        sfreq=rec.sfreq,
        ch_names=list(rec.ch_names),
        fname_base=path.stem,
        folder_out=str(path.parent),
        overwrite=True,
        events=events or None,
        resolution=0.1,
        unit="µV",
        fmt="binary_float32",
        meas_date=rec.meas_date,
    )
    return path


def write_recording(rec: SimulatedRecording, path, *, format, board=None, subject=None) -> Path:
    """Write a simulated recording in one of the formats the project reads.

    Parameters
    ----------
    rec : SimulatedRecording
        The recording.
    path : str | Path
        Output file (parent folders are created; an existing file is overwritten). For
        ``"brainvision"`` it is the ``.vhdr`` header (``.vmrk`` and ``.eeg`` go beside it); for
        ``"fif"`` name it ``*_raw.fif`` to follow MNE's convention.
    format : str
        One of :data:`FORMATS`:

        - ``"fif"``: MNE FIF, float64 volts; exact. Blocks as annotations.
        - ``"edf"``: EDF+ via :func:`mne.export.export_raw` (edfio), **16-bit**, physical range
          per channel (``"channelwise"``, so DC offsets cost no resolution): read-back error up
          to one step ``(max - min) / 65534`` of that channel (e.g. 0.009 µV for a ±300 µV
          channel). EDF keeps the start time to the second. Blocks as EDF+ annotations.
        - ``"bdf"``: as EDF with 24 bits: step ``(max - min) / 16777214``.
        - ``"brainvision"``: via pybv, float32 µV: relative error ≤ 6e-8 of the value
          (0.006 µV at a 1e5 µV DC offset). Blocks as ``Comment`` markers.
        - ``"brainflow_csv"``: ``DataFilter.write_file`` layout of ``board`` (tab-separated, no
          header, 6 decimals; EEG rows in µV, Unix-second timestamps, block markers 1, 2, … in
          the marker row at each block start, other rows 0) plus the JSON sidecar
          (``rec.json``) with board, channel names, blocks, markers and start time; its
          ``software`` names the generator and the package version only.
        - ``"openbci_txt"``: OpenBCI GUI v6 text (Cyton, 8 channels at 250 Hz): ``%`` header,
          the v6 column-name row, sample index wrapping at 255, EEG in µV with 3 decimals
          (error ≤ 5e-4 µV), Unix **milliseconds** and ``HH:MM:SS.mmm`` (UTC) as in the
          GUI's 2019 sample file, block markers in ``Marker Channel``. Channel names are lost.
        - ``"muselsl_csv"``: muselsl's CSV (``timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker``),
          every value with 3 decimals as muselsl writes it (µV error ≤ 5e-4; timestamps to
          the millisecond), ``Right AUX`` zero unless the recording has it, block markers in
          ``Marker``.
    board : str | int | None
        BrainFlow board for ``"brainflow_csv"``; ``None`` chooses from the layout (4 ch at
        256 Hz → ``muse_2``, 8 ch at 250 Hz → ``cyton``, 16 ch at 250 Hz → ``synthetic``).
    subject : str | None
        Subject id written into the BrainFlow sidecar.

    Returns
    -------
    path : Path
        The file written (for BrainFlow CSV the sidecar is beside it).
    """
    check_option("format", format, FORMATS)
    if board is not None and format != "brainflow_csv":
        raise ValueError(
            f"Invalid value for the 'board' parameter. It applies to the 'brainflow_csv' "
            f"format only, but format={format!r}."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "brainflow_csv":
        return _write_brainflow_csv(rec, path, board=board, subject=subject)
    if format == "openbci_txt":
        return _write_openbci_txt(rec, path)
    if format == "muselsl_csv":
        return _write_muselsl_csv(rec, path)
    if format == "brainvision":
        return _write_brainvision(rec, path)
    raw = rec.to_raw()
    if format == "fif":
        raw.save(path, overwrite=True, fmt="double", verbose=False)
    else:  # edf, bdf
        import mne

        mne.export.export_raw(
            path, raw, fmt=format, physical_range="channelwise", overwrite=True, verbose=False
        )
    return path
