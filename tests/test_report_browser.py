"""The reports in a real headless Chromium (Playwright, ``tests/_playwright.py``): no console errors, the
expected sections and images rendered, hostile user text shown as text and never run, and the
files open with networking disabled. Screenshots are saved to ``tests/screenshots/`` (or
``$NF_SCREENSHOT_DIR``) for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ROOT, XSS

SCREENSHOTS = Path(os.environ.get("NF_SCREENSHOT_DIR", ROOT / "tests" / "screenshots"))

_IMAGES_JS = """Array.from(document.images).map(i => ({fig: i.dataset.figure, w: i.naturalWidth,
  h: i.naturalHeight, shown: i.getBoundingClientRect().width}))"""
_SECTIONS_JS = "Array.from(document.querySelectorAll('main > section')).map(s => s.id)"
_PAGE_SIZE_JS = "[innerWidth, Math.max(innerHeight, document.documentElement.scrollHeight)]"


@pytest.fixture(scope="module")
def session_html(tmp_path_factory, xss_recording):
    from neurofeedback.report import session_report

    rep = session_report(xss_recording)
    path = rep.write_html(tmp_path_factory.mktemp("reports") / "session.html")
    return path, rep


@pytest.fixture(scope="module")
def subject_html(tmp_path_factory, report_store):
    from neurofeedback.report import subject_report

    home, subject = report_store
    rep = subject_report(subject, home=home, block="session")  # 20 s blocks: too short a trend
    path = rep.write_html(tmp_path_factory.mktemp("reports") / "subject.html")
    return path, rep


def _check_page(page, rep, name):
    assert page.errors == [], page.errors
    assert page.dialogs == []
    assert page.evaluate(_SECTIONS_JS) == rep.section_ids()
    images = page.evaluate(_IMAGES_JS)
    assert sorted(i["fig"] for i in images) == sorted(rep.figures)
    for i in images:  # decoded and laid out at a readable size
        assert i["w"] > 300 and i["h"] > 100 and i["shown"] > 300, i
    # every table the report holds is in the page, with its rows
    for t in rep.tables():
        n = page.evaluate(f"document.querySelectorAll('table[data-table=\"{t.name}\"] tbody tr').length")
        assert n == len(t.frame), t.name
    # the screenshot (for a person to look at) is a PNG of the whole page, and the page is no
    # wider than the window (a full-page screenshot of a page that overflows sideways is wider)
    size = page.screenshot(SCREENSHOTS / f"{name}.png", full_page=True)
    assert size == tuple(page.evaluate(_PAGE_SIZE_JS)), size


def test_session_report_in_chromium(open_page, session_html):
    path, rep = session_html
    page = open_page(path)
    _check_page(page, rep, "session_report")
    assert page.evaluate("document.title").startswith("EEG session report")


def test_subject_report_in_chromium(open_page, subject_html):
    path, rep = subject_html
    page = open_page(path, height=1000)
    _check_page(page, rep, "subject_report")
    text = page.evaluate("document.querySelector('#summary').innerText")
    assert "absolute_alpha (mean) rose by" in text and "95% CI" in text


def test_hostile_text_shows_as_text_and_runs_nothing(open_page, session_html, subject_html):
    """Acceptance 2: notes, event text, protocol and file names holding markup are text."""
    for path, shown in (
            (session_html[0], (("#meta", f"felt calm {XSS}"),
                               ("h1", f"EEG session report: {XSS}"),
                               ("#meta", '<img src=x onerror="alert(2)">'),
                               ("#meta", "take<img src=x onerror=alert(3)>.csv"))),
            (subject_html[0], (("#events", f"infusion 0.5 mg/kg {XSS}"),))):
        page = open_page(path)
        for where, expected in shown:
            assert expected in page.evaluate(f"document.querySelector('{where}').innerText")
        assert page.dialogs == [] and page.errors == []
        assert page.evaluate("document.scripts.length") == 0
        # the only images are the report's own figures (no injected <img>)
        assert page.evaluate("Array.from(document.images).every(i => i.dataset.figure)")


def test_reports_open_with_networking_disabled(open_page, session_html, subject_html):
    """Acceptance 3: everything a report needs is inside the file."""
    for path, rep in (session_html, subject_html):
        # offline=True cuts the network (proven by test_browser_checks'
        # test_offline_page_requests_are_caught_and_go_nowhere; navigator.onLine is not a
        # reliable sign of it in Chromium 150)
        page = open_page(path, offline=True)
        assert page.errors == [] and page.failed_requests == {}
        # every request the page made (its own file first) stayed inside the file
        assert page.requests[0] == page.url
        assert all(u.startswith(("file:", "data:")) for u in page.requests), page.requests
        images = page.evaluate(_IMAGES_JS)
        assert len(images) == len(rep.figures) and all(i["w"] > 300 for i in images)
        assert path.stat().st_size < 5e6
