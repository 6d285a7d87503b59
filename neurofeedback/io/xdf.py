"""XDF (LabRecorder) through pyxdf: one EEG stream, its marker streams as annotations.

An XDF file is a chunked binary container (magic ``XDF:``) holding several LSL streams, each with
an XML header (name, type, channel count, nominal rate, channel format, ``<desc>``), its samples
with LSL timestamps, clock offsets and a footer.

Format quirks and the choices made here
---------------------------------------
- **Time**: ``pyxdf.load_xdf`` with ``synchronize_clocks`` and ``handle_clock_resets``: every
  stream's timestamps are on the recorder's clock, and a sender's clock reset starts a new clock
  segment instead of a jump back. The rate (:func:`~neurofeedback.io._timing.estimate_sfreq`) and
  the gaps (:func:`~neurofeedback.io._timing.timestamp_gaps`, the rule of the text readers, robust
  to late arrivals) come from these synchronised stamps; then the EEG's stamps are **dejittered
  here**, a least-squares line per segment between gaps and clock resets (what pyxdf's
  ``dejitter_timestamps`` does, but pyxdf only breaks segments at steps over 1 s and 500
  samples, so it smears a shorter dropout into a rate change: a 0.3 s gap in a 250 Hz stream
  gave 244.5 Hz and no dropout). Samples keep their order; gaps of at least
  :data:`DISCONNECT_MIN_S` are filled (a straight line) and annotated ``BAD_disconnect`` so the
  time axis stays the recorder's clock; shorter ones are ``BAD_dropout``. Markers are placed
  by the dejittered stamps, so a sender clock a little off its nominal rate does not move them.
- **The EEG stream**: the one whose ``type`` is ``EEG`` (any case) and whose format is numeric,
  or the stream named by ``stream=`` (any numeric stream). Empty streams are skipped (logged);
  several EEG streams without ``stream=`` is an error naming them; no EEG stream is an error
  naming the streams the file holds.
- **Rate**: the nominal rate, checked against the timestamps
  (:func:`~neurofeedback.io._timing.estimate_sfreq`: within 2% it is the nominal rate, else the
  measured rate is used with a warning, as for every reader). An EEG stream with nominal rate 0
  (irregular) is refused: a ``Raw`` needs a constant rate and resampling an irregular stream is
  a choice this reader does not make silently.
- **Channels**: labels, types and units from ``<desc><channels><channel>``. Missing labels give
  ``EEG 1…N``; standard 10-05 sites are spelled as such. Channels typed other than EEG (when any
  is typed EEG) are kept as ``misc``. Units ``µV``/``uV``/``microvolts`` are used as they are,
  ``mV``/``millivolts``, ``V``/``volts`` and ``nV`` are converted; a missing unit is read as µV
  (the LSL convention for EEG) and said at INFO, any other unit is read as µV with a warning.
- **Markers**: every stream of ``string`` format (LSL marker streams have nominal rate 0, but a
  string stream at any rate holds text, not signal) becomes point annotations (duration 0) at
  its synchronised timestamps, relative to the EEG's first sample: the text itself
  (channels joined by ``/``), or ``<stream name>/<text>`` when several marker streams hold
  samples. Markers outside the EEG's
  span are not placed and are counted in a warning. Other numeric streams (accelerometer,
  counters…) are ignored and listed in one INFO line.
- **meas_date**: LSL timestamps count from the sender's boot, not from 1970, and a stream's
  ``created_at`` is on that clock too, so neither is a date. The file header's ``datetime``
  (written by recent LabRecorder versions when the file is opened; the first sample follows
  within seconds) is used when present; timestamps that look like Unix time (> 1e9 s) give
  the first sample's date instead. Otherwise ``meas_date`` is ``None``.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import numpy as np

from .._logging import use_verbose
from ..errors import RecordingFormatError
from ._raw import build_raw, montage_names, railed_or_flat, standard_name
from ._reference import UNKNOWN
from ._text import check_file, one_line
from ._timing import estimate_sfreq, fill_disconnects, meas_date_from_unix, parse_iso_utc, timestamp_gaps

logger = logging.getLogger("neurofeedback")

#: Gaps in the EEG timestamps at least this long (s) are filled and annotated ``BAD_disconnect``
#: (the value the BrainFlow CSV reader uses).
DISCONNECT_MIN_S = 1.0

#: µV per unit, by the unit text of ``<desc><channels><channel><unit>`` (lower case).
_UNITS_UV = {
    "µv": 1.0, "μv": 1.0, "uv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
    "mv": 1e3, "millivolt": 1e3, "millivolts": 1e3,
    "v": 1e6, "volt": 1e6, "volts": 1e6,
    "nv": 1e-3, "nanovolt": 1e-3, "nanovolts": 1e-3,
}


class _Collect(logging.Filter):
    """Stop pyxdf's own log records; keep those at ERROR and above to repeat them as ours."""

    def __init__(self):
        super().__init__()
        self.errors: list[str] = []

    def filter(self, record):
        if record.levelno >= logging.ERROR:
            self.errors.append(one_line(record.getMessage()))
        return False


@contextmanager
def _pyxdf_logs():
    """During one call, hide pyxdf's INFO/WARNING records about facts handled here (e.g.
    "Segments and clock-segments differ" after a clock reset) without changing any logger's
    level, and collect its errors (e.g. "found likely XDF file corruption") to be said once."""
    lgs = [logging.getLogger("pyxdf"), logging.getLogger("pyxdf.pyxdf")]
    flt = _Collect()
    for lg in lgs:
        lg.addFilter(flt)
    try:
        yield flt.errors
    finally:
        for lg in lgs:
            lg.removeFilter(flt)


def _first(info: dict, key: str, default=None):
    """The first value of an XML field as pyxdf returns it (``{'name': ['x']}`` → ``'x'``)."""
    v = info.get(key) if isinstance(info, dict) else None
    if isinstance(v, list):
        v = v[0] if v else None
    return default if v is None else v


def _text(info, key, default=""):
    v = _first(info, key, default)
    return v.strip() if isinstance(v, str) else default


def _nominal(info) -> float:
    try:
        return float(_text(info, "nominal_srate", "0") or 0.0)
    except ValueError:
        return 0.0


def _describe(s) -> str:
    i = s["info"]
    return (f"{_text(i, 'name')!r} (type {_text(i, 'type') or '?'}, {_text(i, 'channel_format') or '?'}, "
            f"{_nominal(i):g} Hz, {len(s['time_stamps'])} samples)")


def _is_string(s) -> bool:
    return _text(s["info"], "channel_format").lower() == "string"


def _channels(info) -> list[dict]:
    """``[{'label', 'type', 'unit'}]`` from ``<desc><channels>`` (may be empty)."""
    desc = _first(info, "desc")
    chans = _first(desc, "channels") if isinstance(desc, dict) else None
    items = chans.get("channel", []) if isinstance(chans, dict) else []
    return [{k: _text(c, k) for k in ("label", "type", "unit")} for c in items if isinstance(c, dict)]


def _pick_eeg(p, streams, stream):
    numeric = [s for s in streams if not _is_string(s)]
    if stream is not None:
        named = [s for s in streams if _text(s["info"], "name") == str(stream)]
        if not named:
            have = ", ".join(_describe(s) for s in streams) or "none"
            raise RecordingFormatError(p, f"has no stream named {stream!r}; its streams: {have}")
        if all(_is_string(s) for s in named):
            raise RecordingFormatError(p, f"stream {stream!r} holds text (markers), not signal")
        cands = [s for s in named if not _is_string(s)]
    else:
        cands = [s for s in numeric if _text(s["info"], "type").lower() == "eeg"]
        if not cands:
            have = ", ".join(_describe(s) for s in streams) or "none"
            raise RecordingFormatError(
                p, f"holds no EEG stream (no numeric stream of type EEG); its streams: {have}; "
                "choose one by its name (--stream NAME)"
            )
    full = [s for s in cands if len(s["time_stamps"]) > 0]
    for s in cands:
        if len(s["time_stamps"]) == 0:
            logger.info("%s: skipped the empty stream %s", p, _describe(s))
    if not full:
        raise RecordingFormatError(p, "its EEG stream holds no samples: " + ", ".join(_describe(s) for s in cands))
    if len(full) > 1:
        raise RecordingFormatError(
            p, f"holds {len(full)} EEG streams ({', '.join(_describe(s) for s in full)}); "
            "choose one by its name (--stream NAME)"
        )
    return full[0]


def _names_types_units(p, s, n: int):
    chans = _channels(s["info"])
    if chans and len(chans) != n:
        logger.warning("%s: the stream's description lists %d channels for %d; its labels are not used",
                       p, len(chans), n)
        chans = []
    lookup = {x.lower(): x for x in montage_names()}
    labels = [standard_name(c["label"], lookup) if c.get("label") else "" for c in chans] or [""] * n
    labels = [lab or f"EEG {k + 1}" for k, lab in enumerate(labels)]
    if len(set(labels)) != n:
        dup = sorted({x for x in labels if labels.count(x) > 1})
        logger.warning("%s: repeated channel labels %s; channels named EEG 1…%d", p, ", ".join(dup), n)
        labels = [f"EEG {k + 1}" for k in range(n)]
    typed = [c.get("type", "").lower() for c in chans] or [""] * n
    any_eeg = any(t == "eeg" for t in typed)
    types = ["eeg" if (t == "eeg" or not any_eeg) else "misc" for t in typed]
    scale = np.ones(n)
    missing, unknown = [], {}
    for k, c in enumerate(chans or [{}] * n):
        unit = (c.get("unit") or "").strip()
        if not unit:
            missing.append(labels[k])
            continue
        f = _UNITS_UV.get(unit.lower().replace(" ", ""))
        if f is None:
            unknown.setdefault(unit, []).append(labels[k])
        else:
            scale[k] = f
    if missing:
        logger.info("%s: no unit given for %s; read as µV (the LSL convention for EEG)", p,
                    "any channel" if len(missing) == n else ", ".join(missing))
    for unit, chs in unknown.items():
        logger.warning("%s: unit %r of %s is not a voltage unit this reader knows; read as µV", p, unit,
                       ", ".join(chs))
    return labels, types, scale


def _meas_date(header, ts0):
    if ts0 > 1e9:
        return meas_date_from_unix(ts0)
    return parse_iso_utc(_text(header.get("info", {}), "datetime") or None)


def _load(p):
    try:
        import pyxdf
    except ImportError:  # a dependency; only a broken install lacks it
        raise RecordingFormatError(p, "is an XDF file, which needs pyxdf (pip install pyxdf)") from None
    try:
        with _pyxdf_logs() as errors:
            out = pyxdf.load_xdf(str(p), synchronize_clocks=True, handle_clock_resets=True,
                                 dejitter_timestamps=False)  # dejittered here (_dejitter)
    except Exception as err:  # noqa: BLE001
        # pyxdf raises many types (ValueError, struct.error, EOFError, XML ParseError, IndexError…)
        # for damaged files; all mean "cannot be read".
        msg = one_line(err) or type(err).__name__
        raise RecordingFormatError(p, f"cannot be read as XDF by pyxdf ({type(err).__name__}: {msg[:160]})") from None
    for text in dict.fromkeys(errors):
        logger.warning("%s: pyxdf: %s (the chunks it could read are used)", p, text[:200])
    return out


def _marker_label(prefix: str, values) -> str:
    vals = [str(v).strip() for v in (values if isinstance(values, (list, tuple, np.ndarray)) else [values])]
    text = "/".join(v for v in vals if v) or "(empty)"
    return f"{prefix}/{text}" if prefix else text


def read_xdf(path, *, stream=None, verbose=None):
    """Read the EEG stream of an XDF file (LabRecorder) with its marker streams.

    Parameters
    ----------
    path : str | Path
    stream : str | None
        Name of the stream to read (any numeric stream); ``None`` picks the one stream of type
        ``EEG``.
    verbose : bool | str | int | None
        Log level of the ``neurofeedback`` logger during the call.

    Returns
    -------
    raw : mne.io.RawArray
        Preloaded, in volts, shape (n_channels, n_times) at the stream's rate: EEG first
        (``eeg``), other channels of the stream as ``misc``; point annotations (the marker
        text, see the module notes) from the string streams, onsets in s from the EEG's first
        sample; ``BAD_disconnect`` / ``BAD_dropout`` for gaps; ``meas_date`` when the file says
        when (see the module notes).

    Raises
    ------
    RecordingFormatError
        Damaged file, no (usable) EEG stream (the message names the streams), several EEG
        streams without ``stream``, an irregular EEG stream (nominal rate 0), fewer than 2
        samples, non-finite values, timestamps that go back after synchronisation.
    """
    with use_verbose(verbose):
        return _read(path, stream)


def _read(path, stream):
    p = check_file(path)
    streams, header = _load(p)
    if not streams:
        raise RecordingFormatError(p, "holds no streams")
    eeg = _pick_eeg(p, streams, stream)
    info = eeg["info"]
    name = _text(info, "name")
    others = [s for s in streams if s is not eeg and not _is_string(s)]
    if others:
        logger.info("%s: read stream %r; ignored %d other numeric stream(s): %s", p, name, len(others),
                    ", ".join(_describe(s) for s in others))
    nominal = _nominal(info)
    ts = np.asarray(eeg["time_stamps"], dtype=np.float64)
    if not eeg.get("footer"):
        logger.warning("%s: stream %r has no footer: the recording was probably cut off (%d samples read)",
                       p, name, ts.size)
    if nominal <= 0:
        raise RecordingFormatError(
            p, f"its EEG stream {name!r} is irregular (nominal rate 0, {ts.size} samples); a recording "
            "needs a constant sampling rate"
        )
    series = np.asarray(eeg["time_series"])
    if series.ndim == 1:
        series = series[:, None]
    n = ts.size
    if n < 2:
        raise RecordingFormatError(p, f"its EEG stream {name!r} is truncated: {n} sample(s), need at least 2")
    try:
        sig = series.astype(np.float64).T  # (n_channels, n_times)
    except (TypeError, ValueError):
        raise RecordingFormatError(p, f"stream {name!r} does not hold numbers") from None
    bad = ~np.isfinite(sig)
    if bad.any():
        ch, i = np.argwhere(bad)[0]
        raise RecordingFormatError(p, f"stream {name!r} holds {int(bad.sum())} non-finite value(s), the "
                                      f"first in channel {ch + 1} at sample {i + 1}")
    labels, types, scale = _names_types_units(p, eeg, sig.shape[0])
    data = sig * scale[:, None]
    sfreq = estimate_sfreq(p, ts, nominal=nominal, what=f"timestamps of stream {name!r}")
    gaps = timestamp_gaps(ts, sfreq)
    if gaps:
        logger.warning("%s: %d gap(s) in the timestamps of stream %r (%d samples missing)", p, len(gaps), name,
                       sum(g for _, g in gaps))
    resets = [int(a) for a, _ in info.get("clock_segments", ()) if int(a) > 0]
    ts = _dejitter(ts, sfreq, sorted({i for i, _ in gaps} | set(resets)))
    back = np.flatnonzero(np.diff(ts) <= 0)
    if back.size:
        raise RecordingFormatError(p, f"stream {name!r}: timestamps go back at {back.size} place(s) even after "
                                      f"clock synchronisation (first at sample {back[0] + 2})")
    data, new_index, annotations = fill_disconnects(data, gaps, sfreq, min_s=DISCONNECT_MIN_S)
    annotations += _markers(p, streams, ts, new_index, sfreq, data.shape[1])
    order = [k for k, t in enumerate(types) if t == "eeg"] + [k for k, t in enumerate(types) if t != "eeg"]
    data = data[order]
    labels = [labels[k] for k in order]
    types = [types[k] for k in order]
    n_eeg = types.count("eeg")
    bads = railed_or_flat(data[:n_eeg], labels[:n_eeg])
    for ch, why in bads.items():
        logger.info("%s: channel %s marked bad: %s", p, ch, why)
    desc = _first(info, "desc")
    maker = _text(desc, "manufacturer") if isinstance(desc, dict) else ""
    model = f"{name} ({maker})" if maker else name
    if len(model) > 100:  # the catalog's device column holds 128 characters (type + model)
        model = model[:99] + "…"
    device = {"type": (_text(info, "type") or "XDF stream")[:24], "model": model}
    ref = _reference(desc)
    return build_raw(np.ascontiguousarray(data), labels, types, sfreq,
                     meas_date=_meas_date(header, float(ts[0])), annotations=annotations, bads=bads,
                     device_info=device, reference=ref)


def _dejitter(ts: np.ndarray, sfreq: float, breaks) -> np.ndarray:
    """Least-squares line through (sample index, timestamp) per segment between ``breaks``.

    Parameters
    ----------
    ts : ndarray, shape (n_times,), s
        Synchronised timestamps.
    sfreq : float
        Hz; the slope of segments too short (< 10 samples) or not increasing.
    breaks : list of int
        First sample of each new segment (gaps, clock resets).

    Returns
    -------
    ts : ndarray, shape (n_times,), s
    """
    out = np.empty_like(ts)
    edges = [0, *[b for b in breaks if 0 < b < ts.size], ts.size]
    for a, b in zip(edges[:-1], edges[1:]):
        i = np.arange(a, b, dtype=np.float64)
        slope = 1.0 / sfreq
        if b - a >= 10:
            fit = np.polyfit(i - i.mean(), ts[a:b], 1)[0]
            if fit > 0:
                slope = fit
        out[a:b] = ts[a:b].mean() + (i - i.mean()) * slope
    return out


def _reference(desc) -> str:
    """``<desc><reference><label>`` (the XDF meta-data convention for EEG), else unknown."""
    ref = _first(desc, "reference") if isinstance(desc, dict) else None
    label = _text(ref, "label") if isinstance(ref, dict) else ""
    return label or UNKNOWN


def _markers(p, streams, ts, new_index, sfreq, n_times):
    """Annotations for every string stream, at their synchronised times in the EEG's time axis."""
    out, outside = [], 0
    end = (n_times - 1) / sfreq  # the last sample's time: MNE drops annotations after it
    marker_streams = [s for s in streams if _is_string(s)]
    for s in marker_streams:
        if len(s["time_stamps"]) == 0:
            logger.info("%s: skipped the empty marker stream %s", p, _describe(s))
    marker_streams = [s for s in marker_streams if len(s["time_stamps"])]
    several = len(marker_streams) > 1
    for s in marker_streams:
        mts = np.asarray(s["time_stamps"], dtype=np.float64)
        sname = _text(s["info"], "name") if several else ""
        for t, vals in zip(mts, s["time_series"]):
            j = int(np.clip(np.searchsorted(ts, t, side="right") - 1, 0, ts.size - 1))
            onset = (new_index[j] + (t - ts[j]) * sfreq) / sfreq
            if not (-0.5 / sfreq <= onset <= end + 0.5 / sfreq):  # within half a sample of the span
                outside += 1
                continue
            out.append((max(0.0, min(onset, end)), 0.0, _marker_label(sname, vals)))
    if outside:
        logger.warning("%s: %d marker(s) fall outside the EEG stream's time span and are not placed",
                       p, outside)
    return out

