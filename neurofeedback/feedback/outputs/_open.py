"""Opening the outputs asked for (``--output``) as a list of sinks."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from ._base import FeedbackSink, parse_outputs
from ._lsl import LslOutput
from ._osc import OscOutput
from ._tone import ToneOutput


def open_outputs(names, *, lsl_name: str = "neurofeedback", lsl_source_id: str | None = None,
                 lsl_scope: str | None = "machine", osc_host: str = "127.0.0.1",
                 osc_port: int = 5005, osc_prefix: str = "/neurofeedback",
                 osc_bundle: bool = False, tone_base_hz: float = 220.0,
                 tone_span_hz: float = 440.0, tone_volume: float = 0.2,
                 update_hz: float | None = None,
                 stream_info: Mapping | None = None) -> list[FeedbackSink]:
    """Open the sinks of the outputs asked for.

    Parameters
    ----------
    names : str | iterable of str
        Output names (:data:`OUTPUTS`) or an ``--output`` string. ``"terminal"`` is skipped: the
        caller draws :class:`TerminalGauge` itself.
    lsl_name, lsl_source_id, lsl_scope
        :class:`LslOutput`'s ``name``, ``source_id`` and ``scope``.
    osc_host, osc_port, osc_prefix, osc_bundle
        :class:`OscOutput`'s ``host``, ``port``, ``prefix`` and ``bundle``.
    tone_base_hz, tone_span_hz, tone_volume
        :class:`ToneOutput`'s ``base_hz``, ``span_hz`` and ``volume``.
    update_hz : float | None
        Nominal rate of the LSL stream (None: irregular).
    stream_info : Mapping | None
        Description of the session for the LSL stream's XML (protocol, metric, bands, …).

    Returns
    -------
    sinks : list of FeedbackSink
        In the order asked. A tone without audio is still returned (``available`` False, a
        no-op) after one warning.

    Raises
    ------
    ConfigError
        For an unknown name, or an LSL/OSC output that cannot be opened (one line); the sinks
        opened before it are closed.
    """
    if isinstance(names, str):
        wanted = parse_outputs(names)
    else:
        wanted = parse_outputs(",".join(str(n) for n in names)) if names else ()
    sinks: list[FeedbackSink] = []
    try:
        for name in wanted:
            if name == "tone":
                sinks.append(ToneOutput(tone_base_hz, tone_span_hz, tone_volume))
            elif name == "lsl":
                sinks.append(LslOutput(lsl_name, lsl_source_id, update_hz=update_hz,
                                       stream_info=stream_info, scope=lsl_scope))
            elif name == "osc":
                sinks.append(OscOutput(osc_host, osc_port, osc_prefix, bundle=osc_bundle))
    except BaseException:
        for sink in sinks:
            with contextlib.suppress(Exception):
                sink.close()
        raise
    return sinks
