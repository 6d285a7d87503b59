"""``neurofeedback._multitest.adjust_pvalues``: statsmodels' adjusted p-values, without the full
garbage collection statsmodels' Holm branch runs on every call (~0.1 s in a loaded process)."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from neurofeedback._multitest import adjust_pvalues


@pytest.mark.parametrize("method", ["holm", "fdr_bh", "bonferroni"])
def test_the_same_p_values_as_statsmodels(method):
    rng = np.random.default_rng(4)
    for n in (1, 2, 7, 30):
        p = rng.uniform(0, 0.2, n)
        p[: n // 3] = p[0]  # ties
        np.testing.assert_array_equal(adjust_pvalues(p, alpha=0.05, method=method),
                                      multipletests(p, alpha=0.05, method=method)[1])


def test_holm_runs_no_full_collection_and_gc_is_restored(monkeypatch):
    calls = []
    real = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(a) or 0)
    multipletests([0.01, 0.02, 0.5], alpha=0.05, method="holm")
    assert len(calls) == 1  # the reason for the wrapper: statsmodels collects on every Holm call
    spy = gc.collect
    assert list(adjust_pvalues([0.01, 0.02, 0.5], alpha=0.05, method="holm")) == \
        pytest.approx([0.03, 0.04, 0.5])
    assert len(calls) == 1 and gc.collect is spy
    with pytest.raises(ValueError):
        adjust_pvalues([0.01], alpha=0.05, method="no-such-method")
    assert gc.collect is spy
    monkeypatch.undo()
    assert gc.collect is real


def test_threads_leave_gc_collect_as_it_was():
    """The ``threads`` runner computes several subjects' trends at once."""
    real = gc.collect
    out, errors = [], []

    def work():
        try:
            for _ in range(50):
                out.append(adjust_pvalues([0.01, 0.2, 0.03], alpha=0.05, method="holm")[0])
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(out) == 400 and np.allclose(out, 0.03)
    assert gc.collect is real
