"""The ``cohort-trends`` Prefect flow against Prefect's local API: it writes the cohort report and
a markdown artifact whose statements match the library's."""

from __future__ import annotations

import os

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # starts Prefect


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    import pipelines

    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    pipelines.configure()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_cohort_trends_flow_writes_report_and_artifact(harness, tmp_path):
    from neurofeedback.cohort import cohort_statement
    from neurofeedback.simulate import simulate_cohort_series
    from neurofeedback.store import Catalog

    frame, groups, _, _ = simulate_cohort_series(
        31, groups=(("course", 4, 0.5), ("waitlist", 4, 0.0)), weeks=4, per_week=(2, 2),
        base=0.3, unit=0.03, prefix="f")
    cat = Catalog(home=tmp_path)
    for sid, d in frame.groupby("session_id", sort=False):
        subject, session = sid.removeprefix("sub-").split("_ses-")
        cat.record_session(subject, "s" + session,
                           {"start_time": d["start_time"].iloc[0].to_pydatetime(),
                            "input_sha256": sid, "config_hash": "t", "clean_fraction": 1.0},
                           pd.DataFrame({"metric": d["metric"], "channel": d["channel"],
                                         "value": d["value"], "unit": "fraction"}))
    for s, g in groups.items():
        cat.set_group(s, g)
    from pipelines.cohort import cohort_trends_flow

    res = cohort_trends_flow(group="course", vs="waitlist", home=str(tmp_path))
    path = res["report"]
    assert path.endswith("cohort-course-vs-waitlist.html") and os.path.getsize(path) > 10_000
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        art = client.read_latest_artifacts()
    md = [a for a in art if a.key == "cohort-course-vs-waitlist"]
    assert md, [a.key for a in art]
    statement = cohort_statement(res["cohort"]["results"][0])
    assert statement.split(":")[0].replace("_", "\\_") in md[0].data
