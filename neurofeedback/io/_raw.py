"""Building the ``mne.io.Raw``: volts, channel names and positions, bad channels (private).

:func:`build_raw` is the one place the text readers convert µV to volts.
"""

from __future__ import annotations

import numpy as np

from ..config import PreprocessingSettings
from ..quality import railed_fraction

UV = 1e-6  # volts per µV

# Bad-channel rules (µV): the railed rule of offline preprocessing, with the settings' defaults
# (neurofeedback/configs/pipeline.yaml holds the same values; reading does not depend on a config folder).
RAIL_UV = PreprocessingSettings().rail_uv
RAILED_FRACTION = PreprocessingSettings().railed_fraction
FLAT_FRACTION = 0.5

MONTAGE = "colin27_1005"  # 'standard_1005' warns (FutureWarning) in MNE 1.13; same positions


def railed_or_flat(data_uv: np.ndarray, names) -> dict[str, str]:
    """Return ``{name: reason}`` for channels that are railed or flat.

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times), µV
    names : list of str

    Notes
    -----
    Railed: at least 5% of samples at |x| ≥ 187000 µV (a Cyton saturates at ±187500 µV, the
    value an unconnected input sits at). Flat: at least half the samples equal the previous one
    (a dead or zeroed channel; real EEG at 0.01 µV resolution almost never repeats).
    """
    out = {}
    if data_uv.shape[1] < 2:
        return out
    railed_all = railed_fraction(data_uv, rail_uv=RAIL_UV)
    for name, x, railed in zip(names, data_uv, railed_all):
        flat = float(np.mean(np.diff(x) == 0))
        if railed >= RAILED_FRACTION:
            out[name] = f"railed ({railed:.0%} of samples at |x| >= {RAIL_UV:g} uV)"
        elif flat >= FLAT_FRACTION:
            out[name] = f"flat ({flat:.0%} of samples repeat the previous value)"
    return out


def montage_names():
    """The channel names of the colin27 10-05 montage (:data:`MONTAGE`)."""
    import mne

    return mne.channels.make_standard_montage(MONTAGE).ch_names


def standard_name(name: str, lookup: dict[str, str] | None = None) -> str:
    """Return the 10-05 spelling of ``name`` ('Fc5.' → 'FC5', 'fp1' → 'Fp1'), else ``name``."""
    if lookup is None:
        lookup = {n.lower(): n for n in montage_names()}
    clean = name.strip().rstrip(".").strip()
    return lookup.get(clean.lower(), clean if clean else name)


def apply_montage(raw) -> None:
    """Give EEG channels the colin27 10-05 positions when their names are standard sites."""
    names = set(montage_names())
    eeg = [raw.ch_names[i] for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    if not any(n in names for n in eeg):
        return
    import mne

    raw.set_montage(mne.channels.make_standard_montage(MONTAGE), on_missing="ignore",
                    verbose=False)


def build_raw(data_uv: np.ndarray, ch_names, ch_types, sfreq: float, *, meas_date=None,
              annotations=(), bads=(), device_info=None, montage: bool = True, reference=None):
    """Build a preloaded ``RawArray`` in volts from µV data.

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times), µV
        Converted to volts here (× 1e-6), the one place the text readers change units.
    ch_names, ch_types : list of str
    sfreq : float
    meas_date : datetime | None
        Aware UTC datetime.
    annotations : iterable of (onset_s, duration_s, description)
        Onsets relative to the first sample.
    bads : iterable of str
    device_info : dict | None
    reference : str | None
        What the recording is referenced to, as the file or device says it (recorded in
        ``info['description']``; see :mod:`neurofeedback.io._reference`). ``None``: not recorded.
    """
    import mne

    info = mne.create_info(list(ch_names), float(sfreq), list(ch_types), verbose=False)
    data = np.asarray(data_uv, dtype=np.float64) * UV
    raw = mne.io.RawArray(data, info, verbose=False)
    if meas_date is not None:
        raw.set_meas_date(meas_date)
    if device_info:
        raw.info["device_info"] = {k: str(v) for k, v in device_info.items()}
    raw.info["bads"] = [b for b in ch_names if b in set(bads)]
    ann = list(annotations)
    if ann:
        onsets, durations, desc = zip(*ann)
        raw.set_annotations(mne.Annotations(np.asarray(onsets, float), np.asarray(durations, float),
                                            list(desc)), verbose=False)
    if montage:
        apply_montage(raw)
    if reference is not None:
        from ._reference import set_reference

        set_reference(raw, reference)
    return raw


def check_channel_names(value, *, what: str = "channel_names") -> tuple[str, ...] | None:
    """Split and check user-given EEG names (comma-separated text or a sequence).

    Each name is stripped and spelled as the 10-05 site when it is one ('fp1' → 'Fp1'); names
    that are no 10-05 site are kept as given (a custom montage: they get no position). Empty and
    repeated names raise :class:`~neurofeedback.errors.ConfigError` (one line naming ``what``);
    the count is checked against the file by the readers. ``None`` or ``""`` gives ``None``.
    """
    from ..errors import ConfigError

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    lookup = {n.lower(): n for n in montage_names()}
    names = tuple(standard_name(str(x), lookup) if str(x).strip() else "" for x in items)
    shown = value if isinstance(value, str) else ",".join(map(str, items))
    if any(not n for n in names):
        raise ConfigError(f"Invalid value for the '{what}' parameter: an empty name in {shown!r}.")
    from .._validate import check_text_length

    for n in names:  # the catalog's channel column holds 64 characters (on every back end)
        check_text_length("channel", n, what=f"the '{what}' parameter (a name)", exc=ConfigError)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"Invalid value for the '{what}' parameter: {', '.join(dup)} given more "
                          f"than once in {shown!r}.")
    return names


def rename_eeg(raw, names, path) -> None:
    """Rename ``raw``'s EEG channels, in order, to ``names`` and redo the 10-05 positions."""
    from ..errors import RecordingFormatError

    eeg = [raw.ch_names[i] for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    if len(names) != len(eeg):
        raise RecordingFormatError(path, f"{len(names)} channel names given for its {len(eeg)} EEG channels")
    clash = set(names) & (set(raw.ch_names) - set(eeg))
    if clash:
        raise RecordingFormatError(path, f"channel names {', '.join(sorted(clash))} are already its "
                                         "non-EEG channels")
    mapping = {old: new for old, new in zip(eeg, names) if old != new}
    if not mapping:
        return
    raw.set_montage(None)
    raw.rename_channels(mapping)
    apply_montage(raw)
