"""``--channel-names`` for ``inspect``, ``features`` and ``process`` (issue 15): an OpenBCI GUI
file's ``EEG 1…8`` get real sites, and the names reach the summary, the features table, the
stored session (BIDS copy, metrics) and the provenance; other names are another processing."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import shared_case
from typer.testing import CliRunner

from neurofeedback.cli import app

NAMES = ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]
RAILED = "openbci-railed-channels-in-epoch-table/recording.txt"
runner = CliRunner()


@pytest.fixture(scope="module")
def gui_file(tmp_path_factory):
    """A simulated OpenBCI GUI v6 file (Cyton, 8 channels at 250 Hz): read back as EEG 1…8."""
    from neurofeedback.simulate import simulate_eeg, write_recording

    rec = simulate_eeg(ch_names=NAMES, sfreq=250.0, duration_s=40.0, blink_rate_per_min=0.0,
                       movement_bursts=0, seed=15)
    folder = tmp_path_factory.mktemp("gui")
    return write_recording(rec, folder / "sub-gui01_ses-01_OpenBCI-RAW.txt", format="openbci_txt")


def _one_line_error(r):
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    return lines[0]


def test_inspect_json_names_the_railed_case():
    path = shared_case(RAILED)
    plain = json.loads(runner.invoke(app, ["inspect", str(path), "--json"]).output)
    assert plain["channels"] == [f"EEG {i}" for i in range(1, 9)]
    assert plain["faa"] == {}

    r = runner.invoke(app, ["inspect", str(path), "--json", "--channel-names", "fp1,Fp2,C3,C4,P7,P8,O1,O2"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["channels"] == NAMES  # 'fp1' spelled as the 10-05 site
    assert set(s["bad_channels"]) <= set(NAMES) and s["bad_channels"]
    assert [q["channel"] for q in s["quality"]] == NAMES
    assert list(s["faa"]) == ["Fp2/Fp1"] and s["faa"]["Fp2/Fp1"] is not None
    assert s["provenance"]["channel_names"] == NAMES
    assert s["provenance"]["config_hash"] != plain["provenance"]["config_hash"]
    from neurofeedback.metrics import session_metrics

    m = pd.DataFrame(session_metrics(s))
    assert "posterior" in set(m["channel"])  # P7 is a good posterior channel
    assert "posterior" not in set(pd.DataFrame(session_metrics(plain))["channel"])


@pytest.mark.parametrize("value, needle", [
    ("Fp1,Fp2", "2 channel names given for its 8 EEG channels"),
    ("Fp1,Fp1,C3,C4,P7,P8,O1,O2", "'--channel-names'"),
    ("Fp1,,C3,C4,P7,P8,O1,O2", "an empty name"),
])
def test_inspect_bad_names_are_one_line(value, needle):
    path = shared_case(RAILED)
    line = _one_line_error(runner.invoke(app, ["inspect", str(path), "--channel-names", value]))
    assert needle in line
    if "given for" in needle:
        assert str(path) in line


def test_features_writes_the_names(gui_file, tmp_path):
    out = tmp_path / "f.csv"
    r = runner.invoke(app, ["features", str(gui_file), "--out", str(out), "--channel-names", ",".join(NAMES)])
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out)
    assert list(dict.fromkeys(t["channel"])) == NAMES
    prov = json.loads((tmp_path / "f.csv.provenance.json").read_text())
    assert prov["channel_names"] == NAMES
    line = _one_line_error(runner.invoke(app, ["features", str(gui_file), "--out", str(out),
                                               "--channel-names", "O1,O2"]))
    assert gui_file.name in line and "2 channel names" in line


def test_process_refuses_repeated_names_before_starting(gui_file, tmp_path):
    line = _one_line_error(runner.invoke(app, ["process", str(gui_file), "--home", str(tmp_path / "h"),
                                               "--channel-names", "O1,O1,C3,C4,P7,P8,Fp1,Fp2"]))
    assert "'--channel-names'" in line and "O1" in line


def test_import_task_stores_the_names_and_reprocesses_on_new_names(gui_file, tmp_path):
    """The flow's task (without Prefect) → ingest_file: BIDS copy, metrics, provenance, and the
    processing key: same names unchanged, other names (or none) reprocessed."""
    import pipelines.process as pp
    from neurofeedback.store import Catalog

    home = str(tmp_path / "home")
    task = pp.import_recording.fn
    rec = task(str(gui_file), home, None, None, ",".join(NAMES))
    assert rec["status"] == "imported", rec
    cat = Catalog(home=home)
    row = cat.session(rec["session_id"])
    summary = json.loads(open(row["summary_path"]).read())
    assert summary["channels"] == NAMES
    assert summary["provenance"]["channel_names"] == NAMES
    assert row["config_hash"] == summary["provenance"]["config_hash"]
    channels_tsv = next(p for p in (tmp_path / "home").rglob("*_channels.tsv"))
    assert pd.read_csv(channels_tsv, sep="\t")["name"].tolist()[:8] == NAMES
    feats = pd.read_parquet(row["features_path"])
    assert set(feats["channel"]) == set(NAMES)
    chans = set(cat.metrics_frame(subject="gui01")["channel"])
    assert {"posterior", "O1", "Fp1"} <= chans and "EEG 1" not in chans

    assert task(str(gui_file), home, None, None, ",".join(NAMES))["status"] == "unchanged"
    other = ["Fp1", "Fp2", "F3", "F4", "P3", "P4", "O1", "O2"]
    again = task(str(gui_file), home, None, None, ",".join(other))
    assert again["status"] == "reprocessed" and again["session_id"] == rec["session_id"]
    summary = json.loads(open(cat.session(rec["session_id"])["summary_path"]).read())
    assert summary["channels"] == other and "F4/F3" in summary["faa"]
    assert task(str(gui_file), home, None, None, None)["status"] == "reprocessed"
    summary = json.loads(open(cat.session(rec["session_id"])["summary_path"]).read())
    assert summary["channels"][0] == "EEG 1" and summary["provenance"]["channel_names"] is None
    bad = task(str(gui_file), home, None, None, "O1,O2")
    assert bad["status"] == "skipped" and "2 channel names given for its 8 EEG channels" in bad["reason"]


def test_other_formats_are_renamed(tmp_path):
    from neurofeedback.io import read_recording
    from neurofeedback.simulate import simulate_eeg, write_recording

    rec = simulate_eeg(duration_s=10.0, seed=3)  # Muse TP9, AF7, AF8, TP10
    p = write_recording(rec, tmp_path / "r_raw.fif", format="fif")
    raw = read_recording(p, channel_names=["P7", "F7", "F8", "P8"])
    assert raw.ch_names[:4] == ["P7", "F7", "F8", "P8"]
    assert raw.info["chs"][0]["loc"][:3].any()  # 10-05 positions for the new names
