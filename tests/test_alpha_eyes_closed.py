"""Real recordings: occipital alpha is clearly higher in eyes-closed stretches (Berger effect).

How the stretches are found from the data (the files carry no eyes-open/closed markers): the
per-epoch table gives the occipital channel's *relative* alpha for each clean 4 s epoch; it is
smoothed with a 3-epoch running median and split at the midpoint between its 10th and 90th
percentiles. Epochs above are "eyes closed", below "eyes open"; the stretches come out
contiguous (tens of seconds), as the protocols were.

Defining stretches from alpha and then finding more alpha in them would be circular, so the
test asks for *specificity*: the eyes-closed/eyes-open ratio of absolute alpha power must be
clearly above 1 and clearly above the same ratio for every other band (an eyes-closed stretch is
not just a louder stretch), and the stretches must be long.
"""

import numpy as np
import pytest
from conftest import shared_file

from neurofeedback.process import process_recording

FILES = [
    # The GUI file does not say where electrodes sat; with board="cyton" the reader uses OpenBCI's
    # standard Cyton montage labels (Fp1, Fp2, C3, C4, P7, P8, O1, O2): O1/O2 on channels 7/8.
    "OpenBCI__OpenBCI_GUI/OpenBCI_GUI-v6-blinks-jawClench-alpha.txt",
    "chipaudette__EEGHacker/openBCI_raw_2014-10-04_18-55-41_O1_Alpha.txt",
    "chipaudette__EEGHacker/openBCI_raw_2014-10-04_19-06-13_O1_Alpha.txt",
    "chipaudette__EEGHacker/openBCI_raw_2014-10-05_17-14-45_O1_Alpha_noCaffeine.txt",
]


def _occipital(proc):
    good = [c for c in proc.raw.ch_names if c not in proc.raw.info["bads"]]
    occ = [c for c in good if c.upper().startswith("O")]
    if occ:
        return occ[0]
    assert len(good) == 1, f"no occipital channel name and several good channels: {good}"
    return good[0]  # EEGHacker: only the O1 electrode was wired (file name), the rest railed


def eyes_closed_stretches(table, channel):
    """Return (eyes_closed, eyes_open) boolean Series over epochs, from relative alpha."""
    t = table[table["channel"] == channel]
    rel = t.pivot(index="epoch", columns="band", values="relative")["alpha"]
    clean = t.groupby("epoch", observed=True)["clean"].first()
    smooth = rel.where(clean).rolling(3, center=True, min_periods=2).median()
    thr = (np.nanpercentile(smooth, 10) + np.nanpercentile(smooth, 90)) / 2
    return (smooth > thr) & clean, (smooth <= thr) & clean


@pytest.mark.parametrize("rel", FILES)
def test_alpha_higher_with_eyes_closed(shared_data, rel):
    board = "cyton" if rel.startswith("OpenBCI__") else None
    proc = process_recording(shared_file(shared_data, rel), board=board)
    ch = _occipital(proc)
    table = proc.features.epochs
    ec, eo = eyes_closed_stretches(table, ch)
    assert ec.sum() >= 8 and eo.sum() >= 8  # at least 16 s of each
    runs = np.diff(np.r_[0, ec.to_numpy().astype(int), 0])
    longest = (np.flatnonzero(runs == -1) - np.flatnonzero(runs == 1)).max()
    assert longest >= 4  # a stretch of >= 10 s (4 epochs stepped by 2 s), not scattered epochs
    power = table[table["channel"] == ch].pivot(index="epoch", columns="band", values="absolute_uv2")
    ratio = {b: power.loc[ec, b].mean() / power.loc[eo, b].mean() for b in power.columns}
    assert ratio["alpha"] > 1.5, ratio
    others = max(v for b, v in ratio.items() if b != "alpha")
    assert ratio["alpha"] > 1.4 * others, ratio
