"""Record a live BrainFlow stream to disk, crash-safe, with timed blocks and reconnects.

The stream is a BrainFlow ``BoardShim``, or an LSL stream through
:class:`~neurofeedback.acquisition.lsl.LslSource`, which has the same small surface
(``get_board_data`` in a row layout, the connection's :meth:`~.Connection.layout_info`) and a
few additions the recorder uses when they are there: ``reconnect()`` (keep the inlet, liblsl
recovers it), ``marker_labels`` (the stream's own markers, labelled in the sidecar) and
``timestamps_are_sample_times`` (a jump of at least 1 s in the timestamps is a gap, counted
like a disconnect even when shorter than the stall timeout).

What is written, and when
-------------------------
- ``<stem>.json`` — the sidecar (:mod:`neurofeedback.io.sidecar`), written atomically before the
  first sample and again at every marker typed, every disconnect and at the end
  (``ended_cleanly``, ``end_reason``, ``n_samples``, ``end_time``).
- ``<stem>.csv`` — the BrainFlow CSV layout of the board (tab-separated, one line per sample,
  EEG in µV, Unix timestamps), appended every ``poll_s`` (0.1 s) and flushed to the operating
  system at once, so a killed process loses at most the samples of one poll that BrainFlow held
  in its ring buffer (measured by ``bench/bench_crash.py``). Values are written with 17
  significant digits, so a replayed recording is reproduced bit for bit.
- ``<stem>_raw.fif`` — the canonical session (:func:`finalize_session`), written at the end.

Why our own appends rather than BrainFlow's ``file://…:w`` streamer: both lose well under a
second on SIGKILL, but only writing the chunks ourselves lets the recorder put each block
marker on the exact sample where the block starts (``insert_marker`` tags whichever sample
arrives next, up to a poll later), and keeps the file a single, append-only record across
reconnects (a new BrainFlow session would restart the streamer's file).

Time
----
Block boundaries and the end of the session are counted in *samples* at the nominal rate, plus
the time lost in disconnects (which the reader fills and annotates ``BAD_disconnect``), so
the blocks land on the right samples whatever the device's clock does, and a disconnect does
not shift later blocks.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .._validate import check_positive, check_text_length
from ..config import Settings, load_settings
from ..errors import BoardError, ConfigError
from ..home import recordings_dir, session_label, validate_label
from ..io.sidecar import make_sidecar, read_sidecar, sidecar_path, write_sidecar
from . import _lock
from .connection import Connection, _release_quietly, open_board, start_stream

logger = logging.getLogger("neurofeedback")

__all__ = [
    "Block", "LiveStatus", "Recorder", "RecordingResult", "SessionPaths", "new_session_paths",
    "parse_blocks", "parse_duration",
]

_KEY_MARKER_BASE = 100  # keyboard markers get 101, 102, … (blocks use 1..99)
#: A jump of a source's sample timestamps at least this long (s) is a gap the recorder counts
#: (the BrainFlow CSV reader fills and annotates gaps from this length on, ``DISCONNECT_MIN_S``).
_GAP_MIN_S = 1.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s|ms)?", re.IGNORECASE)


def parse_duration(text) -> float:
    """Parse ``"20s"``, ``"10m"``, ``"1h30m"``, ``"90"`` (seconds) or a number into seconds.

    Raises
    ------
    ConfigError
        For anything else, or a duration that is not positive.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return check_positive("duration", text, exc=ConfigError)
    s = str(text).strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, None: 1.0}
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if not m or m.end() == pos:
            break
        total += float(m.group(1)) * scale[m.group(2)]
        pos = m.end()
    if not s or pos != len(s) or total <= 0:
        raise ConfigError(
            f"Invalid value for the 'duration' parameter. Allowed values are a positive duration "
            f"such as '20s', '10m', '1h30m' or '90' (seconds), but got {text!r} instead."
        )
    return total


@dataclass(frozen=True)
class Block:
    """One timed block of a protocol: a label, its length and the marker value that starts it."""

    label: str
    duration_s: float
    marker: int

    def to_dict(self) -> dict:
        return {"label": self.label, "duration_s": self.duration_s, "marker": self.marker}


def parse_blocks(text) -> tuple[Block, ...]:
    """Parse ``"eyes-open:60,eyes-closed:1m,meditation:10m"`` into :class:`Block` s.

    Each distinct label gets one marker value (1, 2, …) in order of first appearance.

    Raises
    ------
    ConfigError
        For an empty label, a missing or invalid duration.
    """
    if text is None or not str(text).strip():
        return ()
    markers: dict[str, int] = {}
    out = []
    for item in str(text).split(","):
        label, sep, dur = item.strip().rpartition(":")
        label = label.strip()
        if not sep or not label:
            raise ConfigError(
                f"Invalid value for the 'blocks' parameter. Allowed values are 'label:duration' "
                f"items separated by commas (e.g. 'eyes-open:60,eyes-closed:60'), but got "
                f"{item.strip()!r} instead."
            )
        check_text_length("block", label, what=f"the 'blocks' parameter (label {label[:40]!r}...)",
                          exc=ConfigError)
        markers.setdefault(label, len(markers) + 1)
        out.append(Block(label, parse_duration(dur), markers[label]))
    if len(markers) >= _KEY_MARKER_BASE:
        raise ConfigError(f"Too many distinct block labels ({len(markers)}); at most 99.")
    return tuple(out)


@dataclass(frozen=True)
class SessionPaths:
    """Where one session's files go (see :mod:`neurofeedback.home` for the layout)."""

    folder: Path
    csv: Path
    sidecar: Path
    fif: Path

    @classmethod
    def from_csv(cls, csv) -> SessionPaths:
        csv = Path(csv)
        stem = csv.with_suffix("")
        base = stem.name.removesuffix("_eeg")
        return cls(csv.parent, csv, sidecar_path(csv), csv.with_name(base + "_raw.fif"))


def new_session_paths(subject: str, start: datetime, *, home=None) -> SessionPaths:
    """Create ``<home>/recordings/sub-<id>/ses-<stamp>/`` and return the session's paths.

    A session folder that already exists (two starts in the same second) gets a suffix
    rather than being overwritten.
    """
    subject = validate_label(subject, kind="subject")
    label = session_label(start)
    base = recordings_dir(home) / f"sub-{subject}"
    for k in range(100):
        ses = label if k == 0 else f"{label}{k:02d}"
        folder = base / f"ses-{ses}"
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        stem = f"sub-{subject}_ses-{ses}"
        csv = folder / f"{stem}_eeg.csv"
        return SessionPaths(folder, csv, sidecar_path(csv), folder / f"{stem}_raw.fif")
    raise ConfigError(f"{base}: cannot create a new session folder for {label}")


@dataclass
class LiveStatus:
    """What the live display shows; passed to ``on_update`` about twice a second."""

    elapsed_s: float
    duration_s: float
    n_samples: int
    sfreq: float
    channel_names: tuple[str, ...]
    block: str | None = None
    quality: object = None  # neurofeedback.quality.QualityCheck of the last seconds
    relative_power: dict = field(default_factory=dict)  # {channel: {band: fraction}}
    disconnected: bool = False
    disconnects: int = 0
    markers: list = field(default_factory=list)  # [(time_s, label)]


@dataclass(frozen=True)
class RecordingResult:
    """How a recording ended."""

    paths: SessionPaths
    n_samples: int
    duration_s: float
    end_reason: str
    disconnects: tuple[dict, ...]
    markers: tuple[tuple[float, str], ...]


@dataclass
class _Run:
    """The changing state of one :meth:`Recorder.record` call."""

    target: int  # samples to record (recording time, disconnects included)
    bounds: list  # (first sample, Block) of the timed blocks
    fmt: list  # np.savetxt format of each board row
    window: np.ndarray  # the last seconds of EEG (µV) for the live status
    win_n: int  # samples kept in ``window``
    t_data: float  # monotonic time of the last chunk (or of the last reconnect attempt)
    pos: int = 0  # recording position in samples (written samples + disconnect time)
    written: int = 0
    next_block: int = 0
    last_ts: float | None = None
    pending_gap: tuple | None = None  # (t_data, last timestamp) while disconnected
    t_update: float = 0.0
    end_reason: str = "completed"
    markers_done: list = field(default_factory=list)  # [(time_s, label)]
    disconnects: list = field(default_factory=list)


class Recorder:
    """Record one session from a BrainFlow board.

    Parameters
    ----------
    connection : Connection
        See :func:`~neurofeedback.acquisition.connection.make_connection` and
        :func:`~neurofeedback.acquisition.playback.prepare_playback`.
    paths : SessionPaths
    subject : str
    duration_s : float
        Length of the session (recording time, including disconnects).
    protocol, notes : str | None
    blocks : sequence of Block
        Timed blocks from the start; when they are shorter than ``duration_s`` the rest of the
        session has no block; when longer, the session ends at ``duration_s``.
    stall_timeout_s : float
        No new sample for this long counts as a disconnect: the recorder reconnects.
    reconnect_interval_s : float
        Pause between reconnect attempts.
    poll_s : float
        How often the stream is read and appended to disk.
    settings : Settings | None
        Bands (live display) and quality thresholds.
    """

    def __init__(self, connection: Connection, paths: SessionPaths, *, subject: str,
                 duration_s: float, protocol: str | None = None, blocks=(), notes: str = "",
                 stall_timeout_s: float = 5.0, reconnect_interval_s: float = 1.0,
                 poll_s: float = 0.1, settings: Settings | None = None):
        self.connection = connection
        self.paths = paths
        self.subject = validate_label(subject, kind="subject")
        self.duration_s = check_positive("duration", duration_s, exc=ConfigError)
        self.protocol = protocol
        self.blocks = tuple(blocks)
        self.notes = notes or ""
        self.stall_timeout_s = check_positive("stall_timeout_s", stall_timeout_s, exc=ConfigError)
        self.reconnect_interval_s = check_positive("reconnect_interval_s", reconnect_interval_s,
                                                   exc=ConfigError)
        self.poll_s = check_positive("poll_s", poll_s, exc=ConfigError)
        self.settings = settings or load_settings()
        info = connection.layout_info()
        if not info.eeg_rows or not info.sfreq:
            raise BoardError(f"board {info.name} has no EEG channels or sampling rate in BrainFlow")
        self.info = info
        self.sfreq = float(info.sfreq)
        self.channel_names = tuple(connection.channel_names or info.eeg_names)
        self._board = None
        self._markers: queue.Queue[str] = queue.Queue()
        self._key_labels: dict[str, int] = {}
        self._doc: dict | None = None
        self._replay, self._replay_labels = _replay_plan(connection.markers, self.blocks)

    # -- connection ----------------------------------------------------------------------------
    def open(self) -> None:
        """Prepare the board and start streaming (raises a one-line ``BoardError``)."""
        if self._board is None:
            if self.connection.is_lsl:  # an LSL inlet with the BoardShim surface used here
                from .lsl import open_lsl

                self._board = open_lsl(self.connection)
                return
            board = open_board(self.connection)
            start_stream(board, self.connection)
            self._board = board

    def close(self) -> None:
        """Stop streaming and release the board (safe to call twice)."""
        board, self._board = self._board, None
        if board is None:
            return
        from brainflow.exit_codes import BrainFlowError

        try:
            board.stop_stream()
        except BrainFlowError:
            pass
        _release_quietly(board)

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def board(self):
        """The BrainFlow ``BoardShim`` while open (tests use it to stop a stream mid-session)."""
        return self._board

    # -- quality gate --------------------------------------------------------------------------
    def check_quality(self, seconds: float = 4.0, *, timeout_s: float | None = None):
        """Collect ``seconds`` of signal and check each channel (railed, flat, line noise, range).

        Returns
        -------
        check : neurofeedback.quality.QualityCheck

        Raises
        ------
        BoardError
            When no data arrive within ``timeout_s`` (default ``seconds`` + stall timeout).
        """
        from ..quality import check_signal

        self.open()
        need = int(round(seconds * self.sfreq))
        limit = time.monotonic() + (timeout_s or (seconds / self.connection.time_scale
                                                  + self.stall_timeout_s + 2.0))
        chunks, have = [], 0
        while have < need:
            chunk = self._board.get_board_data()
            if chunk.shape[1]:
                chunks.append(chunk)
                have += chunk.shape[1]
            elif time.monotonic() > limit:
                raise BoardError(f"{self.connection.describe()}: no data for the quality check "
                                 f"within {timeout_s or seconds:g} s; is the headset on and streaming?")
            else:
                time.sleep(0.05)
        data = np.concatenate(chunks, axis=1)[:, -need:]
        eeg = data[list(self.info.eeg_rows)]
        return check_signal(eeg, self.sfreq, self.channel_names, settings=self.settings)

    # -- markers -------------------------------------------------------------------------------
    def add_marker(self, label: str = "marker") -> None:
        """Queue a marker on the newest sample (thread-safe; the keyboard thread calls this)."""
        self._markers.put(str(label).strip() or "marker")

    # -- recording -----------------------------------------------------------------------------
    def _write_sidecar(self, **changes) -> None:
        self._doc.update(changes)
        write_sidecar(self.paths.csv, self._doc)

    def _start_sidecar(self, start: datetime) -> None:
        markers = {str(b.marker): b.label for b in self.blocks}
        markers.update(self._replay_labels)  # a replayed recording's own labels
        layout = {}
        if self.connection.layout is not None:  # not a BrainFlow board's layout (LSL)
            layout = {"board_name": self.info.name, "board_descr": dict(self.info.descr),
                      "sfreq": self.sfreq}
        self._doc = make_sidecar(
            self.info.board_id, **layout, channel_names=list(self.channel_names),
            subject=self.subject,
            session=self.paths.folder.name.removeprefix("ses-"), protocol=self.protocol,
            blocks=[b.to_dict() for b in self.blocks], markers=markers, notes=self.notes,
            start_time=start.isoformat(), source=self.connection.source,
            time_scale=self.connection.time_scale, duration_planned_s=self.duration_s,
        )
        write_sidecar(self.paths.csv, self._doc)

    def record(self, *, on_update=None, stop_event: threading.Event | None = None,
               update_s: float = 0.5, on_chunk=None) -> RecordingResult:
        """Record until ``duration_s`` of recording time, ``stop_event`` or a lost device.

        Parameters
        ----------
        on_update : callable | None
            Called with a :class:`LiveStatus` about every ``update_s`` seconds.
        stop_event : threading.Event | None
            Set it to end early (the session is kept and ends cleanly, ``end_reason="stopped"``).
        update_s : float
        on_chunk : callable | None
            Called after each chunk is on disk as ``on_chunk(eeg_uv, timestamps, start)``: the
            chunk's EEG rows in µV (n_channels, n_samples), its timestamps (``None`` when the
            board has none) and its first sample's position in the session (samples, disconnect
            time included). This is how real-time feedback sees the stream it records.

        Returns
        -------
        result : RecordingResult
        """
        self.open()  # everything in the ring buffer from here on is part of the session
        self._start_sidecar(datetime.now(timezone.utc))
        rows = self.info.descr.get("num_rows") or self.info.num_rows
        run = _Run(target=int(round(self.duration_s * self.sfreq)), bounds=self._block_bounds(),
                   fmt=self._csv_format(rows), window=np.zeros((len(self.info.eeg_rows), 0)),
                   win_n=int(4 * self.sfreq), t_data=time.monotonic())
        t_start = time.monotonic()
        fh = open(self.paths.csv, "a", encoding="ascii", newline="\n")
        _lock.hold(fh)  # recover: "still being recorded" until this process ends (see _lock)
        try:
            while run.pos < run.target:
                if stop_event is not None and stop_event.is_set():
                    run.end_reason = "stopped"
                    break
                chunk = self._board.get_board_data() if self._board is not None else np.zeros((rows, 0))
                now = time.monotonic()
                if chunk.shape[1]:
                    self._take_chunk(run, chunk, now, fh, on_chunk)
                    run.t_data = now
                elif not self._watch_stall(run, now):
                    break
                if on_update is not None and now - run.t_update >= update_s:
                    run.t_update = now
                    on_update(self._status(run.pos, run.window, run.bounds, run.markers_done,
                                           run.disconnects, run.pending_gap is not None))
                time.sleep(self.poll_s)
        except KeyboardInterrupt:
            run.end_reason = "stopped"
        finally:
            fh.close()
            self.close()
            self._end_sidecar(run)
        logger.info("recorded %d samples in %.1f s (%s)", run.written, time.monotonic() - t_start,
                    run.end_reason)
        return RecordingResult(self.paths, run.written, run.pos / self.sfreq, run.end_reason,
                               tuple(run.disconnects), tuple(run.markers_done))

    def _block_bounds(self) -> list[tuple[int, Block]]:
        """``(first sample, block)`` of each timed block, counted from the start."""
        bounds, t = [], 0.0
        for b in self.blocks:
            bounds.append((int(round(t * self.sfreq)), b))
            t += b.duration_s
        return bounds

    def _csv_format(self, rows: int) -> list[str]:
        """``np.savetxt`` formats of the board's rows.

        EEG with 17 significant digits (exact float64), timestamps to the microsecond, the rest
        (accelerometer, battery, packet counters) with 9 digits.
        """
        fmt = ["%.9g"] * rows
        for r in self.info.eeg_rows:
            fmt[r] = "%.17g"
        if self.info.timestamp_row is not None:
            fmt[self.info.timestamp_row] = "%.6f"
        if self.info.marker_row is not None:
            fmt[self.info.marker_row] = "%.17g"
        return fmt

    def _take_chunk(self, run: _Run, chunk, now: float, fh, on_chunk) -> None:
        """Close a pending disconnect, mark the blocks and keys, append the chunk to the CSV."""
        ts_row, marker_row = self.info.timestamp_row, self.info.marker_row
        eeg_rows = list(self.info.eeg_rows)
        if (run.pending_gap is None and run.last_ts is not None and ts_row is not None
                and getattr(self._board, "timestamps_are_sample_times", False)
                and self._gap_seconds(run.last_ts, chunk[ts_row, 0], 0.0) >= _GAP_MIN_S):
            # a source that stamps samples when they were taken (LSL) shows a gap shorter than
            # the stall timeout in its timestamps: count it as the reader will fill it
            logger.warning("%s: %.2f s missing in the stream's timestamps", self.connection.describe(),
                           self._gap_seconds(run.last_ts, chunk[ts_row, 0], 0.0))
            run.pending_gap = (now, run.last_ts)
        if run.pending_gap is not None:  # back after a disconnect
            gap_s = self._gap_seconds(run.last_ts, chunk[ts_row, 0] if ts_row is not None else None,
                                      now - run.pending_gap[0])
            run.disconnects.append({"start": run.last_ts, "duration_s": round(gap_s, 4),
                                    "reconnected": True})
            run.pos += int(round(gap_s * self.sfreq))
            run.pending_gap = None
            self._write_sidecar(disconnects=run.disconnects)
        chunk = chunk[:, : max(0, run.target - run.pos)]
        n = chunk.shape[1]
        if not n:
            return
        if marker_row is not None:
            chunk = np.array(chunk, dtype=np.float64, copy=True)
            while run.next_block < len(run.bounds) and run.bounds[run.next_block][0] < run.pos + n:
                at, blk = run.bounds[run.next_block]
                k = max(0, at - run.pos)
                if chunk[marker_row, k] != 0:  # the source's own marker: to the next free sample
                    j = k + 1
                    while j < n and chunk[marker_row, j] != 0:
                        j += 1
                    if j < n:
                        chunk[marker_row, j] = chunk[marker_row, k]
                    else:
                        logger.warning("a stream marker shares its sample with block %r and "
                                       "was not written", blk.label)
                chunk[marker_row, k] = blk.marker
                run.markers_done.append(((run.pos + k) / self.sfreq, blk.label))
                run.next_block += 1
            self._replayed_markers(chunk, marker_row, run)
            self._source_markers(chunk, marker_row, run)
            self._keyboard_markers(chunk, marker_row, run.pos, run.markers_done)
        np.savetxt(fh, chunk.T, fmt=run.fmt, delimiter="\t")
        fh.flush()
        run.written += n
        run.pos += n
        run.last_ts = float(chunk[ts_row, -1]) if ts_row is not None else None
        run.window = np.concatenate([run.window, chunk[eeg_rows]], axis=1)[:, -run.win_n:]
        if on_chunk is not None:
            on_chunk(chunk[eeg_rows], None if ts_row is None else chunk[ts_row], run.pos - n)

    def _watch_stall(self, run: _Run, now: float) -> bool:
        """A poll without samples: reconnect after a stall; False when the session must end
        (still disconnected at its end, ``end_reason="disconnected"``)."""
        if run.pending_gap is None:
            if now - run.t_data > self.stall_timeout_s:
                logger.warning("%s: no samples for %.1f s; reconnecting", self.connection.describe(),
                               now - run.t_data)
                run.pending_gap = (run.t_data, run.last_ts)
                self._reconnect_once()
            return True
        # still disconnected: the session time runs on; give up at its end
        lost = (now - run.pending_gap[0]) * self.connection.time_scale
        if run.pos + lost * self.sfreq >= run.target:
            run.disconnects.append({"start": run.last_ts, "duration_s": round(lost, 4),
                                    "reconnected": False})
            run.end_reason = "disconnected"
            return False
        if now - run.t_data > self.reconnect_interval_s:
            run.t_data = now
            self._reconnect_once()
        return True

    def _end_sidecar(self, run: _Run) -> None:
        """The final sidecar: end time (the last sample's timestamp when known), samples, why."""
        end = datetime.now(timezone.utc)
        if run.last_ts is not None:
            end = datetime.fromtimestamp(run.last_ts, timezone.utc)
        self._write_sidecar(end_time=end.isoformat(), n_samples=run.written, ended_cleanly=True,
                            end_reason=run.end_reason, disconnects=run.disconnects)

    def _gap_seconds(self, last_ts, first_ts, wall_s) -> float:
        """Recording time lost between two samples: from timestamps when both exist."""
        if last_ts is not None and first_ts is not None and np.isfinite([last_ts, first_ts]).all():
            return max(0.0, (first_ts - last_ts) * self.connection.time_scale - 1.0 / self.sfreq)
        return wall_s * self.connection.time_scale

    def _reconnect_once(self) -> bool:
        """Release the board and try once to open it again; ``True`` when streaming.

        A source with its own ``reconnect()`` (an LSL inlet, which keeps its buffer and is
        recovered by liblsl) is asked to reconnect instead of being released and reopened.
        """
        if self._board is not None and hasattr(self._board, "reconnect"):
            try:
                return bool(self._board.reconnect())
            except BoardError as exc:
                logger.warning("reconnect failed: %s", exc)
                return False
        self.close()
        try:
            self.open()
        except BoardError as exc:
            logger.warning("reconnect failed: %s", exc)
            return False
        logger.warning("reconnected to %s", self.connection.describe())
        return True

    def _replayed_markers(self, chunk, marker_row, run: _Run) -> None:
        """Put a replayed recording's markers on their samples of this chunk.

        The stream's sample ``j`` (counted in written samples from the first) is the source's
        sample ``j`` (modulo its length when looping). A sample already holding a block marker
        passes the replayed one to the next free sample of the chunk.
        """
        if not self._replay:
            return
        n = chunk.shape[1]
        start, period = run.written, int(self.connection.markers_period or 0)
        for i, value, label in self._replay:
            if period:
                first = i + -((i - start) // period) * period if i < start else i
                hits = range(first, start + n, period)
            else:
                hits = (i,) if start <= i < start + n else ()
            for at in hits:
                k = at - start
                while k < n and chunk[marker_row, k] != 0:
                    k += 1
                if k >= n:
                    logger.warning("replayed marker %r at sample %d shares its sample with a block "
                                   "marker and was not written", label, at)
                    continue
                chunk[marker_row, k] = value
                run.markers_done.append(((run.pos + k) / self.sfreq, label))

    def _source_markers(self, chunk, marker_row, run: _Run) -> None:
        """Markers the source put in its marker row itself (an LSL marker stream): give their
        codes their labels in the sidecar and list them with the session's markers.

        A source with markers has ``marker_labels`` (``{code: label}``, growing as labels
        arrive). A label naming one of this session's blocks becomes ``source/<label>`` (as for
        a replayed recording): it is a marker, never this session's block.
        """
        labels = getattr(self._board, "marker_labels", None)
        if not labels:
            return
        own = {b.label for b in self.blocks}
        changed = False
        for code, label in list(labels.items()):
            key = f"{float(code):g}"
            if key not in self._doc["markers"]:
                self._doc["markers"][key] = f"source/{label}" if label in own else label
                changed = True
        for k in np.flatnonzero(chunk[marker_row]):
            v = float(chunk[marker_row, k])
            if v in labels:
                run.markers_done.append(((run.pos + k) / self.sfreq, self._doc["markers"][f"{v:g}"]))
        if changed:
            write_sidecar(self.paths.csv, self._doc)

    def _keyboard_markers(self, chunk, marker_row, pos, done) -> None:
        changed = False
        while True:
            try:
                label = self._markers.get_nowait()
            except queue.Empty:
                break
            if label not in self._key_labels:
                self._key_labels[label] = _KEY_MARKER_BASE + 1 + len(self._key_labels)
                self._doc["markers"][str(self._key_labels[label])] = label
                changed = True
            k = chunk.shape[1] - 1
            while k > 0 and chunk[marker_row, k] != 0:  # marked already (a block, the stream's
                k -= 1                                  # own marker, another key): the one before
            chunk[marker_row, k] = self._key_labels[label]
            done.append(((pos + k) / self.sfreq, label))
        if changed:
            write_sidecar(self.paths.csv, self._doc)

    def _status(self, pos, window, bounds, markers, disconnects, disconnected) -> LiveStatus:
        block = None
        for at, b in bounds:
            if at <= pos and pos < at + b.duration_s * self.sfreq:
                block = b.label
        status = LiveStatus(elapsed_s=pos / self.sfreq, duration_s=self.duration_s, n_samples=pos,
                            sfreq=self.sfreq, channel_names=self.channel_names, block=block,
                            disconnected=disconnected, disconnects=len(disconnects),
                            markers=list(markers[-5:]))
        if window.shape[1] >= int(2 * self.sfreq):
            from ..quality import check_signal

            status.quality = check_signal(window, self.sfreq, self.channel_names,
                                          settings=self.settings)
            no_signal = {r.channel for r in status.quality.table.itertuples()
                         if r.problem.startswith(("railed", "flat"))}
            status.relative_power = _relative_power(window, self.sfreq, self.channel_names,
                                                   self.settings, no_signal=no_signal)
        return status


def _replay_plan(markers, blocks) -> tuple[tuple, dict]:
    """The replayed markers with values that cannot be mistaken for the recorder's own, and
    the ``{value: label}`` the sidecar needs to give them back their labels.

    A value the session's blocks or keyboard markers use (1–99 by block, 101… by key) moves to a
    code from :data:`~neurofeedback.acquisition.playback.REPLAY_CODE_BASE` up; a label that is
    not ``marker/<value>`` is mapped in the sidecar so the reader restores it. A label that names
    one of this session's blocks (a replayed file recorded with the same protocol) becomes
    ``source/<label>``: the source's block is a marker here, never this session's block.
    """
    from ..io._markers import marker_label

    if not markers:
        return (), {}
    taken = {float(b.marker) for b in blocks}
    own = {b.label for b in blocks}
    base = 1000.0  # playback.REPLAY_CODE_BASE (not imported: playback imports the readers)
    codes: dict[str, float] = {}
    used = {float(v) for _, v, _ in markers}
    plan, labels = [], {}
    for i, v, label in markers:
        v = float(v)
        if label in own:  # the source's block of that name is not this session's block
            label = f"source/{label}"
        if v in taken or _KEY_MARKER_BASE < v < base:
            if label not in codes:
                c = base
                while c in used or c in codes.values():
                    c += 1
                codes[label] = c
            v = codes[label]
        if label != marker_label(v):
            labels[f"{v:g}"] = label
        plan.append((int(i), v, str(label)))
    return tuple(plan), labels


def _relative_power(window_uv, sfreq, names, settings, *, no_signal=()) -> dict:
    """``{channel: {band: fraction}}`` of the last seconds (linear detrend, Welch 2 s segments).

    Channels in ``no_signal`` (railed or flat by :func:`neurofeedback.quality.check_signal`) and
    channels without broadband power get NaN for every band: the detrend residue of a rail is
    not EEG, so its fractions are not shown (as the offline tables give a bad channel no value).
    """
    from scipy.signal import detrend

    from ..spectral import band_power, welch_psd

    bands = settings.bands.bands
    lo, hi = settings.bands.broadband
    psd, freqs = welch_psd(detrend(window_uv, axis=1), sfreq, segment_s=2.0, overlap=0.5)
    power = band_power(psd, freqs, bands)
    total = band_power(psd, freqs, [("broadband", lo, hi)])[:, 0]
    return {ch: {b[0]: (float(v / tot) if tot > 0 and ch not in no_signal else float("nan"))
                 for b, v in zip(bands, row)}
            for ch, row, tot in zip(names, power, total)}


def load_recording_doc(csv) -> dict:
    """Read a session's sidecar (for recover and finalize)."""
    return read_sidecar(sidecar_path(csv))
