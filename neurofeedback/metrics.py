"""Session-level metrics in long form: the rows the catalog stores and the trends analyse.

One row per (metric, channel) of a session summary (:meth:`ProcessedRecording.summary`):

========================  =================  ==========================================
metric                    channel            unit
========================  =================  ==========================================
``relative_<band>``       each EEG, ``mean``  fraction of broadband power
``absolute_<band>``       each EEG, ``mean``  µV²
``log10_<band>``          each EEG, ``mean``  log10(µV²)
``ratio_<a>_<b>``         each EEG, ``mean``  ratio of absolute powers (``alpha/theta`` →
                                             ``ratio_alpha_theta``)
``iaf``, ``iaf_cog``      each EEG, ``mean``  Hz (channels without a clear peak are absent)
``aperiodic_exponent``    each EEG, ``mean``  1/f exponent (unitless)
``aperiodic_offset``      each EEG, ``mean``  log10(µV²/Hz)
``faa``                   the pair, e.g.      ln(µV²) difference, right − left
                          ``F4/F3``
========================  =================  ==========================================

``mean`` is the average over the session's good channels of the per-channel values (channels
marked bad are not in the summary's per-channel values with a finite value, or are skipped
here).
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["METRIC_UNITS", "metric_unit", "session_metrics"]

MEAN_CHANNEL = "mean"

METRIC_UNITS = {
    "relative": "fraction",
    "absolute": "uV^2",
    "log10": "log10(uV^2)",
    "ratio": "ratio",
    "iaf": "Hz",
    "iaf_cog": "Hz",
    "aperiodic_exponent": "1",
    "aperiodic_offset": "log10(uV^2/Hz)",
    "faa": "ln(uV^2)",
    "feedback_reward_rate": "fraction",
    "feedback_time_above_s": "s",
    "feedback_metric_change": "",
    "feedback_metric_change_pct": "%",
}


def metric_unit(metric: str) -> str:
    """Return the unit of a metric name (``relative_alpha`` → ``fraction``)."""
    if metric in METRIC_UNITS:
        return METRIC_UNITS[metric]
    return METRIC_UNITS.get(metric.split("_", 1)[0], "")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def session_metrics(summary: dict) -> pd.DataFrame:
    """Flatten a session summary into long-form metric rows.

    Parameters
    ----------
    summary : dict
        :meth:`neurofeedback.process.ProcessedRecording.summary` (the ``inspect --json`` object).

    Returns
    -------
    metrics : pandas.DataFrame
        Columns ``metric, channel, value, unit``; finite values only; a ``mean`` row per
        per-channel metric (average over the channels with a finite value).
    """
    bads = set(summary.get("bad_channels") or ())
    rows: list[tuple[str, str, float]] = []

    def per_channel(metric: str, values: dict) -> None:
        good = []
        for ch, v in values.items():
            if ch in bads or not _finite(v):
                continue
            rows.append((metric, ch, float(v)))
            good.append(float(v))
        if good:
            rows.append((metric, MEAN_CHANNEL, sum(good) / len(good)))

    bp = summary.get("band_power") or {}
    for kind in ("relative", "absolute", "log10"):
        table = {ch: v for ch, v in (bp.get(kind) or {}).items() if v}  # bad channels: None
        bands = list(dict.fromkeys(b for ch in table.values() for b in ch))
        for band in bands:
            per_channel(f"{kind}_{band}", {ch: vals.get(band) for ch, vals in table.items()})
    ratios = {ch: v for ch, v in (summary.get("ratios") or {}).items() if v}
    names = list(dict.fromkeys(r for ch in ratios.values() for r in ch))
    for name in names:
        metric = "ratio_" + name.replace("/", "_")
        per_channel(metric, {ch: vals.get(name) for ch, vals in ratios.items()})
    per_channel("iaf", summary.get("iaf_hz") or {})
    per_channel("iaf_cog", summary.get("iaf_cog_hz") or {})
    ap = summary.get("aperiodic") or {}
    per_channel("aperiodic_exponent", {ch: (v or {}).get("exponent") for ch, v in ap.items()})
    per_channel("aperiodic_offset", {ch: (v or {}).get("offset") for ch, v in ap.items()})
    for pair, v in (summary.get("faa") or {}).items():
        if _finite(v):
            rows.append(("faa", pair, float(v)))
    fb = summary.get("feedback") or {}
    if fb:
        name = str(fb.get("protocol") or "feedback")
        for key, metric in (("reward_rate", "feedback_reward_rate"),
                            ("time_above_threshold_s", "feedback_time_above_s"),
                            ("metric_change", "feedback_metric_change"),
                            ("metric_change_pct", "feedback_metric_change_pct")):
            if _finite(fb.get(key)):
                rows.append((metric, name, float(fb[key])))
    df = pd.DataFrame(rows, columns=["metric", "channel", "value"])
    df["unit"] = [metric_unit(m) for m in df["metric"]]
    return df
