"""``read_recording``: one entry point for every supported file."""

from __future__ import annotations

import logging

from .._logging import use_verbose
from .._validate import check_option
from ..errors import RecordingFormatError
from ._raw import check_channel_names, rename_eeg
from ._text import check_file
from .brainflow_csv import read_brainflow_csv
from .detect import FORMATS, detect_format
from .mindmonitor import _Export, _precomputed_error
from .mne_formats import read_mne_format
from .muselsl import read_muselsl_csv
from .openbci import read_openbci_txt
from .xdf import read_xdf

logger = logging.getLogger("neurofeedback")


def _resolve(path, format):
    check_option("format", format, ("auto",) + FORMATS, exc=lambda msg: RecordingFormatError(path, msg))
    p = check_file(path)
    fmt = detect_format(p) if format == "auto" else format
    logger.debug("%s: reading as %s", p, fmt)
    return p, fmt


def _read_raw(p, fmt, board, channel_names=None, stream=None):
    if board is not None and fmt not in ("brainflow_csv", "openbci_txt"):
        logger.warning("%s: board=%r is ignored for %s files", p, board, fmt)
    if stream is not None and fmt != "xdf":
        logger.warning("%s: stream=%r is ignored for %s files", p, stream, fmt)
    if fmt == "brainflow_csv":
        return read_brainflow_csv(p, board=board, channel_names=channel_names)
    if fmt == "openbci_txt":
        return read_openbci_txt(p, board=board, channel_names=channel_names)
    if fmt == "xdf":
        raw = read_xdf(p, stream=stream)
    else:
        raw = read_muselsl_csv(p) if fmt == "muselsl_csv" else read_mne_format(p, fmt)
    if channel_names:
        rename_eeg(raw, channel_names, p)
    return raw


def read_recording(path, *, format="auto", board=None, channel_names=None, allow_precomputed=False,
                   stream=None, verbose=None):
    """Read a raw EEG recording of any supported format into MNE.

    Parameters
    ----------
    path : str | Path
        The recording.
    format : str
        ``"auto"`` (sniff the content, see :func:`detect_format`) or one of :data:`FORMATS`.
    board : str | int | None
        BrainFlow board name or id. Needed for a BrainFlow CSV without its JSON sidecar; for an
        OpenBCI text file it names the channels with BrainFlow's default labels for that board.
        Ignored (with a logged warning) for other formats.
    channel_names : str | sequence of str | None
        EEG electrode sites in file order (a list, or comma-separated text), e.g.
        ``"Fp1,Fp2,C3,C4,P7,P8,O1,O2"`` for an OpenBCI GUI file whose channels are ``EEG 1…8``.
        One unique name per EEG channel; standard 10-05 sites are spelled as such ('fp1' →
        'Fp1') and get positions, other names are kept without one. Overrides the file's, the
        sidecar's and the board's names. Not for a Mind Monitor export (its channels are fixed).
    allow_precomputed : bool
        For a Mind Monitor ~1 row/s export (band powers computed on the headset, no raw EEG):
        ``False`` raises :class:`~neurofeedback.errors.PrecomputedFeaturesError`; ``True``
        returns its :class:`~neurofeedback.io.PrecomputedBandPowers` (what the command line
        does, so ``inspect`` still shows such a file).
    stream : str | None
        For an XDF file: the name of the stream to read (default: the one stream of type EEG; see
        :mod:`neurofeedback.io.xdf`). Ignored (with a logged warning) for other formats.
    verbose : bool | str | int | None
        Log level of the ``neurofeedback`` logger during the call (restored afterwards).

    Returns
    -------
    raw : mne.io.Raw | PrecomputedBandPowers
        Preloaded, in volts, EEG channels first and typed ``eeg`` (non-EEG kept only as
        ``misc``), 10-05 positions where the names are standard, ``meas_date`` (UTC) when the
        file says when it was recorded, annotations from markers/events and ``BAD_dropout`` for
        lost samples, railed or flat channels in ``info['bads']``. A band-power export's
        powers only with ``allow_precomputed=True``.

    Raises
    ------
    PrecomputedFeaturesError
        For a Mind Monitor ~1 row/s export unless ``allow_precomputed`` (or use
        :func:`read_precomputed`).
    RecordingFormatError
        For any file that cannot be read (one line naming the file and the problem).
    BoardError
        When ``board`` names no BrainFlow board (the message names the file).
    ConfigError
        An empty or repeated name in ``channel_names`` (a wrong count is a
        :class:`RecordingFormatError` naming the file).
    """
    with use_verbose(verbose):
        names = check_channel_names(channel_names)
        p, fmt = _resolve(path, format)
        if fmt == "mindmonitor_csv":
            exp = _Export(p)
            if exp.is_raw:
                raw = exp.raw()
                if names:
                    rename_eeg(raw, names, p)
                return raw
            if names:
                raise RecordingFormatError(p, "holds precomputed Muse band powers for TP9, AF7, AF8 "
                                              "and TP10; channel names cannot be given for it")
            if allow_precomputed:
                return exp.precomputed()
            raise _precomputed_error(p, exp.rows_per_s)
        return _read_raw(p, fmt, board, names, stream)
