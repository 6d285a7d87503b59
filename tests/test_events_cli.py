"""Events with structure (issue 18): ``neurofeedback event add|list|edit|delete|practice-import|change``
with CliRunner on a real SQLite catalog; events survive reprocessing; the subject report's
event-change section escapes user text and renders in Chromium.

The subject is the demo's simulated ``ket01`` (session metrics with a known step of relative
alpha after a ketamine infusion; :func:`neurofeedback.simulate.simulate_event_subject`), stored
with :meth:`Catalog.record_session`, so no Prefect and no EEG processing is needed.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import XSS
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.store import Catalog

runner = CliRunner()


def _one_line_error(res, *words):
    assert res.exit_code == 2, res.output
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def ket(tmp_path_factory):
    from neurofeedback.simulate import simulate_event_subject

    home = tmp_path_factory.mktemp("ket-home")
    sim = simulate_event_subject()
    cat = Catalog(home=home)
    for s in sim["sessions"]:
        cat.record_session(sim["subject"], s["session"], s["fields"], s["metrics"])
    return home, sim


def _invoke(home, *args):
    return runner.invoke(app, ["event", *args, "--home", str(home)])


def test_unknown_subject_is_an_error_and_creates_nothing(ket):
    home, _ = ket
    before = Catalog(home=home).subjects()
    res = _invoke(home, "add", "--subject", "ket02", "--date", "2026-02-09", "--kind", "ketamine")
    _one_line_error(res, "no subject 'ket02'")
    assert Catalog(home=home).subjects() == before
    _one_line_error(_invoke(home, "add", "--subject", "ket01", "--date", "2026-02-09", "--kind",
                            "party"), "'kind' parameter")
    _one_line_error(_invoke(home, "add", "--subject", "ket01", "--date", "2026-02-09", "--kind",
                            "note", "--unit", "mg"), "'--unit'")


def test_add_list_edit_delete(ket):
    home, _ = ket
    res = _invoke(home, "add", "--subject", "ket01", "--date", "2026-01-07T18:00", "--kind",
                  "therapy", "--quantity", "50", "--unit", "min", "--text", "preparation session")
    assert res.exit_code == 0, res.output
    assert "therapy 50 min: preparation session" in res.stdout
    rows = json.loads(_invoke(home, "list", "--subject", "ket01", "--json").stdout)
    ev = next(r for r in rows if r["kind"] == "therapy")
    assert (ev["quantity"], ev["unit"], ev["text"]) == (50.0, "min", "preparation session")
    assert ev["updated_at"] is None
    eid = ev["event_id"]
    res = _invoke(home, "edit", str(eid), "--text", "integration session 1", "--date", "2026-01-08")
    assert res.exit_code == 0, res.output
    after = Catalog(home=home).event(eid)
    assert after["text"] == "integration session 1" and after["quantity"] == 50.0
    assert after["time"] == pd.Timestamp("2026-01-08", tz="UTC")
    assert after["updated_at"] >= after["created_at"]
    res = _invoke(home, "edit", str(eid), "--clear-quantity")
    assert res.exit_code == 0 and pd.isna(Catalog(home=home).event(eid)["quantity"])
    _one_line_error(_invoke(home, "edit", str(eid)), "Nothing to change")
    _one_line_error(_invoke(home, "edit", "9999", "--text", "x"), "no event 9999")
    n = len(Catalog(home=home).events())
    res = _invoke(home, "delete", str(eid))
    assert res.exit_code == 0 and f"deleted event {eid}" in res.stdout
    assert len(Catalog(home=home).events()) == n - 1
    _one_line_error(_invoke(home, "delete", str(eid)), f"no event {eid}")
    _one_line_error(_invoke(home, "delete", "abc"), "Invalid event id")


def test_practice_import_good_and_bad(ket, tmp_path):
    home, _ = ket
    good = tmp_path / "practice.csv"
    good.write_text("date,minutes,comment\n2026-01-05,20,first\n2026-01-06,0,\n2026-01-07,35.5,x\n")
    res = _invoke(home, "practice-import", str(good), "--subject", "ket01")
    assert res.exit_code == 0, res.output
    assert "imported 3 day(s)" in res.stdout
    log = Catalog(home=home).practice("ket01")
    assert log["minutes"].tolist() == [20.0, 0.0, 35.5]
    for text, words in (("date,minutes\n2026-01-05,20\n2026-02-30,10\n", (f"{tmp_path / 'bad.csv'}:3", "bad date")),
                        ("date,minutes\n2026-01-05,-4\n", ("bad.csv:2", "bad minutes")),
                        ("date,minutes\n2026-01-05,4\n2026-01-05,5\n", ("bad.csv:3", "already on line 2")),
                        ("day,min\n2026-01-05,4\n", ("bad.csv:1", "date,minutes"))):
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        _one_line_error(_invoke(home, "practice-import", str(bad), "--subject", "ket01"), *words)
    assert Catalog(home=home).practice("ket01")["minutes"].tolist() == [20.0, 0.0, 35.5]  # untouched
    _one_line_error(_invoke(home, "practice-import", str(good), "--subject", "nobody"), "no subject")
    _one_line_error(_invoke(home, "practice-import", str(tmp_path / "none.csv"), "--subject", "ket01"),
                    "no such practice log")


def test_change_around_the_infusion(ket):
    home, sim = ket
    ev = sim["event"]
    cat = Catalog(home=home)
    eid = cat.add_event("ket01", ev["time"], ev["kind"], ev["text"], quantity=ev["quantity"],
                        unit=ev["unit"])
    res = _invoke(home, "change", "--subject", "ket01", "--no-practice")
    assert res.exit_code == 0, res.output
    first = res.stdout.splitlines()[0]
    assert first.startswith("Around the ketamine event of 2026-02-09, relative_alpha (posterior) rose by")
    data = json.loads(_invoke(home, "change", "--subject", "ket01", "--event", str(eid), "--json",
                              "--no-practice").stdout)
    prim = next(r for r in data if r["family"] == "primary")
    (e,) = prim["events"]
    truth = sim["truth"]["relative_alpha:posterior"]["level"]
    assert e["event_id"] == eid and e["level"]["ci"][0] < truth < e["level"]["ci"][1]
    _one_line_error(_invoke(home, "change", "--subject", "ket01", "--event", "9999"), "no event 9999")
    _one_line_error(_invoke(home, "change", "--subject", "nobody"), "no subject 'nobody'")
    _one_line_error(_invoke(home, "change", "--subject", "ket01", "--metric", "bogus"), "unknown metric")


def test_events_survive_reprocessing_and_session_deletion(ket):
    """Reprocessing replaces a session's features and blocks (write_session), deleting a session
    removes its rows: neither touches the subject's events."""
    home, sim = ket
    cat = Catalog(home=home)
    before = cat.events("ket01")[["event_id", "time", "kind", "text"]]
    assert len(before)
    s = sim["sessions"][0]
    status, sid = cat.record_session("ket01", s["session"], dict(s["fields"], config_hash="other"),
                                     s["metrics"])
    assert status == "reprocessed"
    assert cat.delete_session(sid)
    pd.testing.assert_frame_equal(cat.events("ket01")[["event_id", "time", "kind", "text"]], before)
    cat.record_session("ket01", s["session"], s["fields"], s["metrics"])  # back as it was


def test_events_survive_reprocessing_a_recording(tmp_path):
    """The real path of ``neurofeedback process`` with other settings (ingest_file)."""
    from test_ingest import CYTON

    from neurofeedback.config import load_settings
    from neurofeedback.store import ingest_file

    home = tmp_path / "home"
    first = ingest_file(CYTON, home=home)
    cat = Catalog(home=home)
    subject = cat.session(first.session_id)["subject"]
    eid = cat.add_event(subject, "2026-01-01", "therapy", "kept", quantity=1, unit="session")
    other = load_settings().replace(epochs={"length_s": 2.0, "step_s": 1.0})
    assert ingest_file(CYTON, home=home, settings=other).status == "reprocessed"
    assert Catalog(home=home).event(eid)["text"] == "kept"


@pytest.fixture(scope="module")
def ket_report(ket, tmp_path_factory):
    from neurofeedback.report import subject_report

    home, sim = ket
    cat = Catalog(home=home)
    if not cat.events("ket01")["kind"].eq("ketamine").any():
        ev = sim["event"]
        cat.add_event("ket01", ev["time"], ev["kind"], ev["text"])
    cat.add_event("ket01", "2026-01-20", "therapy", f"session {XSS} $x$", quantity=1,
                  unit="<i>u</i>")
    rep = subject_report("ket01", home=home)
    return rep.write_html(tmp_path_factory.mktemp("reports") / "ket01.html"), rep


def test_subject_report_event_section_escapes_user_text(ket_report):
    path, rep = ket_report
    assert "event-change" in rep.section_ids()
    assert any(k.startswith("event_change_relative_alpha_posterior") for k in rep.figures)
    html = path.read_text(encoding="utf-8")
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<i>u</i>" not in html
    sec = next(s for s in rep.sections if s.id == "event-change")
    words = " ".join(t for b in sec.blocks for t in (b.text or []))
    assert "relative_alpha (posterior) rose by" in words
    table = next(b.table.frame for b in sec.blocks if b.table is not None)
    assert set(table["level"]) <= {"rose", "fell", "no clear change", "not enough data"}


def test_subject_report_event_section_in_chromium(ket_report, open_page):
    path, rep = ket_report
    page = open_page(path, height=1000)
    assert page.errors == [] and page.dialogs == []
    assert page.evaluate("document.scripts.length") == 0
    text = page.evaluate("document.querySelector('#event-change').innerText")
    assert "rose by" in text and "95% CI" in text
    shown = page.evaluate("Array.from(document.querySelectorAll('#event-change img'))"
                          ".map(i => [i.naturalWidth, i.getBoundingClientRect().width])")
    assert shown and all(w > 300 and s > 300 for w, s in shown)
    assert f"session {XSS}" in page.evaluate("document.querySelector('#events').innerText")


def test_events_backup_follows_every_change(tmp_path):
    """The backup beside the SQLite catalog that ``store rebuild`` restores events from."""
    from neurofeedback.store.catalog import EVENTS_BACKUP

    cat = Catalog(home=tmp_path)
    cat.add_subject("k01")
    a = cat.add_event("k01", "2026-03-02T10:00", "ketamine", "infusion 1", quantity=0.5, unit="mg/kg")
    b = cat.add_event("k01", "2026-03-09T10:00", "ketamine", "infusion 2")
    cat.edit_event(a, text="infusion one")
    cat.delete_event(b)
    csv = tmp_path / "p.csv"
    csv.write_text("date,minutes\n2026-03-01,20\n")
    cat.import_practice("k01", csv)
    doc = json.loads((tmp_path / EVENTS_BACKUP).read_text())
    assert [(e["event_id"], e["text"], e["quantity"], e["unit"]) for e in doc["events"]] == [
        (a, "infusion one", 0.5, "mg/kg")]
    assert doc["events"][0]["updated_at"] is not None
    assert doc["practice"] == [{"subject": "k01", "day": "2026-03-01", "minutes": 20.0,
                                "source": str(csv)}]
