"""The cohort report in a real headless Chromium (Debian's, via tests/_playwright.py): no console
errors, its sections, figures and tables rendered, hostile text shown as text and never run."""

from __future__ import annotations

import pytest
from conftest import XSS


@pytest.fixture(scope="module")
def cohort_html(tmp_path_factory):
    from neurofeedback.cohort import cohort_trends, event_anchored
    from neurofeedback.report.cohort import build_cohort_report
    from neurofeedback.simulate import simulate_cohort_series

    frame, groups, events, _ = simulate_cohort_series(
        21, groups=(("course", 6, 0.3), ("waitlist", 6, 0.0)), weeks=6, event_week=3,
        base=0.3, unit=0.03)
    res = cohort_trends(frame, groups, group="course", vs="waitlist")
    ev = event_anchored(frame, groups, events, group="course", kind="therapy")
    ev.pop("params")
    # hostile text where names are shown (labels are validated upstream; the report must not
    # rely on it)
    res[0]["metric"] = f"relative_alpha {XSS}"
    ev["kind"] = f"therapy {XSS}"
    rep = build_cohort_report({"group": "course", "vs": "waitlist", "block": "session",
                               "results": res, "events": {"course": ev}, "groups": groups},
                              simulated=True)
    path = rep.write_html(tmp_path_factory.mktemp("cohort") / "cohort.html")
    return path, rep


def test_cohort_report_in_chromium(open_page, cohort_html):
    path, rep = cohort_html
    page = open_page(path, height=1000)
    assert page.errors == [] and page.dialogs == []
    assert page.evaluate("Array.from(document.querySelectorAll('main > section')).map(s => s.id)") \
        == rep.section_ids() == ["summary", "groups", "events", "quality", "method"]
    images = page.evaluate("Array.from(document.images).map(i => ({fig: i.dataset.figure, "
                           "w: i.naturalWidth, shown: i.getBoundingClientRect().width}))")
    assert sorted(i["fig"] for i in images) == sorted(rep.figures) and len(images) == 1
    assert all(i["w"] > 300 and i["shown"] > 300 for i in images)
    for t in rep.tables():
        n = page.evaluate(f"document.querySelectorAll('table[data-table=\"{t.name}\"] tbody tr').length")
        assert n == len(t.frame), t.name
    summary = page.evaluate("document.querySelector('#summary').innerText")
    assert "course than in waitlist" in summary and "95% CI" in summary
    # hostile text is text: shown verbatim, nothing runs, no injected elements
    assert f"relative_alpha {XSS}" in summary
    assert f"therapy {XSS}" in page.evaluate("document.querySelector('#events').innerText")
    assert page.evaluate("document.scripts.length") == 0
    assert page.evaluate("Array.from(document.images).every(i => i.dataset.figure)")
