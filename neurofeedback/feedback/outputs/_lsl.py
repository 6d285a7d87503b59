"""The LSL output: a Lab Streaming Layer outlet of the feedback (type ``"Feedback"``)."""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Mapping

from ..._validate import check_option, check_positive
from ...acquisition._lsl_config import LSL_SCOPES, configure_lsl
from ...errors import ConfigError
from ._base import LSL_CHANNELS, FeedbackSink, _values

logger = logging.getLogger("neurofeedback")

_CHANNEL_UNITS = {"reward": "bool", "artifact": "bool", "level": "fraction",
                  "reward_rate": "fraction"}


_XML_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def _xml_name(key) -> str:
    name = _XML_NAME.sub("_", str(key)) or "_"
    return name if (name[0].isalpha() or name[0] == "_") else "_" + name


def _append_desc(node, mapping: Mapping) -> None:
    """Write ``mapping`` as child elements of an LSL XML node (nested dicts as elements)."""
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            _append_desc(node.append_child(_xml_name(key)), value)
        else:
            if value is None:
                text = ""
            elif isinstance(value, (str, int, float)):
                text = str(value)
            else:
                text = json.dumps(value, default=str)
            node.append_child_value(_xml_name(key), text)


class LslOutput(FeedbackSink):
    """A Lab Streaming Layer outlet of the feedback (type ``"Feedback"``, 6 float32 channels).

    Parameters
    ----------
    name : str
        The stream's name (what receivers resolve, e.g. ``resolve_byprop("name", name)``).
    source_id : str | None
        A unique id of the source, so receivers reconnect after a restart; default
        ``"neurofeedback:<name>@<hostname>"``.
    update_hz : float | None
        Nominal rate written to the stream info; None (default) is an irregular-rate stream.
    stream_info : Mapping | None
        Written to ``<desc><neurofeedback>`` (protocol, metric, bands, …); ``metric_unit``, when
        given, is the unit of the metric and threshold channels.
    scope : str | None
        LSL discovery scope set up before liblsl's first use (:func:`configure_lsl`):
        ``"machine"`` (default), ``"network"``, or None to leave liblsl's configuration alone.

    Raises
    ------
    ConfigError
        One line naming the stream, when the outlet cannot be created (or pylsl is missing).

    Notes
    -----
    Channels :data:`LSL_CHANNELS`: ``metric, threshold, reward (0/1), level, artifact (0/1),
    reward_rate``; NaN passes through. Each ``send`` pushes one sample stamped with
    ``pylsl.local_clock()``.
    """

    name = "lsl"

    def __init__(self, name: str = "neurofeedback", source_id: str | None = None, *,
                 update_hz: float | None = None, stream_info: Mapping | None = None,
                 scope: str | None = "machine"):
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"Invalid value for the 'lsl_name' parameter. It must be a non-empty "
                              f"string, but got {name!r} instead.")
        if stream_info is not None and not isinstance(stream_info, Mapping):
            raise ConfigError(f"Invalid value for the 'stream_info' parameter. It must be a "
                              f"mapping, but got {type(stream_info).__name__} instead.")
        rate = 0.0 if update_hz is None else check_positive("update_hz", update_hz, exc=ConfigError)
        check_option("scope", scope, LSL_SCOPES + (None,), exc=ConfigError)
        self.stream_name = name
        self.source_id = source_id or f"neurofeedback:{name}@{socket.gethostname()}"
        self.config_path = configure_lsl(scope) if scope is not None else None
        try:
            import pylsl
        except Exception as exc:  # noqa: BLE001 -- ImportError, or RuntimeError/OSError when liblsl fails to load
            raise ConfigError(f"Cannot open the LSL output {name!r}: pylsl is not available "
                              f"({exc}).") from None
        self._pylsl = pylsl
        info_doc = dict(stream_info or {})
        try:
            info = pylsl.StreamInfo(name, "Feedback", len(LSL_CHANNELS),
                                    rate if rate > 0 else pylsl.IRREGULAR_RATE, "float32",
                                    self.source_id)
            desc = info.desc()
            desc.append_child_value("manufacturer", "neurofeedback")
            channels = desc.append_child("channels")
            metric_unit = str(info_doc.get("metric_unit", "") or "")
            for label in LSL_CHANNELS:
                ch = channels.append_child("channel")
                ch.append_child_value("label", label)
                ch.append_child_value("unit", _CHANNEL_UNITS.get(label, metric_unit))
                ch.append_child_value("type", "Feedback")
            if info_doc:
                _append_desc(desc.append_child("neurofeedback"), info_doc)
            self._outlet = pylsl.StreamOutlet(info)
        except Exception as exc:  # noqa: BLE001 -- liblsl raises bare RuntimeError/ValueError; one line for the user
            raise ConfigError(f"Cannot open the LSL output {name!r}: {exc}") from None
        logger.info("LSL outlet %r (type Feedback, source %s)", name, self.source_id)

    def send(self, out) -> None:
        """Push one sample (:data:`LSL_CHANNELS`) stamped with the LSL local clock."""
        outlet = self._outlet
        if outlet is None:
            return
        outlet.push_sample(list(_values(out)), self._pylsl.local_clock())

    def have_consumers(self) -> bool:
        """True when at least one inlet is connected."""
        return bool(self._outlet is not None and self._outlet.have_consumers())

    def close(self) -> None:
        """Destroy the outlet (receivers see the stream end). Idempotent."""
        outlet, self._outlet = self._outlet, None
        if outlet is not None:
            del outlet
