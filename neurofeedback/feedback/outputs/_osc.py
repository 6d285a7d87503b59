"""The OSC output: Open Sound Control messages over UDP (address space in the package docs)."""

from __future__ import annotations

import logging
import re

from ...errors import ConfigError
from ._base import FeedbackSink, _values

logger = logging.getLogger("neurofeedback")

_OSC_BAD = re.compile(r"[\s#*,?\[\]{}]")


class OscOutput(FeedbackSink):
    """Open Sound Control messages over UDP, one set per update (address space: package docstring).

    Parameters
    ----------
    host : str
        Receiver host name or address (default this machine).
    port : int
        Receiver UDP port.
    prefix : str
        Address prefix, e.g. ``"/neurofeedback"`` → ``/neurofeedback/metric``.
    bundle : bool
        Send the update's messages in one OSC bundle (one datagram) instead of one datagram each.

    Raises
    ------
    ConfigError
        For an invalid port or prefix, or a host that does not resolve (one line).

    Notes
    -----
    UDP is fire-and-forget: nothing is an error when no one listens. A send the operating system
    refuses (e.g. network unreachable) logs one warning and the output keeps trying.
    """

    name = "osc"

    def __init__(self, host: str = "127.0.0.1", port: int = 5005, prefix: str = "/neurofeedback",
                 *, bundle: bool = False):
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigError(f"Invalid value for the 'osc_port' parameter. It must be an integer "
                              f"in [1, 65535], but got {port!r} instead.")
        if not isinstance(prefix, str) or not prefix.startswith("/") or _OSC_BAD.search(prefix):
            raise ConfigError(f"Invalid value for the 'osc_prefix' parameter. It must start with '/' "
                              f"and contain no spaces or any of #*,?[]{{}}, but got {prefix!r} "
                              f"instead.")
        if not isinstance(host, str) or not host:
            raise ConfigError(f"Invalid value for the 'osc_host' parameter. It must be a host name "
                              f"or address, but got {host!r} instead.")
        from pythonosc.udp_client import UDPClient

        self.host, self.port, self.bundle = host, port, bool(bundle)
        self.prefix = prefix.rstrip("/")
        try:
            self._client = UDPClient(host, port)
        except (OSError, UnicodeError) as exc:
            raise ConfigError(f"Invalid value for the 'osc_host' parameter: cannot resolve "
                              f"{host!r} ({exc}).") from None
        self._warned = False
        logger.info("OSC output to %s:%d%s", host, port, self.prefix)

    def messages(self, out) -> list:
        """The OSC messages of one update, in sending order (``pythonosc`` ``OscMessage``)."""
        from pythonosc.osc_message_builder import OscMessageBuilder

        metric, thr, reward, level, artifact, rate = _values(out)
        p = self.prefix
        spec = [(f"{p}/metric", [(metric, "f")]), (f"{p}/threshold", [(thr, "f")]),
                (f"{p}/reward", [(int(reward), "i")]), (f"{p}/level", [(level, "f")]),
                (f"{p}/artifact", [(int(artifact), "i")]), (f"{p}/reward_rate", [(rate, "f")]),
                (f"{p}/phase", [(str(out.phase), "s")]),
                (f"{p}/update", [(metric, "f"), (thr, "f"), (int(reward), "i"), (level, "f"),
                                 (int(artifact), "i"), (rate, "f")])]
        msgs = []
        for address, args in spec:
            b = OscMessageBuilder(address=address)
            for value, tag in args:
                b.add_arg(value, tag)
            msgs.append(b.build())
        return msgs

    def send(self, out) -> None:
        """Send the update's messages (or one bundle of them)."""
        client = self._client
        if client is None:
            return
        msgs = self.messages(out)
        try:
            if self.bundle:
                from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder

                bb = OscBundleBuilder(IMMEDIATELY)
                for m in msgs:
                    bb.add_content(m)
                client.send(bb.build())
            else:
                for m in msgs:
                    client.send(m)
        except OSError as exc:
            if not self._warned:
                logger.warning("OSC output to %s:%d: %s (still trying)", self.host, self.port, exc)
                self._warned = True

    def close(self) -> None:
        """Close the socket. Idempotent."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
