"""Settings load from configs/, are frozen, and fail with one clear line naming file and key."""

import dataclasses

import pytest

from neurofeedback.config import Settings, load_settings
from neurofeedback.errors import ConfigError


def test_repository_configs_load_and_match_defaults():
    s = load_settings()
    assert s.bands.as_dict() == {"delta": [1.0, 4.0], "theta": [4.0, 8.0], "alpha": [8.0, 13.0],
                                 "beta": [13.0, 30.0], "gamma": [30.0, 45.0]}
    assert s == Settings()  # the dataclass defaults document the same values as configs/
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.epochs.length_s = 2.0


def test_config_hash_changes_with_settings():
    s = load_settings()
    assert s.config_hash() != s.replace(epochs={"length_s": 8.0}).config_hash()


def _write(tmp_path, bands, pipeline="epochs: {length_s: 4}\n"):
    (tmp_path / "bands.yaml").write_text(bands)
    (tmp_path / "pipeline.yaml").write_text(pipeline)
    return tmp_path


@pytest.mark.parametrize("bands, pipeline, match", [
    ("bands: {alpha: [13, 8]}\n", "{}", r"bands.alpha needs 0 <= low < high"),
    ("bands: {alpha: [8, x]}\n", "{}", r"must be a number"),
    ("bands: {alpha: [8, 13]}\nratios: {a/b: [alpha, beta]}\n", "{}", r"ratios.a/b must name two"),
    ("bands: [1, 2\n", "{}", r"not valid YAML"),
    ("bands: {alpha: [8, 13]}\n", "preprocessing: {line_freq: 55}\n", r"Allowed values are 50, 60"),
    ("bands: {alpha: [8, 13]}\n", "epochs: {length_s: 4, typo: 1}\n", r"unknown key\(s\) \['typo'\]"),
    ("bands: {alpha: [8, 13]}\n", "spectral: {segment_s: 8}\n", r"segment_s .* exceeds"),
])
def test_invalid_configs_fail_with_file_and_key(tmp_path, bands, pipeline, match):
    folder = _write(tmp_path, bands, pipeline)
    with pytest.raises(ConfigError, match=match) as info:
        load_settings(folder)
    assert str(folder) in str(info.value) and "\n" not in str(info.value)


def test_bands_file_override(tmp_path):
    f = tmp_path / "b.yaml"
    f.write_text("bands: {smr: [12, 15], hibeta: [20, 30]}\nbroadband: [1, 40]\n")
    s = load_settings(bands_file=f)
    assert s.bands.names == ("smr", "hibeta") and s.bands.broadband == (1.0, 40.0)
