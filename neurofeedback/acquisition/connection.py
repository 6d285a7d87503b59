"""How to reach a board: a small description of the connection, and opening it with clear errors.

A :class:`Connection` is what the recorder needs to (re)open a device: the BrainFlow board id,
the data layout's board id (the master board for playback), the ``BrainFlowInputParams``
fields and ``config_board`` commands. It is a plain record, so it can cross process
boundaries (Prefect tasks) and be written into the sidecar.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..boards import BoardInfo, board_info, connection_hint, connection_params, resolve_board
from ..errors import BoardError

logger = logging.getLogger("neurofeedback")

__all__ = ["Connection", "open_board", "make_connection"]

_PARAM_FIELDS = ("serial_port", "mac_address", "serial_number", "ip_address", "ip_port",
                 "ip_protocol", "other_info", "timeout", "file", "master_board")

# BrainFlow's exit codes → what went wrong, in words
_EXIT_WORDS = {
    2: "cannot open the port or Bluetooth adapter",
    3: "the serial port does not behave like the board's dongle",
    7: "the board did not answer",
    13: "a required connection parameter is missing or invalid",
    14: "this board is not supported on this platform",
    17: "the board is not ready",
    18: "a BrainFlow session for it is already open",
}


@dataclass(frozen=True)
class Connection:
    """What is needed to open one board.

    Attributes
    ----------
    board_id : int
        The BrainFlow board to open (``-3`` for playback).
    data_board_id : int
        The board whose data layout the stream has (the master board for playback).
    params : dict
        ``BrainFlowInputParams`` fields that are set (``serial_port``, ``mac_address``, ``file``…).
    config : tuple of str
        ``config_board`` commands sent after ``prepare_session`` (e.g. ``"loopback_true"``).
    channel_names : tuple of str | None
        EEG names when they differ from BrainFlow's (e.g. a replayed recording's own names).
    source : dict | None
        For the sidecar: what is being replayed, at what speed.
    time_scale : float
        Recording seconds per timestamp second (the playback speed; 1 for devices).
    markers : tuple of (int, float, str)
        Markers the stream should carry, ``(sample, value, label)`` with the sample counted in
        the stream from its first sample: a replayed recording's own markers (the playback
        board streams none). The recorder writes them on their samples.
    markers_period : int
        Samples after which the stream repeats (a looping playback), 0 when it does not.
    layout : dict | None
        The data layout when it is not a BrainFlow board's: a description in the form of
        ``BoardShim.get_board_descr`` (``sampling_rate``, ``eeg_channels``, ``eeg_names``,
        ``timestamp_channel``, ``marker_channel``, ``num_rows``, ``name``). An LSL stream
        (:mod:`neurofeedback.acquisition.lsl`) has one; ``None`` for BrainFlow boards.
    """

    board_id: int
    data_board_id: int
    params: dict = field(default_factory=dict)
    config: tuple[str, ...] = ()
    channel_names: tuple[str, ...] | None = None
    source: dict | None = None
    time_scale: float = 1.0
    markers: tuple = ()
    markers_period: int = 0
    layout: dict | None = None

    @property
    def name(self) -> str:
        """BrainFlow name of the board opened (``PLAYBACK_FILE_BOARD`` for playback; the
        layout's name, ``LSL``, for an LSL stream)."""
        if self.layout is not None:
            return str(self.layout.get("name", "LSL"))
        return board_info(self.board_id).name

    @property
    def is_lsl(self) -> bool:
        """``True`` when the stream is an LSL stream (:mod:`neurofeedback.acquisition.lsl`)."""
        return bool(self.source) and self.source.get("kind") == "lsl"

    def layout_info(self) -> BoardInfo:
        """The data layout of the stream: rate, EEG rows and names, timestamp and marker rows.

        Returns
        -------
        info : BoardInfo
            The data board's (:func:`neurofeedback.boards.board_info` of :attr:`data_board_id`),
            or, when :attr:`layout` is set, one built from it (``board_id`` is
            :attr:`data_board_id`, the BrainFlow id the sidecar names).
        """
        if self.layout is None:
            return board_info(self.data_board_id)
        d = self.layout
        rate = d.get("sampling_rate")
        return BoardInfo(
            board_id=int(self.data_board_id), name=str(d.get("name", "LSL")),
            sfreq=float(rate) if rate else None,
            eeg_rows=tuple(int(r) for r in d.get("eeg_channels", ())),
            eeg_names=tuple(n for n in str(d.get("eeg_names", "")).split(",") if n),
            timestamp_row=d.get("timestamp_channel"), marker_row=d.get("marker_channel"),
            num_rows=d.get("num_rows"), descr=dict(d),
        )

    def input_params(self):
        """Return a ``BrainFlowInputParams`` with :attr:`params` set."""
        from brainflow.board_shim import BrainFlowInputParams

        p = BrainFlowInputParams()
        for key, value in self.params.items():
            setattr(p, key, value)
        return p

    def describe(self) -> str:
        """One line naming the board and how it is reached."""
        if self.source and self.source.get("kind") == "playback":
            return f"playback of {self.source.get('file')} (x{self.source.get('speed', 1):g})"
        if self.is_lsl:
            src = self.source
            return (f"LSL stream {src.get('name')!r} (type {src.get('type')!r}, "
                    f"{src.get('channel_count')} channels at {src.get('nominal_srate'):g} Hz, "
                    f"host {src.get('hostname')})")
        where = ", ".join(f"{k}={v}" for k, v in self.params.items() if k != "master_board")
        return f"{self.name}" + (f" ({where})" if where else "")


def make_connection(board, *, serial_port=None, mac_address=None, serial_number=None,
                    ip_address=None, ip_port=None, other_info=None, timeout=None,
                    master_board=None) -> Connection:
    """Describe a connection to a device board (use ``prepare_playback`` for playback).

    Parameters
    ----------
    board : str | int
        Board name or id (``"muse_2"``, ``"cyton"``, ``"synthetic"``…).
    serial_port, mac_address, serial_number, ip_address, ip_port, other_info, timeout
        ``BrainFlowInputParams`` fields; ``None`` leaves BrainFlow's default.
    master_board : str | int | None
        For BrainFlow's streaming board: the board whose stream is received (name or id); its
        layout (rate, EEG rows, names) is the layout of the data.

    Returns
    -------
    connection : Connection

    Raises
    ------
    BoardError
        Unknown board, or a parameter the board requires is missing (the message names it).
    """
    board_id = resolve_board(board)
    info = board_info(board_id)
    if info.name == "PLAYBACK_FILE_BOARD":
        raise BoardError("the playback board replays a file: pass --file RECORDING")
    given = {"serial_port": serial_port, "mac_address": mac_address, "serial_number": serial_number,
             "ip_address": ip_address, "ip_port": ip_port, "other_info": other_info,
             "timeout": timeout,
             "master_board": None if master_board in (None, "") else resolve_board(master_board)}
    params = {k: v for k, v in given.items() if v not in (None, "")}
    missing = [k for k, need in connection_params(board_id).items()
               if need == "required" and k not in params]
    if missing:
        opts = ", ".join("--" + m.replace("_", "-") for m in missing)
        raise BoardError(f"board {info.name} needs {opts}: {connection_hint(board_id)}")
    return Connection(board_id=board_id, data_board_id=params.get("master_board", board_id),
                      params=params)


def open_board(connection: Connection):
    """Prepare a BrainFlow session for ``connection`` and send its config commands.

    Returns
    -------
    board : brainflow.board_shim.BoardShim
        Prepared, not streaming.

    Raises
    ------
    BoardError
        One line naming the board, BrainFlow's error and what to check (port, Bluetooth, MAC).
    """
    from brainflow.board_shim import BoardShim
    from brainflow.exit_codes import BrainFlowError

    BoardShim.disable_board_logger()
    board = BoardShim(connection.board_id, connection.input_params())
    try:
        board.prepare_session()
        for cmd in connection.config:
            board.config_board(cmd)
    except BrainFlowError as exc:
        _release_quietly(board)
        raise device_error(connection, exc) from None
    return board


def start_stream(board, connection: Connection, buffer_size: int = 450_000) -> None:
    """``board.start_stream`` with the same one-line errors as :func:`open_board`."""
    from brainflow.exit_codes import BrainFlowError

    try:
        board.start_stream(buffer_size)
    except BrainFlowError as exc:
        _release_quietly(board)
        raise device_error(connection, exc) from None


def device_error(connection: Connection, exc) -> BoardError:
    """A one-line :class:`BoardError` for a BrainFlow failure on ``connection``."""
    code = getattr(exc, "exit_code", None)
    words = _EXIT_WORDS.get(code, "BrainFlow could not start it")
    brief = str(exc).split(":")[0] if str(exc) else type(exc).__name__
    return BoardError(f"cannot connect to {connection.describe()}: {words} ({brief}); "
                      f"{connection_hint(connection.board_id)}")


def _release_quietly(board) -> None:
    from brainflow.exit_codes import BrainFlowError

    try:
        if board.is_prepared():
            board.release_session()
    except BrainFlowError:  # already gone
        pass
