"""The command line: inspect, features, boards; bad input → one line on stderr, exit code 2."""

import json

import mne
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from _signals import alpha_peak, powerlaw_noise
from conftest import shared_file
from typer.testing import CliRunner

from neurofeedback.cli import app

runner = CliRunner()
SF = 250.0
NAMES = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "O1", "O2"]


@pytest.fixture(scope="module")
def fif(tmp_path_factory):
    """A 60 s 8-channel recording: 1/f background, 10 Hz alpha stronger on F4 than F3, 50 Hz mains."""
    rng = np.random.default_rng(7)
    n = int(60 * SF)
    t = np.arange(n) / SF
    gains = dict(zip(NAMES, [4, 4, 3, 6, 5, 5, 8, 8]))
    data = np.array([powerlaw_noise(n, SF, 1.5, rng, std=10) + alpha_peak(n, SF, 10.0, rng, std=gains[c])
                     + 5 * np.sin(2 * np.pi * 50 * t) for c in NAMES])
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(NAMES, SF, "eeg"), verbose="error")
    raw.set_montage("colin27_1005", verbose="error")
    path = tmp_path_factory.mktemp("cli") / "rec_raw.fif"
    raw.save(path, verbose="error")
    return path


def test_inspect_json_has_the_documented_keys_and_values(fif):
    res = runner.invoke(app, ["inspect", str(fif), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    for key in ("path", "format", "sfreq", "duration_s", "meas_date", "channels", "bad_channels", "epoch_s",
                "n_epochs", "n_clean_epochs", "bands", "units", "band_power", "iaf_hz", "iaf_cog_hz", "faa",
                "aperiodic", "provenance"):
        assert key in s, key
    assert s["format"] == "fif" and s["sfreq"] == SF and s["duration_s"] == pytest.approx(60.0)
    assert s["line_freq"] == 50.0  # detected
    assert s["bands"]["alpha"] == [8.0, 13.0]
    assert s["n_epochs"] == 29
    assert sum(s["band_power"]["relative"]["O1"].values()) == pytest.approx(1.0)
    assert s["iaf_hz"]["O1"] == pytest.approx(10.0, abs=0.25)
    assert s["faa"]["F4/F3"] > 0  # more alpha on the right
    assert 1.2 < s["aperiodic"]["C3"]["exponent"] < 1.8
    prov = s["provenance"]
    assert len(prov["input"]["sha256"]) == 64 and prov["units"]["absolute_power"].startswith("uV^2")
    assert prov["software"]["mne"] == mne.__version__


def test_inspect_table_output(fif):
    res = runner.invoke(app, ["inspect", str(fif), "--line-freq", "50"])
    assert res.exit_code == 0, res.output
    assert "Signal quality" in res.stdout and "alpha" in res.stdout and "F4/F3" in res.stdout


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_features_writes_long_table_with_provenance(fif, tmp_path, suffix):
    out = tmp_path / f"feat{suffix}"
    res = runner.invoke(app, ["features", str(fif), "--out", str(out)])
    assert res.exit_code == 0, res.output
    if suffix == ".parquet":
        table = pd.read_parquet(out)
        prov = json.loads(pq.read_schema(out).metadata[b"neurofeedback"])
    else:
        table = pd.read_csv(out)
        prov = json.loads(out.with_name(out.name + ".provenance.json").read_text())
    assert {"onset_s", "duration_s", "channel", "band", "absolute_uv2", "relative", "clean"} <= set(table.columns)
    assert len(table) == 29 * 8 * 5
    assert prov["bands"]["gamma"] == [30.0, 45.0] and prov["epochs"]["length_s"] == 4.0


def test_boards_lists_friendly_names():
    res = runner.invoke(app, ["boards", "--json"])
    assert res.exit_code == 0
    boards = {b["name"]: b for b in json.loads(res.stdout)}
    assert boards["muse_2"]["board"] == "MUSE_2_BOARD"
    assert boards["muse_2"]["eeg_channels"] == ["TP9", "AF7", "AF8", "TP10"]
    assert boards["cyton"]["sfreq"] == 250
    # what each needs to connect (BrainFlow's supported-boards documentation)
    assert boards["cyton"]["connection"] == {"serial_port": "required"}
    assert boards["muse_2"]["connection"] == {"mac_address": "optional", "serial_number": "optional"}
    assert boards["synthetic"]["connection"] == {}
    assert boards["playback"]["connection"] == {"file": "required"}
    for name in ("synthetic", "playback", "muse_s", "cyton_daisy", "ganglion", "crown", "unicorn",
                 "brainbit"):
        assert name in boards, name
    # any BoardIds name resolves too
    assert boards["cyton_daisy"]["board"] == "CYTON_DAISY_BOARD" and boards["cyton_daisy"]["sfreq"] == 125


def _bad_inputs(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "unknown.txt").write_text("hello,world\nthis is,not eeg\n")
    (tmp_path / "header_only.txt").write_text("%OpenBCI Raw EEG Data\n%Number of channels = 8\n%Sample Rate = 250 Hz\n")
    rows = "\n".join("\t".join(["1.0"] * 7) for _ in range(50))
    (tmp_path / "wrongcols.csv").write_text(rows + "\n")
    nan = "timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker\n" + "\n".join(
        f"{1.6e9 + i / 256:.4f},{'nan' if i == 20 else 1.0},2,3,4,5,0" for i in range(600))
    (tmp_path / "nan_muse.csv").write_text(nan + "\n")
    return {
        "missing": (tmp_path / "nope.fif", []),
        "directory": (tmp_path, []),
        "empty": (tmp_path / "empty.csv", []),
        "garbage": (tmp_path / "garbage.bin", []),
        "unknown format": (tmp_path / "unknown.txt", []),
        "truncated (header only)": (tmp_path / "header_only.txt", []),
        "wrong column count": (tmp_path / "wrongcols.csv", ["--board", "cyton"]),
        "no board": (tmp_path / "wrongcols.csv", []),
        "unknown board": (tmp_path / "wrongcols.csv", ["--board", "not_a_board"]),
        "NaN values": (tmp_path / "nan_muse.csv", []),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "garbage", "unknown format",
                                  "truncated (header only)", "wrong column count", "no board",
                                  "unknown board", "NaN values"])
@pytest.mark.parametrize("command", ["inspect", "features"])
def test_bad_input_is_one_line_exit_2(tmp_path, case, command):
    path, extra = _bad_inputs(tmp_path)[case]
    args = [command, str(path), *extra]
    if command == "features":
        args += ["--out", str(tmp_path / "o.parquet")]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, (case, res.output)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("neurofeedback: error: ")
    assert path.name in lines[0], lines[0]
    assert "Traceback" not in res.output
    assert not (tmp_path / "o.parquet").exists()


def test_bad_options_exit_2(fif, tmp_path):
    res = runner.invoke(app, ["inspect", str(fif), "--line-freq", "55"])
    assert res.exit_code == 2 and "Allowed values are '50', '60', 'auto' and 'none'" in res.stderr
    res = runner.invoke(app, ["features", str(fif), "--out", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 2 and "'.parquet' and '.csv'" in res.stderr


def test_mind_monitor_export_is_labelled_precomputed(shared_data, tmp_path):
    path = shared_file(shared_data, "amisepa__import_muse/museS_monitor1.csv")
    res = runner.invoke(app, ["inspect", str(path), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["kind"] == "precomputed_band_powers" and "Bels" in s["units"]["absolute"]
    assert s["iaf_hz"]["TP9"] is None
    assert sum(s["band_power"]["relative"]["TP9"].values()) == pytest.approx(1.0)
    out = tmp_path / "mm.csv"
    res = runner.invoke(app, ["features", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out)
    assert "precomputed_absolute_bels" in t.columns and "absolute_uv2" not in t.columns
