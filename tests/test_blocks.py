"""Blocks: found in the annotations of every reader path, epochs assigned by their whole span,
and per-block values that follow the simulator's known block gains."""

from __future__ import annotations

import json
from pathlib import Path

import mne
import numpy as np
import pytest
from typer.testing import CliRunner

from neurofeedback.blocks import NO_BLOCK, block_label, block_spans, epoch_blocks
from neurofeedback.process import process_raw, process_recording
from neurofeedback.simulate import simulate_cohort, simulate_eeg, write_recording

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
PROTOCOL = [("eyes-open", 12.0), ("eyes-closed", 12.0), ("meditation", 12.0)]
GAINS = {"eyes-open": 1.0, "eyes-closed": 3.0, "meditation": 2.0}


def _ann(onsets, durations, descriptions, orig_time=None):
    return mne.Annotations(onsets, durations, descriptions, orig_time=orig_time)


# ---------------------------------------------------------------------------------------------
# which annotations are blocks


def test_annotations_with_a_duration_are_blocks_artifacts_and_points_are_not():
    ann = _ann([0, 5, 10, 12, 20, 30, 30.5], [10, 1, 0, 10, 0.004, 5, 0],
               ["eyes-open", "BAD_blink", "typed note", "Comment/eyes-closed", "Stimulus/S  1",
                "EDGE boundary", "marker/7"])
    spans = block_spans(ann, 250.0, 250 * 40)
    # the 1-sample BrainVision stimulus marker and the point markers are not blocks; the
    # BrainVision type prefix is not part of the label
    assert spans == [(0.0, 10.0, "eyes-open"), (12.0, 10.0, "eyes-closed")]


def test_blocks_are_clipped_to_the_recording_and_shifted_by_first_time():
    ann = _ann([-2.0, 35.0], [6.0, 20.0], ["a", "b"])
    assert block_spans(ann, 100.0, 4000) == [(0.0, 4.0, "a"), (35.0, 5.0, "b")]
    # annotations tied to meas_date count from the first sample of the data (first_time)
    tied = _ann([12.0], [4.0], ["a"], orig_time=1.7e9)
    assert block_spans(tied, 100.0, 4000, first_time=10.0) == [(2.0, 4.0, "a")]


def test_marker_columns_start_blocks_that_run_to_the_next_marker():
    """muselsl / OpenBCI GUI files: point markers only, each a block start."""
    ann = _ann([0.0, 30.0, 60.0, 90.0, 100.0], [0, 0, 0, 0, 2.0],
               ["marker/1", "marker/2", "marker/1", "marker/2", "BAD_dropout"])
    spans = block_spans(ann, 256.0, 256 * 120)
    assert spans == [(0.0, 30.0, "marker/1"), (30.0, 30.0, "marker/2"), (60.0, 30.0, "marker/1"),
                     (90.0, 30.0, "marker/2")]


def test_point_markers_are_ignored_when_blocks_have_durations():
    """The recorder's keyboard markers fall inside its timed blocks and do not split them."""
    ann = _ann([0.0, 7.0, 20.0], [20.0, 0.0, 20.0], ["eyes-open", "marker/101", "meditation"])
    assert [s[2] for s in block_spans(ann, 250.0, 250 * 40)] == ["eyes-open", "meditation"]


def test_reserved_labels_are_not_blocks(caplog):
    ann = _ann([0.0, 10.0], [10.0, 10.0], ["session", "meditation"])
    assert block_spans(ann, 250.0, 250 * 20) == [(10.0, 10.0, "meditation")]
    assert "reserved" in caplog.text
    assert block_label("Comment/eyes-open") == "eyes-open"
    assert block_label(" meditation ") == "meditation"


def test_an_epoch_belongs_to_a_block_when_its_whole_span_lies_inside():
    sf = 250.0
    spans = [(0.0, 12.0, "eyes-open"), (12.0, 12.0, "eyes-closed"), (24.0, 12.0, "meditation")]
    starts = np.arange(0, int(36 * sf) - 1000 + 1, 500)  # 4-s epochs stepped by 2 s
    labels = epoch_blocks(spans, starts, 1000, sf)
    onsets = starts / sf
    got = dict(zip(onsets.tolist(), labels.tolist()))
    # [8, 12] ends exactly at the boundary: inside; [10, 14] straddles it: no block
    assert got[8.0] == "eyes-open" and got[10.0] == NO_BLOCK and got[12.0] == "eyes-closed"
    assert got[20.0] == "eyes-closed" and got[22.0] == NO_BLOCK and got[24.0] == "meditation"
    assert got[32.0] == "meditation"
    assert [int((labels == b).sum()) for b in ("eyes-open", "eyes-closed", "meditation")] == [5, 5, 5]
    # a block nested in another claims its epochs (the later start wins)
    nested = epoch_blocks([(0.0, 36.0, "whole"), (12.0, 12.0, "inner")], starts, 1000, sf)
    assert set(nested[(onsets >= 12) & (onsets <= 20)]) == {"inner"}
    assert set(nested[onsets < 10]) == {"whole"}


# ---------------------------------------------------------------------------------------------
# per-block values with known truth


@pytest.fixture(scope="module")
def protocol_recording():
    """90 s of a Cyton-like recording: eyes-open, eyes-closed, meditation (30 s each), alpha
    amplitude ×1, ×3, ×2 (the cohort's protocol), no artifacts."""
    rec = simulate_eeg(duration_s=90.0, sfreq=250.0,
                       ch_names=["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"],
                       blocks=[(b, 30.0) for b, _ in PROTOCOL], block_alpha_gain=GAINS,
                       alpha_amplitude_uv=[2.0, 2.0, 4.0, 4.0, 6.0, 6.0, 8.0, 8.0],
                       blink_rate_per_min=0.0, movement_bursts=0, line_amplitude_uv=0.0, seed=3)
    return rec, process_raw(rec.to_raw(), line_freq=None)


def test_per_epoch_block_column(protocol_recording):
    _, proc = protocol_recording
    t = proc.features.epochs
    assert list(t.columns)[-1] == "block"
    per_epoch = t.drop_duplicates("epoch").set_index("epoch")
    # 4-s epochs every 2 s in 30-s blocks: 14 whole epochs each, the 2 straddling a boundary none
    assert per_epoch["block"].value_counts().to_dict() == {
        "eyes-open": 14, "eyes-closed": 14, "meditation": 14, "": 2}
    assert per_epoch.loc[per_epoch["onset_s"] == 28.0, "block"].item() == ""
    assert per_epoch.loc[per_epoch["onset_s"] == 30.0, "block"].item() == "eyes-closed"
    assert per_epoch.loc[per_epoch["onset_s"] == 86.0, "block"].item() == "meditation"
    # every row of an epoch carries its block
    assert (t.groupby("epoch", observed=True)["block"].nunique() == 1).all()


def test_per_block_values_follow_the_block_gains(protocol_recording):
    """Eyes-closed alpha amplitude ×3 (power ×9) → relative alpha higher eyes closed than open,
    meditation (×2) in between; absolute alpha power in the ratio of the squared gains, within
    the background's share."""
    rec, proc = protocol_recording
    s = proc.summary()
    blocks = s["blocks"]
    assert list(blocks) == ["eyes-open", "eyes-closed", "meditation"]
    for label, (onset, dur) in zip(blocks, [(0.0, 30.0), (30.0, 30.0), (60.0, 30.0)]):
        b = blocks[label]
        assert (b["onset_s"], b["duration_s"], b["spans"]) == (onset, dur, [[onset, dur]])
        assert b["n_epochs"] == b["n_clean_epochs"] == 14 and b["clean_fraction"] == 1.0
        assert b["reason"] is None
    for ch in ("O1", "O2", "P7", "P8"):
        rel = {k: blocks[k]["band_power"]["relative"][ch]["alpha"] for k in blocks}
        assert rel["eyes-closed"] > rel["meditation"] > rel["eyes-open"], (ch, rel)
        ab = {k: blocks[k]["band_power"]["absolute"][ch]["alpha"] for k in blocks}
        # alpha-band power = aperiodic part B + oscillation a²·g²; the ratio EC/EO is
        # (B + 9A)/(B + A), between 1 and 9, and close to 9 where alpha dominates (O1/O2)
        assert 3.0 < ab["eyes-closed"] / ab["eyes-open"] < 9.5, (ch, ab)
        assert ab["eyes-closed"] > ab["meditation"] > ab["eyes-open"]
    # the session values are those of all clean epochs, not an average of the blocks
    assert s["n_clean_epochs"] == 44
    sess = s["band_power"]["relative"]["O1"]["alpha"]
    assert min(blocks[k]["band_power"]["relative"]["O1"]["alpha"] for k in blocks) < sess
    # same structure as the session's values
    for key in ("band_power", "ratios", "iaf_hz", "iaf_cog_hz", "faa", "aperiodic"):
        assert set(blocks["meditation"][key]) == set(s[key]), key


def test_a_block_with_too_few_clean_epochs_has_no_values():
    rec = simulate_eeg(duration_s=40.0, blocks=[("eyes-open", 30.0), ("eyes-closed", 10.0)],
                       blink_rate_per_min=0.0, movement_bursts=0, seed=4)
    proc = process_raw(rec.to_raw(), line_freq=None)
    b = proc.summary()["blocks"]
    assert b["eyes-open"]["reason"] is None and b["eyes-open"]["band_power"] is not None
    ec = b["eyes-closed"]
    assert ec["n_epochs"] == 4 and ec["n_clean_epochs"] == 4 and ec["clean_fraction"] == 1.0
    assert ec["channel_clean_fraction"] == {ch: 1.0 for ch in rec.ch_names}
    assert ec["reason"] == ("too little clean data: 10 s on its best channel (a block's values need "
                            ">= 12 s on a channel)")
    assert all(ec[k] is None for k in ("band_power", "ratios", "iaf_hz", "iaf_cog_hz", "faa",
                                       "aperiodic"))
    json.dumps(proc.summary(), allow_nan=False)


def test_no_blocks_no_block_values():
    rec = simulate_eeg(duration_s=20.0, seed=5)
    proc = process_raw(rec.to_raw(), line_freq=None)
    assert proc.summary()["blocks"] == {}
    assert set(proc.features.epochs["block"]) == {""}


# ---------------------------------------------------------------------------------------------
# every reader path


@pytest.mark.parametrize("fmt, name, layout", [
    ("fif", "rec_raw.fif", "muse"), ("edf", "rec.edf", "muse"), ("brainvision", "rec.vhdr", "muse"),
    ("brainflow_csv", "rec.csv", "muse"), ("openbci_txt", "rec.txt", "cyton"),
    ("muselsl_csv", "rec.csv", "muse"),
])
def test_blocks_arrive_from_every_format(tmp_path, fmt, name, layout):
    kw = {} if layout == "muse" else {"ch_names": ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"],
                                      "sfreq": 250.0}
    rec = simulate_eeg(duration_s=36.0, blocks=PROTOCOL, block_alpha_gain=GAINS,
                       blink_rate_per_min=0.0, movement_bursts=0, seed=6, **kw)
    path = write_recording(rec, tmp_path / name, format=fmt)
    proc = process_recording(path)
    per_epoch = proc.features.epochs.drop_duplicates("epoch")
    labels = ([f"marker/{i}" for i in (1, 2, 3)] if fmt in ("muselsl_csv", "openbci_txt")
              else [b for b, _ in PROTOCOL])  # marker columns carry values, not labels
    assert list(proc.summary()["blocks"]) == labels
    assert per_epoch["block"].value_counts().to_dict() == {**{b: 5 for b in labels}, "": 2}


def test_the_bids_copy_keeps_the_blocks(tmp_path):
    """mne-bids writes BrainVision markers without labels or durations; its events.tsv keeps
    both, and the reader uses it."""
    from neurofeedback.store.bids import write_raw_to_bids

    rec = simulate_eeg(duration_s=36.0, blocks=PROTOCOL, seed=7)
    path = write_recording(rec, tmp_path / "rec_raw.fif", format="fif")
    out = write_raw_to_bids(process_recording(path).raw, "s1", "20260105T090000", home=tmp_path)
    spans = process_recording(out).summary()["blocks"]
    assert {k: (v["onset_s"], v["duration_s"]) for k, v in spans.items()} == {
        "eyes-open": (0.0, 12.0), "eyes-closed": (12.0, 12.0), "meditation": (24.0, 12.0)}


def test_sample_data_blocks():
    cyton = process_recording(SAMPLE / "cyton_meditation.csv").summary()["blocks"]
    fif = process_recording(SAMPLE / "cyton_meditation_raw.fif").summary()["blocks"]
    for blocks in (cyton, fif):
        assert list(blocks) == ["eyes-open", "eyes-closed", "meditation"]
        assert [b["n_epochs"] for b in blocks.values()] == [29, 29, 29]
        assert all(b["reason"] is None for b in blocks.values())
    muse = process_recording(SAMPLE / "muse_eyes_open_closed.csv").summary()["blocks"]
    # muselsl: markers 1 / 2 start the alternating 30-s blocks; each label pools its two stretches
    assert list(muse) == ["marker/1", "marker/2"]
    assert muse["marker/1"]["spans"] == [[0.0, 30.0], [60.0, 30.0]]
    assert muse["marker/2"]["duration_s"] == 60.0 and muse["marker/2"]["n_epochs"] == 28


def test_cohort_files_carry_their_blocks(tmp_path):
    """The demo cohort's formats (BrainFlow CSV + sidecar, muselsl CSV): three equal blocks."""
    truth = simulate_cohort(tmp_path, seed=5, weeks=1, sessions_per_week=1, duration_s=36.0)
    for subj in truth.subjects:
        ses = subj.sessions[0]
        blocks = process_recording(tmp_path / ses.path).summary()["blocks"]
        want = (["marker/1", "marker/2", "marker/3"] if subj.subject == "stable01"
                else ["eyes-open", "eyes-closed", "meditation"])
        assert list(blocks) == want, subj.subject
        assert [(b["onset_s"], b["duration_s"]) for b in blocks.values()] == [
            (0.0, 12.0), (12.0, 12.0), (24.0, 12.0)]


def test_playback_recording_carries_its_blocks(tmp_path):
    """A session recorded through BrainFlow's playback board: blocks in the CSV + sidecar and in
    the recorder's FIF, and in the summary the record command prints."""
    from neurofeedback.cli import app

    home = tmp_path / "home"
    res = CliRunner().invoke(app, [
        "record", "--board", "playback", "--file", str(SAMPLE / "cyton_meditation.csv"),
        "--speed", "10", "--subject", "pb1", "--duration", "24s",
        "--blocks", "eyes-open:12,eyes-closed:12", "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert {k: v["n_epochs"] for k, v in summary["blocks"].items()} == {
        "eyes-open": 5, "eyes-closed": 5}
    fif = next((home / "recordings").rglob("*_raw.fif"))
    blocks = process_recording(fif).summary()["blocks"]
    assert {k: (v["onset_s"], v["duration_s"]) for k, v in blocks.items()} == {
        "eyes-open": (0.0, 12.0), "eyes-closed": (12.0, 12.0)}


def test_alpha_vs_eyes_closed_has_the_sign_and_size_of_the_block_gains(protocol_recording):
    """Relative alpha of a block with gain g: (B_α + a²g²) / (B + a²g²), B_α and B the aperiodic
    power in 8–13 and 1–45 Hz (offset 100 µV²/Hz, exponent 1.5), a the channel's alpha RMS.
    Meditation (×2) minus eyes-closed (×3) is negative on every channel; its channel mean is
    within 0.05 (5 percentage points) of the truth (the simulated alpha bursts vary from block
    to block: about ±0.04 per channel, ±0.015 for the mean of 8)."""
    from neurofeedback.metrics import session_metrics
    from neurofeedback.simulate._cohort_design import _aperiodic_band_power

    rec, proc = protocol_recording
    m = session_metrics(proc.summary())
    d = m[m["metric"] == "alpha_vs_eyes_closed"].set_index(["block", "channel"])["value"]
    assert set(d.index.get_level_values("block")) == {"eyes-open", "meditation"}
    assert set(m.loc[m["metric"] == "alpha_vs_eyes_closed", "unit"]) == {"fraction"}
    b_alpha, b_all = _aperiodic_band_power(100.0, 1.5, (8, 13)), _aperiodic_band_power(100.0, 1.5, (1, 45))

    def rel(a, g):
        return (b_alpha + (a * g) ** 2) / (b_all + (a * g) ** 2)

    amps = dict(zip(rec.ch_names, [2.0, 2.0, 4.0, 4.0, 6.0, 6.0, 8.0, 8.0]))
    for block, gain in (("meditation", 2.0), ("eyes-open", 1.0)):
        want = {ch: rel(a, gain) - rel(a, 3.0) for ch, a in amps.items()}
        assert all(d[block, ch] < 0 for ch in amps), d[block]
        assert d[block, "mean"] == pytest.approx(np.mean(list(want.values())), abs=0.05)
        posterior = [want[ch] for ch in ("P7", "P8", "O1", "O2")]
        assert d[block, "posterior"] == pytest.approx(np.mean(posterior), abs=0.05)
    assert d["eyes-open", "mean"] < d["meditation", "mean"]
    # it is the difference of the blocks' own relative alpha rows
    rel_rows = m[m["metric"] == "relative_alpha"].set_index(["block", "channel"])["value"]
    assert d["meditation", "O1"] == pytest.approx(rel_rows["meditation", "O1"] - rel_rows["eyes-closed", "O1"])
