"""The runner's ring buffer: every update sees exactly the last window of the stream, whatever
the chunking, at the protocol's update rate; a disconnect restarts the window so no update joins
data from both sides of the gap; the feedback log holds every update."""

import numpy as np
import pandas as pd
import pytest
from _signals import alpha_peak, powerlaw_noise

from neurofeedback.feedback import init_state, load_protocol, step
from neurofeedback.feedback.runner import FeedbackLoop

SFREQ = 256.0
MUSE = ("TP9", "AF7", "AF8", "TP10")


def stream(seconds, seed, *, alpha_std=8.0):
    rng = np.random.default_rng(seed)
    n = int(seconds * SFREQ)
    return np.stack([powerlaw_noise(n, SFREQ, 1.0, rng, std=10.0)
                     + alpha_peak(n, SFREQ, 10.0, rng, std=alpha_std) for _ in MUSE])


def feed(loop, data, sizes, *, start=0, t0=1.7e9):
    """Hand ``data`` to the loop in chunks cycling through ``sizes``, as the recorder does."""
    k, i = 0, 0
    n = data.shape[1]
    while k < n:
        m = min(sizes[i % len(sizes)], n - k)
        ts = t0 + (start + k + np.arange(m)) / SFREQ
        loop(data[:, k:k + m], ts, start + k)
        k += m
        i += 1


def direct(protocol, windows_end, data, *, offset=0):
    """The reference: :func:`step` on ``data[:, end - n:end]`` for each window end (samples)."""
    state = init_state(protocol, SFREQ, MUSE, baseline_s=10)
    n = int(round(protocol.window_s * SFREQ))
    outs = []
    for end in windows_end:
        state, out = step(state, data[:, end - offset - n:end - offset], t=end / SFREQ)
        outs.append(out)
    return outs


@pytest.mark.parametrize("sizes", [[1], [7, 13], [64], [250, 3, 1000]])
def test_updates_see_the_last_window_at_the_update_rate_whatever_the_chunks(sizes):
    protocol = load_protocol("alpha-up")
    data = stream(30, seed=1)
    loop = FeedbackLoop(protocol, SFREQ, MUSE, baseline_s=10)
    feed(loop, data, sizes)
    win_n = int(round(protocol.window_s * SFREQ))
    hop = SFREQ / protocol.update_hz
    ends = [int(np.ceil(win_n + k * hop)) for k in range(int((data.shape[1] - win_n) / hop) + 1)]
    assert [round(o.t * SFREQ) for o in loop.outputs] == ends  # 4 Hz after the first 2-s window
    ref = direct(protocol, ends, data)
    np.testing.assert_allclose([o.metric for o in loop.outputs], [o.metric for o in ref],
                               rtol=1e-12)
    assert [o.reward for o in loop.outputs] == [o.reward for o in ref]
    # the baseline is the updates of the session's first 10 s (windows ending at 2 … 9.75 s)
    assert sum(o.phase == "baseline" for o in loop.outputs) == (10 - 2) * protocol.update_hz
    assert loop.resets == 0


def test_a_disconnect_restarts_the_window():
    protocol = load_protocol("alpha-up")
    before, after = stream(12, seed=2), stream(20, seed=3)
    # before the gap the signal is 20x larger: a window straddling the gap would show it
    before *= 20.0
    gap = int(3.0 * SFREQ)
    loop = FeedbackLoop(protocol, SFREQ, MUSE, baseline_s=10)
    feed(loop, before, [50])
    n_before = len(loop.outputs)
    back = before.shape[1] + gap  # the recorder's position after the reconnect
    feed(loop, after, [50], start=back)
    assert loop.resets == 1
    post = loop.outputs[n_before:]
    win_n = int(round(protocol.window_s * SFREQ))
    # nothing is updated until a whole window has arrived after the reconnect ...
    assert round(post[0].t * SFREQ) == back + win_n
    assert all(o.t * SFREQ >= back + win_n for o in post)
    # ... and every later window is made of post-gap samples only
    hop = SFREQ / protocol.update_hz
    ends = [int(np.ceil(back + win_n + k * hop)) for k in range(len(post))]
    assert [round(o.t * SFREQ) for o in post] == ends
    state = loop.state
    n = win_n
    for o, end in zip(post, ends):
        s0 = init_state(protocol, SFREQ, MUSE, baseline_s=0)
        _, ref = step(s0, after[:, end - back - n:end - back])
        assert o.metric == pytest.approx(ref.metric, rel=1e-12)
    assert state.n_updates == len(loop.outputs)
    assert loop.summary()["window_restarts"] == 1


def test_the_log_holds_every_update(tmp_path):
    protocol = load_protocol("alpha-up")
    data = stream(20, seed=4)
    log = tmp_path / "sub-x_feedback.tsv"
    loop = FeedbackLoop(protocol, SFREQ, MUSE, baseline_s=5, log_path=log)
    feed(loop, data, [33])
    loop.close()
    tsv = pd.read_csv(log, sep="\t")
    assert len(tsv) == len(loop.outputs) == int((20 - 2) * protocol.update_hz) + 1
    np.testing.assert_allclose(tsv["t_s"], [o.t for o in loop.outputs], rtol=1e-8)
    np.testing.assert_allclose(tsv["metric"], [o.metric for o in loop.outputs], rtol=1e-8)
    assert tsv["reward"].tolist() == [int(o.reward) for o in loop.outputs]
    assert set(tsv["phase"]) == {"baseline", "training"}
    # the timestamps are not wall-clock time here, so no delay is claimed
    assert tsv["latency_s"].isna().all() and loop.latencies == []


# ---------------------------------------------------------------------------------------------
# The feedback log beside a recording: found from the CSV or the FIF, read, and plotted

def _write_log(tmp_path, *, tail=""):
    protocol = load_protocol("alpha-up")
    data = stream(20, seed=5)
    data[:, 3000:3100] += 400.0  # an artifact: some windows give no reward
    log = tmp_path / "sub-x_ses-1_feedback.tsv"
    loop = FeedbackLoop(protocol, SFREQ, MUSE, baseline_s=5, log_path=log)
    feed(loop, data, [40])
    loop.close()
    if tail:
        with open(log, "a") as fh:
            fh.write(tail)
    return log, loop


def test_feedback_log_and_sidecar_are_found_from_the_csv_and_the_fif(tmp_path):
    from neurofeedback.acquisition.session import find_feedback_log
    from neurofeedback.io.sidecar import find_sidecar

    log, _ = _write_log(tmp_path)
    csv, fif = tmp_path / "sub-x_ses-1_eeg.csv", tmp_path / "sub-x_ses-1_raw.fif"
    sidecar = tmp_path / "sub-x_ses-1_eeg.json"
    for p in (csv, fif, sidecar):
        p.write_text("{}")
    assert find_feedback_log(csv) == log and find_feedback_log(fif) == log
    assert find_sidecar(fif) == sidecar and find_sidecar(csv) == sidecar
    assert find_feedback_log(tmp_path / "other.edf") is None
    log.unlink()
    assert find_feedback_log(csv) is None


def test_read_feedback_log_drops_a_cut_last_line_and_names_the_file(tmp_path):
    from neurofeedback.acquisition.session import read_feedback_log
    from neurofeedback.errors import RecordingFormatError

    log, loop = _write_log(tmp_path, tail="19.75\t1700000019.7\ttrai")  # a crash mid-line
    table = read_feedback_log(log)
    assert len(table) == len(loop.outputs)
    assert table["reward"].dtype.kind == "i" and table["artifact"].sum() > 0
    assert table.loc[table["phase"] == "baseline", "threshold"].isna().all()
    bad = tmp_path / "bad_feedback.tsv"
    bad.write_text("t_s\tmetric\n1\t2\n")
    with pytest.raises(RecordingFormatError, match=r"bad_feedback.tsv: feedback log lacks the "
                                                   r"column\(s\) phase, threshold, reward$"):
        read_feedback_log(bad)


def test_plot_feedback_draws_the_log(tmp_path):
    from neurofeedback.acquisition.session import read_feedback_log
    from neurofeedback.report.plots import plot_feedback

    log, loop = _write_log(tmp_path)
    table = read_feedback_log(log)
    fig = plot_feedback(table, metric_label="relative alpha power (fraction)", target_rate=0.65)
    ax, ax_rate = fig.axes[:2]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(lines["metric"].get_ydata(), [o.metric for o in loop.outputs])
    rewarded = [o.t for o in loop.outputs if o.reward]
    np.testing.assert_allclose(lines["rewarded update"].get_xdata(), rewarded)
    np.testing.assert_allclose(lines["threshold"].get_ydata(), [o.threshold for o in loop.outputs])
    n_art = sum(o.artifact for o in loop.outputs)
    assert n_art > 0 and len(lines["artifact (no reward)"].get_xdata()) == n_art
    rate = {ln.get_label(): ln for ln in ax_rate.get_lines()}
    np.testing.assert_allclose(rate["target"].get_ydata(), 0.65)
    assert ax.get_ylabel() == "relative alpha power (fraction)"
