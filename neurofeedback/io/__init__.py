"""Read every common consumer-EEG recording into ``mne.io.Raw`` (volts).

Formats (:data:`FORMATS`): BrainFlow CSV (with its JSON sidecar or ``board=``), OpenBCI GUI text
(v3/v4, v5, v6 and the 2014 V3 files), muselsl CSV, Mind Monitor CSV (precomputed band powers,
or raw EEG when recorded at a constant rate), EDF/EDF+, BDF, FIF, BrainVision and XDF
(LabRecorder, :func:`read_xdf`). Each
reader's module documents the quirks of its format.

Entry points: :func:`read_recording` (raw EEG; with ``allow_precomputed=True`` a Mind
Monitor band-power export's powers too), :func:`read_precomputed` (those powers only),
:func:`detect_format`.
"""

from .brainflow_csv import read_brainflow_csv
from .detect import FORMATS, detect_format
from .dispatch import read_recording
from .mindmonitor import MUSE_BANDS, PrecomputedBandPowers, read_mindmonitor_csv, read_precomputed
from .mne_formats import read_mne_format
from .muselsl import read_muselsl_csv
from .openbci import read_openbci_txt
from .sidecar import find_sidecar, make_sidecar, read_sidecar, sidecar_path, write_sidecar
from .xdf import read_xdf

__all__ = [
    "FORMATS",
    "MUSE_BANDS",
    "PrecomputedBandPowers",
    "detect_format",
    "find_sidecar",
    "make_sidecar",
    "read_brainflow_csv",
    "read_mindmonitor_csv",
    "read_mne_format",
    "read_muselsl_csv",
    "read_openbci_txt",
    "read_precomputed",
    "read_recording",
    "read_sidecar",
    "sidecar_path",
    "write_sidecar",
    "read_xdf",
]
