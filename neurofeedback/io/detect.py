"""Tell a recording's format from its content.

Binary formats are recognised by their magic bytes (the extension alone is not trusted):

- EDF/EDF+: the header starts with ``"0       "`` (version 0, eight ASCII bytes) and bytes
  184–192 hold the header length as ASCII digits.
- BDF (BioSemi): ``b"\\xffBIOSEMI"``.
- FIF: the first tag is FIFF_FILE_ID (kind 100, type 31, size 20): ``00000064 0000001f 00000014``;
  a gzip stream (``.fif.gz``) is accepted by extension plus gzip magic.
- BrainVision: the ``.vhdr`` text header starting "Brain Vision Data Exchange Header File" (or
  "BrainVision …"). Passing the ``.eeg`` or ``.vmrk`` file is an error that names the ``.vhdr``.
- XDF (LabRecorder): the magic bytes ``XDF:`` (:mod:`neurofeedback.io.xdf`).

Text formats by their first line:

- OpenBCI GUI text: ``%`` metadata lines (all versions), or a v6 column-name row starting
  ``Sample Index``.
- muselsl CSV: a header whose first column is ``timestamps``.
- Mind Monitor CSV: a header starting ``TimeStamp`` with ``Delta_…``/``RAW_…`` columns.
- BrainFlow CSV (``DataFilter.write_file``; also the OpenBCI GUI's ``BrainFlow-RAW_*.csv``):
  no header, tab-separated numbers.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import RecordingFormatError
from ._text import check_file, first_lines, is_number, read_head

#: Every format :func:`neurofeedback.io.read_recording` understands.
FORMATS = (
    "brainflow_csv",
    "openbci_txt",
    "muselsl_csv",
    "mindmonitor_csv",
    "edf",
    "bdf",
    "fif",
    "brainvision",
    "xdf",
)

_FIF_MAGIC = bytes.fromhex("000000640000001f00000014")
_BINARY_EXT = {".edf": "edf", ".bdf": "bdf", ".fif": "fif", ".vhdr": "brainvision", ".xdf": "xdf"}


def _suffix(p: Path) -> str:
    s = p.suffixes
    if len(s) >= 2 and s[-1].lower() == ".gz":
        return "".join(x.lower() for x in s[-2:])
    return p.suffix.lower()


def _binary_kind(head: bytes, p: Path) -> str | None:
    if head.startswith(b"\xffBIOSEMI"):
        return "bdf"
    if head[:8] == b"0       " and len(head) >= 192 and head[184:192].strip().isdigit():
        return "edf"
    if head.startswith(_FIF_MAGIC):
        return "fif"
    if head.startswith(b"XDF:"):  # issue 17: XDF (LabRecorder)
        return "xdf"
    if head[:2] == b"\x1f\x8b" and _suffix(p) == ".fif.gz":
        return "fif"
    text = head[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith((b"Brain Vision Data Exchange Header", b"BrainVision Data Exchange Header")):
        return "brainvision"
    return None


def detect_format(path) -> str:
    """Return the format of the recording at ``path``, from its content.

    Parameters
    ----------
    path : str | Path

    Returns
    -------
    fmt : str
        One of :data:`FORMATS`.

    Raises
    ------
    RecordingFormatError
        When the file is missing, a directory, empty, or of no known format (the message says
        what was found).
    """
    p = check_file(path)
    head = read_head(p)
    kind = _binary_kind(head, p)
    if kind is not None:
        return kind
    ext = _suffix(p)
    if ext in _BINARY_EXT or ext == ".fif.gz":
        want = _BINARY_EXT.get(ext, "fif")
        raise RecordingFormatError(
            p, f"has the {ext} extension but does not start like a {want.upper()} file "
            f"(first bytes {head[:8]!r}); the file is damaged or mislabelled"
        )
    if ext in (".eeg", ".vmrk"):
        raise RecordingFormatError(
            p, f"is part of a BrainVision recording; pass its header file {p.with_suffix('.vhdr').name}"
        )
    if b"\x00" in head:
        raise RecordingFormatError(
            p, f"unknown format: binary data (first bytes {head[:8]!r}) that is not EDF, BDF, FIF, "
            "BrainVision or XDF"
        )
    lines = first_lines(p)  # whole lines: a 100k-column header is longer than the 64 KiB head
    if not lines:
        raise RecordingFormatError(p, "holds only blank lines")
    first = lines[0].strip()
    if first.startswith("%"):
        return "openbci_txt"
    cols = [c.strip() for c in first.split(",")]
    if cols[0].lower().startswith("sample index"):
        return "openbci_txt"
    if cols[0].lower() == "timestamps":
        return "muselsl_csv"
    if cols[0].lower() == "timestamp" and any(
        c.startswith(("Delta_", "RAW_", "Alpha_")) for c in cols
    ):
        return "mindmonitor_csv"
    fields = first.split("\t")
    if len(fields) >= 2 and all(is_number(f) for f in fields):
        return "brainflow_csv"
    found = first if len(first) <= 60 else first[:57] + "..."
    raise RecordingFormatError(
        p, f"unknown format: the first line is {found!r}; expected a BrainFlow CSV (tab-separated "
        "numbers), an OpenBCI GUI text (%-header), a muselsl or Mind Monitor CSV, EDF, BDF, FIF, "
        "BrainVision or XDF"
    )
