"""The public API: ``import neurofeedback as nf`` is cheap, lists its functions, and the README's
Python example runs and recovers the simulated truth."""

from __future__ import annotations

import os
import pydoc
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ["Catalog", "cohort_trends", "compute_features", "compute_trends", "event_changes",
          "ingest_file", "load_protocol",
          "load_settings", "preprocess", "process_recording", "read_recording",
          "session_metrics", "simulate_eeg", "store_cohort_trends"]


def _run(code: str, cwd, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600)


def test_import_is_lazy_and_every_public_name_resolves(tmp_path):
    r = _run("import sys, neurofeedback as nf; print(sorted(m for m in ('mne', 'scipy', 'pandas', "
             "'sqlalchemy') if m in sys.modules))", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"  # nothing heavy at import
    # every name loads (a misspelt entry fails here; lazy_loader's EAGER_IMPORT would also make
    # MNE's own lazy modules import eagerly, which need optional packages)
    r = _run("import neurofeedback as nf; print(sorted(n for n in nf.__all__ if callable(getattr(nf, n))))",
             tmp_path)
    assert r.returncode == 0, r.stderr
    assert eval(r.stdout) == PUBLIC


def test_help_lists_the_public_functions():
    import neurofeedback as nf

    text = pydoc.render_doc(nf, renderer=pydoc.plaintext)
    functions = text[text.index("FUNCTIONS"):]
    for name in PUBLIC:
        if name != "Catalog":
            assert re.search(rf"^    {name}\(", functions, re.M), name
    assert "class Catalog" in text[text.index("CLASSES"):text.index("FUNCTIONS")]
    for name in PUBLIC:  # the one-name-per-job table of the package docstring names each
        assert f"`{name}`" in nf.__doc__, name


def test_readme_python_example_runs_and_recovers_the_truth(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Use from Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    r = _run(code, tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    m = re.search(r"alpha power: ([+-][\d.]+)% per week \(95% CI ([+-][\d.]+) to ([+-][\d.]+)\)"
                  r": (rose|fell|no clear change)", r.stdout)
    assert m, r.stdout
    slope, low, high = map(float, m.groups()[:3])
    # the true least-squares growth of log10(0.996 * 25 * 1.21^week + 15.2) (alpha + 1/f)
    assert low < 14.76 < high
    assert 12 < slope < 18 and m.group(4) == "rose"
    iaf = re.search(r"IAF per channel \(Hz\): (\{.*\})", r.stdout)
    assert iaf and all(9.5 < v < 10.5 for v in eval(iaf.group(1)).values())  # truth 10 Hz
