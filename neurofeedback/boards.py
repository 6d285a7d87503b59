"""BrainFlow boards by friendly name, with what each one needs to connect.

Any ``BoardIds`` member name (``"CYTON_DAISY_BOARD"``), its lower-case form without the
``_board`` suffix (``"cyton_daisy"``), a friendly alias (``"muse_2"``, ``"crown"``) or the integer
id is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BoardError

# Friendly aliases for the headsets people actually own; every BoardIds name works too.
_ALIASES = {
    "synthetic": "SYNTHETIC_BOARD",
    "playback": "PLAYBACK_FILE_BOARD",
    "streaming": "STREAMING_BOARD",
    "muse_2": "MUSE_2_BOARD",
    "muse_s": "MUSE_S_BOARD",
    "muse_2016": "MUSE_2016_BOARD",
    "muse_2_bled": "MUSE_2_BLED_BOARD",
    "muse_s_bled": "MUSE_S_BLED_BOARD",
    "muse_s_athena": "MUSE_S_ATHENA_BOARD",
    "cyton": "CYTON_BOARD",
    "cyton_daisy": "CYTON_DAISY_BOARD",
    "cyton_wifi": "CYTON_WIFI_BOARD",
    "ganglion": "GANGLION_BOARD",
    "crown": "CROWN_BOARD",
    "notion_1": "NOTION_1_BOARD",
    "notion_2": "NOTION_2_BOARD",
    "unicorn": "UNICORN_BOARD",
    "brainbit": "BRAINBIT_BOARD",
    "callibri": "CALLIBRI_EEG_BOARD",
    "enophone": "ENOPHONE_BOARD",
    "freeeeg32": "FREEEEG32_BOARD",
}


# What each board needs in BrainFlowInputParams (BrainFlow's "Supported Boards" docs): "required"
# or "optional". Boards not listed need nothing or document their own (see BrainFlow's docs).
_BLE = {"mac_address": "optional", "serial_number": "optional"}
_CONNECTION = {
    "SYNTHETIC_BOARD": {},
    "PLAYBACK_FILE_BOARD": {"file": "required"},  # master_board: chosen from the file
    "STREAMING_BOARD": {"ip_address": "required", "ip_port": "required", "master_board": "required"},
    "CYTON_BOARD": {"serial_port": "required"},
    "CYTON_DAISY_BOARD": {"serial_port": "required"},
    "GANGLION_BOARD": {"serial_port": "required", "mac_address": "optional"},
    "GANGLION_NATIVE_BOARD": dict(_BLE),
    "CYTON_WIFI_BOARD": {"ip_address": "optional", "ip_port": "required"},
    "CYTON_DAISY_WIFI_BOARD": {"ip_address": "optional", "ip_port": "required"},
    "GANGLION_WIFI_BOARD": {"ip_address": "optional", "ip_port": "required"},
    "MUSE_2_BOARD": dict(_BLE),
    "MUSE_S_BOARD": dict(_BLE),
    "MUSE_2016_BOARD": dict(_BLE),
    "MUSE_S_ATHENA_BOARD": dict(_BLE),  # BrainFlow 5.21.0 release notes: as the Muse S
    "MUSE_2_BLED_BOARD": {"serial_port": "required", "serial_number": "optional"},
    "MUSE_S_BLED_BOARD": {"serial_port": "required", "serial_number": "optional"},
    "MUSE_2016_BLED_BOARD": {"serial_port": "required", "serial_number": "optional"},
    "CROWN_BOARD": {"serial_number": "optional"},
    "NOTION_1_BOARD": {"serial_number": "optional"},
    "NOTION_2_BOARD": {"serial_number": "optional"},
    "UNICORN_BOARD": {"serial_number": "optional"},
    "BRAINBIT_BOARD": {"serial_number": "optional"},
    "BRAINBIT_BLED_BOARD": {"serial_port": "required", "serial_number": "optional"},
    "CALLIBRI_EEG_BOARD": {"other_info": "optional"},
    "ENOPHONE_BOARD": {"mac_address": "optional"},
    "FREEEEG32_BOARD": {"serial_port": "required"},
    "FREEEEG128_BOARD": {"serial_port": "required"},
    "EXPLORE_4_CHAN_BOARD": {"mac_address": "required"},
    "EXPLORE_8_CHAN_BOARD": {"mac_address": "required"},
    "GALEA_BOARD": {"ip_address": "optional"},
}

# How each kind of connection fails, and what to check (shown when a device cannot be reached).
_HINTS = {
    "serial_port": "check the USB dongle is plugged in, the board is switched on and --serial-port "
                   "names the dongle (e.g. /dev/ttyUSB0, COM3) and is readable by you",
    "ble": "check Bluetooth is on, the headset is charged, switched on, near and not connected to "
           "another app or phone; pass --mac-address or --serial-number to pick one device",
    "ip": "check the board and this computer are on the same network and --ip-address is right",
    "neurosity": "check the Crown/Notion is switched on, on the same Wi-Fi network as this computer "
                 "and has local (OSC) streaming enabled in the Neurosity app",
    "file": "check --file names a recording this project can read",
    "none": "check the device is switched on and reachable",
}


def connection_params(board) -> dict[str, str]:
    """Return the connection parameters a board needs: ``{param: "required"|"optional"}``.

    Parameters
    ----------
    board : str | int
        Board name or id (see :func:`resolve_board`).
    """
    name = _board_ids()(resolve_board(board)).name
    if name in _CONNECTION:
        return dict(_CONNECTION[name])
    if "BLED" in name:
        return {"serial_port": "required", "serial_number": "optional"}
    if "WIFI" in name:
        return {"ip_address": "optional", "ip_port": "required"}
    return {}


def connection_hint(board) -> str:
    """Return what to check when ``board`` cannot be reached (port, Bluetooth, network)."""
    params = connection_params(board)
    name = _board_ids()(resolve_board(board)).name
    if "file" in params:
        return _HINTS["file"]
    if name.startswith(("CROWN", "NOTION")):
        return _HINTS["neurosity"]
    if "serial_port" in params:
        return _HINTS["serial_port"]
    if "ip_address" in params or "ip_port" in params:
        return _HINTS["ip"]
    if params or any(k in name for k in ("MUSE", "BRAINBIT", "GANGLION_NATIVE", "ENOPHONE")):
        return _HINTS["ble"]
    return _HINTS["none"]


# --- How each board family connects (issue 17) ------------------------------------------------
# (match, how it connects). The first entry whose match is a prefix of (or, for "*" entries,
# is contained in) the BoardIds name wins. Source: BrainFlow's "Supported Boards" page
# (brainflow.readthedocs.io/en/stable/SupportedBoards.html) and, for the Muse S Athena, the
# BrainFlow 5.21.0 release notes; checked against brainflow 5.23.0's BoardIds.
_FAMILIES = (
    ("SYNTHETIC", "nothing (generated signals)"),
    ("PLAYBACK", "a BrainFlow CSV file"),
    ("STREAMING", "multicast from another BrainFlow process"),
    ("*BLED", "BLED112 USB dongle (its serial port)"),
    ("MUSE", "native BLE (BlueZ on Linux); no MAC: discovery"),
    ("GANGLION_NATIVE", "native BLE (BlueZ on Linux)"),
    ("CYTON_WIFI", "OpenBCI WiFi Shield (default 192.168.4.1)"),
    ("CYTON_DAISY_WIFI", "OpenBCI WiFi Shield (default 192.168.4.1)"),
    ("GANGLION_WIFI", "OpenBCI WiFi Shield (default 192.168.4.1)"),
    ("*WIFI", "Wi-Fi"),
    ("GANGLION", "OpenBCI Ganglion BLE dongle (serial port)"),
    ("CYTON", "OpenBCI USB dongle (serial port)"),
    ("CROWN", "Neurosity: same Wi-Fi network, OSC on"),
    ("NOTION", "Neurosity: same Wi-Fi network, OSC on"),
    ("UNICORN", "g.tec Unicorn Bluetooth dongle, paired"),
    ("ENOPHONE", "Bluetooth, paired headphones"),
    ("BRAINBIT", "native BLE (Windows, macOS)"),
    ("CALLIBRI", "native BLE (Windows, macOS)"),
    ("BRAINALIVE", "native BLE (BlueZ on Linux)"),
    ("EXPLORE", "Mentalab Explore Bluetooth"),
    ("FREEEEG", "USB serial port"),
    ("ANT_NEURO", "USB, ANT Neuro's library"),
    ("GALEA", "network"),
)
_FAMILY_OTHER = "see BrainFlow's Supported Boards docs"


def connection_kind(board) -> str:
    """How a board connects, in one line (USB dongle, native BLE, BLED112, Wi-Fi, …).

    Parameters
    ----------
    board : str | int
        Board name or id (see :func:`resolve_board`).

    Returns
    -------
    kind : str
        From the family table above (BrainFlow's "Supported Boards" docs); a pointer to those
        docs for boards the table does not cover.
    """
    name = _board_ids()(resolve_board(board)).name
    for match, kind in _FAMILIES:
        if (match[1:] in name) if match.startswith("*") else name.startswith(match):
            return kind
    return _FAMILY_OTHER


def eeg_boards() -> list[BoardInfo]:
    """Every BrainFlow board whose default-preset description has EEG channels.

    Derived from BrainFlow itself: every ``BoardIds`` member whose
    ``BoardShim.get_board_descr(board_id)`` has a non-empty ``eeg_channels``, in the order of
    :func:`list_boards` (friendly aliases first). Other rows (accelerometer, PPG/optics, the
    Muse S Athena's ``other_channels``) are never EEG.
    """
    return [b for b in list_boards() if b.eeg_rows]


@dataclass(frozen=True)
class BoardInfo:
    """What BrainFlow says about one board.

    Attributes
    ----------
    board_id : int
        BrainFlow's ``BoardIds`` value.
    name : str
        The ``BoardIds`` member name, e.g. ``"MUSE_2_BOARD"``.
    sfreq : float | None
        Nominal sampling rate in Hz (``None`` for meta boards such as playback).
    eeg_rows : tuple of int
        Rows of the BrainFlow data array holding EEG (µV).
    eeg_names : tuple of str
        Channel names for those rows (``EEG 1``… when BrainFlow gives none).
    timestamp_row, marker_row : int | None
        Rows of the Unix timestamps (s) and the marker channel.
    num_rows : int | None
        Rows in the board's data array (= columns of its BrainFlow CSV file).
    descr : dict
        BrainFlow's full description.
    """

    board_id: int
    name: str
    sfreq: float | None
    eeg_rows: tuple[int, ...]
    eeg_names: tuple[str, ...]
    timestamp_row: int | None
    marker_row: int | None
    num_rows: int | None
    descr: dict


def _board_ids():
    from brainflow.board_shim import BoardIds

    return BoardIds


def resolve_board(board) -> int:
    """Return the BrainFlow board id for a friendly name, ``BoardIds`` name or integer id.

    Parameters
    ----------
    board : str | int
        E.g. ``"muse_2"``, ``"CYTON_BOARD"``, ``"cyton"``, ``-1``.

    Returns
    -------
    board_id : int

    Raises
    ------
    BoardError
        When no board has that name or id.
    """
    ids = _board_ids()
    if isinstance(board, bool):
        board = str(board)
    if isinstance(board, int) or (isinstance(board, str) and board.lstrip("-").isdigit()):
        value = int(board)
        if value in {b.value for b in ids}:
            return value
        raise BoardError(f"Unknown BrainFlow board id {value}; run 'neurofeedback boards'.")
    key = str(board).strip()
    members = {b.name: b.value for b in ids}
    for candidate in (
        _ALIASES.get(key.lower()),
        key.upper(),
        key.upper() + "_BOARD",
        key.upper().replace("-", "_") + "_BOARD",
    ):
        if candidate in members:
            return members[candidate]
    raise BoardError(
        f"Invalid value for the 'board' parameter. Allowed values are a BrainFlow board name "
        f"such as {', '.join(repr(a) for a in list(_ALIASES)[:8])} (run 'neurofeedback boards' for "
        f"all), but got {board!r} instead."
    )


def board_info(board) -> BoardInfo:
    """Return :class:`BoardInfo` for a board name or id (see :func:`resolve_board`)."""
    from brainflow.board_shim import BoardShim
    from brainflow.exit_codes import BrainFlowError

    board_id = resolve_board(board)
    name = _board_ids()(board_id).name
    try:
        descr = BoardShim.get_board_descr(board_id)
    except BrainFlowError:
        descr = {}
    eeg_rows = tuple(descr.get("eeg_channels", ()))
    names = [n for n in str(descr.get("eeg_names", "")).split(",") if n]
    if len(names) != len(eeg_rows):
        names = [f"EEG {i + 1}" for i in range(len(eeg_rows))]
    sfreq = descr.get("sampling_rate")
    return BoardInfo(
        board_id=board_id,
        name=name,
        sfreq=float(sfreq) if sfreq else None,
        eeg_rows=eeg_rows,
        eeg_names=tuple(names),
        timestamp_row=descr.get("timestamp_channel"),
        marker_row=descr.get("marker_channel"),
        num_rows=descr.get("num_rows"),
        descr=descr,
    )


def friendly_name(board) -> str:
    """The short name to pass to ``--board``: the alias when there is one (``muse_2``), else the
    lower-case ``BoardIds`` name without ``_board``."""
    name = _board_ids()(resolve_board(board)).name
    for alias, member in _ALIASES.items():
        if member == name:
            return alias
    return name.removesuffix("_BOARD").lower()


def list_boards() -> list[BoardInfo]:
    """Return :class:`BoardInfo` for every BrainFlow board, friendly aliases first."""
    ids = _board_ids()
    seen, out = set(), []
    order = [members for members in _ALIASES.values()] + [b.name for b in ids]
    for name in order:
        if name in seen or name not in ids.__members__:
            continue
        seen.add(name)
        out.append(board_info(ids[name].value))
    return out
