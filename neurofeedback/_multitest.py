"""Multiple-comparison adjustment: statsmodels' ``multipletests``, without its full collection.

statsmodels' Holm branch ends with ``gc.collect()`` (to free its temporary arrays early). In a
process that holds pandas, SciPy, MNE or matplotlib that full collection costs ~0.1 s per call,
and the trends adjust once per subject (and the event changes once per test): 100 subjects of the
weekly ``trends`` flow spent ~10 s in it (bench/bench_scale.py). The adjusted p-values are
statsmodels' own; only that collection is skipped, by making ``gc.collect`` a no-op for the
duration of the call (under a lock, as the ``threads`` runner computes trends in parallel; other
threads' explicit collections in that ~1 ms window are skipped too, which changes no result).
"""

from __future__ import annotations

import gc
import threading

_LOCK = threading.Lock()


def _no_collect(generation: int = 2) -> int:
    return 0


def adjust_pvalues(pvals, *, alpha: float, method: str):
    """Adjusted p-values of one family (statsmodels ``multipletests``).

    Parameters
    ----------
    pvals : sequence of float, shape (n_tests,)
        Unadjusted p-values.
    alpha : float
        Family-wise error rate (or FDR) passed to statsmodels.
    method : str
        A ``multipletests`` method, e.g. ``"holm"`` (Holm 1979), ``"fdr_bh"``.

    Returns
    -------
    p_adjusted : ndarray, shape (n_tests,)
        statsmodels' corrected p-values, in the order given.
    """
    from statsmodels.stats.multitest import multipletests

    with _LOCK:
        collect, gc.collect = gc.collect, _no_collect
        try:
            return multipletests(pvals, alpha=alpha, method=method)[1]
        finally:
            gc.collect = collect
