"""One call that records a session to its files: connect → quality gate → record → finalize.

The connection is a BrainFlow board, a replayed recording (the playback board) or an LSL
stream (:mod:`neurofeedback.acquisition.lsl`); :func:`connection_from_options` makes one from
the command line's options.

Acquisition ends at its files: the crash-safe BrainFlow CSV and its sidecar, converted to the
canonical FIF at the end. Processing the session and importing it into the session store are
composed one layer up, in :mod:`neurofeedback.recording` (what ``neurofeedback record``,
``neurofeedback feedback`` and the Prefect recording flow call).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .._validate import check_text_length
from ..errors import ConfigError, QualityGateError
from ..home import data_home
from .connection import Connection
from .recorder import Recorder, RecordingResult, new_session_paths
from .session import finalize_session

logger = logging.getLogger("neurofeedback")

__all__ = ["RecordedSession", "connection_from_options", "gate_is_informational",
           "parse_channel_names", "playback_connection", "record_session"]


@dataclass(frozen=True)
class RecordedSession:
    """A recorded (and finalized) session: its files, not yet processed.

    Attributes
    ----------
    recording : RecordingResult
    fif : Path | None
        The canonical session file (``None`` when too few samples were recorded to write one;
        the CSV is still there).
    quality : QualityCheck | None
        The pre-recording check.
    """

    recording: RecordingResult
    fif: Path | None
    quality: object

    @property
    def folder(self) -> Path:
        return self.recording.paths.folder


def playback_connection(path, *, speed: float = 1.0, loop: bool = False, format: str = "auto",
                        board=None, home=None) -> Connection:
    """A :class:`Connection` that replays ``path`` through BrainFlow's playback board.

    The recording is converted to the layout of a matching board first (see
    :func:`neurofeedback.acquisition.playback.prepare_playback`), into ``<home>/cache/playback``.
    """
    from brainflow.board_shim import BoardIds

    from .playback import prepare_playback

    work = data_home(home) / "cache" / "playback"
    work.mkdir(parents=True, exist_ok=True)
    src = prepare_playback(path, work, speed=speed, loop=loop, format=format, board=board)
    return Connection(
        board_id=BoardIds.PLAYBACK_FILE_BOARD.value, data_board_id=int(src.master_board),
        params={"file": str(src.file), "master_board": int(src.master_board)},
        config=tuple(src.config_commands()), channel_names=tuple(src.channel_names),
        source={"kind": "playback", "file": str(Path(path).resolve()), "speed": float(speed),
                "loop": bool(loop)},
        time_scale=float(speed), markers=src.markers,
        markers_period=src.n_samples if loop else 0,
    )


def connection_from_options(*, board=None, serial_port=None, mac_address=None, serial_number=None,
                            ip_address=None, ip_port=None, master_board=None, other_info=None,
                            file=None, speed=1.0, loop=False, channel_names=None, home=None,
                            source="brainflow", stream=None, stream_type=None,
                            marker_stream=None, lsl_timeout=5.0, lsl_scope="machine"):
    """A :class:`Connection` from the ``record`` options: playback of ``file``, a device, or an
    LSL stream.

    Plain keyword values only, so a Prefect task can take them as parameters. ``source="lsl"``
    finds the LSL stream named ``stream`` and/or of type ``stream_type`` (``EEG`` when neither
    is given) with its marker streams
    (:func:`neurofeedback.acquisition.lsl.lsl_connection`; ``lsl_timeout`` s, discovery
    ``lsl_scope``); the BrainFlow options must then be absent. ``channel_names``
    (a comma-separated string or a sequence) renames the EEG channels in stream order: the
    electrode sites of a custom montage, or of a replayed file whose names are generic
    (OpenBCI GUI text files say ``EEG 1`` … ``EEG 8``). ``master_board`` is the board whose
    data a streaming board receives, or for playback the board layout to replay the file as
    (default: chosen from the file); ``other_info`` is BrainFlow's free-form parameter.
    """
    from brainflow.board_shim import BoardIds

    from ..boards import resolve_board
    from .connection import make_connection

    if source not in ("brainflow", "lsl"):
        raise ConfigError(f"Invalid value for the '--source' parameter. Allowed values are "
                          f"'brainflow' and 'lsl', but got {source!r} instead.")
    if source == "lsl":
        given = [f"--{k.replace('_', '-')}" for k, v in (
            ("board", board), ("serial_port", serial_port), ("mac_address", mac_address),
            ("serial_number", serial_number), ("ip_address", ip_address), ("ip_port", ip_port),
            ("master_board", master_board), ("other_info", other_info), ("file", file))
            if v not in (None, "")]
        if given:
            raise ConfigError(f"{', '.join(given)} is for BrainFlow boards, not --source lsl "
                              "(which takes --stream, --stream-type and --marker-stream)")
        from .lsl import lsl_connection

        conn = lsl_connection(stream=stream or None, stream_type=stream_type or None,
                              marker_stream=marker_stream, timeout_s=lsl_timeout, scope=lsl_scope)
    elif board in (None, ""):
        raise ConfigError("pass --board NAME (see 'neurofeedback boards'), or --source lsl to "
                          "record an LSL stream")
    elif stream or stream_type or marker_stream:
        raise ConfigError("--stream, --stream-type and --marker-stream are for --source lsl")
    elif resolve_board(board) == BoardIds.PLAYBACK_FILE_BOARD.value:
        if not file:
            raise ConfigError("--board playback replays a recording: pass --file RECORDING")
        conn = playback_connection(file, speed=speed, loop=loop, home=home, board=master_board)
    else:
        if file:
            raise ConfigError(f"--file is only for --board playback, not {board!r}")
        conn = make_connection(board, serial_port=serial_port, mac_address=mac_address,
                               serial_number=serial_number, ip_address=ip_address,
                               ip_port=ip_port, master_board=master_board, other_info=other_info)
    if channel_names is None:
        return conn
    current = conn.channel_names or conn.layout_info().eeg_names
    names = parse_channel_names(channel_names, n_channels=len(current))
    layout = conn.layout
    if layout is not None:  # an LSL stream's own layout names its channels too
        layout = {**layout, "eeg_names": ",".join(n.replace(",", ";") for n in names)}
    return dataclasses.replace(conn, channel_names=names, layout=layout)


def parse_channel_names(value, *, n_channels: int) -> tuple[str, ...]:
    """Parse and check ``--channel-names`` (comma-separated, one per EEG channel, unique).

    Parameters
    ----------
    value : str | sequence of str
    n_channels : int
        How many EEG channels the stream has.

    Returns
    -------
    names : tuple of str

    Raises
    ------
    ConfigError
        For a wrong count, an empty or a repeated name.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(str(x).strip() for x in items)
    if len(names) != n_channels or any(not n for n in names) or len(set(names)) != len(names):
        why = (f"{len(names)} name(s) for {n_channels} EEG channels" if len(names) != n_channels
               else "an empty name" if any(not n for n in names) else "a repeated name")
        raise ConfigError(f"Invalid value for the --channel-names parameter: it needs one unique "
                          f"name per EEG channel in stream order ({n_channels}), but got "
                          f"{value if isinstance(value, str) else ','.join(names)!r} ({why}).")
    return names


def gate_is_informational(connection: Connection) -> bool:
    """``True`` for the synthetic board: its channels are sines at 5·i Hz with DC offsets (two sit
    on 50 and 60 Hz), not EEG, so the quality check is shown but never blocks a recording."""
    from brainflow.board_shim import BoardIds

    return connection.data_board_id == BoardIds.SYNTHETIC_BOARD.value


def _keyboard_thread(recorder: Recorder) -> None:
    """Each line typed on the terminal becomes a marker (its text is the label)."""

    def run():
        for line in sys.stdin:
            recorder.add_marker(line.strip() or "marker")

    threading.Thread(target=run, name="nf-keyboard-markers", daemon=True).start()


def record_session(connection: Connection, *, subject: str, duration_s: float, protocol=None,
                   blocks=(), notes: str = "", home=None, settings=None, gate_s: float = 4.0,
                   force: bool = False, stall_timeout_s: float = 5.0,
                   reconnect_interval_s: float = 1.0, on_gate=None, on_update=None,
                   keyboard: bool = False, stop_event: threading.Event | None = None,
                   on_start=None, on_chunk=None, before_finalize=None,
                   poll_s: float = 0.1) -> RecordedSession:
    """Record one session to its files: connect, check quality, record to disk, finalize to FIF.

    To also process the session and import it into the session store, call
    :func:`neurofeedback.recording.record_and_store`.

    Parameters
    ----------
    connection : Connection
    subject : str
        Subject label (letters and digits).
    duration_s : float
    protocol, blocks, notes
        See :class:`~neurofeedback.acquisition.recorder.Recorder`.
    home : str | Path | None
        Data home (default ``$NEUROFEEDBACK_HOME`` or ``~/neurofeedback``).
    settings : Settings | None
        The quality thresholds of the gate and the bands of the live display.
    gate_s : float
        Seconds of signal for the pre-recording quality check; ``0`` skips it.
    force : bool
        Record even when the quality check says no-go.
    stall_timeout_s, reconnect_interval_s : float
        Disconnect detection and reconnect pace.
    on_gate : callable | None
        Called with the ``QualityCheck`` before deciding (the CLI prints it).
    on_update : callable | None
        Called with a ``LiveStatus`` about twice a second.
    keyboard : bool
        Read markers from the terminal (one per line typed) while recording.
    stop_event : threading.Event | None
        Set to end the recording early (it is kept).
    on_start : callable | None
        Called with the session's :class:`SessionPaths` just before recording starts.
    on_chunk : callable | None
        Passed to :meth:`Recorder.record`: sees every chunk of EEG as it is written.
    before_finalize : callable | None
        Called with the :class:`RecordingResult` before the session is converted to FIF
        (real-time feedback writes its summary into the sidecar there).
    poll_s : float
        How often the stream is read (feedback polls faster for a short delay).

    Returns
    -------
    result : RecordedSession

    Raises
    ------
    BoardError
        The device cannot be reached (one line naming the board and what to check).
    QualityGateError
        The quality check said no-go and ``force`` is false (nothing was recorded).
    """
    # text the catalog cannot hold is refused before the device opens, not after the recording
    check_text_length("protocol", protocol, exc=ConfigError)
    for b in blocks or ():
        check_text_length("block", getattr(b, "label", b), what="a block label", exc=ConfigError)
    start = datetime.now(timezone.utc)
    recorder = None
    try:
        # open before creating the session folder: a missing device leaves nothing behind
        probe = Recorder(connection, _NoPaths, subject=subject, duration_s=duration_s,
                         settings=settings, stall_timeout_s=stall_timeout_s)
        probe.open()
        check = None
        if gate_s and gate_s > 0:
            check = probe.check_quality(gate_s)
            if on_gate is not None:
                on_gate(check)
            if not check.ok and not force and not gate_is_informational(connection):
                raise QualityGateError(
                    f"{connection.describe()}: quality check failed ({'; '.join(check.problems())}); "
                    "fix the electrode contact and try again, or pass --force to record anyway",
                    check,
                )
        if check is not None and connection.source and connection.source.get("kind") == "playback":
            # the check consumed the file's first seconds: start the replay again from the top
            probe.close()
            probe.open()
        elif check is not None:
            probe.board.get_board_data()  # the checked samples are not part of the session
        paths = new_session_paths(subject, start, home=home)
        recorder = Recorder(connection, paths, subject=subject, duration_s=duration_s,
                            protocol=protocol, blocks=blocks, notes=notes,
                            stall_timeout_s=stall_timeout_s,
                            reconnect_interval_s=reconnect_interval_s, poll_s=poll_s,
                            settings=settings)
        recorder._board, probe._board = probe._board, None  # keep the open stream
        if keyboard and sys.stdin is not None and sys.stdin.isatty():
            _keyboard_thread(recorder)
        if on_start is not None:
            on_start(paths)
        result = recorder.record(on_update=on_update, stop_event=stop_event, on_chunk=on_chunk)
    finally:
        for r in (recorder, locals().get("probe")):
            if r is not None:
                r.close()
    if before_finalize is not None:
        before_finalize(result)
    fif = finalize_session(result.paths.csv) if result.n_samples >= 2 else None
    return RecordedSession(recording=result, fif=fif, quality=check)


class _NoPaths:
    """Placeholder paths for the connection probe (it never writes)."""

    folder = csv = sidecar = fif = None
