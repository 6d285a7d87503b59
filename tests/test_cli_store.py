"""The store commands that need no Prefect: sessions, trends, event (CliRunner), on a real SQLite
catalog and on a real PostgreSQL one (tests/conftest.py)."""

from __future__ import annotations

import json

import pytest
from conftest import CATALOG_BACKENDS, copy_catalog
from typer.testing import CliRunner

from neurofeedback.cli import app

runner = CliRunner()
REQUIRED = {"metric", "channel", "n_sessions", "n_weeks", "weeks", "slope_per_week", "slope_ci",
            "baseline_change", "mdc", "excluded_sessions"}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """One subject imported through the library into a data home with an SQLite catalog:
    4 weeks × 2 sessions of 30 s."""
    from neurofeedback.simulate import simulate_cohort
    from neurofeedback.store import ingest_file

    folder = tmp_path_factory.mktemp("cohort")
    home = tmp_path_factory.mktemp("home")
    truth = simulate_cohort(folder, subjects=("alpha01",), weeks=4, sessions_per_week=2,
                            duration_s=30.0)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("NEUROFEEDBACK_DB_URL", raising=False)
        for s in truth.subjects[0].sessions:
            ingest_file(folder / s.path, home=home)
    return home, truth


@pytest.fixture(scope="module", params=CATALOG_BACKENDS)
def home(request, ingested, tmp_path_factory):
    """The data home, its catalog on SQLite (in the home, as imported) or on a fresh PostgreSQL
    database holding the same rows (``NEUROFEEDBACK_DB_URL`` set for this module's tests)."""
    home, truth = ingested
    with pytest.MonkeyPatch.context() as mp:
        name = None
        if request.param == "postgresql":
            cluster = request.getfixturevalue("postgres_cluster")
            name = cluster.create_database()
            copy_catalog(f"sqlite:///{home / 'catalog.sqlite'}", cluster.url(name))
            mp.setenv("NEUROFEEDBACK_DB_URL", cluster.url(name))
        else:
            mp.delenv("NEUROFEEDBACK_DB_URL", raising=False)
        yield home, truth
    if name is not None:
        cluster.drop_database(name)


def test_sessions_json_lists_every_session(home):
    h, truth = home
    res = runner.invoke(app, ["sessions", "--home", str(h), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == len(truth.subjects[0].sessions)
    assert {r["subject"] for r in rows} == {"alpha01"}


def test_trends_json_has_the_documented_keys(home):
    h, _ = home
    res = runner.invoke(app, ["trends", "--subject", "alpha01", "--home", str(h), "--json",
                              "--metric", "absolute_alpha", "--metric", "relative_alpha"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    # without --channels: the mean, plus the primary series (relative alpha, posterior)
    assert {(t["metric"], t["channel"]) for t in out} == {
        ("absolute_alpha", "mean"), ("relative_alpha", "mean"), ("relative_alpha", "posterior")}
    assert [t["channel"] for t in out if t["family"] == "primary"] == ["posterior"]
    assert {t["change"] for t in out} <= {"rose", "fell", "no clear change", "not enough data"}
    for t in out:
        assert REQUIRED <= set(t)
        assert t["n_weeks"] == 4
        assert {"week", "mean", "ci_low", "ci_high", "n"} <= set(t["weeks"][0])
        assert {"effect_size", "ci"} <= set(t["baseline_change"])
    # the table view says the same in words
    res = runner.invoke(app, ["trends", "--subject", "alpha01", "--home", str(h)])
    assert res.exit_code == 0 and "absolute_alpha (mean)" in res.stdout
    assert "not evidence of cause" in " ".join(res.stdout.split())


def test_trends_errors_are_one_line(home):
    h, _ = home
    for args, words in ((["--subject", "nobody1"], "no sessions for subject"),
                        (["--subject", "../x"], "Invalid value for the 'subject' parameter"),
                        (["--subject", "alpha01", "--metric", "bogus"], "Allowed values are")):
        res = runner.invoke(app, ["trends", *args, "--home", str(h)])
        assert res.exit_code == 2
        lines = [x for x in res.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and words in lines[0], res.stderr


def test_event_add_and_list(home):
    h, _ = home
    res = runner.invoke(app, ["event", "add", "--subject", "alpha01", "--date", "2026-01-20",
                              "--kind", "ketamine", "--text", "infusion 1", "--home", str(h)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["event", "list", "--subject", "alpha01", "--home", str(h), "--json"])
    events = json.loads(res.stdout)
    assert events[-1]["kind"] == "ketamine" and events[-1]["text"] == "infusion 1"
    assert events[-1]["time"].startswith("2026-01-20")
    res = runner.invoke(app, ["event", "add", "--subject", "alpha01", "--date", "yesterday",
                              "--kind", "note", "--home", str(h)])
    assert res.exit_code == 2 and "'--date' parameter" in res.stderr


def test_trends_primary_and_adjustment_options(home):
    h, _ = home

    def run(*extra):
        res = runner.invoke(app, ["trends", "--subject", "alpha01", "--home", str(h), "--json",
                                  "--metric", "absolute_alpha", "--metric", "iaf", *extra])
        assert res.exit_code == 0, res.output
        return {(t["metric"], t["channel"]): t for t in json.loads(res.stdout)}

    out = run("--primary", "iaf:mean")
    assert out[("iaf", "mean")]["family"] == "primary"
    assert out[("absolute_alpha", "mean")]["family_size"] == len(out) - 1
    bh = run("--primary", "iaf:mean", "--adjustment", "fdr_bh")
    assert bh[("absolute_alpha", "mean")]["adjustment"] == "fdr_bh"
    for args, words in ((["--primary", "bogus"], "'--primary' parameter. Allowed metrics"),
                        (["--primary", "iaf:Cz9"], "iaf has the channels"),
                        (["--adjustment", "sidak2"], "'adjustment' parameter")):
        res = runner.invoke(app, ["trends", "--subject", "alpha01", "--home", str(h), *args])
        assert res.exit_code == 2, res.output
        assert words in res.output and len(res.output.strip().splitlines()) == 1
