"""Settings load from the package's configs, are frozen, and fail with one clear line naming file and key."""

import json
import zipfile
from pathlib import Path

import pydantic
import pytest

from neurofeedback.config import (
    PACKAGE_CONFIGS,
    EpochSettings,
    Settings,
    config_dir,
    config_error,
    load_settings,
)
from neurofeedback.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_package_configs_load_and_match_defaults():
    assert PACKAGE_CONFIGS == REPO / "neurofeedback" / "configs" and config_dir() == PACKAGE_CONFIGS
    s = load_settings()
    assert s.bands.as_dict() == {"delta": [1.0, 4.0], "theta": [4.0, 8.0], "alpha": [8.0, 13.0],
                                 "beta": [13.0, 30.0], "gamma": [30.0, 45.0]}
    assert s == Settings()  # the model defaults document the same values as the YAML files
    assert hash(s) == hash(Settings()) and len({s, Settings()}) == 1  # frozen, so hashable
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        s.epochs.length_s = 2.0
    assert isinstance(s.features.faa_pairs, tuple) and isinstance(s.features.faa_pairs[0], tuple)


def test_config_hash_is_stable_and_changes_with_settings():
    s = load_settings()
    # The store's cache key: the default settings' hash must not change when the model does
    # (it is a SHA-256 of the sorted JSON of to_dict(), as when settings were dataclasses).
    # It changed once on purpose: the `blocks` section (per-block values) makes the store
    # reprocess sessions imported before it, so they gain their per-block rows. And once more:
    # `preprocessing.reference` (default as-recorded, same numbers) makes the store reprocess
    # sessions so their summaries and provenance gain the recorded reference. And again with
    # issue 15: the per-channel artifact rules, blink correction and muscle bursts (`ptp_uv`
    # 200 -> 100 µV on the alpha-free signal, `preprocessing.ocular`, `muscle_z`) and the
    # specparam settings of `features` (the exponent, its fit quality, periodic alpha).
    assert s.config_hash() == "a21bf91d72854d0a"
    assert list(s.to_dict()) == ["bands", "preprocessing", "epochs", "spectral", "features",
                                 "blocks"]
    json.dumps(s.to_dict())
    assert s.config_hash() != s.replace(epochs={"length_s": 8.0}).config_hash()
    assert s.config_hash() != s.replace(blocks={"min_clean_epochs": 10}).config_hash()


def test_env_var_overrides_the_package_configs(tmp_path, monkeypatch):
    for name in ("bands.yaml", "pipeline.yaml"):
        (tmp_path / name).write_text((PACKAGE_CONFIGS / name).read_text(encoding="utf-8"))
    (tmp_path / "bands.yaml").write_text("bands: {alpha: [8, 12]}\n")
    monkeypatch.setenv("NEUROFEEDBACK_CONFIGS", str(tmp_path))
    assert config_dir() == tmp_path
    s = load_settings()
    assert s.bands.as_dict() == {"alpha": [8.0, 12.0]} and s.bands.broadband == (8.0, 12.0)


def _write(tmp_path, bands, pipeline="epochs: {length_s: 4}\n"):
    (tmp_path / "bands.yaml").write_text(bands)
    (tmp_path / "pipeline.yaml").write_text(pipeline)
    return tmp_path


@pytest.mark.parametrize("bands, pipeline, file, match", [
    ("bands: {alpha: [13, 8]}\n", "{}", "bands.yaml",
     (r"Invalid value for the 'bands\.alpha' parameter\. It must be a \[low, high\] pair in Hz with "
     r"0 <= low < high, but got \[13, 8\] instead\.$")),
    ("bands: {alpha: [8, x]}\n", "{}", "bands.yaml", r"'bands\.alpha' parameter.* but got \[8, 'x'\] instead"),
    ("bands: {alpha: [8, 13]}\nratios: {a/b: [alpha, beta]}\n", "{}", "bands.yaml",
     (r"Invalid value for the 'ratios\.a/b' parameter\. It must name two of the bands 'alpha', "
     r"but got \['alpha', 'beta'\] instead\.")),
    ("bands: {}\n", "{}", "bands.yaml", r"'bands' parameter\. It must be a non-empty mapping"),
    ("broadband: [1, 40]\n", "{}", "bands.yaml", r"Missing required key 'bands'\.$"),
    ("bands: [1, 2\n", "{}", "bands.yaml", r"not valid YAML"),
    ("bands: {alpha: [8, 13]}\n", "preprocessing: {line_freq: 55}\n", "pipeline.yaml",
     (r"Invalid value for the 'preprocessing\.line_freq' parameter\. Allowed values are 50, 60, 'auto' "
     r"and None, but got 55 instead\.$")),
    ("bands: {alpha: [8, 13]}\n", "epochs: {length_s: 4, typo: 1}\n", "pipeline.yaml",
     r"Unknown key\(s\) \['typo'\] in 'epochs'\. Allowed keys are 'length_s' and 'step_s'\.$"),
    ("bands: {alpha: [8, 13]}\n", "epoch: {length_s: 4}\n", "pipeline.yaml",
     (r"Unknown key\(s\) \['epoch'\]\. Allowed keys are 'blocks', 'epochs', 'features', 'preprocessing' "
      r"and 'spectral'\.")),
    ("bands: {alpha: [8, 13]}\n", "blocks: {min_clean_epochs: 0}\n", "pipeline.yaml",
     r"'blocks\.min_clean_epochs' parameter\. It must be an integer >= 1, but got 0 instead"),
    ("bands: {alpha: [8, 13]}\n", "spectral: {segment_s: 8}\n", "pipeline.yaml",
     r"'spectral\.segment_s' parameter\. It must not exceed epochs\.length_s \(4 s\), but got 8\.0"),
    ("bands: {alpha: [8, 13]}\n", "epochs: {step_s: yes}\n", "pipeline.yaml",
     r"'epochs\.step_s' parameter\. It must be a number, but got True instead"),
    ("bands: {alpha: [8, 13]}\n", "preprocessing: {l_freq: 40, h_freq: 30}\n", "pipeline.yaml",
     r"'preprocessing\.l_freq' parameter\. It must be below h_freq \(30 Hz\), but got 40\.0"),
    ("bands: {alpha: [8, 13]}\n", "spectral: 2\n", "pipeline.yaml",
     r"'spectral' parameter\. It must be a mapping, but got 2 instead"),
    ("bands: {alpha: [8, 13]}\n", "features: {faa_pairs: [[F4, f4]]}\n", "pipeline.yaml",
     r"'features\.faa_pairs' parameter\. Each pair must be \[left, right\] channel names"),
])
def test_invalid_configs_fail_with_file_and_key(tmp_path, bands, pipeline, file, match):
    folder = _write(tmp_path, bands, pipeline)
    with pytest.raises(ConfigError, match=match) as info:
        load_settings(folder)
    msg = str(info.value)
    assert msg.startswith(f"{folder / file}: ") and "\n" not in msg


def test_bands_file_override(tmp_path):
    f = tmp_path / "b.yaml"
    f.write_text("bands: {smr: [12, 15], hibeta: [20, 30]}\nbroadband: [1, 40]\n")
    s = load_settings(bands_file=f)
    assert s.bands.names == ("smr", "hibeta") and s.bands.broadband == (1.0, 40.0)
    assert s.bands.ratios == ()


def test_replace_and_python_construction_validate_in_the_same_words():
    s = load_settings()
    assert s.replace(preprocessing={"line_freq": 50}).preprocessing.line_freq == 50.0
    with pytest.raises(ConfigError, match=r"^<overrides>: Invalid value for the 'epochs\.length_s' "
                                          r"parameter\. It must be a finite positive number, but got -1 instead\.$"):
        s.replace(epochs={"length_s": -1})
    with pytest.raises(ConfigError, match=r"^<overrides>: Unknown key\(s\) \['epoch'\]\. Allowed keys are 'bands'"):
        s.replace(epoch={"length_s": 4})
    with pytest.raises(ConfigError, match=r"^EpochSettings: Invalid value for the 'step_s' parameter\. "
                                          r"It must be a number, but got 'x' instead\.$"):
        EpochSettings(step_s="x")


def test_config_error_is_the_one_wording_of_a_validation_error():
    with pytest.raises(pydantic.ValidationError) as info:
        Settings.model_validate({"spectral": {"overlap": 1.0}})
    err = config_error(info.value, "x.yaml")
    assert isinstance(err, ConfigError)
    assert str(err) == ("x.yaml: Invalid value for the 'spectral.overlap' parameter. It must be a "
                        "fraction in [0, 1), but got 1.0 instead.")


def test_configs_are_package_data():
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"configs/*.yaml"' in text and '"configs/protocols/*.yaml"' in text
    assert not (REPO / "configs").exists()  # one copy, inside the package


@pytest.mark.slow
def test_wheel_ships_the_configs_and_loads_them(tmp_path):
    """Build the wheel (from a copy: the tree stays untouched), unzip it, load settings and a protocol."""
    import shutil
    import subprocess
    import sys

    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    for name in ("neurofeedback", "pipelines"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    wheels = tmp_path / "whl"
    # pip (always there) builds it in an isolated environment, as a user's `pip install` would
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)],
                   check=True, cwd=tmp_path, capture_output=True)
    (wheel,) = wheels.glob("neurofeedback-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for rel in ("bands.yaml", "pipeline.yaml", "protocols/alpha-up.yaml", "protocols/faa.yaml"):
        assert f"neurofeedback/configs/{rel}" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("from neurofeedback.config import load_settings, config_dir; "
            "from neurofeedback.feedback.protocol import load_protocol; "
            "print(config_dir()); print(load_settings().config_hash()); print(load_protocol('smr').name)")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         cwd=tmp_path, env=env).stdout.split()
    assert out == [str(site / "neurofeedback" / "configs"), "a21bf91d72854d0a", "smr"]
