"""``neurofeedback record --board playback``: real recordings replayed as live streams through
BrainFlow's playback board, recorded like a headset session (acceptance points 2 and 6)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import shared_file
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.io import read_recording
from neurofeedback.io.sidecar import read_sidecar

runner = CliRunner()
MUSE = "NeuroTechX__eeg-notebooks_v0.1/data_2017-02-04-15_45_13.csv"
OPENBCI_V6 = "OpenBCI__OpenBCI_GUI/OpenBCI_GUI-v6-blinks-jawClench-alpha.txt"
ROFL = "roflecopter__openbci-session/OpenBCI-GUI-2024-01-24_16-28-32.txt"


def _source_uv_muselsl(path):
    """The EEG columns as written in the muselsl file, parsed by pandas (independent of our
    readers)."""
    df = pd.read_csv(path)
    return df[["TP9", "AF7", "AF8", "TP10"]].to_numpy(float).T


def _source_uv_openbci(path):
    """EEG columns 1–8 of an OpenBCI GUI text file, parsed by pandas."""
    df = pd.read_csv(path, comment="%", header=0, skipinitialspace=True)
    cols = [c for c in df.columns if c.strip().startswith("EXG Channel")][:8]
    return df[cols].to_numpy(float).T


def _record(tmp_path, path, blocks, duration, extra=()):
    home = tmp_path / "home"
    res = runner.invoke(app, ["record", "--board", "playback", "--file", str(path), "--speed", "10",
                              "--subject", "pb1", "--duration", duration, "--blocks", blocks,
                              "--home", str(home), "--json", *extra])
    return home, res


@pytest.mark.parametrize("rel, source", [(MUSE, _source_uv_muselsl), (OPENBCI_V6, _source_uv_openbci)])
def test_playback_reproduces_samples_and_blocks(shared_data, tmp_path, rel, source):
    """Acceptance 2: the recorded EEG equals the source's samples, from its first sample on,
    and the block markers are annotations exactly at the block boundaries."""
    path = shared_file(shared_data, rel)
    # --force: these real files fail the gate (mains pickup on the Muse's TP9, unnotched Cyton)
    home, res = _record(tmp_path, path, "eyes-open:4,eyes-closed:4,meditation:4", "12s",
                        extra=("--force",))
    assert res.exit_code == 0, res.output
    csv = next((home / "recordings").rglob("*_eeg.csv"))
    doc = read_sidecar(csv.with_suffix(".json"))
    sfreq = doc["sfreq"]
    assert doc["source"]["kind"] == "playback" and doc["time_scale"] == 10
    table = np.loadtxt(csv, delimiter="\t")
    rows = doc["board_descr"]["eeg_channels"]
    got = table[:, rows].T
    want = source(path)[:, : got.shape[1]]
    assert got.shape[1] == int(round(12 * sfreq))
    np.testing.assert_array_equal(got, want)  # bit for bit, in order, from the first sample

    raw = read_recording(csv)
    ann = {a["description"]: (a["onset"], a["duration"]) for a in raw.annotations
           if not a["description"].startswith("BAD")}
    period = 1 / sfreq
    for label, start in (("eyes-open", 0.0), ("eyes-closed", 4.0), ("meditation", 8.0)):
        assert abs(ann[label][0] - start) <= period, (label, ann[label])
        assert ann[label][1] == pytest.approx(4.0, abs=period)
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["annotations"]["eyes-closed"]["count"] == 1


def test_gate_stops_the_railed_roflecopter_recording(shared_data, tmp_path):
    """Acceptance 6 (no-go): the gate flags the channels the reader marks railed; nothing is
    recorded without --force."""
    path = shared_file(shared_data, ROFL)
    railed = set(read_recording(path).info["bads"])
    assert len(railed) == 5
    home = tmp_path / "home"
    res = runner.invoke(app, ["record", "--board", "playback", "--file", str(path), "--speed", "2",
                              "--subject", "rf1", "--duration", "5s", "--home", str(home)])
    assert res.exit_code == 2
    err = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "quality check failed" in err[0] and "--force" in err[0]
    flagged = {ch for ch in railed if f"{ch}: railed" in err[0]}
    assert flagged, err[0]
    # every flagged-railed channel is one the reader calls railed, and every railed channel fails
    for ch in railed:
        assert f"{ch}:" in err[0]
    assert not list((home / "recordings").rglob("*.csv")) if (home / "recordings").exists() else True
    # --force records anyway
    res = runner.invoke(app, ["record", "--board", "playback", "--file", str(path), "--speed", "4",
                              "--subject", "rf1", "--duration", "4s", "--home", str(home), "--force",
                              "--json"])
    assert res.exit_code == 0, res.output
    assert len(list((home / "recordings").rglob("*_eeg.csv"))) == 1


def test_gate_passes_a_clean_simulated_recording(tmp_path):
    """Acceptance 6 (go): the project's clean simulated Cyton recording, replayed."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "sample_data" / "cyton_meditation.csv"
    home, res = _record(tmp_path, path, "eyes-open:2", "4s", extra=())
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["record", "--board", "playback", "--file", str(path), "--speed", "10",
                              "--subject", "pb1", "--duration", "4s", "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert "GO: every channel passes" in res.stdout


CYTON_SITES = "Fp1,Fp2,C3,C4,P7,P8,O1,O2"


def test_channel_names_name_a_replayed_files_generic_channels(shared_data, tmp_path):
    """OpenBCI GUI text files call their channels EEG 1..8; --channel-names names the sites, and
    the names reach the sidecar, the canonical FIF (with montage positions) and the store, so a
    feedback protocol that needs posterior sites can run on the file."""
    import mne

    path = shared_file(shared_data, OPENBCI_V6)
    home, res = _record(tmp_path, path, "eyes-open:2", "4s",
                        extra=("--force", "--check-seconds", "0", "--channel-names", CYTON_SITES))
    assert res.exit_code == 0, res.output
    csv = next((home / "recordings").rglob("*_eeg.csv"))
    assert read_sidecar(csv.with_suffix(".json"))["channel_names"] == CYTON_SITES.split(",")
    raw = mne.io.read_raw_fif(next(csv.parent.glob("*_raw.fif")), verbose="error")
    assert raw.ch_names[:8] == CYTON_SITES.split(",")
    pos = np.array([raw.info["chs"][raw.ch_names.index(c)]["loc"][:3] for c in ("O1", "O2")])
    assert np.isfinite(pos).all() and (np.abs(pos) > 0).any(axis=1).all()
    assert pos[0, 0] < 0 < pos[1, 0]  # O1 on the left, O2 on the right
    # the samples are the file's, unchanged by the renaming
    table = np.loadtxt(csv, delimiter="\t")
    doc = read_sidecar(csv.with_suffix(".json"))
    got = table[:, doc["board_descr"]["eeg_channels"]].T
    np.testing.assert_array_equal(got, _source_uv_openbci(path)[:, : got.shape[1]])
    # a feedback protocol needing posterior sites resolves them on the renamed stream
    res = runner.invoke(app, ["feedback", "--board", "playback", "--file", str(path), "--speed", "10",
                              "--protocol", "alpha-up", "--duration", "4s", "--baseline", "2s",
                              "--check-seconds", "0", "--channel-names", CYTON_SITES,
                              "--subject", "pb2", "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    fb = json.loads(res.stdout.strip().splitlines()[-1])["feedback"]
    assert fb["used_channels"] == ["O1", "O2", "P7", "P8"] and fb["n_updates"] > 0


@pytest.mark.parametrize("names, why", [
    ("Fp1,Fp2", r"2 name\(s\) for 8 EEG channels"),
    ("Fp1,Fp2,C3,C4,P7,P8,O1,O1", "a repeated name"),
    ("Fp1,,C3,C4,P7,P8,O1,O2", "an empty name"),
])
def test_channel_names_errors_are_one_line(tmp_path, names, why):
    from neurofeedback.acquisition.record import connection_from_options
    from neurofeedback.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^Invalid value for the --channel-names parameter: .*"
                                          rf"\(8\), but got '{names}' \({why}\)\.$"):
        connection_from_options(board="cyton", serial_port="/dev/null", channel_names=names)
    res = runner.invoke(app, ["record", "--board", "synthetic", "--subject", "x", "--duration", "2s",
                              "--channel-names", names, "--home", str(tmp_path)])
    assert res.exit_code == 2 and "16 EEG channels" in res.stderr and len(res.stderr.splitlines()) == 1
    assert not (tmp_path / "recordings").exists()


def test_feedback_on_generic_names_says_to_name_them(shared_data, tmp_path):
    path = shared_file(shared_data, OPENBCI_V6)
    res = runner.invoke(app, ["feedback", "--board", "playback", "--file", str(path), "--protocol",
                              "alpha-up", "--duration", "4s", "--home", str(tmp_path)])
    assert res.exit_code == 2
    assert "but the board has EEG 1, EEG 2" in res.stderr and "--channel-names" in res.stderr
