"""Per-channel signal checks shared by the readers, offline preprocessing (and, later, the
recorder's pre-recording gate)."""

from __future__ import annotations

import numpy as np

__all__ = ["railed_fraction"]


def railed_fraction(data_uv: np.ndarray, *, rail_uv: float) -> np.ndarray:
    """Fraction of samples of each channel sitting at the ADC rail.

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times)
        Unfiltered signal in µV (railing is a property of the raw values).
    rail_uv : float
        Absolute value at or above which a sample counts as railed (OpenBCI Cyton saturates at
        ±187500 µV, where an unconnected input sits).

    Returns
    -------
    fraction : ndarray, shape (n_channels,)
    """
    out = np.zeros(data_uv.shape[0])
    for c, row in enumerate(data_uv):
        # two cheap reductions first: most channels never reach the rail
        if row.size and (row.max() >= rail_uv or row.min() <= -rail_uv):
            out[c] = np.count_nonzero(np.abs(row) >= rail_uv) / row.size
    return out
