"""A tiny XDF writer for the tests (pyxdf reads XDF but writes none).

Follows the XDF 1.0 specification (https://github.com/sccn/xdf/wiki/Specifications): the magic
``XDF:``, then chunks ``[NumLengthBytes][Length][Tag uint16][content]`` where Length counts the
tag and the content. Tags: 1 FileHeader, 2 StreamHeader, 3 Samples, 4 ClockOffset, 6 StreamFooter.
Every sample carries its own timestamp (TimestampBytes 8).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import numpy as np

_FORMATS = {"float32": "<f4", "double64": "<f8", "int16": "<i2", "int32": "<i4", "int8": "<i1",
            "int64": "<i8"}


@dataclass
class Stream:
    """One stream to write.

    ``data``: shape (n_samples, n_channels) numbers, or a list of lists of str for ``string``;
    ``timestamps``: shape (n_samples,), seconds on the sender's clock; ``channels``: dicts with
    ``label``/``type``/``unit`` written into ``<desc><channels>``.
    """

    name: str
    type: str
    nominal_srate: float
    channel_format: str
    data: object
    timestamps: np.ndarray
    channels: list = field(default_factory=list)
    clock_offset: float = 0.0  # added by pyxdf's synchronize_clocks (sender → recorder clock)
    extra_desc: str = ""

    @property
    def channel_count(self) -> int:
        if self.channel_format == "string":
            return len(self.data[0]) if len(self.data) else 1
        return int(np.asarray(self.data).shape[1])


def _varlen(n: int) -> bytes:
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2**32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _header_xml(s: Stream, sid: int) -> bytes:
    chans = "".join(
        "<channel>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in c.items()) + "</channel>"
        for c in s.channels)
    desc = (f"<channels>{chans}</channels>" if chans else "") + s.extra_desc
    xml = (f'<?xml version="1.0"?><info><name>{escape(s.name)}</name><type>{escape(s.type)}</type>'
           f"<channel_count>{s.channel_count}</channel_count><nominal_srate>{s.nominal_srate}</nominal_srate>"
           f"<channel_format>{s.channel_format}</channel_format><source_id>test{sid}</source_id>"
           f"<version>1.1</version><created_at>100.0</created_at><uid>uid{sid}</uid>"
           f"<desc>{desc}</desc></info>")
    return xml.encode()


def _samples(s: Stream, sid: int, lo: int, hi: int) -> bytes:
    out = [struct.pack("<I", sid), _varlen(hi - lo)]
    for i in range(lo, hi):
        out.append(struct.pack("<Bd", 8, float(s.timestamps[i])))
        if s.channel_format == "string":
            for v in s.data[i]:
                b = str(v).encode()
                out.append(_varlen(len(b)) + b)
        else:
            out.append(np.asarray(s.data[i], dtype=_FORMATS[s.channel_format]).tobytes())
    return b"".join(out)


def write_xdf(path, streams, *, chunk: int = 100, datetime: str | None = None) -> None:
    """Write ``streams`` (a list of :class:`Stream`) to ``path`` as XDF 1.0."""
    dt = f"<datetime>{datetime}</datetime>" if datetime else ""
    parts = [b"XDF:", _chunk(1, f'<?xml version="1.0"?><info><version>1.0</version>{dt}</info>'.encode())]
    for sid, s in enumerate(streams, start=1):
        parts.append(_chunk(2, struct.pack("<I", sid) + _header_xml(s, sid)))
    for sid, s in enumerate(streams, start=1):
        n = len(s.timestamps)
        for lo in range(0, n, chunk):
            parts.append(_chunk(3, _samples(s, sid, lo, min(n, lo + chunk))))
        ts = np.asarray(s.timestamps, dtype=float)
        t0 = float(ts[0]) if n else 0.0
        t1 = float(ts[-1]) if n else 0.0
        for t in (t0, t1 if t1 > t0 else t0 + 1.0):  # two offsets: pyxdf fits a line through them
            parts.append(_chunk(4, struct.pack("<Idd", sid, t, s.clock_offset)))
        footer = (f'<?xml version="1.0"?><info><first_timestamp>{t0}</first_timestamp>'
                  f"<last_timestamp>{t1}</last_timestamp><sample_count>{n}</sample_count></info>")
        parts.append(_chunk(6, struct.pack("<I", sid) + footer.encode()))
    with open(path, "wb") as fh:
        fh.write(b"".join(parts))
