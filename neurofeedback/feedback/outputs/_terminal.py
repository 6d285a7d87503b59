"""The terminal output: the live feedback display as a rich renderable (it never prints)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from ...errors import ConfigError


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–:––"
    m, s = divmod(int(round(max(0.0, seconds))), 60)
    return f"{m:d}:{s:02d}"


def _fmt(value, spec: str = ".4g") -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return format(v, spec) if math.isfinite(v) else "–"


class TerminalGauge:
    """Builds the live feedback display as a rich renderable (it never prints).

    Parameters
    ----------
    width : int
        Cells of the gauge bar (level 0 → first cell, 1 → last).

    Notes
    -----
    The bar is drawn between ``[`` and ``]``: cell ``i`` (0-based) is filled (``█``) when
    ``i < round(level * width)``, else ``░``; the threshold marker ``┃`` sits in cell
    ``min(width - 1, int(threshold_level * width))`` (see :meth:`threshold_level`: the middle of
    the bar during training, no marker during the baseline). The bar fills green while rewarded.
    """

    FILLED = "█"
    EMPTY = "░"
    MARKER = "┃"
    REWARD = "●"
    NO_REWARD = "○"

    def __init__(self, width: int = 50):
        if isinstance(width, bool) or not isinstance(width, int) or not 10 <= width <= 200:
            raise ConfigError(
                f"Invalid value for the 'width' parameter. It must be an integer in [10, 200], "
                f"but got {width!r} instead."
            )
        self.width = width

    # -- threshold position -------------------------------------------------------------------
    @staticmethod
    def threshold_level(out) -> float | None:
        """Where the threshold sits on the ``level`` scale (0..1), or None when there is none.

        Parameters
        ----------
        out : FeedbackOutput
            The update. Its ``threshold_level`` attribute is used when present and finite;
            otherwise 0.5 during training, where the loop's ``level`` is
            ``logistic(±(metric − threshold) / scale)``, 0.5 at the threshold by construction
            (:mod:`neurofeedback.feedback.step`); None during the baseline (no threshold yet).
        """
        given = getattr(out, "threshold_level", None)
        if given is not None:
            try:
                g = float(given)
            except (TypeError, ValueError):
                g = math.nan
            if math.isfinite(g):
                return min(1.0, max(0.0, g))
        try:
            thr = float(out.threshold)
        except (TypeError, ValueError):
            return None
        return 0.5 if out.phase == "training" and math.isfinite(thr) else None

    # -- the renderable ------------------------------------------------------------------------
    def bar(self, level: float, threshold_level: float | None, *, reward: bool = False,
            artifact: bool = False):
        """The gauge as a rich ``Text``: ``[████░░┃░░]``."""
        from rich.text import Text

        w = self.width
        lev = float(level) if level is not None else math.nan
        n_fill = int(round(min(1.0, max(0.0, lev)) * w)) if math.isfinite(lev) else 0
        marker = None
        if threshold_level is not None and math.isfinite(threshold_level):
            marker = min(w - 1, max(0, int(threshold_level * w)))
        fill_style = "dim red" if artifact else ("bold green" if reward else "cyan")
        text = Text("[")
        for i in range(w):
            if i == marker:
                text.append(self.MARKER, style="bold yellow")
            elif i < n_fill:
                text.append(self.FILLED, style=fill_style)
            else:
                text.append(self.EMPTY, style="grey42")
        text.append("]")
        return text

    def render(self, out, *, protocol_name: str, elapsed_s: float, duration_s: float,
               extra=None):
        """Build the display of one update.

        Parameters
        ----------
        out : FeedbackOutput
            The update (attributes: the package docstring).
        protocol_name : str
            Shown in the header.
        elapsed_s, duration_s : float
            Session time so far and in total, seconds.
        extra : str | Mapping | rich renderable | None
            Appended below: a mapping as ``key: value`` pairs on one line, a string as dim
            text, anything else as is.

        Returns
        -------
        renderable : rich.console.Group
            For ``Live.update`` or ``Console.print``.
        """
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        training = out.phase == "training"
        elapsed = float(elapsed_s)
        total = float(duration_s)
        head = Text()
        head.append(str(protocol_name), style="bold")
        head.append("   ")
        if training:
            head.append("TRAINING", style="bold green")
        else:
            head.append(f"{str(out.phase).upper()}", style="bold yellow")
            head.append(" (calibrating, no reward)", style="yellow")
        head.append(f"   {_clock(elapsed)} / {_clock(total)}  ({_clock(total - elapsed)} left)")
        frac = min(1.0, max(0.0, elapsed / total)) if total > 0 else 0.0

        thr_level = self.threshold_level(out) if training else None
        gauge = self.bar(out.level, thr_level, reward=bool(out.reward), artifact=bool(out.artifact))
        gauge.append(" –" if out.artifact else f" {_fmt(out.level, '.2f')}")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim")
        grid.add_column()
        grid.add_row("session", ProgressBar(total=1.0, completed=frac, width=self.width + 2))
        grid.add_row("level", gauge)

        values = Text()
        values.append(f"metric {_fmt(out.metric)}", style="bold")
        values.append(f"   threshold {_fmt(out.threshold)}")
        if thr_level is not None:
            values.append(f" ({self.MARKER})", style="yellow")
        values.append("   ")
        if out.reward:
            values.append(f"{self.REWARD} reward", style="bold green")
        else:
            values.append(f"{self.NO_REWARD} no reward", style="dim")
        rate = _fmt(100 * float(out.reward_rate), ".0f")
        values.append(f"   reward rate {rate}{'%' if rate != '–' else ''}")

        parts = [head, grid, values]
        reason = str(getattr(out, "reason", "") or "")
        if out.artifact:
            what = reason if reason.startswith("artifact") else f"artifact: {reason or 'window rejected'}"
            parts.append(Text(f"✕ {what}", style="bold red"))
        elif getattr(out, "inhibited", False):
            what = reason if reason.startswith("inhibit") else f"inhibit: {reason or 'band raised'}"
            parts.append(Text(f"⊘ {what}", style="bold yellow"))
        elif reason and reason != "baseline":
            parts.append(Text(reason, style="dim"))
        if extra is not None:
            if isinstance(extra, Mapping):
                parts.append(Text("   ".join(f"{k}: {v}" for k, v in extra.items()), style="dim"))
            elif isinstance(extra, str):
                parts.append(Text(extra, style="dim"))
            else:
                parts.append(extra)
        return Group(*parts)
