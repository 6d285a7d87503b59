"""Neurofeedback protocols: the shipped ones load, bad ones fail with one clear line, channels resolve."""

import json
import shutil
from pathlib import Path

import pydantic
import pytest

from neurofeedback.errors import ConfigError
from neurofeedback.feedback import (
    PROTOCOLS_DIR,
    Inhibit,
    Protocol,
    list_protocols,
    load_protocol,
)
from neurofeedback.feedback.protocol import protocols_dir

MUSE = ("TP9", "AF7", "AF8", "TP10")
CYTON = ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2")
SHIPPED = ("alpha-up", "alpha-theta", "smr", "faa")


def test_protocols_dir_is_the_package_configs_folder():
    assert PROTOCOLS_DIR == Path(__file__).resolve().parent.parent / "neurofeedback" / "configs" / "protocols"
    assert protocols_dir() == PROTOCOLS_DIR


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_protocols_load_and_document_themselves(name):
    assert name in list_protocols()
    p = load_protocol(name)
    assert p.name == name and p.description
    # a comment header says what it trains and why those channels
    text = (PROTOCOLS_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    header = text.split("\nname:")[0]
    assert header.startswith("#") and "What it trains" in header and "Why these channels" in header
    # the same protocol by path; frozen; JSON-able
    assert load_protocol(PROTOCOLS_DIR / f"{name}.yaml") == p
    assert load_protocol(str(PROTOCOLS_DIR / f"{name}.yaml")) == p
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        p.direction = "down"
    assert hash(p) == hash(load_protocol(name))  # frozen, so hashable
    json.dumps(p.to_dict())
    for lo, hi in p.band_edges():
        assert 0 < lo < hi <= 45


def test_shipped_protocol_contents():
    a = load_protocol("alpha-up")
    assert (a.metric, a.band_edges(), a.direction) == ("relative_power", ((8.0, 13.0),), "up")
    assert a.inhibits == (Inhibit(band=(30.0, 45.0), factor=2.5, label="EMG"),)
    t = load_protocol("alpha-theta")
    assert (t.metric, t.band_edges()) == ("band_ratio", ((4.0, 8.0), (8.0, 13.0)))
    s = load_protocol("smr")
    assert (s.metric, s.bands, s.band_edges()) == ("absolute_power", ((12.0, 15.0),), ((12.0, 15.0),))
    assert [i.band for i in s.inhibits] == [(4.0, 8.0), (20.0, 30.0)]  # theta by name, resolved
    f = load_protocol("faa")
    assert f.metric == "faa" and f.pairs[0] == ("F3", "F4")
    assert set(f.channels) == {c for pair in f.pairs for c in pair}


@pytest.mark.parametrize("name, board, expected", [
    ("alpha-up", MUSE, ("TP9", "TP10")),
    ("alpha-up", CYTON, ("O1", "O2", "P7", "P8")),
    ("alpha-theta", MUSE, ("TP9", "TP10")),
    ("alpha-theta", CYTON, ("O1", "O2")),
    ("smr", CYTON, ("C4", "C3")),
    ("faa", MUSE, ("AF7", "AF8")),
    ("faa", CYTON, ("Fp1", "Fp2")),
    ("faa", ("F4", "Fp1", "F3", "Fp2"), ("F3", "F4")),  # the first pair of the preference list wins
    ("faa", ("FP1", "FP2"), ("FP1", "FP2")),  # case-insensitive, returned as the board spells them
])
def test_resolve_channels_on_muse_and_cyton(name, board, expected):
    assert load_protocol(name).resolve_channels(board) == expected


def test_resolve_channels_names_protocol_wanted_and_board_channels():
    with pytest.raises(ConfigError) as info:
        load_protocol("smr").resolve_channels(MUSE)
    msg = str(info.value)
    assert "\n" not in msg
    assert "'smr'" in msg and "C4" in msg and "TP9, AF7, AF8, TP10" in msg
    with pytest.raises(ConfigError, match=r"'faa' needs one of the \(left/right\) channel pairs F3/F4"):
        load_protocol("faa").resolve_channels(("O1", "O2", "F3"))  # F3 alone is not a pair


GOOD = """\
# test protocol
name: test
description: a test
metric: relative_power
bands: [alpha]
channels: [O1, O2]
direction: up
"""


def _with(text: str, **repl) -> str:
    lines = []
    for line in text.splitlines():
        key = line.split(":")[0]
        if key in repl:
            if repl[key] is not None:
                lines.append(f"{key}: {repl.pop(key)}")
            else:
                repl.pop(key)
        else:
            lines.append(line)
    lines += [f"{k}: {v}" for k, v in repl.items() if v is not None]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("changes, match", [
    ({"metric": "power"}, (r"Invalid value for the 'metric' parameter\. Allowed values are 'relative_power', "
                          r"'absolute_power', 'band_ratio' and 'faa', but got 'power' instead\.")),
    ({"direction": "sideways"}, (r"Invalid value for the 'direction' parameter\. Allowed values are 'up' and "
                                r"'down', but got 'sideways' instead\.")),
    ({"window_s": "0"}, r"'window_s' parameter\. It must be a number of seconds in \[1, 30\], but got 0 instead"),
    ({"window_s": "-2"}, r"'window_s' parameter"),
    ({"window_s": "0.5"}, r"'window_s' parameter"),
    ({"window_s": "abc"}, r"'window_s' parameter\. It must be a number, but got 'abc' instead"),
    ({"bands": "[alfa]"}, (r"'bands' parameter\. Allowed values are the band names 'delta', 'theta', 'alpha', "
                          r"'beta' and 'gamma' \(bands\.yaml\) or a \[low, high\] pair in Hz, "
                          r"but got 'alfa' instead\.$")),
    ({"bands": "[[13, 8]]"}, (r"'bands' parameter\. It must be a \[low, high\] pair in Hz with 0 <= low < high, "
                            r"but got \[13, 8\] instead\.$")),
    ({"bands": "[alpha, theta]"}, r"The 'relative_power' metric needs one band"),
    ({"metric": "band_ratio"}, r"The 'band_ratio' metric needs \(numerator, denominator\)"),
    ({"metric": "faa", "channels": None}, r"The 'faa' metric needs a non-empty list of \[left, right\] channel pairs"),
    ({"metric": "faa", "pairs": "[[F3, F3]]"}, r"Each pair must be \[left, right\]"),
    ({"pairs": "[[F3, F4]]"}, r"Only the 'faa' metric takes pairs"),
    ({"update_hz": "0.25"}, r"'update_hz' parameter\. It must be in \[1/window_s = 0\.5, 32\] Hz"),
    ({"update_hz": "100"}, r"'update_hz' parameter"),
    ({"target_reward_rate": "1.5"}, r"'target_reward_rate' parameter\. It must be a fraction in \[0\.05, 0\.95\]"),
    ({"adapt_rate": "-0.1"}, r"'adapt_rate' parameter"),
    ({"artifact_ptp_uv": "0"}, r"'artifact_ptp_uv' parameter"),
    ({"channels": "[]"}, r"'channels' parameter\. It must be a non-empty list of channel names"),
    ({"channels": None}, r"Missing required key 'channels'\.$"),
    ({"metric": None}, r"Missing required key 'metric'\.$"),
    ({"treshold": "3"}, r"Unknown key\(s\) \['treshold'\]\. Allowed keys are 'adapt_rate', .* and 'window_s'\.$"),
    ({"metric": None, "metrc": "faa"}, r"Unknown key\(s\) \['metrc'\]"),  # the typo, not the missing key
    ({"window_s": "yes"}, r"'window_s' parameter\. It must be a number, but got True instead"),
    ({"inhibits": "[{band: [30, 45], factor: -1}]"}, r"'inhibits\[0\]\.factor' parameter"),
    ({"inhibits": "[{band: emg, factor: 2}]"}, r"'inhibits\[0\]\.band' parameter\. Allowed values are the band names"),
    ({"inhibits": "[{band: [30, 45], factr: 2}]"}, (r"Unknown key\(s\) \['factr'\] in 'inhibits\[0\]'\. "
                                                  r"Allowed keys are 'band', 'factor' and 'label'\.$")),
    ({"inhibits": "[{band: [30, 45]}]"}, r"Missing required key 'inhibits\[0\]\.factor'\.$"),
    ({"inhibits": "[{band: [30, 45], factor: 2}, {band: [30, 40], factor: 2, label: 30-45 Hz}]"},
     r"'inhibits' parameter\. Their labels must differ"),
    ({"inhibits": "EMG"}, r"'inhibits' parameter\. It must be a list"),
    ({"bands": "[alpha"}, r"not valid YAML"),
])
def test_bad_protocols_fail_with_one_line_naming_the_file(tmp_path, changes, match):
    path = tmp_path / "bad.yaml"
    path.write_text(_with(GOOD, **changes))
    with pytest.raises(ConfigError, match=match) as info:
        load_protocol(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg


def test_good_protocol_file_loads_with_defaults(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(_with(GOOD, name=None, bands="[[12, 15]]",
                          inhibits="[{band: gamma, factor: 3}]"))
    p = load_protocol(path)
    assert p.name == "mine"  # the file name when the YAML has none
    assert p.bands == ((12.0, 15.0),) and p.band_labels() == ("12-15 Hz",)
    assert p.inhibits == (Inhibit(band=(30.0, 45.0), factor=3.0, label="gamma"),)
    assert (p.window_s, p.update_hz, p.target_reward_rate, p.artifact_ptp_uv) == (2.0, 4.0, 0.65, 150.0)


def test_not_a_mapping_and_unknown_names(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"list\.yaml: expected a mapping at the top level"):
        load_protocol(path)
    with pytest.raises(ConfigError, match=r"Invalid value for the 'protocol' parameter\. Allowed values "
                                          r"are 'alpha-theta', 'alpha-up', .* but got 'alpha-down' instead"):
        load_protocol("alpha-down")
    with pytest.raises(ConfigError, match=r"missing\.yaml: protocol file not found"):
        load_protocol(tmp_path / "missing.yaml")


def test_protocol_built_in_python_is_validated_too():
    base = load_protocol("alpha-up")
    with pytest.raises(ConfigError, match=r"^protocol 'alpha-up': Invalid value for the 'direction' parameter"):
        base.replace(direction="sideways")
    with pytest.raises(ConfigError, match=r"'window_s' parameter"):
        base.replace(window_s=0.0)
    with pytest.raises(ConfigError, match=r"^protocol 'alpha-up': Unknown key\(s\) \['treshold'\]"):
        base.replace(treshold=1.0)
    assert base.replace(artifact_ptp_uv=200.0).artifact_ptp_uv == 200.0 and base.artifact_ptp_uv == 150.0
    p = Protocol(name="smr-py", description="", metric="absolute_power", bands=(12, 15),
                 channels=["C4"], direction="up")
    assert p.bands == ((12.0, 15.0),) and p.channels == ("C4",)
    with pytest.raises(ConfigError, match=r"^inhibit 'EMG': Invalid value for the 'factor' parameter"):
        Inhibit(band=(30.0, 45.0), factor=0.0, label="EMG")
    # a band name is resolved to its edges (default settings), and names the inhibit
    assert Inhibit(band="theta", factor=2) == Inhibit(band=(4.0, 8.0), factor=2.0, label="theta")


def test_protocols_follow_neurofeedback_configs(tmp_path, monkeypatch):
    repo_configs = PROTOCOLS_DIR.parent
    for name in ("bands.yaml", "pipeline.yaml"):
        shutil.copy(repo_configs / name, tmp_path / name)
    (tmp_path / "protocols").mkdir()
    (tmp_path / "protocols" / "mine.yaml").write_text(GOOD)
    monkeypatch.setenv("NEUROFEEDBACK_CONFIGS", str(tmp_path))
    assert list_protocols() == ["mine"]
    assert load_protocol("mine").name == "test"


def test_band_names_resolve_against_the_given_settings(tmp_path):
    """load_protocol's settings reach the nested inhibits (names resolved with their edges)."""
    import pickle

    from neurofeedback.config import load_settings

    (tmp_path / "bands.yaml").write_text("bands: {theta: [3, 7], alpha: [7, 12], smr: [12, 15]}\n")
    (tmp_path / "pipeline.yaml").write_text("{}\n")
    settings = load_settings(tmp_path)
    path = tmp_path / "p.yaml"
    path.write_text(_with(GOOD, bands="[smr]", inhibits="[{band: theta, factor: 2}]"))
    p = load_protocol(path, settings=settings)
    assert p.inhibits == (Inhibit(band=(3.0, 7.0), factor=2.0, label="theta"),)
    assert p.band_edges(settings) == ((12.0, 15.0),)
    with pytest.raises(ConfigError, match=r"'bands' parameter\. Allowed values are the band names 'delta'"):
        load_protocol(path)  # 'smr' is not a default band
    assert pickle.loads(pickle.dumps(p)) == p and pickle.loads(pickle.dumps(settings)) == settings
