"""Mind Monitor CSV exports (Muse headsets) → band-power table, or ``mne.io.Raw`` when raw.

Format quirks
-------------
- Comma-separated with a header (39 columns in the common export): ``TimeStamp``;
  ``Delta_TP9``…``Gamma_TP10``, the Muse SDK's *absolute band powers* as log10 (Bels);
  ``RAW_TP9``…``RAW_TP10`` in µV on a 0–1682 scale (about 800 at rest); ``AUX_RIGHT``;
  accelerometer and gyro; ``HeadBandOn``; ``HSI_TP9``… (horseshoe fit: 1 good, 2 medium,
  4 bad); ``Battery``; ``Elements``.
- Event rows (``/muse/elements/blink``, ``/Marker/1``…) fill only ``TimeStamp`` and
  ``Elements``; they are not samples. They become the ``events`` table (and annotations when
  reading raw EEG).
- ``TimeStamp`` is ``YYYY-MM-DD HH:MM:SS.mmm`` in the phone's *local* wall-clock time with no
  zone: ``meas_date`` stores it as if it were UTC (so it may be off by the phone's UTC offset;
  the ``note`` says so). A spreadsheet may have mangled it to ``MM:SS.f`` (``19:18.8``): onsets
  are then derived from minutes and seconds, unwrapping hour roll-overs (0.1 s resolution, date
  unknown). Anything else unparseable falls back to row order at 1 s per row, and the note says
  so.
- The usual "1 row per second" export holds *precomputed* band powers: the RAW columns are one
  sample per second and cannot give a spectrum. :func:`read_precomputed` returns them as a
  :class:`PrecomputedBandPowers`; asking for raw EEG raises
  :class:`~neurofeedback.errors.PrecomputedFeaturesError`.
- With "constant" recording, Mind Monitor writes every sample (~256 rows/s, ~4 ms apart); then
  ``RAW_*`` are read as raw EEG (µV → V; the ~800 µV offset is kept, the preprocessing
  high-passes) at the rate estimated from the timestamps (snapped to 256 Hz within 2%), and
  ``AUX_*`` are typed ``misc``.
- Muse's band definitions (Hz): delta 1–4, theta 4–8, alpha 7.5–13, beta 13–30, gamma 30–44
  (they overlap: that is Muse's choice, not ours).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from .._logging import use_verbose
from ..errors import PrecomputedFeaturesError, RecordingFormatError
from ._raw import build_raw, railed_or_flat
from ._reference import MUSE
from ._text import check_file, check_finite, first_lines, long_rows, one_line
from ._timing import (
    check_time_order,
    drop_duplicate_rows,
    dropout_annotations,
    estimate_sfreq,
    timestamp_gaps,
)

logger = logging.getLogger("neurofeedback")

#: Muse's band definitions (Hz), as documented for the Muse SDK / Mind Monitor.
MUSE_BANDS = {
    "delta": [1.0, 4.0],
    "theta": [4.0, 8.0],
    "alpha": [7.5, 13.0],
    "beta": [13.0, 30.0],
    "gamma": [30.0, 44.0],
}
MUSE_SFREQ = 256.0
UNITS = "log10 Bels of Muse absolute band power, as computed by the Muse SDK"
# Rows per second above which an export is raw EEG, not precomputed ~1 row/s band powers.
_RAW_MIN_RATE = 50.0

_MMSS = re.compile(r"^(\d{1,3}):(\d{1,2}(?:\.\d*)?)$")
_HHMMSS = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2}(?:\.\d*)?)$")


@dataclass(frozen=True, eq=False)
class PrecomputedBandPowers:
    """Band powers computed by the Muse SDK and exported by Mind Monitor (~1 row/s).

    These are *not* computed by this project: the table holds the file's values as they are.

    Attributes
    ----------
    path : str
        The file read.
    format : str
        ``"mindmonitor_csv"``.
    table : pandas.DataFrame
        Long table, one row per (time, channel, band): ``onset_s`` (s from the first band-power
        row), ``channel``, ``band``, ``absolute_bels`` (the CSV value), ``clean`` (``HSI_<ch> ==
        1`` and ``HeadBandOn == 1``, where those columns exist).
    channels : tuple of str
        E.g. ``("TP9", "AF7", "AF8", "TP10")``.
    bands : dict
        ``{name: [lo, hi]}`` in Hz: Muse's definitions.
    units : str
        What ``absolute_bels`` is.
    meas_date : datetime | None
        First band-power row (phone wall-clock time labelled UTC; None when the date is lost).
    duration_s : float
        From the first to the last band-power row.
    note : str
        Where the numbers come from and how onsets were derived.
    events : pandas.DataFrame
        ``onset_s``, ``description`` of the event rows (blinks, markers…).
    """

    path: str
    format: str
    table: pd.DataFrame
    channels: tuple
    bands: dict
    units: str
    meas_date: datetime | None
    duration_s: float
    note: str
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["onset_s", "description"]))

    def relative_powers(self, *, clean_only: bool = True) -> pd.DataFrame:
        """Per-row relative band powers computed the Muse way (from the precomputed values).

        ``relative = 10**b / sum over the five bands of 10**b`` for each row and channel
        (Mind Monitor's documented formula). Rows missing a band are left out.

        Parameters
        ----------
        clean_only : bool
            Keep only rows whose ``clean`` flag is true.

        Returns
        -------
        rel : pandas.DataFrame
            ``onset_s``, ``channel``, ``band``, ``precomputed_relative``.
        """
        t = self.table
        if clean_only:
            t = t[t["clean"]]
        wide = t.pivot_table(index=["onset_s", "channel"], columns="band", values="absolute_bels",
                             aggfunc="first", dropna=False)
        wide = wide.reindex(columns=list(self.bands)).dropna(how="any")
        lin = np.power(10.0, wide.to_numpy(dtype=np.float64))
        rel = lin / lin.sum(axis=1, keepdims=True)
        out = pd.DataFrame(rel, index=wide.index, columns=list(self.bands))
        out = out.stack().rename("precomputed_relative").reset_index()
        out = out.rename(columns={"level_2": "band"})
        return out[["onset_s", "channel", "band", "precomputed_relative"]]

    def session_means(self, *, clean_only: bool = True) -> pd.DataFrame:
        """Per-channel session means of the precomputed absolute and relative band powers.

        The relative power of each row is ``10**b / sum over bands of 10**b`` (the Muse way),
        then averaged over rows; the absolute mean is the mean of the Bels values. Both are
        labelled ``precomputed_…``: they come from the Muse SDK, not from this project's
        spectra, and are not comparable with them.

        Parameters
        ----------
        clean_only : bool
            Average only rows with a good fit (``clean``).

        Returns
        -------
        means : pandas.DataFrame
            ``channel``, ``band``, ``precomputed_absolute_bels_mean``,
            ``precomputed_relative_mean``, ``n_rows``, ``source``; ``attrs`` hold the bands,
            units and the formula.
        """
        rel = self.relative_powers(clean_only=clean_only)
        t = self.table[self.table["clean"]] if clean_only else self.table
        # the absolute mean uses the same rows as the relative mean (all five bands present)
        keys = rel[["onset_s", "channel"]].drop_duplicates()
        t = t.merge(keys, on=["onset_s", "channel"], how="inner")
        rows = []
        for ch in self.channels:
            for band in self.bands:
                a = t.loc[(t["channel"] == ch) & (t["band"] == band), "absolute_bels"]
                r = rel.loc[(rel["channel"] == ch) & (rel["band"] == band), "precomputed_relative"]
                rows.append({
                    "channel": ch,
                    "band": band,
                    "precomputed_absolute_bels_mean": float(a.mean()) if len(a) else np.nan,
                    "precomputed_relative_mean": float(r.mean()) if len(r) else np.nan,
                    "n_rows": int(len(r)),
                    "source": "Muse SDK (Mind Monitor export), precomputed",
                })
        out = pd.DataFrame(rows)
        out.attrs.update({
            "bands": {k: list(v) for k, v in self.bands.items()},
            "units": self.units,
            "relative": "per row 10**b / sum over bands of 10**b, then the mean over rows",
            "clean_only": clean_only,
            "source": self.note,
        })
        return out


# ---------------------------------------------------------------------------------------------


def _parse_times(path, stamps: pd.Series):
    """Return (seconds from the first row, meas_date or None, note, full_resolution)."""
    s = stamps.astype(str).str.strip()
    n = len(s)
    dated = bool(n) and bool(s.str.match(r"^\d{4}-\d{2}-\d{2}[ T]\d").all())
    full = pd.to_datetime(s, format="ISO8601", errors="coerce") if dated else None
    if dated and full.notna().all():
        sec = (full - full.iloc[0]).dt.total_seconds().to_numpy()
        first = full.iloc[0].to_pydatetime().replace(tzinfo=timezone.utc)
        note = ("TimeStamp is the phone's local wall-clock time without a zone; meas_date stores "
                "it as if UTC")
        return sec, first, note, True
    m = s.str.extract(_HHMMSS)
    if n and m.notna().all().all():
        sec = m[0].astype(float).to_numpy() * 3600 + m[1].astype(float).to_numpy() * 60 + m[2].astype(float).to_numpy()
        sec = _unwrap(sec, 86400.0)
        note = ("TimeStamp holds only the time of day (date lost, e.g. by a spreadsheet): onsets "
                "from hours, minutes and seconds; meas_date unknown")
        return sec - sec[0], None, note, False
    m = s.str.extract(_MMSS)
    if n and m.notna().all().all():
        sec = m[0].astype(float).to_numpy() * 60 + m[1].astype(float).to_numpy()
        sec = _unwrap(sec, 3600.0)
        note = ("TimeStamp was mangled to minutes:seconds.tenths (e.g. '19:18.8', by a "
                "spreadsheet): onsets derived from minutes and seconds with hour roll-overs "
                "unwrapped (0.1 s resolution); date and hour lost, meas_date unknown")
        return sec - sec[0], None, note, False
    logger.warning("%s: TimeStamp cannot be parsed (e.g. %r); onsets fall back to row order at 1 s "
                   "per row", path, s.iloc[0] if n else "")
    note = "TimeStamp could not be parsed: onsets are the row order at 1 s per row (approximate)"
    return np.arange(n, dtype=float), None, note, False


def _unwrap(sec: np.ndarray, period: float) -> np.ndarray:
    jumps = np.diff(sec) < -period / 2
    return sec + np.concatenate([[0.0], np.cumsum(jumps) * period])


def _event_label(text: str) -> str:
    t = str(text).strip()
    m = re.match(r"^/?marker/(.+)$", t, re.I)
    if m:
        return f"marker/{m.group(1)}"
    return t.rstrip("/").rsplit("/", 1)[-1] or t


class _Export:
    """A parsed Mind Monitor export."""

    def __init__(self, path):
        self.path = p = check_file(path)
        # rows longer than the header: pandas would silently take the first column as the index
        # (shifting every column) or drop the extra fields; read the header's columns, say what
        # was left out (Mind Monitor has no marker column for them to belong to)
        head = first_lines(p, 1)
        n_hdr = len(head[0].split(",")) if head else 0
        extra = long_rows(p, sep=",", skiprows=1, ncols=n_hdr, limit=p.stat().st_size) if n_hdr else {}
        extra = {r: f for r, f in extra.items() if any(f)}
        try:
            df = pd.read_csv(p, sep=",", header=0, engine="c", low_memory=False,
                             skipinitialspace=True, index_col=False,
                             usecols=range(n_hdr) if extra else None)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as err:
            raise RecordingFormatError(p, f"cannot be parsed as a Mind Monitor CSV ({one_line(err)[:120]})") from None
        if extra:
            row, fields = min(extra.items())
            logger.warning("%s: %d row(s) have more fields than the header's %d; their extra fields "
                           "were ignored (first at data row %d: %s)", p, len(extra), n_hdr, row + 1,
                           ",".join(fields)[:40])
        df.columns = [str(c).strip() for c in df.columns]
        if not df.columns.size or df.columns[0].lower() != "timestamp":
            raise RecordingFormatError(p, "is not a Mind Monitor CSV (no 'TimeStamp' header)")
        self.channels = tuple(c[len("Delta_"):] for c in df.columns if c.startswith("Delta_"))
        self.raw_cols = [c for c in df.columns if c.startswith("RAW_")]
        self.aux_cols = [c for c in df.columns if c.upper().startswith("AUX_")]
        self.band_cols = [f"{b.capitalize()}_{ch}" for b in MUSE_BANDS for ch in self.channels
                          if f"{b.capitalize()}_{ch}" in df.columns]
        value_cols = self.band_cols + self.raw_cols
        if not value_cols:
            raise RecordingFormatError(p, "is a Mind Monitor CSV without band-power or RAW columns")
        for c in value_cols + self.aux_cols + [c for c in ("HeadBandOn",) if c in df.columns] + \
                [c for c in df.columns if c.startswith("HSI_")]:
            if df[c].dtype == object:
                num = pd.to_numeric(df[c], errors="coerce")
                bad = num.isna() & df[c].notna() & (df[c].astype(str).str.strip() != "")
                if bad.any():
                    i = int(np.flatnonzero(bad.to_numpy())[0])
                    raise RecordingFormatError(
                        p, f"non-numeric value {str(df[c].iloc[i])[:20]!r} in column {c!r} at line {i + 2}"
                    )
                df[c] = num
        is_data = df[value_cols].notna().any(axis=1).to_numpy()
        if is_data.sum() < 2:
            raise RecordingFormatError(p, f"is truncated: {int(is_data.sum())} data row(s), need at least 2")
        sec, meas_date, note, full_res = _parse_times(p, df.iloc[:, 0])
        self.df = df
        self.is_data = is_data
        t_data = sec[is_data]
        self.t0 = t_data[0]
        self.onsets = t_data - self.t0
        self.meas_date = meas_date
        if meas_date is not None:
            self.meas_date = meas_date + pd.Timedelta(seconds=float(self.t0)).to_pytimedelta()
        self.time_note = note
        self.full_res = full_res
        span = self.onsets[-1] - self.onsets[0]
        self.rows_per_s = (len(t_data) - 1) / span if span > 0 else np.inf
        elements = df["Elements"] if "Elements" in df.columns else pd.Series([np.nan] * len(df))
        ev = ~is_data & elements.notna().to_numpy()
        self.events = pd.DataFrame({
            "onset_s": sec[ev] - self.t0,
            "description": [_event_label(e) for e in elements[ev]],
        })

    @property
    def is_raw(self) -> bool:
        return bool(self.raw_cols) and self.rows_per_s >= _RAW_MIN_RATE

    def precomputed(self) -> PrecomputedBandPowers:
        df = self.df.loc[self.is_data]
        if not self.band_cols:
            raise RecordingFormatError(self.path, "has no band-power columns (Delta_TP9…)")
        bands = [b for b in MUSE_BANDS if all(f"{b.capitalize()}_{ch}" in df.columns for ch in self.channels)]
        n = len(df)
        n_ch, n_b = len(self.channels), len(bands)
        values = np.empty((n, n_ch, n_b))
        clean = np.ones((n, n_ch), dtype=bool)
        head_on = df["HeadBandOn"].to_numpy(dtype=float) == 1 if "HeadBandOn" in df.columns else None
        for j, ch in enumerate(self.channels):
            for k, b in enumerate(bands):
                values[:, j, k] = df[f"{b.capitalize()}_{ch}"].to_numpy(dtype=float)
            if f"HSI_{ch}" in df.columns:
                clean[:, j] &= df[f"HSI_{ch}"].to_numpy(dtype=float) == 1
            if head_on is not None:
                clean[:, j] &= head_on
        table = pd.DataFrame({
            "onset_s": np.repeat(self.onsets, n_ch * n_b),
            "channel": np.tile(np.repeat(np.array(self.channels, dtype=object), n_b), n),
            "band": np.tile(np.array(bands, dtype=object), n * n_ch),
            "absolute_bels": values.reshape(-1),
            "clean": np.repeat(clean.reshape(-1), n_b),
        })
        note = (f"Band powers precomputed by the Muse SDK and exported by Mind Monitor "
                f"(~{self.rows_per_s:.2g} rows/s), read as they are from {self.path.name}; "
                f"clean = HSI == 1 and HeadBandOn == 1; {self.time_note}")
        return PrecomputedBandPowers(
            path=str(self.path), format="mindmonitor_csv", table=table,
            channels=tuple(self.channels), bands={b: list(MUSE_BANDS[b]) for b in bands},
            units=UNITS, meas_date=self.meas_date,
            duration_s=float(self.onsets[-1] - self.onsets[0]), note=note,
            events=self.events.reset_index(drop=True),
        )

    def raw(self):
        p = self.path
        df = self.df.loc[self.is_data]
        names = [c[len("RAW_"):] for c in self.raw_cols] + list(self.aux_cols)
        sig = df[self.raw_cols + self.aux_cols].to_numpy(dtype=np.float64)
        check_finite(p, sig, names, first_data_line=2, what="RAW")
        onsets = self.onsets
        if self.full_res:  # honest time: duplicates dropped, jumps back bridged, reversals refused
            lines = 2 + np.flatnonzero(self.is_data)
            keep = drop_duplicate_rows(p, np.column_stack([onsets, sig]), first_data_line=2,
                                       line_of=lambda i: int(lines[i]))
            if not keep.all():
                onsets, sig, lines = onsets[keep], sig[keep], lines[keep]
            onsets = check_time_order(p, onsets, sfreq=MUSE_SFREQ, first_data_line=2,
                                      line_of=lambda i: int(lines[i]), what="TimeStamp values")
        sfreq = estimate_sfreq(p, onsets, nominal=MUSE_SFREQ, what="TimeStamp values")
        annotations = []
        if self.full_res:
            gaps = timestamp_gaps(onsets, sfreq, path=p)
            if gaps:
                logger.warning("%s: %d gap(s) in TimeStamp (%d samples missing), annotated "
                               "BAD_dropout", p, len(gaps), sum(g for _, g in gaps))
            annotations += dropout_annotations(gaps, sfreq)
        n = len(onsets)
        for onset, desc in zip(self.events["onset_s"], self.events["description"]):
            i = int(np.searchsorted(onsets, onset))
            if 0 <= i < n:
                annotations.append((i / sfreq, 0.0, desc))
        n_eeg = len(self.raw_cols)
        data = np.ascontiguousarray(sig.T)
        bads = railed_or_flat(data[:n_eeg], names[:n_eeg])
        for name, why in bads.items():
            logger.info("%s: channel %s marked bad: %s", p, name, why)
        return build_raw(data, names, ["eeg"] * n_eeg + ["misc"] * len(self.aux_cols), sfreq,
                         meas_date=self.meas_date, annotations=annotations, bads=bads,
                         device_info={"type": "Muse", "model": "Mind Monitor"}, reference=MUSE)


def _precomputed_error(path, rows_per_s):
    return PrecomputedFeaturesError(
        path, f"is a Mind Monitor band-power export (~{rows_per_s:.2g} row/s): it holds "
        "precomputed band powers, not raw EEG; use read_precomputed"
    )


def read_mindmonitor_csv(path, *, verbose=None):
    """Read the raw EEG of a Mind Monitor export recorded at a constant ~256 rows/s.

    Parameters
    ----------
    path : str | Path
    verbose : bool | str | int | None
        Log level of the ``neurofeedback`` logger during the call.

    Returns
    -------
    raw : mne.io.RawArray
        ``RAW_TP9``… as EEG (named ``TP9``…, volts, with positions), ``AUX_*`` as ``misc``;
        event rows as annotations.

    Raises
    ------
    PrecomputedFeaturesError
        When the export is the usual ~1 row/s band-power file (use :func:`read_precomputed`).
    RecordingFormatError
        When the file cannot be read as a Mind Monitor export.
    """
    with use_verbose(verbose):
        exp = _Export(path)
        if not exp.is_raw:
            raise _precomputed_error(exp.path, exp.rows_per_s)
        return exp.raw()


def read_precomputed(path, *, verbose=None) -> PrecomputedBandPowers:
    """Read the precomputed band powers of a Mind Monitor export.

    Parameters
    ----------
    path : str | Path
    verbose : bool | str | int | None
        Log level of the ``neurofeedback`` logger during the call.

    Returns
    -------
    bp : PrecomputedBandPowers
        The file's band powers (event rows excluded), Muse's band definitions, how onsets were
        derived.

    Raises
    ------
    RecordingFormatError
        When the file is not a Mind Monitor export with band-power columns.
    """
    with use_verbose(verbose):
        from .detect import detect_format

        fmt = detect_format(path)
        if fmt != "mindmonitor_csv":
            raise RecordingFormatError(
                path, f"is a {fmt} recording, not a Mind Monitor export of precomputed band powers"
            )
        return _Export(path).precomputed()
