"""Commands import only what they use (issue 19, item 5).

Each command runs in a fresh interpreter (a subprocess, as a user starts it) that writes, when it
exits, the set of top-level packages (and scipy subpackages) it imported; the tests assert on
those sets, not on times (the times are measured in ``bench/bench_offline.py``). What each heavy
package costs at import, measured on this kind of machine (NOTES.md, issue 19): scipy.signal
~1.2 s (it pulls scipy.stats), Prefect ~1.9 s, statsmodels ~1-2 s, matplotlib.pyplot ~0.6 s,
MNE ~0.3-1 s, SQLAlchemy ~0.35 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT

SAMPLE = ROOT / "sample_data"

#: Run the CLI with ``argv`` and dump what was imported at exit (also after ``sys.exit``).
_RUNNER = textwrap.dedent("""
    import atexit, json, sys
    out, argv = sys.argv[1], sys.argv[2:]
    def dump():
        mods = sorted({m.split('.')[0] for m in sys.modules}
                      | {m for m in sys.modules if m.startswith('scipy.') and m.count('.') == 1})
        with open(out, 'w') as fh:
            json.dump(mods, fh)
    atexit.register(dump)
    sys.argv = ['neurofeedback', *argv]
    from neurofeedback.cli import main
    main()
""")


def _imported(tmp_path, *argv, env_home=None) -> tuple[set, subprocess.CompletedProcess]:
    import os

    dump = tmp_path / "modules.json"
    env = dict(os.environ, MPLBACKEND="Agg")
    if env_home is not None:
        env["NEUROFEEDBACK_HOME"] = str(env_home)
    r = subprocess.run([sys.executable, "-c", _RUNNER, str(dump), *map(str, argv)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert dump.is_file(), r.stderr
    return set(json.loads(dump.read_text())), r


#: Never needed to read a recording and compute its numbers. (matplotlib is not in it:
#: specparam imports matplotlib.pyplot for its own plots, and hiding it during that import was
#: rejected: see neurofeedback.periodic._specparam.)
NOT_FOR_PROCESSING = {"prefect", "statsmodels", "sqlalchemy", "mne_bids", "jinja2", "pyxdf",
                      "brainflow"}


def test_help_imports_no_science(tmp_path):
    """``neurofeedback --help`` (and building the command tree) loads the CLI only."""
    mods, r = _imported(tmp_path, "--help")
    assert r.returncode == 0 and "inspect" in r.stdout
    heavy = ({"mne", "scipy", "pandas", "pyarrow", "specparam", "pydantic", "yaml", "matplotlib"}
             | NOT_FOR_PROCESSING)
    assert not mods & heavy, f"--help imported {sorted(mods & heavy)}"


def test_inspect_imports_only_the_processing(tmp_path):
    """``inspect`` of a FIF file reads and processes it: MNE, scipy.signal, pandas, specparam,
    no store, no Prefect, no
    statistics, and no reader of another format."""
    mods, r = _imported(tmp_path, "inspect", SAMPLE / "cyton_meditation_raw.fif")
    assert r.returncode == 0, r.stderr
    assert "Relative band power" in r.stdout  # it did the work
    assert {"mne", "scipy.signal", "pandas", "specparam"} <= mods
    assert not mods & NOT_FOR_PROCESSING, f"inspect imported {sorted(mods & NOT_FOR_PROCESSING)}"


@pytest.mark.slow  # the same import path as inspect's, plus the Parquet writer
def test_features_imports_no_plotting_nor_store(tmp_path):
    """``features`` writes the per-epoch table only: the session values are never computed
    (:class:`neurofeedback.features.SessionFeatures` computes them on first use), so neither
    specparam nor the matplotlib it imports is loaded."""
    mods, r = _imported(tmp_path, "features", SAMPLE / "cyton_meditation_raw.fif",
                        "--out", tmp_path / "f.parquet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "f.parquet").is_file() and "pyarrow" in mods
    assert not mods & NOT_FOR_PROCESSING, f"features imported {sorted(mods & NOT_FOR_PROCESSING)}"
    assert not mods & {"specparam", "matplotlib"}, f"features imported {sorted(mods & {'specparam', 'matplotlib'})}"


@pytest.fixture(scope="module")
def stored_home(tmp_path_factory):
    from neurofeedback.store import ingest_file

    home = tmp_path_factory.mktemp("lazy-home")
    res = ingest_file(SAMPLE / "cyton_meditation_raw.fif", home=home, subject="lazy01",
                      session="20260105T100000")
    return home, res.session_id


def test_report_of_a_stored_session_imports_no_processing(stored_home, tmp_path):
    """``report session`` of a stored session reads its derivatives: no scipy.signal (nor the
    scipy.stats it pulls), no specparam, no statsmodels, no Prefect."""
    home, sid = stored_home
    mods, r = _imported(tmp_path, "report", "session", sid, "--out", tmp_path / "r.html",
                        "--home", home)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r.html").is_file() and "matplotlib" in mods
    avoid = {"scipy.signal", "scipy.stats", "specparam", "statsmodels", "prefect", "pyxdf",
             "brainflow"}
    assert not mods & avoid, f"report session imported {sorted(mods & avoid)}"
