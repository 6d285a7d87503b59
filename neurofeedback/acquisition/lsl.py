"""Record from any Lab Streaming Layer (LSL) stream: an inlet with the recorder's board surface.

Many headsets reach a computer as an LSL stream rather than through BrainFlow: muselsl,
BlueMuse and Petal Metrics for the Muse, the OpenBCI GUI's networking widget (LSL), and any lab
software. :func:`lsl_connection` finds such a stream and describes it as a
:class:`~neurofeedback.acquisition.connection.Connection` with its own data *layout*;
:class:`LslSource` is an LSL inlet with the small part of BrainFlow's ``BoardShim`` the
:class:`~neurofeedback.acquisition.recorder.Recorder` uses (``prepare_session``,
``start_stream``, ``get_board_data``, ``stop_stream``, ``release_session``). So an LSL session
is recorded by the same code as a headset: quality gate, timed blocks, keyboard markers, the
crash-safe CSV + sidecar as it goes, stall watch, the FIF at the end, ``recover``, the store and
real-time feedback; there is no second recording path.

Why pylsl (and not MNE-LSL)
---------------------------
pylsl is LSL's reference binding (the ``sccn/liblsl`` project's own), its wheel carries liblsl,
it is already this project's dependency (the feedback outputs' LSL outlet), and it gives exactly
what a recorder needs: every sample as sent, in the stream's own dtype (``pull_chunk`` into a
NumPy buffer, ``dest_obj``), with its timestamp. MNE-LSL's ``StreamLSL`` is built for a
different job: a ring buffer of the *latest* seconds for real-time analysis (its ``get_data``
returns a window, not every sample once), with its own bundled liblsl; it would add a second
liblsl to the process and a second buffer in front of the recorder's own. (MNE-LSL's
``resolve_streams`` and ``StreamInlet`` wrap the same liblsl calls used here.)

The layout
----------
The recorder writes the stream in a BrainFlow-CSV-shaped layout the readers already know: rows
``0 … n-1`` the EEG channels in µV, row ``n`` the timestamps (Unix seconds), row ``n + 1`` the
markers; the sidecar carries this description (``board_descr``), the rate, channel names and
the stream's identity (``source``: ``kind: "lsl"``, name, type, ``source_id``, host, format,
units). Its ``board_id`` is BrainFlow's ``STREAMING_BOARD`` (-2: a stream received from another
process), because the sidecar schema names a BrainFlow id; ``board_name`` is ``LSL``.

- **Channels** come from the stream's ``<desc><channels><channel>`` (``label``, ``type``,
  ``unit``) when it describes every channel: channels typed EEG (or untyped) are recorded
  (all of them when none is typed EEG); ``µV``/``uV``/``microvolts`` are written as they are,
  ``mV``, ``V`` and ``nV`` converted to µV (the unit table of the XDF reader); no unit means
  µV (the LSL convention for EEG). Without a description: ``EEG 1 … EEG n``, µV.
- **Values**: pulled in the stream's dtype and widened to float64, so a float32 stream's
  values are written exactly (17 significant digits in the CSV) when its unit is µV.
- **Rate**: the nominal rate of the stream info. An irregular-rate (0 Hz) stream, or a string
  stream, is refused: a recording needs a regular rate.

Time
----
The inlets are opened with ``proc_clocksync`` only: liblsl adds its clock-offset estimate
(:meth:`pylsl.StreamInlet.time_correction`, refreshed in the background) to every timestamp, so
the EEG and marker streams, even from other computers, are on this computer's LSL clock. Not
``proc_dejitter``: it re-stamps samples by a running regression, which smooths the jump of a
stalled stream into the samples after it (the gap would be measured short and markers near it
moved); sample positions come from the nominal rate anyway, and gaps from the raw timestamps,
as the readers do for every file. Values are never touched by the flags. The LSL clock counts
from the computer's boot, so a constant offset, measured once when the source opens
(``time.time() - local_clock()``), turns it into Unix time for the CSV: differences (gaps,
marker positions) are unchanged, and the session gets a real date and feedback a real delay.

Markers
-------
Marker streams (type ``Markers``, string) are opened beside the EEG: the one ``marker_stream``
names, else every marker stream from the EEG stream's host. Each marker goes on the EEG sample
whose (clock-corrected) timestamp is nearest its own. The two streams travel over separate
connections, so a marker sent just before its sample can arrive just after it: while marker
streams are open, samples are handed to the recorder :data:`MARKER_HOLD_S` (0.1 s) after they
arrive, and a marker that arrives within that time still lands on its sample (the price: up to
0.1 s more delay for real-time feedback on a stream recorded with markers;
``--marker-stream none`` drops it). One that arrives later still goes on the first sample not
yet written, with a warning saying how late. Its text is the label (channels
joined by ``/``; ``<stream>/<text>`` when several marker streams are open); each distinct label
gets a marker code from :data:`MARKER_CODE_BASE` up, which the sidecar maps back to the label.

Stalls and reconnects
---------------------
liblsl buffers what arrives and recovers a broken connection by itself (``recover=True``, for
streams with a ``source_id``), so a stall keeps the inlet open: when samples come again the
recorder measures the gap from the timestamps (any jump of at least 1 s) and the reader fills
and annotates it ``BAD_disconnect``, as for a BrainFlow disconnect. A stream whose source is
lost for good (liblsl's ``LostError``: no ``source_id``) is resolved again by name, type and
host at each reconnect attempt.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..errors import BoardError, ConfigError
from .connection import Connection

logger = logging.getLogger("neurofeedback")

__all__ = ["MARKER_CODE_BASE", "MARKER_HOLD_S", "LslSource", "list_lsl_streams", "lsl_connection", "open_lsl"]

#: Marker codes of LSL marker labels: 1000, 1001, … (above the recorder's block markers 1–99
#: and keyboard markers 101…); the sidecar's ``markers`` maps each code back to its label.
MARKER_CODE_BASE = 1000

#: With marker streams open, samples are handed on this long (s) after they arrive, so a marker
#: sent with (or just before) its sample but delivered a little later still lands on it.
MARKER_HOLD_S = 0.1

#: The BrainFlow id written as the sidecar's ``board_id`` (``STREAMING_BOARD``: a stream
#: received from another process); the layout itself is the sidecar's ``board_descr``.
LSL_BOARD_ID = -2

_FORMATS = {1: "float32", 2: "double64", 3: "string", 4: "int32", 5: "int16", 6: "int8",
            7: "int64", 0: "undefined"}
_DTYPES = {"float32": np.float32, "double64": np.float64, "int32": np.int32, "int16": np.int16,
           "int8": np.int8, "int64": np.int64}


def _pylsl(scope: str):
    """Import pylsl after pointing liblsl at the configuration for ``scope`` (read once per
    process, at the first LSL call; :func:`~neurofeedback.acquisition._lsl_config.configure_lsl`)."""
    from ._lsl_config import LSL_SCOPES, configure_lsl

    if scope not in LSL_SCOPES:
        raise ConfigError(f"Invalid value for the '--lsl-scope' parameter. Allowed values are "
                          f"{' and '.join(repr(s) for s in LSL_SCOPES)}, but got {scope!r} instead.")
    configure_lsl(scope)
    try:
        import pylsl
    except ImportError:  # pragma: no cover - a dependency
        raise BoardError("LSL needs the pylsl package: pip install pylsl") from None
    return pylsl


def _row(info) -> dict:
    """The identity of one stream, as listed and written into the sidecar."""
    return {"name": info.name(), "type": info.type(), "channel_count": int(info.channel_count()),
            "nominal_srate": float(info.nominal_srate()),
            "channel_format": _FORMATS.get(int(info.channel_format()), str(info.channel_format())),
            "source_id": info.source_id(), "hostname": info.hostname(), "uid": info.uid()}


def _listing(infos) -> str:
    rows = sorted({(i.name(), i.type(), i.hostname()) for i in infos})
    return "; ".join(f"{n!r} (type {t!r}, host {h})" for n, t, h in rows) or "none"


def list_lsl_streams(*, wait_s: float = 1.0, scope: str = "machine") -> list[dict]:
    """The LSL streams visible now.

    Parameters
    ----------
    wait_s : float
        How long to listen for streams, s.
    scope : str
        ``"machine"`` (streams on this computer) or ``"network"`` (liblsl's site-wide discovery).

    Returns
    -------
    streams : list of dict
        ``name``, ``type``, ``channel_count``, ``nominal_srate`` (Hz, 0 = irregular),
        ``channel_format``, ``source_id``, ``hostname``, ``uid``; sorted by name.
    """
    pylsl = _pylsl(scope)
    return sorted((_row(i) for i in pylsl.resolve_streams(wait_time=float(wait_s))),
                  key=lambda r: (r["name"], r["type"], r["hostname"], r["uid"]))


def _resolve(pylsl, done, timeout_s: float, settle_s: float = 1.0):
    """Listen for streams until ``done(infos)`` holds for ``settle_s`` s, or ``timeout_s``.

    The settle time lets every matching stream answer, so two streams of one name or type are
    refused as ambiguous rather than one picked at random (0.3 s missed the second of two on a
    loaded 2-core machine).

    Returns every stream seen (``pylsl.StreamInfo`` headers, without ``<desc>``).
    """
    resolver = pylsl.ContinuousResolver(forget_after=max(5.0, 2 * timeout_s))
    deadline = time.monotonic() + timeout_s
    since = None
    try:
        while True:
            infos = resolver.results()
            now = time.monotonic()
            if done(infos):
                since = now if since is None else since
                if now - since >= settle_s:
                    return infos
            if now >= deadline:
                return infos
            time.sleep(0.05)
    finally:
        del resolver


def _is_markers(info) -> bool:
    return info.type().lower() == "markers" or info.channel_format() == 3


def lsl_connection(*, stream: str | None = None, stream_type: str | None = None,
                   marker_stream: str | None = None, timeout_s: float = 5.0,
                   scope: str = "machine") -> Connection:
    """Find an LSL stream and describe it as a :class:`Connection` the recorder can open.

    Parameters
    ----------
    stream : str | None
        The stream's name (exact). Default: the stream of type ``stream_type``.
    stream_type : str | None
        The stream's type (any case); with ``stream`` both must match. Default: any type with
        ``stream``, else ``"EEG"``.
    marker_stream : str | None
        Name of the marker stream to record with it; ``"none"`` for none. Default: every
        marker stream (type ``Markers`` or string format) on the EEG stream's host.
    timeout_s : float
        How long to look for the streams, s.
    scope : str
        ``"machine"`` or ``"network"`` (see :func:`list_lsl_streams`).

    Returns
    -------
    connection : Connection
        With ``source`` (``kind: "lsl"`` and the stream's identity) and ``layout`` (see the
        module docstring).

    Raises
    ------
    BoardError
        One line: no such stream (naming what was looked for and the streams that are
        visible), several matching streams, an irregular-rate or string stream, or a named
        marker stream that is not there.
    """
    pylsl = _pylsl(scope)
    if timeout_s is None or not timeout_s > 0:
        raise ConfigError(f"Invalid value for the '--lsl-timeout' parameter: it must be a positive "
                          f"number of seconds, but got {timeout_s!r} instead.")
    if not stream and not stream_type:
        stream_type = "EEG"
    wanted = " and ".join(w for w in (f"name {stream!r}" if stream else "",
                                      f"type {stream_type!r}" if stream_type else "") if w)

    def is_eeg(i):
        return ((not stream or i.name() == stream)
                and (not stream_type or i.type().lower() == stream_type.lower()))

    named_markers = marker_stream not in (None, "", "none")

    def done(infos):
        found = any(is_eeg(i) for i in infos)
        if named_markers:
            found = found and any(i.name() == marker_stream for i in infos)
        return found

    t0 = time.monotonic()
    infos = _resolve(pylsl, done, float(timeout_s))
    matches = list({i.uid(): i for i in infos if is_eeg(i)}.values())
    where = "on this computer" if scope == "machine" else "on the network"
    if not matches:
        hint = "; pass --lsl-scope network to look on the network" if scope == "machine" else ""
        raise BoardError(f"no LSL stream with {wanted} {where} within {timeout_s:g} s "
                         f"(streams visible: {_listing(infos)}){hint}")
    if len(matches) > 1:
        raise BoardError(f"{len(matches)} LSL streams with {wanted}: {_listing(matches)}; "
                         "choose one with --stream NAME")
    info = matches[0]
    row = _row(info)
    if row["channel_format"] in ("string", "undefined"):
        raise BoardError(f"LSL stream {row['name']!r} holds {row['channel_format']} values, not "
                         "signal; choose the EEG stream with --stream NAME")
    if not row["nominal_srate"] > 0:
        raise BoardError(f"LSL stream {row['name']!r} has an irregular rate (nominal rate 0 Hz); "
                         "a recording needs a regular sampling rate")
    labels, types, units = _describe_channels(pylsl, info, timeout_s, row)
    use, names, scale = _pick_channels(row, labels, types, units)
    if named_markers:
        markers = [i for i in infos if i.name() == marker_stream]
        if not markers:
            raise BoardError(f"no LSL marker stream named {marker_stream!r} {where} within "
                             f"{timeout_s:g} s (streams visible: {_listing(infos)})")
    elif marker_stream == "none":
        markers = []
    else:
        markers = [i for i in infos if _is_markers(i) and i.hostname() == info.hostname()
                   and i.uid() != info.uid()]
    markers = list({i.uid(): i for i in markers}.values())
    logger.info("LSL: found %s in %.2f s; markers from %s", _listing([info]), time.monotonic() - t0,
                _listing(markers) if markers else "no marker stream")
    n = len(use)
    layout = {"name": "LSL", "sampling_rate": row["nominal_srate"],
              "eeg_channels": list(range(n)), "eeg_names": ",".join(x.replace(",", ";") for x in names),
              "timestamp_channel": n, "marker_channel": n + 1, "num_rows": n + 2}
    source = {"kind": "lsl", **row, "channels_used": use, "uv_per_unit": scale,
              "marker_streams": [{k: _row(i)[k] for k in ("name", "type", "source_id", "hostname")}
                                 for i in markers],
              "scope": scope, "timeout_s": float(timeout_s), "processing": "clocksync",
              "timestamps": "LSL time, clock-corrected, + a constant offset to Unix time"}
    return Connection(board_id=LSL_BOARD_ID, data_board_id=LSL_BOARD_ID,
                      channel_names=tuple(names), source=source, layout=layout)


def _describe_channels(pylsl, info, timeout_s, row):
    """``(labels, types, units)`` from the full stream info's ``<desc><channels>`` (empty
    lists when the stream does not describe every channel)."""
    try:
        inlet = pylsl.StreamInlet(info, max_buflen=1, recover=False)
        try:
            full = inlet.info(timeout=float(timeout_s))
        finally:
            inlet.close_stream()
            del inlet
    except (RuntimeError, TimeoutError) as exc:
        raise BoardError(f"cannot read the description of LSL stream {row['name']!r} "
                         f"({type(exc).__name__}: {exc})") from None
    labels, types, units = [], [], []
    ch = full.desc().child("channels").child("channel")
    while not ch.empty():
        labels.append(ch.child_value("label").strip())
        types.append(ch.child_value("type").strip())
        units.append(ch.child_value("unit").strip())
        ch = ch.next_sibling("channel")
    if len(labels) != row["channel_count"]:
        if labels:
            logger.warning("LSL stream %r describes %d of its %d channels; channels named "
                           "EEG 1…, read as µV", row["name"], len(labels), row["channel_count"])
        return [], [], []
    return labels, types, units


def _pick_channels(row, labels, types, units):
    """The channels recorded, their names and µV per unit (see the module docstring)."""
    from ..io.xdf import _UNITS_UV

    n = row["channel_count"]
    if not labels:
        return list(range(n)), [f"EEG {k + 1}" for k in range(n)], [1.0] * n
    is_eeg = [t.lower() in ("", "eeg") for t in types]
    typed = any(t.lower() == "eeg" for t in types)
    use = [k for k in range(n) if is_eeg[k]] if typed else list(range(n))
    skipped = [labels[k] or f"channel {k + 1}" for k in range(n) if k not in use]
    if skipped:
        logger.info("LSL stream %r: not EEG, not recorded: %s", row["name"], ", ".join(skipped))
    names, scale, seen = [], [], set()
    for k in use:
        name = labels[k] or f"EEG {k + 1}"
        while name in seen:
            name += "'"
        seen.add(name)
        names.append(name)
        unit = units[k]
        f = _UNITS_UV.get(unit.lower().replace(" ", "")) if unit else 1.0
        if f is None:
            logger.warning("LSL stream %r: unit %r of %s is not a voltage unit; recorded as µV",
                           row["name"], unit, name)
            f = 1.0
        scale.append(float(f))
    return use, names, scale


def open_lsl(connection: Connection) -> LslSource:
    """Open the inlets of an LSL connection (:func:`lsl_connection`) and start receiving.

    Returns
    -------
    source : LslSource
        Prepared and streaming.

    Raises
    ------
    BoardError
        When the stream is no longer visible.
    """
    src = LslSource(connection)
    src.prepare_session()
    src.start_stream()
    return src


class LslSource:
    """An LSL inlet (plus its marker inlets) with the ``BoardShim`` surface the recorder uses.

    Parameters
    ----------
    connection : Connection
        From :func:`lsl_connection`.

    Attributes
    ----------
    marker_labels : dict
        ``{code: label}`` of the markers written so far (codes from :data:`MARKER_CODE_BASE`).
    timestamps_are_sample_times : bool
        ``True``: the timestamps are when the samples were taken (the sender's clock,
        corrected), so a jump in them is samples that never came.
    """

    timestamps_are_sample_times = True

    def __init__(self, connection: Connection):
        if not connection.is_lsl or connection.layout is None:
            raise ConfigError("LslSource needs a connection from lsl_connection()")
        self.connection = connection
        self.info = connection.layout_info()
        self.sfreq = float(self.info.sfreq)
        src = connection.source
        self._use = np.asarray(src["channels_used"], dtype=int)
        self._scale = np.asarray(src["uv_per_unit"], dtype=np.float64)[:, None]
        self._exact = bool(np.all(self._scale == 1.0))
        self._rows = int(self.info.num_rows)
        self._inlet = None
        self._marker_inlets: list = []
        self._lost = False
        self._pending: list[tuple[float, str]] = []  # (LSL time, label), not yet placed
        self._held: list = []  # (arrival, samples, LSL times) pulled, not yet handed on
        self._buf = np.empty((4096, int(src["channel_count"])), dtype=_DTYPES[src["channel_format"]])
        self._codes: dict[str, float] = {}
        self.marker_labels: dict[float, str] = {}
        self._offset = None  # Unix time - LSL time, measured once
        self._first_ts = None
        self._pylsl = _pylsl(src.get("scope", "machine"))

    # -- the BoardShim surface ------------------------------------------------------------------
    def prepare_session(self, timeout_s: float | None = None) -> None:
        """Resolve the stream (and its marker streams) and open the inlets.

        Parameters
        ----------
        timeout_s : float | None
            How long to look for the streams, s (default: the connection's ``timeout_s``).

        Raises
        ------
        BoardError
            When the EEG stream is not visible within the timeout.
        """
        pylsl, src = self._pylsl, self.connection.source
        timeout = float(timeout_s or src.get("timeout_s", 5.0))
        wanted = [src] + list(src.get("marker_streams", ()))

        def same(i, w):
            if w.get("source_id") and i.source_id() != w["source_id"]:
                return False
            return (i.name(), i.type(), i.hostname()) == (w["name"], w["type"], w["hostname"])

        infos = _resolve(pylsl, lambda infos: all(any(same(i, w) for i in infos) for w in wanted),
                         timeout, settle_s=0.0)
        eeg = [i for i in infos if same(i, src)]
        if not eeg:
            raise BoardError(f"cannot connect to {self.connection.describe()}: it is not visible "
                             f"within {timeout:g} s (streams visible: {_listing(infos)})")
        flags = pylsl.proc_clocksync  # not dejitter: see the module docstring
        try:
            inlet = pylsl.StreamInlet(eeg[0], max_buflen=360, recover=True, processing_flags=flags)
            inlet.open_stream(timeout=timeout)
            inlet.time_correction(timeout=timeout)  # the first clock-offset estimate, now
        except (RuntimeError, TimeoutError) as exc:
            raise BoardError(f"cannot connect to {self.connection.describe()}: "
                             f"{type(exc).__name__} {exc}") from None
        self._marker_inlets = []
        for w in src.get("marker_streams", ()):
            found = [i for i in infos if same(i, w)]
            if not found:
                logger.warning("LSL marker stream %r is not visible; recording without it", w["name"])
                continue
            m = pylsl.StreamInlet(found[0], max_buflen=360, recover=True, processing_flags=flags)
            try:
                m.open_stream(timeout=timeout)
            except (RuntimeError, TimeoutError) as exc:
                logger.warning("LSL marker stream %r: %s; recording without it", w["name"], exc)
                continue
            self._marker_inlets.append((w["name"], m))
        if self._offset is None:
            self._offset = time.time() - pylsl.local_clock()
        self._inlet, self._lost = inlet, False

    def start_stream(self, buffer_size: int = 0) -> None:
        """Nothing to start: the inlet receives from :meth:`prepare_session` on."""

    def is_prepared(self) -> bool:
        return self._inlet is not None

    def stop_stream(self) -> None:
        """Nothing to stop (the inlets are closed by :meth:`release_session`)."""

    def release_session(self) -> None:
        """Close the inlets (safe to call twice)."""
        inlets = [self._inlet] + [m for _, m in self._marker_inlets]
        self._inlet, self._marker_inlets = None, []
        for inlet in inlets:
            if inlet is None:
                continue
            try:
                inlet.close_stream()
            except RuntimeError:
                pass

    def reconnect(self) -> bool:
        """After a stall: ``False`` while the inlet is intact (liblsl keeps it subscribed and
        recovers it; samples resume by themselves); a lost stream is resolved and opened again.

        Raises
        ------
        BoardError
            When a lost stream is still not visible.
        """
        if self._inlet is not None and not self._lost:
            return False
        self.release_session()
        # briefly: the recorder's loop waits meanwhile, and calls again after its interval
        self.prepare_session(timeout_s=min(1.0, float(self.connection.source.get("timeout_s", 5.0))))
        return True

    def get_board_data(self) -> np.ndarray:
        """Everything received since the last call, in the layout's rows.

        Returns
        -------
        data : ndarray, shape (n_rows, n_samples), float64
            EEG rows in µV, the timestamp row in Unix seconds, the marker row with the codes of
            the markers placed on these samples (0 elsewhere).
        """
        empty = np.zeros((self._rows, 0))
        if self._inlet is None or self._lost:  # lost: the recorder's stall watch reconnects
            return empty
        try:
            while True:
                # liblsl writes the samples straight into the buffer, in the stream's own dtype
                _, t = self._inlet.pull_chunk(timeout=0.0, max_samples=self._buf.shape[0],
                                              dest_obj=self._buf)
                if len(t) == 0:
                    break
                self._held.append((time.monotonic(), self._buf[:len(t)].copy(),
                                   np.asarray(t, dtype=np.float64)))
                if len(t) < self._buf.shape[0]:
                    break
        except RuntimeError as exc:  # pylsl LostError: the source is gone for good
            logger.warning("%s: the stream was lost (%s); looking for it again after the stall "
                           "timeout", self.connection.describe(), exc)
            self._lost = True
        self._pull_markers()
        # with marker streams, samples wait MARKER_HOLD_S after they arrive, so a marker that
        # travels a little slower than its sample still finds it (see the module docstring)
        ready = time.monotonic() - (MARKER_HOLD_S if self._marker_inlets and not self._lost else 0.0)
        n_ready = 0
        while n_ready < len(self._held) and self._held[n_ready][0] <= ready:
            n_ready += 1
        parts = [x for _, x, _ in self._held[:n_ready]]
        stamps = [t for _, _, t in self._held[:n_ready]]
        del self._held[:n_ready]
        if not parts:
            return empty
        ts = np.concatenate(stamps)
        values = np.concatenate(parts)[:, self._use].astype(np.float64).T
        if not self._exact:
            values = values * self._scale
        n_ch = values.shape[0]
        out = np.zeros((self._rows, ts.size))
        out[:n_ch] = values
        out[self.info.timestamp_row] = ts + self._offset
        if self._first_ts is None:
            self._first_ts = float(ts[0])
        self._place_markers(out[self.info.marker_row], ts)
        return out

    # -- markers --------------------------------------------------------------------------------
    def _pull_markers(self) -> None:
        several = len(self._marker_inlets) > 1
        for name, inlet in self._marker_inlets:
            try:
                samples, stamps = inlet.pull_chunk(timeout=0.0, max_samples=1024)
            except RuntimeError as exc:
                logger.warning("LSL marker stream %r lost (%s)", name, exc)
                continue
            for values, t in zip(samples or (), stamps or ()):
                text = "/".join(str(v).strip() for v in values).strip() or "marker"
                self._pending.append((float(t), f"{name}/{text}" if several else text))
        self._pending.sort()

    def _code(self, label: str) -> float:
        if label not in self._codes:
            code = float(MARKER_CODE_BASE + len(self._codes))
            self._codes[label] = code
            self.marker_labels[code] = label
        return self._codes[label]

    def _place_markers(self, row: np.ndarray, ts: np.ndarray) -> None:
        """Put each pending marker up to this chunk's end on the sample nearest its time."""
        half = 0.5 / self.sfreq
        keep = []
        for t, label in self._pending:
            if t > ts[-1] + half:
                keep.append((t, label))  # its sample has not arrived yet
                continue
            if self._first_ts is not None and t < self._first_ts - half:
                logger.warning("LSL marker %r is from before the stream's first sample; not "
                               "written", label)
                continue
            k = int(np.argmin(np.abs(ts - t)))
            if t < ts[0] - half:
                logger.warning("LSL marker %r arrived %.3f s after its sample was recorded; "
                               "written on the first sample not yet recorded", label, ts[0] - t)
            while k < row.size and row[k] != 0:
                k += 1
            if k == row.size:
                keep.append((t, label))  # every later sample of the chunk is taken
                continue
            row[k] = self._code(label)
        self._pending = keep
