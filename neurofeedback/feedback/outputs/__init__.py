"""Feedback outputs: what a person sees and hears, and what games and other apps receive.

The closed loop produces, ``update_hz`` times a second, a feedback update (a
:class:`~neurofeedback.feedback.step.FeedbackOutput`; any object with the attributes below will
do). Each output is a *sink*: ``sink.send(out)`` after every update, ``sink.close()`` at the end.

==============  =========  ======================================================================
attribute       type       meaning
==============  =========  ======================================================================
``t``           float      seconds since the start of the loop
``phase``       str        ``"baseline"`` (calibration, no reward) or ``"training"``
``metric``      float      the protocol's metric of the last window; NaN on an artifact window
``threshold``   float      the reward threshold, in the metric's unit; NaN during the baseline
``reward``      bool       the window is rewarded
``artifact``    bool       the window was rejected as an artifact (no metric, no reward)
``inhibited``   bool       an inhibit band was raised (no reward)
``reason``      str        why there is no reward (artifact/inhibit), or a short status
``level``       float      0..1, the metric's position in the baseline distribution (gauge, tone)
``reward_rate`` float      running fraction of rewarded training windows, 0..1
==============  =========  ======================================================================

The loop's ``level`` is 0.5 at the threshold during training (higher = further on the rewarded
side), so the terminal gauge marks the threshold in its middle; an optional ``threshold_level``
attribute (0..1) overrides that position.

Outputs (``--output``, see :func:`parse_outputs`):

``terminal``
    :class:`TerminalGauge` builds a rich renderable (gauge bar of ``level`` with the threshold
    marked, metric, reward ●/○, phase, reward rate, artifact/inhibit reason). It never prints:
    the caller owns the ``rich.live.Live``. It is not a sink (:func:`open_outputs` skips it).
``tone``
    :class:`ToneOutput`: a continuous sine whose pitch follows ``level``
    (``base_hz + span_hz * level``), at ``volume`` while rewarded, quieter otherwise
    (``no_reward_gain``), silent during the baseline and on artifacts. It plays through
    `miniaudio <https://pypi.org/project/miniaudio/>`_ (a self-contained wheel: PulseAudio, ALSA
    or JACK on Linux, CoreAudio, WASAPI). It **fails soft**: without the package or without an
    audio device it logs one warning, ``available`` is False and ``send``/``close`` do nothing.
``lsl``
    :class:`LslOutput`: a Lab Streaming Layer outlet, type ``"Feedback"``, irregular rate (or a
    nominal ``update_hz``), six float32 channels :data:`LSL_CHANNELS` = ``metric, threshold,
    reward, level, artifact, reward_rate`` (booleans as 0/1; NaN passes through as NaN), labelled
    in the stream's XML description (``<desc><channels><channel><label>…``), one sample per
    update stamped with ``pylsl.local_clock()``. ``stream_info`` entries (protocol, metric, bands,
    …) are written under ``<desc><neurofeedback>``.
``osc``
    :class:`OscOutput`: Open Sound Control over UDP (default ``127.0.0.1:5005``), per update:

    ==================================  ==========  ============================================
    address                             type tags   value
    ==================================  ==========  ============================================
    ``/neurofeedback/metric``           ``f``       metric (NaN on artifact)
    ``/neurofeedback/threshold``        ``f``       threshold (NaN during the baseline)
    ``/neurofeedback/reward``           ``i``       1 rewarded, 0 not
    ``/neurofeedback/level``            ``f``       0..1 (NaN when there is no metric)
    ``/neurofeedback/artifact``         ``i``       1 artifact window, 0 clean
    ``/neurofeedback/reward_rate``      ``f``       0..1
    ``/neurofeedback/phase``            ``s``       ``baseline`` or ``training``
    ``/neurofeedback/update``           ``ffifif``  metric, threshold, reward, level, artifact,
                                                    reward_rate in one message
    ==================================  ==========  ============================================

    The prefix (``/neurofeedback``) is configurable. With ``bundle=True`` the eight messages of
    an update travel in one OSC bundle (time tag "immediately", one UDP datagram) instead of
    eight datagrams. Receivers that only want one message per update listen to ``…/update``.

NaN: LSL float32 samples and OSC ``f`` arguments carry IEEE NaN unchanged (the metric on an
artifact window, the threshold during the baseline, the level with no metric). Receivers must
test for it (``math.isnan``, ``Number.isNaN``, ``float.IsNaN``) rather than compare; ``artifact``
and ``phase`` tell why a value is missing.

LSL on one machine
------------------
liblsl reads its configuration once per process, at its first use, from ``$LSLAPICFG``, then
``./lsl_api.cfg``, ``~/lsl_api/lsl_api.cfg``, ``/etc/lsl_api/lsl_api.cfg``. Its default
("site" scope) discovers streams by multicast and broadcast on every network interface
(224.0.0.1, 224.0.0.183, 239.255.172.215, 255.255.255.255, IPv6 groups). For feedback consumed on
the same computer :func:`configure_lsl` (called by :class:`LslOutput` with ``scope="machine"``,
the default) writes :data:`LSL_MACHINE_CONFIG` to a file in the temporary folder and points
``$LSLAPICFG`` at it, so the process and the programs it starts use it (machine resolve
scope, ``MachineAddresses`` and ``KnownPeers`` = 127.0.0.1, IPv6 off, log level -3: fatal only).

Discovery then only talks to 127.0.0.1 (``KnownPeers`` adds unicast queries to the outlets' own
ports there, a fallback should the shared discovery port not reach every process), and liblsl's
INFO, warning and error lines stay off the terminal (a recording from an LSL stream says in its
own words when a stream stalls or breaks off). A receiver on the same machine finds the stream
with this file *or* with liblsl's defaults (which include 127.0.0.1). To reach other computers, pass
``scope="network"`` (liblsl's defaults, quiet log) or set ``$LSLAPICFG`` yourself: an
``$LSLAPICFG`` or ``lsl_api.cfg`` the user already has is always respected and never
overwritten. Because the configuration is read once, it must be in place before the process's
first LSL call; :class:`LslOutput` does that before it imports anything from liblsl.
"""

from __future__ import annotations

from ...acquisition._lsl_config import LSL_MACHINE_CONFIG, configure_lsl
from ._base import LSL_CHANNELS, OUTPUTS, FeedbackSink, parse_outputs
from ._lsl import LslOutput
from ._open import open_outputs
from ._osc import OscOutput
from ._terminal import TerminalGauge
from ._tone import ToneOutput

__all__ = [
    "LSL_CHANNELS",
    "LSL_MACHINE_CONFIG",
    "OUTPUTS",
    "FeedbackSink",
    "LslOutput",
    "OscOutput",
    "TerminalGauge",
    "ToneOutput",
    "configure_lsl",
    "open_outputs",
    "parse_outputs",
]
