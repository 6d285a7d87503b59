"""Replay any recording the readers understand as a live BrainFlow stream.

BrainFlow's playback board (``BoardIds.PLAYBACK_FILE_BOARD``) replays a BrainFlow CSV written in
some *master* board's layout, paced in real time by the file's timestamp column. This module
turns any recording :func:`neurofeedback.io.read_recording` reads into such a file
(:func:`prepare_playback`), so the recorder, the live display and the quality gate can be run
and tested without a headset, on realistic signals.

How the file is written
-----------------------
- The master board comes from the recording: a BrainFlow CSV's own board (its sidecar or
  ``board=``); otherwise the EEG layout (channel count and rate) picks one of
  :data:`LAYOUT_BOARDS` (4 channels at 256 Hz → Muse 2, 8 at 250 Hz → Cyton, 16 at 125 Hz →
  Cyton + Daisy, 4 at 200 Hz → Ganglion). ``board=`` overrides, but its layout must match.
- The file is always rewritten, never replayed as it is: the rewrite makes the timestamps
  regular (``t0 + i / sfreq / speed``, so ``speed=4`` plays four times faster; ``t0`` is the
  recording's ``meas_date`` when known, else the time of preparation), puts the EEG rows where
  the master board has them, writes a sample counter (0–255, wrapping) in the board's
  package-number row and sets every other row to 0. Markers are not written in the file:
  the playback board streams zeros in its marker row whatever the file holds.
- The recording's markers travel beside the file instead (:attr:`PlaybackSource.markers`:
  sample, value, label for every annotation that is not ``BAD_…``/``EDGE…``): the recorder
  puts each on its own sample of the stream as it is written (the way it places its block
  markers), so a recorded playback keeps them. ``marker/<v>`` keeps its value ``v``; any other
  label (a block, a text marker) gets a code from :data:`REPLAY_CODE_BASE` up, which the
  recording's sidecar maps back to the label.
- EEG is written in µV, as BrainFlow delivers it. Our readers build volts as ``x_uv * 1e-6``;
  ``v * 1e6`` does not invert that (about one sample in five comes back one ulp off), so each
  sample is recovered as the float ``y`` with ``y * 1e-6 == v`` (always exists for files our
  text readers produced) and, when two neighbouring floats both satisfy it (about 8% of
  samples), the one with the shorter decimal form, which is the value the file's text gave
  (when both are equally long, the one nearest ``v / 1e-6``).
  Values are written with the shortest representation that round-trips (Python's ``repr``),
  which BrainFlow parses back to the same float64.

Exactness, measured on the recordings in ``../shared/data``: the streamed µV equal the source
file's decimal values bit for bit for muselsl (3 decimals), OpenBCI GUI v3–v6 (2 decimals) and
BrainFlow CSV (6 decimals) files. For files whose text holds 17 significant digits (newer
OpenBCI GUI output, e.g. the roflecopter recording) the two candidates of an ambiguous sample
are equally short, so about 2% of samples come back one ulp off: at most 2.2e-16 relative,
< 3e-11 µV for Cyton values up to 187500 µV. In every case the streamed values converted back
with the readers' ``* 1e-6`` equal the source Raw's volts bit for bit.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._validate import check_positive
from ..boards import BoardInfo, board_info
from ..errors import BoardError, RecordingFormatError

logger = logging.getLogger("neurofeedback")

__all__ = ["LAYOUT_BOARDS", "PlaybackSource", "prepare_playback", "replay_markers"]

#: EEG layouts (channel count, sampling rate in Hz) → the BrainFlow board replayed with that
#: layout, when the recording does not name its board.
LAYOUT_BOARDS = {
    (4, 256.0): "MUSE_2_BOARD",
    (8, 250.0): "CYTON_BOARD",
    (16, 125.0): "CYTON_DAISY_BOARD",
    (4, 200.0): "GANGLION_BOARD",
}

_UV = 1e-6  # volts per µV, exactly as the readers multiply

#: The package-number row of a playback file counts samples modulo this (as a Cyton's does), so
#: the reader of a recorded playback finds dropped samples from the counter, never from the
#: arrival jitter of the timestamps.
PACKAGE_MODULUS = 256


@dataclass(frozen=True)
class PlaybackSource:
    """A recording prepared for BrainFlow's playback board.

    Attributes
    ----------
    file : Path
        The BrainFlow CSV written for playback (master board's layout, µV).
    master_board : int
        ``BoardIds`` value whose layout the file has.
    sfreq : float
        Sampling rate of the recording, Hz (the master board's nominal rate).
    channel_names : tuple of str
        The source recording's EEG names, in master-board EEG-row order.
    n_samples : int
        Samples per channel in the file (one pass, without looping).
    source : Path
        The original recording.
    speed : float
        Playback speed (2 = twice real time): the file's timestamps advance by
        ``1 / sfreq / speed`` per sample.
    loop : bool
        Whether the board restarts at the end of the file.
    markers : tuple of (int, float, str)
        The recording's markers as ``(sample, value, label)``, sample counted from the file's
        first sample (see the module docstring).
    """

    file: Path
    master_board: int
    sfreq: float
    channel_names: tuple[str, ...]
    n_samples: int
    source: Path
    speed: float
    loop: bool
    markers: tuple = ()

    def input_params(self):
        """Return ``BrainFlowInputParams`` for the playback board.

        Returns
        -------
        params : brainflow.board_shim.BrainFlowInputParams
            With ``master_board`` and ``file`` set; open it with
            ``BoardShim(BoardIds.PLAYBACK_FILE_BOARD, params)``.
        """
        from brainflow.board_shim import BrainFlowInputParams

        params = BrainFlowInputParams()
        params.master_board = int(self.master_board)
        params.file = str(self.file)
        return params

    def config_commands(self) -> tuple[str, ...]:
        """Return the ``config_board`` commands to send after ``prepare_session``.

        Returns
        -------
        commands : tuple of str
            ``("loopback_true",)`` when :attr:`loop`, else ``()``.
        """
        return ("loopback_true",) if self.loop else ()


def prepare_playback(path, workdir, *, speed=1.0, loop=False, format="auto",
                     board=None) -> PlaybackSource:
    """Write a recording as a BrainFlow CSV the playback board can stream.

    Parameters
    ----------
    path : str | Path
        Any recording :func:`neurofeedback.io.read_recording` reads.
    workdir : str | Path
        Folder for the playback file (created when missing); the file is
        ``<recording name>.playback.csv``, overwritten when it exists.
    speed : float
        Playback speed, > 0 (``4`` streams four times faster than real time).
    loop : bool
        Restart at the end of the file (see :meth:`PlaybackSource.config_commands`).
    format : str
        ``"auto"`` or one of :data:`neurofeedback.io.FORMATS`.
    board : str | int | None
        The master board. Default: the recording's own board (BrainFlow CSV) or the one
        :data:`LAYOUT_BOARDS` gives for its channel count and rate. When given it must have as
        many EEG channels, at the same rate, as the recording; it is also passed to the reader
        (a BrainFlow CSV without sidecar needs it; an OpenBCI text file takes its channel names).

    Returns
    -------
    source : PlaybackSource

    Raises
    ------
    ValueError
        When ``speed`` is not a positive number.
    RecordingFormatError
        When the file cannot be read (the reader's error), holds no EEG channel, or no
        BrainFlow board has its layout (pass ``board=``).
    BoardError
        When ``board`` names no BrainFlow board.
    """
    from ..io import detect_format, read_recording

    speed = check_positive("speed", speed)
    src = Path(path).expanduser()
    fmt = detect_format(src) if format == "auto" else format
    reader_board = board if fmt in ("brainflow_csv", "openbci_txt") else None
    raw = read_recording(src, format=format, board=reader_board)

    picks = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    if not picks:
        raise RecordingFormatError(src, "has no EEG channels to replay")
    names = tuple(raw.ch_names[i] for i in picks)
    sfreq = float(raw.info["sfreq"])
    info = _master_board(src, raw, fmt, board, len(picks), sfreq)

    volts = raw.get_data(picks=picks)
    data_uv = _volts_to_uv(volts)
    n = data_uv.shape[1]
    t0 = raw.info["meas_date"].timestamp() if raw.info["meas_date"] is not None else time.time()
    columns = {row: data_uv[k] for k, row in enumerate(info.eeg_rows)}
    columns[info.timestamp_row] = t0 + np.arange(n) / sfreq / speed
    pkg = info.descr.get("package_num_channel")
    if pkg is not None and int(pkg) not in columns:  # a per-sample counter, as a Cyton sends
        columns[int(pkg)] = (np.arange(n) % PACKAGE_MODULUS).astype(np.float64)

    out_dir = Path(workdir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{src.name}.playback.csv"
    _write_columns(out, columns, n_rows=int(info.num_rows), n_times=n)
    logger.info("%s: %d samples × %d EEG channels written for playback as %s (%s, speed %g)",
                src, n, len(picks), out, info.name, speed)
    markers = replay_markers(raw.annotations, sfreq, n)
    return PlaybackSource(file=out, master_board=info.board_id, sfreq=sfreq, channel_names=names,
                          n_samples=n, source=src, speed=speed, loop=bool(loop), markers=markers)


#: Marker codes for replayed labels that are not ``marker/<number>`` (above the recorder's
#: block markers 1–99 and keyboard markers 101…).
REPLAY_CODE_BASE = 1000

_NUMERIC_MARKER = re.compile(r"marker/([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)")


def replay_markers(annotations, sfreq: float, n_times: int) -> tuple:
    """The markers of a recording as ``(sample, value, label)`` for the stream to carry.

    Parameters
    ----------
    annotations : mne.Annotations
        Onsets in seconds from the first sample (as the readers build them).
    sfreq : float
        Hz.
    n_times : int
        Samples in the recording: markers outside are left out.

    Returns
    -------
    markers : tuple of (int, float, str)
        In order of time. ``BAD_…`` and ``EDGE…`` annotations are not markers and are left out;
        ``marker/<v>`` keeps ``v`` (non-zero), other labels get codes from
        :data:`REPLAY_CODE_BASE` up (one per distinct label).
    """
    out, codes = [], {}
    for a in annotations:
        label = str(a["description"])
        if label.upper().startswith(("BAD", "EDGE")):
            continue
        i = int(round(float(a["onset"]) * sfreq))
        if not 0 <= i < n_times:
            continue
        m = _NUMERIC_MARKER.fullmatch(label)
        value = float(m.group(1)) if m else 0.0
        if value == 0.0:
            value = float(codes.setdefault(label, REPLAY_CODE_BASE + len(codes)))
        out.append((i, value, label))
    return tuple(sorted(out))


def _master_board(src: Path, raw, fmt: str, board, n_eeg: int, sfreq: float) -> BoardInfo:
    """The board whose layout the playback file takes (see :func:`prepare_playback`)."""
    if board is not None:
        try:
            info = board_info(board)
        except BoardError as err:
            raise BoardError(f"{src}: {err}") from None
    elif fmt == "brainflow_csv":
        info = board_info(raw.info["device_info"]["model"])
    else:
        key = (n_eeg, round(sfreq, 6))
        if key not in LAYOUT_BOARDS:
            known = ", ".join(f"{c} at {r:g} Hz" for c, r in LAYOUT_BOARDS)
            raise RecordingFormatError(
                src, f"no BrainFlow board has its layout ({n_eeg} EEG channels at {sfreq:g} Hz; "
                f"known: {known}); pass board= (--board) naming a board with that layout"
            )
        info = board_info(LAYOUT_BOARDS[key])
    if len(info.eeg_rows) != n_eeg or info.sfreq != sfreq or info.timestamp_row is None:
        rate = f"{info.sfreq:g} Hz" if info.sfreq else "no fixed rate"
        raise RecordingFormatError(
            src, f"has {n_eeg} EEG channels at {sfreq:g} Hz but board {info.name} streams "
            f"{len(info.eeg_rows)} at {rate}; choose a board with the recording's layout"
        )
    return info


def _volts_to_uv(volts: np.ndarray) -> np.ndarray:
    """Invert the readers' ``uv * 1e-6`` exactly where possible (see the module docstring).

    Parameters
    ----------
    volts : ndarray, shape (n_channels, n_times), volts

    Returns
    -------
    data_uv : ndarray, shape (n_channels, n_times), µV
        For each sample the float ``y`` with ``y * 1e-6 == v`` and the shortest decimal form;
        ``v / 1e-6`` where no float satisfies it (volts that did not come from µV).
    """
    out = np.empty_like(volts)
    step = 1 << 16  # columns per block: bounds the memory of the five candidates
    for start in range(0, volts.shape[1], step):
        out[:, start:start + step] = _invert_block(volts[:, start:start + step])
    return out


def _invert_block(volts: np.ndarray) -> np.ndarray:
    y0 = volts / _UV
    up1 = np.nextafter(y0, np.inf)
    dn1 = np.nextafter(y0, -np.inf)
    cands = np.stack([y0, up1, dn1, np.nextafter(up1, np.inf), np.nextafter(dn1, -np.inf)])
    ok = (cands * _UV) == volts[None]
    n_ok = ok.sum(axis=0)
    out = np.where(n_ok >= 1, np.take_along_axis(cands, ok.argmax(axis=0)[None], 0)[0], y0)
    for idx in zip(*np.nonzero(n_ok > 1)):
        choices = [float(cands[(k, *idx)]) for k in range(cands.shape[0]) if ok[(k, *idx)]]
        out[idx] = min(choices, key=lambda x: (len(repr(x)), abs(x - y0[idx])))
    return out


def _write_columns(path: Path, columns: dict, *, n_rows: int, n_times: int) -> None:
    """Write a BrainFlow CSV (tab-separated, no header) with ``n_rows`` columns.

    ``columns`` maps a row of the board's data array to its values; the other rows are 0.
    Values are written in their shortest round-trip form (``repr``), so that any correctly
    rounded parser (BrainFlow's included) reads back the same float64.
    """
    zero = ["0.0"] * n_times
    text = [list(map(repr, columns[r].tolist())) if r in columns else zero for r in range(n_rows)]
    with open(path, "w", encoding="ascii") as fh:
        fh.writelines("\t".join(fields) + "\n" for fields in zip(*text))
