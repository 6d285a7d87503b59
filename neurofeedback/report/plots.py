"""The report figures: plain matplotlib (Agg) functions of processed data, one figure each.

Every function returns a :class:`matplotlib.figure.Figure` and never shows it. Units follow the
tables: µV²/Hz for spectra, µV² for absolute power, fractions for relative power. Text that comes
from users (channel names, event text) is drawn with ``parse_math=False`` so a ``$`` stays a
dollar sign.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg", force=False)

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import LogLocator, NullFormatter, NullLocator, ScalarFormatter

from ..statements import format_number

__all__ = [
    "BAND_COLORS", "plot_artifact_timeline", "pretty_unit", "plot_band_timecourse", "plot_coverage",
    "plot_event_change", "plot_feedback", "plot_psd", "plot_topomaps", "plot_trend",
    "segmented_curve",
]

#: One colour per band, in band order (delta → gamma), reused in every figure.
BAND_COLORS = ("#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974", "#64b5cd", "#937860")
_BLOCK_COLORS = ("#f2d7a6", "#cfe2f3", "#d9ead3", "#ead1dc", "#fff2cc", "#d0e0e3")
_ARTIFACT_COLORS = {
    "BAD_amplitude": "#d62728", "BAD_blink": "#ff7f0e", "BAD_deviation": "#9467bd",
    "BAD_disconnect": "#7f7f7f", "BAD_dropout": "#8c564b", "BAD_flat": "#17becf",
}


def _figure(width: float, height: float, *, layout: str | None = "constrained") -> Figure:
    """A figure of ``width`` × ``height`` inches (100 dpi), never attached to pyplot.

    ``layout="constrained"`` (the default) lets matplotlib find the margins; ``None`` leaves
    them to the caller (:func:`_grid`, :func:`_place_single`): the constrained layout measures
    every axis's ticks and labels twice more per render, about 0.7 s of the 16-panel PSD
    figure's 2.1 s and 0.3 s of a trend figure's 0.5 s (CPU, loaded 2-core machine).
    """
    return Figure(figsize=(width, height), dpi=100, layout=layout)


def _grid(fig: Figure, nrows: int, ncols: int, *, left: float, right: float, bottom: float,
          top: float, hspace: float, wspace: float, **kwargs) -> np.ndarray:
    """``nrows`` × ``ncols`` axes with fixed margins and gaps, all in inches (no layout engine).

    Returns the axes as a 2-D array (``fig.subplots(..., squeeze=False)``).
    """
    w, h = fig.get_size_inches()
    cell_w = (w - left - right - wspace * (ncols - 1)) / ncols
    cell_h = (h - top - bottom - hspace * (nrows - 1)) / nrows
    return fig.subplots(nrows, ncols, squeeze=False, gridspec_kw=dict(
        left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h,
        wspace=wspace / cell_w, hspace=hspace / cell_h), **kwargs)


def _legend_right(ax, handles=None, labels=None) -> None:
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.figure.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)


def _place_single(fig: Figure, handles=None, labels=None, *, top: float = 0.35,
                  pad: float = 0.08) -> None:
    """Lay out a figure of one axes (and its twins) with a legend on the right, without a
    layout engine: one measurement of the tick labels, axis labels and legend (inches), then
    the axes placed so they fit. The figure must have been made with ``layout=None``.

    The constrained layout did the same by measuring every axis three times per render; this
    is one pass (a trend figure renders in about half the time).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    ax = fig.axes[0]
    twins = [a for a in fig.axes[1:] if a.get_shared_x_axes().joined(a, ax)]
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    w, h = fig.get_size_inches()
    dpi = fig.dpi
    renderer = FigureCanvasAgg(fig).get_renderer()
    legend_w = 0.0
    legend = None
    if handles:
        legend = fig.legend(handles, labels, loc="upper right", fontsize=8, frameon=False,
                            bbox_to_anchor=(1.0, 1.0 - 0.1 / h))
        legend_w = legend.get_window_extent(renderer).width / dpi
    box = ax.get_window_extent(renderer)
    ys = ax.yaxis.get_tightbbox(renderer)
    xs = ax.xaxis.get_tightbbox(renderer)
    left = (box.x0 - ys.x0) / dpi + pad if ys is not None else 0.5
    bottom = (box.y0 - xs.y0) / dpi + pad if xs is not None else 0.4
    right = legend_w + pad
    for twin in twins:
        tb = twin.yaxis.get_tightbbox(renderer)
        if tb is not None:
            right += (tb.x1 - box.x1) / dpi + pad
    ax.set_position([left / w, bottom / h, max(w - left - right, 1.0) / w,
                     max(h - top - bottom, 0.5) / h])
    for twin in twins:
        twin.set_position(ax.get_position())


def pretty_unit(unit: str) -> str:
    """``uV^2`` → ``µV²`` for labels (the data keep ASCII units)."""
    if unit == "1":  # unitless (the aperiodic exponent)
        return ""
    return (unit or "").replace("uV^2", "µV²").replace("uV", "µV")


def _band_color(i: int) -> str:
    return BAND_COLORS[i % len(BAND_COLORS)]


def _blocks(annotations) -> list[tuple[float, float, str]]:
    """Blocks of a recording: annotations with a duration that are not ``BAD_*``."""
    out = []
    for onset, dur, desc in zip(annotations["onset"], annotations["duration"],
                                annotations["description"]):
        if dur > 0 and not str(desc).upper().startswith("BAD"):
            out.append((float(onset), float(dur), str(desc)))
    return out


def _shade_blocks(ax, blocks, *, label_y=1.0, labels=True) -> None:
    colors: dict[str, str] = {}
    for onset, dur, desc in blocks:
        c = colors.setdefault(desc, _BLOCK_COLORS[len(colors) % len(_BLOCK_COLORS)])
        ax.axvspan(onset, onset + dur, color=c, alpha=0.6, zorder=0, lw=0)
        if labels:
            ax.text(onset + dur / 2, label_y, desc, transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=8, parse_math=False, clip_on=False)


def plot_psd(freqs, psd, ch_names, *, bands: dict, iaf: dict | None = None,
             bad_channels=(), fmax: float = 45.0, line_freq: float | None = None) -> Figure:
    """PSD per channel (µV²/Hz, log scale) with the bands shaded and the IAF marked.

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
    psd : ndarray, shape (n_channels, n_freqs)
        Mean PSD of the clean epochs in µV²/Hz (NaN rows are drawn as "no clean data").
    ch_names : list of str
    bands : dict
        ``{name: (low, high)}`` in Hz.
    iaf : dict | None
        ``{channel: Hz or None}``: a dashed line at each channel's alpha peak.
    bad_channels : sequence of str
        Titled "(bad)" and not drawn ("bad channel: no values"): a bad channel has no spectrum
        (:func:`neurofeedback.features.compute_features_array` gives it NaN).
    fmax : float
        Upper frequency shown.
    line_freq : float | None
        Mains frequency (noted in the title).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    freqs = np.asarray(freqs, float)
    psd = np.asarray(psd, float)
    n = len(ch_names)
    keep = freqs <= fmax
    many = n > 16
    ncols = 1 if many else min(4, n)
    nrows = 1 if many else int(np.ceil(n / ncols))
    # fixed margins (inches), no layout engine: room for the y tick labels and label on the
    # left, each panel's title above it, the x labels and the band legend below
    height = 3.2 if many else 1.75 * nrows + 1.1
    fig = _figure(10.0, height, layout=None)
    axes = _grid(fig, nrows, ncols, left=0.8, right=0.15, bottom=0.78, top=0.45,
                 hspace=0.0 if many else 0.3, wspace=0.12, sharex=True, sharey=True).ravel()
    iaf = iaf or {}
    xs = freqs[keep]
    for i in range(len(axes)):
        ax = axes[i]
        if many:
            chans = range(n)
        elif i < n:
            chans = [i]
        else:
            ax.set_visible(False)
            continue
        for j, (lo, hi) in enumerate(bands.values()):
            ax.axvspan(lo, hi, color=_band_color(j), alpha=0.12, lw=0, zorder=0)
        for c in chans:
            y = psd[c, keep]
            bad = ch_names[c] in bad_channels
            if bad or not np.any(np.isfinite(y) & (y > 0)):  # a bad channel has no spectrum
                if not many:
                    ax.text(0.5, 0.5, "bad channel: no values" if bad else "no clean data",
                            transform=ax.transAxes, ha="center", va="center", color="0.4")
                continue
            ax.plot(xs, y, color="k", lw=0.6 if many else 1.0, alpha=0.6 if many else 1.0)
            peak = iaf.get(ch_names[c])
            if peak is not None and not many:
                ax.axvline(peak, color=_band_color(2), ls="--", lw=1)
                ax.text(peak, 0.97, f" IAF {peak:.1f} Hz", transform=ax.get_xaxis_transform(),
                        fontsize=7, va="top", color=_band_color(2))
        if not many:
            ax.set_title(ch_names[i] + (" (bad)" if ch_names[i] in bad_channels else ""),
                         fontsize=9, pad=3, parse_math=False)
    axes[0].set_yscale("log")  # shared: every panel
    axes[0].set_xlim(0.0, fmax)
    shown = psd[:, keep]
    shown = shown[np.isfinite(shown) & (shown > 0)]
    if not many and shown.size and shown.max() >= 100 * shown.min():
        # decades only on the small panels (≥ 2 labelled): 16 panels of log minor ticks
        # nearly triple the rendering (1.4 vs 0.5 s CPU for a 16-channel session here); a
        # spectrum spanning less keeps them, so its axis has labels
        axes[0].yaxis.set_minor_locator(NullLocator())
    for ax in axes[::ncols]:
        ax.set_ylabel("µV²/Hz")
    last_row = [ax for ax in axes[-ncols:] if ax.get_visible()] + [
        axes[i - ncols] for i in range(len(axes) - ncols, len(axes))
        if not axes[i].get_visible() and i - ncols >= 0]
    for ax in last_row:  # the bottom panel of each column (the last row may be short)
        ax.set_xlabel("Hz")
        ax.xaxis.set_tick_params(labelbottom=True)
    handles = [Rectangle((0, 0), 1, 1, color=_band_color(j), alpha=0.3)
               for j in range(len(bands))]
    fig.legend(handles, [f"{b} {lo:g}–{hi:g} Hz" for b, (lo, hi) in bands.items()],
               loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=len(bands), fontsize=8,
               frameon=False)
    title = "Power spectral density of the clean epochs"
    if many:
        title += f" ({n} channels)"
    if line_freq:
        title += f"; notch at {line_freq:g} Hz"
    fig.suptitle(title, fontsize=10, y=1 - 0.08 / height, va="top")
    return fig


def plot_artifact_timeline(annotations, ch_names, duration_s: float, *, bad_channels=(),
                           epochs: pd.DataFrame | None = None, ptp_uv=None,
                           window_s: float = 1.0) -> Figure:
    """Artifact timeline: per-channel amplitude, marked stretches by kind, clean epochs, blocks.

    Parameters
    ----------
    annotations : dict of sequences
        ``onset``, ``duration`` (s from the recording's start), ``description`` and optionally
        ``ch_names`` (a tuple per annotation; channel-specific artifacts are drawn on their
        channel's strip, the others on the "artifacts" row).
    ch_names : list of str
    duration_s : float
    bad_channels : sequence of str
    epochs : pandas.DataFrame | None
        The per-epoch table: a strip shows whether each epoch was clean on every good channel,
        on some, or on none.
    ptp_uv : ndarray, shape (n_channels, n_windows) | None
        Peak-to-peak amplitude (µV) per channel in consecutive windows: drawn as a heat strip
        per channel (log colour scale), so a channel's artifacts and drifts show where they are.
    window_s : float
        Length of the ``ptp_uv`` windows.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    fig = _figure(10.0, 1.6 + 0.22 * len(ch_names))
    ax = fig.subplots()
    n = len(ch_names)
    rows = {"clean epochs": n + 1, "artifacts": n}
    _shade_blocks(ax, _blocks(annotations), label_y=1.0)
    if ptp_uv is not None and np.size(ptp_uv):
        from matplotlib.colors import LogNorm

        ptp = np.asarray(ptp_uv, float)
        pos = ptp[np.isfinite(ptp) & (ptp > 0)]
        lo, hi = (np.percentile(pos, 1), np.percentile(pos, 99.5)) if pos.size else (1, 10)
        im = ax.imshow(np.clip(ptp, lo, hi), aspect="auto", interpolation="nearest",
                       cmap="magma_r", norm=LogNorm(vmin=lo, vmax=max(hi, lo * 1.01)),
                       extent=(0, ptp.shape[1] * window_s, -0.5, n - 0.5), zorder=1)
        cb = fig.colorbar(im, ax=ax, location="right", shrink=0.8, pad=0.01)
        cb.set_label(f"peak-to-peak per {window_s:g} s (µV)", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    for i, ch in enumerate(ch_names):
        if ch in bad_channels:
            ax.broken_barh([(0, duration_s)], (n - 1 - i - 0.45, 0.9), facecolor="none",
                           edgecolor="0.3", hatch="///", zorder=2)
    seen = set()
    row_of = {ch: n - 1 - i for i, ch in enumerate(ch_names)}
    chans = annotations.get("ch_names") or [()] * len(annotations["onset"])
    for onset, dur, desc, chs in zip(annotations["onset"], annotations["duration"],
                                     annotations["description"], chans):
        desc = str(desc)
        if not desc.upper().startswith("BAD"):
            if dur == 0:  # a marker
                ax.axvline(onset, color="0.3", lw=0.8, ls=":")
            continue
        c = _ARTIFACT_COLORS.get(desc, "#e377c2")
        # channel-specific marks on their channel's strip, the others on the "artifacts" row
        ys = [(row_of[ch] - 0.2, 0.4) for ch in chs if ch in row_of] or [(n - 0.35, 0.7)]
        for y in ys:
            ax.broken_barh([(onset, max(dur, duration_s / 500))], y, color=c, zorder=3,
                           label=None if desc in seen else desc)
            seen.add(desc)
    if epochs is not None and len(epochs):
        good = epochs[~epochs["channel"].isin(list(bad_channels))]
        per = good.groupby("epoch", observed=True).agg(onset_s=("onset_s", "first"),
                                                       duration_s=("duration_s", "first"),
                                                       share=("clean", "mean"))
        for label, sel, color in (
                ("clean on every channel", per[per["share"] == 1.0], "#2ca02c"),
                ("clean on some channels", per[(per["share"] > 0) & (per["share"] < 1.0)], "#bcbd22"),
                ("clean on no channel", per[per["share"] == 0], "#d62728")):
            if len(sel):
                ax.broken_barh(list(zip(sel["onset_s"], sel["duration_s"] * 0.98)),
                               (rows["clean epochs"] - 0.35, 0.7), color=color, alpha=0.7,
                               label=label)
    ax.set_yticks([rows["clean epochs"], rows["artifacts"]] + [n - 1 - i for i in range(n)])
    ax.set_yticklabels(["epochs", "artifacts"] + [c + (" (bad)" if c in bad_channels else "")
                                                  for c in ch_names], fontsize=8)
    ax.set_ylim(-0.7, n + 1.7)
    ax.set_xlim(0, duration_s)
    ax.set_xlabel("time (s)")
    if seen or epochs is not None:
        _legend_right(ax)
    ax.set_title("Artifact timeline: amplitude and artifacts per channel, epochs kept "
                 "(bad channels hatched)", fontsize=10, pad=14)
    return fig


def plot_band_timecourse(epochs: pd.DataFrame, *, bands, annotations=None,
                         kind: str = "relative") -> Figure:
    """Band power over the session (mean over good channels per epoch), blocks shaded.

    Parameters
    ----------
    epochs : pandas.DataFrame
        The per-epoch table of good channels (``onset_s, duration_s, band, relative,
        absolute_uv2, clean``).
    bands : sequence of str
        Band order.
    annotations : dict of sequences | None
        For the blocks.
    kind : {"relative", "absolute"}

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    col = "relative" if kind == "relative" else "absolute_uv2"
    fig = _figure(10.0, 3.4)
    ax = fig.subplots()
    if annotations is not None:
        _shade_blocks(ax, _blocks(annotations))
    if len(epochs):
        mid = epochs["onset_s"] + epochs["duration_s"] / 2
        table = (epochs.assign(mid=mid).groupby(["band", "mid"])
                 .agg(value=(col, "mean"), clean=("clean", "all")).reset_index())
        for j, band in enumerate(bands):
            sel = table[table["band"] == band].sort_values("mid")
            y = sel["value"].where(sel["clean"]).to_numpy(float)
            ax.plot(sel["mid"], y, "-", color=_band_color(j), lw=1.4, label=band)
            ax.plot(sel["mid"], sel["value"].where(~sel["clean"]), ".", color=_band_color(j),
                    alpha=0.35, ms=4)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("fraction of 1–45 Hz power" if kind == "relative" else "µV²")
    if kind == "absolute":
        ax.set_yscale("log")
    _legend_right(ax)
    ax.set_title(f"{kind.capitalize()} band power per epoch (mean of good channels; "
                 "faint dots: rejected epochs)", fontsize=10, pad=14)
    return fig


def plot_feedback(log: pd.DataFrame, *, metric_label: str, target_rate: float | None = None,
                  annotations=None) -> Figure:
    """A neurofeedback session: the metric against its threshold, rewards, and the reward rate.

    Parameters
    ----------
    log : pandas.DataFrame
        The feedback log (:func:`neurofeedback.acquisition.session.read_feedback_log`): one row
        per update with ``t_s``, ``phase``, ``metric``, ``threshold``, ``reward`` and, when
        present, ``artifact``, ``inhibited`` and ``reward_rate``.
    metric_label : str
        The y-axis label of the metric, with its unit.
    target_rate : float | None
        The protocol's target reward rate, drawn on the reward-rate panel.
    annotations : dict of sequences | None
        For the blocks.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    fig = _figure(10.0, 4.6)
    ax, ax_rate = fig.subplots(2, 1, sharex=True, height_ratios=[2.6, 1.0])
    t = log["t_s"].to_numpy(float)
    if annotations is not None:
        _shade_blocks(ax, _blocks(annotations))
        _shade_blocks(ax_rate, _blocks(annotations), labels=False)
    base = log["phase"].to_numpy() == "baseline"
    if base.any():
        ax.axvspan(0.0, float(t[base].max()), color="#eeeeee", zorder=0, lw=0)
        ax.text(float(t[base].max()) / 2, 0.98, "baseline", transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=8, color="#555555")
    metric = log["metric"].to_numpy(float)
    reward = log["reward"].to_numpy(int) == 1
    ax.plot(t, metric, "-", color="#4c72b0", lw=0.9, label="metric")
    ax.plot(t[reward], metric[reward], ".", color="#2ca02c", ms=4, label="rewarded update")
    ax.step(t, log["threshold"].to_numpy(float), where="post", color="#c44e52", lw=1.4,
            label="threshold")
    flags = [("artifact", "#d62728", "artifact (no reward)"), ("inhibited", "#ff7f0e", "inhibited")]
    for col, color, label in flags:
        if col in log and (log[col] == 1).any():
            ax.plot(t[log[col].to_numpy() == 1], np.zeros(int((log[col] == 1).sum())), "|",
                    color=color, ms=10, transform=ax.get_xaxis_transform(), label=label)
    ax.set_ylabel(metric_label)
    ax.set_title("Feedback metric per update, its threshold and the rewarded updates",
                 fontsize=10, pad=14)
    if "reward_rate" in log:
        ax_rate.plot(t, log["reward_rate"].to_numpy(float), "-", color="#2ca02c", lw=1.2,
                     label="reward rate (last ~30 s)")
    if target_rate is not None:
        ax_rate.axhline(target_rate, color="#555555", ls="--", lw=1.0, label="target")
    ax_rate.set_ylim(-0.02, 1.02)
    ax_rate.set_ylabel("reward rate")
    ax_rate.set_xlabel("time (s)")
    _legend_right(ax)
    handles, labels = ax_rate.get_legend_handles_labels()
    if handles:
        ax_rate.legend(handles, labels, loc="lower right", fontsize=7, frameon=False)
    return fig


def plot_topomaps(values: dict[str, dict[str, float]], info) -> Figure:
    """Scalp maps of relative band power, one per band.

    Parameters
    ----------
    values : dict
        ``{band: {channel: relative power}}`` for the good channels with positions.
    info : mne.Info
        Measurement info holding exactly those channels with their positions.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import mne

    bands = list(values)
    fig = _figure(2.2 * len(bands) + 0.8, 2.8)
    axes = np.atleast_1d(fig.subplots(1, len(bands)))
    for ax, band in zip(axes, bands):
        data = np.array([values[band][ch] for ch in info["ch_names"]], float)
        im, _ = mne.viz.plot_topomap(data, info, axes=ax, show=False, cmap="viridis",
                                     contours=0, sensors=True)
        ax.set_title(band, fontsize=9)
        cb = fig.colorbar(im, ax=ax, shrink=0.7, orientation="horizontal", pad=0.02)
        cb.ax.tick_params(labelsize=7)
    fig.suptitle("Relative band power (fraction of 1–45 Hz) over the scalp", fontsize=10)
    return fig


#: Metrics that cannot be negative (their axis and bands stop at 0).
_NON_NEGATIVE = ("relative_", "absolute_", "ratio_", "iaf", "feedback_reward_rate",
                 "feedback_time_above_s")


def _trend_label(trend: dict, unit: str) -> str:
    lo, hi = trend["slope_ci"]
    if trend.get("scale") == "log10":
        per, pct = "% per week", "%"
    else:
        per, pct = (unit + "/week") if unit else "per week", ""
    call = trend.get("change", "")
    if trend.get("family") == "secondary" and trend.get("slope_p_adjusted") is not None:
        call += f" (adjusted p = {format_number(trend['slope_p_adjusted'], sig=2)})"
    return (f"trend {format_number(trend['slope_per_week'], signed=True)}{per if pct else ' ' + per}"
            f" (95% CI {format_number(lo, signed=True)}{pct} to "
            f"{format_number(hi, signed=True)}{pct}): {call}")


def plot_trend(sessions: pd.DataFrame, trend: dict, *, events: pd.DataFrame | None = None,
               week_starts: dict | None = None, event_fit: dict | None = None) -> Figure:
    """One metric over weeks: sessions, weekly means with 95% CI band, the trend, events.

    Powers (``trend["scale"] == "log10"``) are drawn on a log axis, where their geometric
    weekly means, CIs and the fitted trend (a straight line there: a constant % per week) live;
    no axis or band of a quantity that cannot be negative goes below 0. The y range is set by
    the sessions and weekly means, not the CI bands, so a week with few sessions (a wide band)
    cannot squash the others; a band that leaves the range is cut at the edge.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``start_time`` (tz-aware), ``value``, ``excluded`` (below the quality floor).
    trend : dict
        One entry of :func:`neurofeedback.trends.compute_trends`.
    events : pandas.DataFrame | None
        ``time`` (tz-aware), ``kind``, ``text``: drawn as labelled vertical lines.
    week_starts : dict | None
        ``{"YYYY-Www": Timestamp}`` where each weekly mean is drawn (default: the Thursday of the
        ISO week, its middle).
    event_fit : dict | None
        The same series' result of :func:`neurofeedback.event_change.event_changes`: its
        segmented fit is drawn before and after each analysed event (thin solid lines).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    fig = _figure(10.0, 3.3, layout=None)
    ax = fig.subplots()
    unit = pretty_unit(trend.get("unit") or "")
    log = trend.get("scale") == "log10"
    non_negative = log or str(trend["metric"]).startswith(_NON_NEGATIVE)
    sessions = sessions[np.isfinite(sessions["value"].to_numpy(float))]
    if log:
        sessions = sessions[sessions["value"] > 0]  # as in the statistics
    kept = sessions[~sessions["excluded"]]
    excl = sessions[sessions["excluded"]]
    ax.plot(kept["start_time"], kept["value"], "o", color="0.35", ms=3.5, label="session")
    if len(excl):
        ax.plot(excl["start_time"], excl["value"], "o", mfc="none", color="0.6", ms=4,
                label="excluded (below quality floor)")
    data = [sessions["value"].to_numpy(float)]
    weeks = [w for w in trend.get("weeks", []) if w.get("mean") is not None]
    if weeks:
        ws = week_starts or {}
        x = [ws.get(w["week"], pd.Timestamp.fromisocalendar(int(w["week"][:4]),
                                                               int(w["week"][-2:]), 4))
             for w in weeks]
        x = pd.to_datetime(x, utc=True)
        mean = np.array([w["mean"] for w in weeks], float)
        lo = np.array([np.nan if w["ci_low"] is None else w["ci_low"] for w in weeks], float)
        hi = np.array([np.nan if w["ci_high"] is None else w["ci_high"] for w in weeks], float)
        if non_negative and not log:
            lo = np.maximum(lo, 0.0)
        ax.fill_between(x, lo, hi, color=_band_color(0), alpha=0.2, lw=0,
                        label="weekly " + ("geometric " if log else "") + "mean, 95% CI")
        ax.plot(x, mean, "-s", color=_band_color(0), ms=4)
        data.append(mean)
    if trend.get("slope_analysis_per_week") is not None \
            and trend.get("slope_intercept") is not None and len(kept):
        t0 = pd.Timestamp(trend["first_session"])
        t1 = pd.Timestamp(trend["last_session"])
        tt = pd.date_range(t0, t1, periods=20)
        span = (tt - t0).total_seconds().to_numpy() / (7 * 86400.0)
        yy = trend["slope_intercept"] + trend["slope_analysis_per_week"] * span
        if log:
            yy = 10.0 ** yy
        ax.plot(tt, yy, "--", color=_band_color(2), lw=1.5, label=_trend_label(trend, unit))
        data.append(yy)
    if event_fit is not None and event_fit.get("fit") is not None and len(kept):
        _draw_segments(ax, event_fit, kept["start_time"].min(), kept["start_time"].max(),
                       colors=(1, 5))
    values = np.concatenate([d[np.isfinite(d)] for d in data]) if data else np.empty(0)
    if values.size:
        vmin, vmax = float(values.min()), float(values.max())
        if log:
            pad = max((math.log10(vmax) - math.log10(vmin)) * 0.15, 0.02)
            ax.set_yscale("log")
            ax.set_ylim(10 ** (math.log10(vmin) - pad), 10 ** (math.log10(vmax) + pad))
            plain = ScalarFormatter()  # 40, 60, 100 rather than 4×10¹
            plain.set_scientific(False)
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0, 7.0)))
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            pad = max((vmax - vmin) * 0.15, abs(vmax) * 0.02, 1e-12)
            bottom = vmin - pad
            ax.set_ylim(max(bottom, 0.0) if non_negative else bottom, vmax + pad)
    if events is not None and len(events):
        for _, ev in events.iterrows():
            ax.axvline(ev["time"], color=_band_color(3), lw=1, ls=":")
            label = f"{ev['kind']}: {ev['text']}" if ev.get("text") else str(ev["kind"])
            ax.text(ev["time"], 0.98, " " + label[:40], transform=ax.get_xaxis_transform(),
                    rotation=90, va="top", ha="left", fontsize=7, color=_band_color(3),
                    parse_math=False)
    name = f"{trend['metric']} ({trend['channel']})"
    if trend.get("block") not in (None, "session"):
        name += f", {trend['block']} block"
    ax.set_title(name, fontsize=10, parse_math=False)
    ax.set_ylabel(unit + (" (log scale)" if log else ""), parse_math=False)
    fig.autofmt_xdate()
    _place_single(fig)
    return fig


def plot_coverage(weeks: pd.DataFrame) -> Figure:
    """Data quality per week: sessions kept and excluded (bars) and mean clean coverage.

    Parameters
    ----------
    weeks : pandas.DataFrame
        ``week``, ``n_sessions``, ``n_excluded``, ``clean_coverage`` (fraction, NaN if none).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    fig = _figure(10.0, 2.8, layout=None)
    ax = fig.subplots()
    x = np.arange(len(weeks))
    ax.bar(x, weeks["n_sessions"], color=_band_color(0), label="sessions kept")
    ax.bar(x, weeks["n_excluded"], bottom=weeks["n_sessions"], color="0.75",
           label="excluded (below quality floor)")
    ax.set_ylabel("sessions")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    # every week a tick, a label on at most ~26 of them (over 100 weeks they would overlap;
    # the table beside the figure lists each week)
    step = max(1, int(np.ceil(len(weeks) / 26)))
    ax.set_xticks(x, minor=True)
    ax.set_xticks(x[::step], list(weeks["week"])[::step], rotation=45, ha="right", fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(x, 100 * weeks["clean_coverage"], "o-", color=_band_color(2),
             label="clean epochs, % (mean)")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("clean epochs (%)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.set_title("Data quality per ISO week", fontsize=10)
    _place_single(fig, h1 + h2, l1 + l2)
    return fig


def segmented_curve(result: dict, times) -> np.ndarray:
    """The fitted segmented line of an event analysis at ``times`` (on the metric's scale).

    Parameters
    ----------
    result : dict
        One result of :func:`neurofeedback.event_change.event_changes` with a ``fit``.
    times : pandas.DatetimeIndex
        tz-aware times.

    Returns
    -------
    values : ndarray
        The model's mean (the practice covariate at its mean); powers back-transformed from log10.
    """
    fit = result["fit"]
    coef = np.asarray(fit["coef"], float)
    tw = (pd.DatetimeIndex(times) - pd.Timestamp(fit["t0"])).total_seconds().to_numpy() / (7 * 86400.0)
    y = coef[0] + coef[1] * tw
    for k, e in enumerate(np.asarray(fit["event_days"], float) / 7.0):
        post = tw >= e
        y = y + post * (coef[2 + 2 * k] + coef[3 + 2 * k] * (tw - e))
    return 10.0 ** y if result.get("scale") == "log10" else y


def _draw_segments(ax, result: dict, t0, t1, *, lw: float = 1.2, colors=(0, 2)) -> None:
    """The segmented fit of an event analysis from ``t0`` to ``t1``, one line per segment."""
    edges = [t0] + [pd.Timestamp(e["time"]) for e in result["events"]] + [t1]
    for k in range(len(edges) - 1):
        a, b = edges[k], edges[k + 1]
        if b <= a:
            continue
        tt = pd.date_range(a, b - pd.Timedelta(seconds=1) if k < len(edges) - 2 else b,
                           periods=20)
        ax.plot(tt, segmented_curve(result, tt), "-", lw=lw,
                color=_band_color(colors[0] if k == 0 else colors[1]),
                label=("fit before the event" if k == 0 else
                       "fit after the event" if k == 1 else None))


def plot_event_change(sessions: pd.DataFrame, result: dict) -> Figure:
    """One series around its events: sessions, the pre/post segmented fit, the event lines and
    the before/after window means.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``start_time`` (tz-aware), ``value``, ``excluded`` (below the quality floor).
    result : dict
        One result of :func:`neurofeedback.event_change.event_changes`.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    fig = _figure(10.0, 3.3, layout=None)
    ax = fig.subplots()
    unit = pretty_unit(result.get("unit") or "")
    log = result.get("scale") == "log10"
    sessions = sessions[np.isfinite(sessions["value"].to_numpy(float))]
    if log:
        sessions = sessions[sessions["value"] > 0]
    kept = sessions[~sessions["excluded"]]
    excl = sessions[sessions["excluded"]]
    ax.plot(kept["start_time"], kept["value"], "o", color="0.35", ms=3.5, label="session")
    if len(excl):
        ax.plot(excl["start_time"], excl["value"], "o", mfc="none", color="0.6", ms=4,
                label="excluded (below quality floor)")
    if result.get("fit") is not None and len(kept):
        _draw_segments(ax, result, kept["start_time"].min(), kept["start_time"].max(), lw=2)
    w_days = 7.0 * float(result.get("window_weeks") or 2.0)
    for i, e in enumerate(result["events"]):
        te = pd.Timestamp(e["time"])
        ax.axvline(te, color=_band_color(3), lw=1.2, ls="--")
        label = f"{e['kind']}: {e['text']}" if e.get("text") else str(e["kind"])
        ax.text(te, 0.98, " " + label[:40], transform=ax.get_xaxis_transform(), rotation=90,
                va="top", ha="left", fontsize=7, color=_band_color(3), parse_math=False)
        w = e.get("window") or {}
        if w.get("mean_before") is not None:
            span = pd.Timedelta(days=w_days)
            ax.hlines([w["mean_before"], w["mean_after"]], [te - span, te], [te, te + span],
                      colors=_band_color(4), lw=3, alpha=0.8,
                      label="window means (before, after)" if i == 0 else None)
    name = f"{result['metric']} ({result['channel']})"
    if result.get("block") not in (None, "session"):
        name += f", {result['block']} block"
    ax.set_title(name + " around its events", fontsize=10, parse_math=False)
    ax.set_ylabel(unit + (" (log scale)" if log else ""), parse_math=False)
    if log:
        ax.set_yscale("log")
    fig.autofmt_xdate()
    _place_single(fig)
    return fig
