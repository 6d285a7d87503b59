"""The thin runner: the live stream (a BrainFlow board or an LSL stream) → the pure :func:`step`
→ outputs, while the
session is recorded exactly like ``record`` (crash-safe CSV + sidecar, FIF; processing and the
store come after, in :func:`neurofeedback.recording.feedback_and_store`).

The recorder hands every chunk it has written to :class:`FeedbackLoop` (``on_chunk``); the loop
keeps the last ``window_s`` seconds per channel in a ring buffer and, each time the stream
passes an update boundary (``update_hz``), runs ``step`` on the window ending there, appends
the result to ``<stem>_feedback.tsv`` (flushed: a crash keeps the feedback log with the
recording) and sends it to the outputs (LSL, OSC, tone; the terminal gauge is drawn by the
CLI from ``on_output``). Everything runs on the recorder's thread: no queue between the stream
and the feedback, so the delay is the poll interval plus the compute time.

A disconnect shows as a jump in the chunks' session position (the recorder counts the time
lost); the ring buffer then starts afresh, so no window joins data from both sides of the gap,
and the next update comes once a full window has arrived after the reconnect.

The end-to-end delay of each update is measured from the board's timestamp of the window's
last sample to the moment the feedback leaves (``time.time()``). BrainFlow stamps samples with
the wall clock as they enter its buffer, the playback board included (it generates new
timestamps by default); a stream whose timestamps are not within 30 s of the wall clock logs
no delay rather than a meaningless one.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .step import init_state, step, summarize

logger = logging.getLogger("neurofeedback")

__all__ = ["FeedbackLoop", "FeedbackResult", "run_feedback"]

_TSV_COLUMNS = ("t_s", "timestamp", "phase", "metric", "threshold", "reward", "artifact",
                "inhibited", "level", "reward_rate", "latency_s", "reason")
#: Timestamps within this many seconds of the wall clock count as wall-clock time (live boards).
_WALL_CLOCK_TOLERANCE_S = 30.0


def _num(v) -> str:
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.9g}"


class FeedbackLoop:
    """Feed the recorder's chunks to :func:`step` at the protocol's update rate.

    Parameters
    ----------
    protocol : Protocol
    sfreq : float
    ch_names : sequence of str
        The board's EEG channels, in the order of the chunks.
    baseline_s : float
    sinks : list
        Outputs with ``send(output)`` (LSL, OSC, tone).
    log_path : Path | None
        The feedback TSV (see :func:`neurofeedback.acquisition.session.feedback_tsv`).
    on_output : callable | None
        Called as ``on_output(output)`` after each update (the terminal gauge).
    settings : Settings | None
    """

    def __init__(self, protocol, sfreq: float, ch_names, *, baseline_s: float = 60.0, sinks=(),
                 log_path: Path | None = None, on_output=None, settings=None):
        self.protocol = protocol
        self.sfreq = float(sfreq)
        self.ch_names = tuple(ch_names)
        self.state = init_state(protocol, self.sfreq, self.ch_names, baseline_s=baseline_s,
                                settings=settings)
        self.win_n = int(round(protocol.window_s * self.sfreq))
        self.hop = self.sfreq / protocol.update_hz  # samples between updates (may be fractional)
        self._buf = np.zeros((len(self.ch_names), self.win_n))
        self._ts = np.full(self.win_n, np.nan)
        self._filled = 0
        self._next = float(self.win_n)  # first update when the first full window is in
        self._end = 0  # the session position just after the last sample pushed
        self.resets = 0  # how many times a disconnect emptied the window
        self.sinks = list(sinks)
        self.on_output = on_output
        self.outputs: list = []
        self.latencies: list[float] = []
        self.compute_s: list[float] = []
        self._wall_clock = None
        self._log = None
        if log_path is not None:
            self._log = open(log_path, "a", encoding="utf-8", newline="\n")
            if self._log.tell() == 0:
                self._log.write("\t".join(_TSV_COLUMNS) + "\n")
                self._log.flush()
        self._lock = threading.Lock()

    def __call__(self, eeg_uv, timestamps, start: int) -> None:
        """The recorder's ``on_chunk``: append, and update at every boundary in the chunk."""
        n = eeg_uv.shape[1]
        k = 0
        with self._lock:
            if start != self._end and self._filled:  # samples are missing: a disconnect
                self._filled = 0
                self._next = float(start + self.win_n)
                self.resets += 1
                logger.info("feedback: %.1f s lost in a disconnect; the window restarts",
                            (start - self._end) / self.sfreq)
            elif not self._filled and start > self._end:
                self._next = max(self._next, float(start + self.win_n))
            self._end = start + n
            while k < n:
                need = max(1, int(math.ceil(self._next)) - (start + k))
                take = min(n - k, need)
                self._push(eeg_uv[:, k:k + take],
                           None if timestamps is None else timestamps[k:k + take])
                k += take
                pos = start + k
                if pos >= self._next and self._filled >= self.win_n:
                    self._update(pos)
                    while self._next <= pos:
                        self._next += self.hop

    def _push(self, part, ts) -> None:
        m = part.shape[1]
        if m >= self.win_n:
            self._buf[:] = part[:, -self.win_n:]
            self._ts[:] = np.nan if ts is None else ts[-self.win_n:]
        else:
            self._buf = np.roll(self._buf, -m, axis=1)
            self._buf[:, -m:] = part
            self._ts = np.roll(self._ts, -m)
            self._ts[-m:] = np.nan if ts is None else ts
        self._filled = min(self.win_n, self._filled + m)

    def _update(self, pos: int) -> None:
        t0 = time.perf_counter()
        self.state, out = step(self.state, self._buf, t=pos / self.sfreq)
        self.compute_s.append(time.perf_counter() - t0)
        last_ts = float(self._ts[-1])
        for sink in list(self.sinks):
            try:
                sink.send(out)
            except Exception as exc:  # noqa: BLE001  (an output failing never stops the recording)
                logger.warning("feedback output %s failed (%s); disabled", type(sink).__name__, exc)
                self.sinks.remove(sink)
        now = time.time()
        if self._wall_clock is None and math.isfinite(last_ts):
            self._wall_clock = abs(now - last_ts) < _WALL_CLOCK_TOLERANCE_S
        latency = (now - last_ts) if self._wall_clock and math.isfinite(last_ts) else None
        if latency is not None:
            self.latencies.append(latency)
        self.outputs.append(out)
        if self._log is not None:
            row = (_num(out.t), _num(last_ts), out.phase, _num(out.metric), _num(out.threshold),
                   str(int(out.reward)), str(int(out.artifact)), str(int(out.inhibited)),
                   _num(out.level), _num(out.reward_rate), _num(latency),
                   out.reason.replace("\t", " ").replace("\n", " "))
            self._log.write("\t".join(row) + "\n")
            self._log.flush()
        if self.on_output is not None:
            self.on_output(out)

    def summary(self) -> dict:
        """The session's feedback summary (:func:`summarize`) plus measured delays."""
        doc = summarize(self.state)
        lat = np.asarray(self.latencies, float)
        comp = np.asarray(self.compute_s, float) * 1e3
        doc["delay"] = {
            "n": int(lat.size),
            "median_ms": float(np.median(lat) * 1e3) if lat.size else None,
            "p99_ms": float(np.percentile(lat, 99) * 1e3) if lat.size else None,
            "what": "board timestamp of the window's last sample → feedback sent (wall clock)",
        }
        doc["window_restarts"] = int(self.resets)
        doc["compute"] = {
            "median_ms": float(np.median(comp)) if comp.size else None,
            "p99_ms": float(np.percentile(comp, 99)) if comp.size else None,
        }
        return doc

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001
                pass


@dataclass(frozen=True)
class FeedbackResult:
    """A feedback session: the recording (as ``record``) and the feedback summary."""

    session: object  # acquisition.record.RecordedSession (recording.SessionResult once stored)
    feedback: dict
    log_path: Path | None


def run_feedback(connection, protocol, *, subject: str, duration_s: float,
                 baseline_s: float = 60.0, outputs=(), sink_options: dict | None = None,
                 home=None, notes: str = "", gate_s: float = 4.0, force: bool = False,
                 stall_timeout_s: float = 5.0, on_gate=None, on_update=None, on_output=None,
                 stop_event=None, settings=None) -> FeedbackResult:
    """Run a neurofeedback session: record like ``record`` and close the loop on the stream.

    The session ends at its files (CSV + sidecar with the feedback summary, feedback log, FIF);
    :func:`neurofeedback.recording.feedback_and_store` also processes and stores it.

    Parameters
    ----------
    connection : Connection
    protocol : Protocol | str
        A protocol, or the name of a shipped one (``neurofeedback protocols`` lists them).
    subject : str
    duration_s : float
        Session length, baseline included.
    baseline_s : float
        Calibration at the start: no reward; it sets the threshold.
    outputs : sequence of str
        Any of ``tone``, ``lsl``, ``osc`` (``terminal`` is drawn by the caller from
        ``on_output``).
    sink_options : dict | None
        Passed to :func:`neurofeedback.feedback.outputs.open_outputs` (LSL name, OSC host/port).
    home, notes, gate_s, force, stall_timeout_s, on_gate, on_update, stop_event, settings
        As in :func:`neurofeedback.acquisition.record.record_session`.
    on_output : callable | None
        Called with each :class:`FeedbackOutput`.

    Returns
    -------
    result : FeedbackResult
    """
    from ..acquisition.record import record_session
    from ..acquisition.session import feedback_tsv
    from ..io.sidecar import read_sidecar, write_sidecar
    from .protocol import load_protocol

    if isinstance(protocol, str):
        protocol = load_protocol(protocol)
    if baseline_s >= duration_s:
        raise ConfigError(f"Invalid value for the baseline parameter: the baseline ({baseline_s:g} s) "
                          f"must be shorter than the session ({duration_s:g} s)")
    info = connection.layout_info()  # a BrainFlow board's, or an LSL stream's own
    ch_names = tuple(connection.channel_names or info.eeg_names)
    protocol.resolve_channels(ch_names)  # a protocol the board cannot serve fails before recording
    sinks = []
    if outputs:
        from .outputs import open_outputs

        sinks = open_outputs([o for o in outputs if o != "terminal"], **(sink_options or {}))
    box: dict = {"loop": None, "feedback": {}}

    def on_start(paths):  # the session folder exists: open the feedback log beside the CSV
        box["loop"] = FeedbackLoop(protocol, info.sfreq, ch_names, baseline_s=baseline_s,
                                   sinks=sinks, log_path=feedback_tsv(paths.csv),
                                   on_output=on_output, settings=settings)

    def on_chunk(eeg_uv, timestamps, start):
        box["loop"](eeg_uv, timestamps, start)

    def before_finalize(result):  # the summary goes into the sidecar, hence into the store
        loop = box["loop"]
        loop.close()
        box["feedback"] = doc = loop.summary()
        sc = read_sidecar(result.paths.sidecar)
        sc["feedback"] = doc
        write_sidecar(result.paths.csv, sc)

    try:
        res = record_session(connection, subject=subject, duration_s=duration_s,
                             protocol=protocol.name, notes=notes, home=home, settings=settings,
                             gate_s=gate_s, force=force, stall_timeout_s=stall_timeout_s,
                             on_gate=on_gate, on_update=on_update, stop_event=stop_event,
                             on_start=on_start, on_chunk=on_chunk,
                             before_finalize=before_finalize, poll_s=0.02)
    finally:
        if box["loop"] is not None:
            box["loop"].close()
        else:
            for sink in sinks:
                try:
                    sink.close()
                except Exception:  # noqa: BLE001
                    pass
    log = feedback_tsv(res.recording.paths.csv)
    return FeedbackResult(session=res, feedback=box["feedback"],
                          log_path=log if log.is_file() else None)
