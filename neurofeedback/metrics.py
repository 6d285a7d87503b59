"""Session-level metrics in long form: the rows the catalog stores and the trends analyse.

One row per (block, metric, channel) of a session summary (:meth:`ProcessedRecording.summary`):
``block`` is ``"session"`` for the whole-session values (every clean epoch of the recording) and
a block label (``eyes-open``, ``eyes-closed``, ``meditation``, …; see :mod:`neurofeedback.blocks`)
for the values of that block's clean epochs. A block with too few clean epochs has no rows.

=========================  ======================  ==========================================
metric                     channel                 unit
=========================  ======================  ==========================================
``relative_<band>``        each EEG, ``mean``,     fraction of broadband power
                           ``posterior``
``absolute_<band>``        as above                µV²
``log10_<band>``           as above                log10(µV²)
``ratio_<a>_<b>``          as above                ratio of absolute powers (``alpha/theta`` →
                                                   ``ratio_alpha_theta``)
``iaf``, ``iaf_cog``       as above                Hz (channels without a clear peak are absent)
``aperiodic_exponent``     as above                1/f exponent (unitless)
``aperiodic_offset``       as above                log10(µV²/Hz)
``aperiodic_r_squared``    as above                R² of the specparam fit (unitless)
``aperiodic_error``        as above                mean absolute error of the specparam fit,
                                                   log10(µV²/Hz)
``periodic_alpha_uv2``     as above                µV²: alpha-band power above the 1/f fit
                                                   (the aperiodic-adjusted alpha)
``alpha_aperiodic_``       as above                fraction of the alpha-band power under the
``fraction``                                       1/f fit
``periodic_alpha_cf``,     as above                Hz: centre and full width of the strongest
``periodic_alpha_bw``                              specparam peak in the IAF range (channels
                                                   without one are absent)
``periodic_alpha_pw``      as above                log10 ratio: its height above the 1/f fit
``faa``                    the pair, e.g.          ln ratio (unitless): ln α right − ln α left
                           ``F4/F3``
``clean_fraction``         each EEG, ``mean``,     fraction of the session's (block's) time
                           ``posterior``           the channel's spectra use
``alpha_vs_eyes_closed``   each EEG, ``mean``,     fraction (a difference of relative alpha,
                           ``posterior``           said in percentage points); block rows only
``feedback_*``             the protocol            see :data:`METRIC_UNITS`; session rows only
=========================  ======================  ==========================================

``mean`` is the average over the good channels of the per-channel values (channels marked bad
have no value in the summary, or are skipped here). ``posterior`` is the average over the good
posterior channels present: those of the shipped ``alpha-up`` protocol
(``neurofeedback/configs/protocols/alpha-up.yaml``: O1, O2, Oz, PO3/4/7/8, POz, Pz, P3/4/7/8, and
on a Muse TP9/TP10, the sites where alpha is largest; :func:`posterior_channels`), so the
metric and the feedback use one list. It is absent when no posterior channel is present.

**Meditation alpha against the same session's eyes-closed rest** (``alpha_vs_eyes_closed``):
for each block other than ``eyes-closed`` that has values, per channel, relative alpha in the
block minus relative alpha in the ``eyes-closed`` block of the same session, where both have a
value; ``mean`` and ``posterior`` average these per-channel differences. A positive value means
more alpha (as a share of 1–45 Hz power) than at eyes-closed rest. Why a difference within the
session: a session's alpha mixes the trait (the person's resting alpha, which long practice may
change; Cahn & Polich, 2006, separate such "trait" changes of the baseline EEG from the "state"
changes during practice) with the day (electrode contact, sleep, time of day) and with the
state the practice induces. What the session's two blocks share cancels in their difference,
which leaves the state change of the practice against rest. The eyes-closed block is the
baseline because meditation is usually practised with eyes closed, and closing the eyes alone
raises posterior alpha markedly (the Berger effect), which an eyes-open baseline would count as
meditation. Relative rather than absolute power, because a fraction of the broadband power
ignores overall amplitude changes (contact, skin) within the session. Both reviews report alpha
power changes during meditation against rest as a frequent finding (mostly increases, varying
with practice and study), so the sign is data, not a target.

References: Cahn, B. R., & Polich, J. (2006). Meditation states and traits: EEG, ERP, and
neuroimaging studies. *Psychological Bulletin*, 132(2), 180–211. Lomas, T., Ivtzan, I., &
Fu, C. H. Y. (2015). A systematic review of the neurophysiology of mindfulness on EEG
oscillations. *Neuroscience & Biobehavioral Reviews*, 57, 401–410.
"""

from __future__ import annotations

import functools
import math

import pandas as pd

from .blocks import EYES_CLOSED, SESSION
from .config import PACKAGE_CONFIGS, read_yaml_mapping

__all__ = ["BLOCK_COLUMNS", "CLEAN_FRACTION_METRIC", "METRIC_COLUMNS", "METRIC_UNITS", "block_table", "metric_unit",
           "posterior_channels", "session_metrics"]

MEAN_CHANNEL = "mean"
#: The metric holding each channel's clean fraction (the trends' quality floor reads it per series).
CLEAN_FRACTION_METRIC = "clean_fraction"
POSTERIOR_CHANNEL = "posterior"
#: The columns of :func:`session_metrics`.
METRIC_COLUMNS = ("metric", "channel", "value", "unit", "block")
#: The columns of :func:`block_table`.
BLOCK_COLUMNS = ("block", "onset_s", "duration_s", "n_epochs", "n_clean_epochs", "clean_fraction",
                 "reason")

METRIC_UNITS = {
    "relative": "fraction",
    "absolute": "uV^2",
    "log10": "log10(uV^2)",
    "ratio": "ratio",
    "iaf": "Hz",
    "iaf_cog": "Hz",
    "aperiodic_exponent": "1",
    "aperiodic_offset": "log10(uV^2/Hz)",
    # specparam (neurofeedback.periodic): R² and mean absolute error of the fit in log10 power;
    # the periodic alpha power is a power (log-normal: trends on the log10 scale, sessions with
    # 0 left out with a reason), its peak height a log10 ratio above the 1/f fit.
    "aperiodic_r_squared": "1",
    "aperiodic_error": "log10(uV^2/Hz)",
    "periodic_alpha_uv2": "uV^2",
    "periodic_alpha_cf": "Hz",
    "periodic_alpha_bw": "Hz",
    "periodic_alpha_pw": "log10 ratio",
    "alpha_aperiodic_fraction": "fraction",
    # FAA = ln(P_right) − ln(P_left) = ln(P_right / P_left): the µV² cancel, so it has no unit.
    # "ln ratio" rather than "": it says what the number is (0 = symmetric, +0.1 ≈ 10 % more
    # alpha on the right), labels read well, and the live feedback already says "ln ratio
    # (faa)". Sentences treat it as dimensionless (statements._DIMENSIONLESS: "0.05 per week");
    # the trends keep it linear (not in trends._LOG_UNITS). Catalog rows stored before this
    # change keep "ln(uV^2)" in their unit column: nothing reads that column back for analysis
    # (the trends and reports use metric_unit()), see Catalog.session_features.
    "faa": "ln ratio",
    "alpha_vs_eyes_closed": "fraction",
    "clean_fraction": "fraction",
    "feedback_reward_rate": "fraction",
    "feedback_time_above_s": "s",
    "feedback_metric_change": "",
    "feedback_metric_change_pct": "%",
}


@functools.lru_cache(maxsize=1)
def posterior_channels() -> tuple[str, ...]:
    """The posterior channels: those of the shipped ``alpha-up`` protocol, in its order.

    Read from the package's own ``configs/protocols/alpha-up.yaml`` (not a
    ``$NEUROFEEDBACK_CONFIGS`` copy), so the stored ``posterior`` rows mean the same in every
    catalog of a version.

    Returns
    -------
    channels : tuple of str
    """
    path = PACKAGE_CONFIGS / "protocols" / "alpha-up.yaml"
    return tuple(str(c) for c in read_yaml_mapping(path, kind="protocol")["channels"])


def metric_unit(metric: str) -> str:
    """Return the unit of a metric name (``relative_alpha`` → ``fraction``)."""
    if metric in METRIC_UNITS:
        return METRIC_UNITS[metric]
    return METRIC_UNITS.get(metric.split("_", 1)[0], "")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def session_metrics(summary: dict) -> pd.DataFrame:
    """Flatten a session summary into long-form metric rows, for the session and its blocks.

    Parameters
    ----------
    summary : dict
        :meth:`neurofeedback.process.ProcessedRecording.summary` (the ``inspect --json`` object).

    Returns
    -------
    metrics : pandas.DataFrame
        Columns :data:`METRIC_COLUMNS` (``metric, channel, value, unit, block``); finite values
        only; ``block`` is ``"session"`` for the whole-session rows, else the block's label
        (blocks without values have no rows). Per-channel metrics get a ``mean`` row (average
        over the channels with a finite value) and a ``posterior`` row (average over the
        posterior ones among them, when any); ``alpha_vs_eyes_closed`` rows for each block but
        ``eyes-closed`` when both blocks have values.
    """
    bads = set(summary.get("bad_channels") or ())
    rows = [(m, ch, v, SESSION) for m, ch, v in _value_rows(summary, bads)]
    fb = summary.get("feedback") or {}
    if fb:
        name = str(fb.get("protocol") or "feedback")
        for key, metric in (("reward_rate", "feedback_reward_rate"),
                            ("time_above_threshold_s", "feedback_time_above_s"),
                            ("metric_change", "feedback_metric_change"),
                            ("metric_change_pct", "feedback_metric_change_pct")):
            if _finite(fb.get(key)):
                rows.append((metric, name, float(fb[key]), SESSION))
    blocks = {label: b for label, b in (summary.get("blocks") or {}).items()
              if isinstance(b, dict) and b.get("band_power")}
    for label, b in blocks.items():
        rows += [(m, ch, v, label) for m, ch, v in _value_rows(b, bads)]
    ec = blocks.get(EYES_CLOSED)
    if ec is not None:
        ec_alpha = _relative_alpha(ec)
        for label, b in blocks.items():
            if label == EYES_CLOSED:
                continue
            alpha = _relative_alpha(b)
            diff = {ch: alpha[ch] - ec_alpha[ch] for ch in alpha if ch in ec_alpha}
            rows += [(m, ch, v, label) for m, ch, v in
                     _per_channel("alpha_vs_eyes_closed", diff, bads)]
    df = pd.DataFrame(rows, columns=["metric", "channel", "value", "block"])
    df["unit"] = [metric_unit(m) for m in df["metric"]]
    return df[list(METRIC_COLUMNS)]


def _relative_alpha(values: dict) -> dict:
    """``{channel: relative alpha}`` of a summary (or block) where finite."""
    rel = (values.get("band_power") or {}).get("relative") or {}
    out = {}
    for ch, bands in rel.items():
        v = (bands or {}).get("alpha")
        if _finite(v):
            out[ch] = float(v)
    return out


def _per_channel(metric: str, values: dict, bads) -> list[tuple[str, str, float]]:
    """Rows of one per-channel metric: each good channel with a finite value, then ``mean`` and
    ``posterior`` (when a posterior channel is among them)."""
    rows, good, posterior = [], [], []
    wanted = {c.upper() for c in posterior_channels()}
    for ch, v in values.items():
        if ch in bads or not _finite(v):
            continue
        rows.append((metric, ch, float(v)))
        good.append(float(v))
        if str(ch).upper() in wanted:
            posterior.append(float(v))
    if good:
        rows.append((metric, MEAN_CHANNEL, sum(good) / len(good)))
    if posterior:
        rows.append((metric, POSTERIOR_CHANNEL, sum(posterior) / len(posterior)))
    return rows


def _value_rows(values: dict, bads) -> list[tuple[str, str, float]]:
    """``(metric, channel, value)`` rows of the value keys of a summary or of one block."""
    rows: list[tuple[str, str, float]] = []
    bp = values.get("band_power") or {}
    for kind in ("relative", "absolute", "log10"):
        table = {ch: v for ch, v in (bp.get(kind) or {}).items() if v}  # bad channels: None
        bands = list(dict.fromkeys(b for ch in table.values() for b in ch))
        for band in bands:
            rows += _per_channel(f"{kind}_{band}", {ch: vals.get(band) for ch, vals in table.items()},
                                 bads)
    ratios = {ch: v for ch, v in (values.get("ratios") or {}).items() if v}
    names = list(dict.fromkeys(r for ch in ratios.values() for r in ch))
    for name in names:
        metric = "ratio_" + name.replace("/", "_")
        rows += _per_channel(metric, {ch: vals.get(name) for ch, vals in ratios.items()}, bads)
    rows += _per_channel("iaf", values.get("iaf_hz") or {}, bads)
    rows += _per_channel("iaf_cog", values.get("iaf_cog_hz") or {}, bads)
    ap = values.get("aperiodic") or {}
    rows += _per_channel("aperiodic_exponent", {ch: (v or {}).get("exponent") for ch, v in ap.items()},
                         bads)
    rows += _per_channel("aperiodic_offset", {ch: (v or {}).get("offset") for ch, v in ap.items()},
                         bads)
    for key, metric in (("r_squared", "aperiodic_r_squared"), ("error", "aperiodic_error")):
        rows += _per_channel(metric, {ch: (v or {}).get(key) for ch, v in ap.items()}, bads)
    pa = values.get("periodic_alpha") or {}
    for key, metric in (("power_uv2", "periodic_alpha_uv2"),
                        ("aperiodic_fraction", "alpha_aperiodic_fraction"),
                        ("cf_hz", "periodic_alpha_cf"), ("bw_hz", "periodic_alpha_bw"),
                        ("pw_log10", "periodic_alpha_pw")):
        rows += _per_channel(metric, {ch: (v or {}).get(key) for ch, v in pa.items()}, bads)
    rows += _per_channel(CLEAN_FRACTION_METRIC, values.get("channel_clean_fraction") or {}, bads)
    for pair, v in (values.get("faa") or {}).items():
        if _finite(v):
            rows.append(("faa", pair, float(v)))
    return rows


def block_table(summary: dict) -> pd.DataFrame:
    """The blocks of a session summary, one row each (what the catalog's ``session_blocks`` holds).

    Parameters
    ----------
    summary : dict
        :meth:`neurofeedback.process.ProcessedRecording.summary`.

    Returns
    -------
    blocks : pandas.DataFrame
        Columns :data:`BLOCK_COLUMNS`: ``block``, ``onset_s`` (s from the first sample; the
        first stretch of a recurring block), ``duration_s`` (s, all its stretches),
        ``n_epochs``, ``n_clean_epochs``, ``clean_fraction`` (NaN without epochs) and
        ``reason`` (why the block has no metric rows, else ``None``), in summary order.
    """
    rows = []
    for label, b in (summary.get("blocks") or {}).items():
        cf = b.get("clean_fraction")
        rows.append((str(label), float(b["onset_s"]), float(b["duration_s"]), int(b["n_epochs"]),
                     int(b["n_clean_epochs"]), float("nan") if cf is None else float(cf),
                     b.get("reason")))
    return pd.DataFrame(rows, columns=list(BLOCK_COLUMNS))
