"""Shared fixtures: the third-party recordings in ../shared/data and a fresh data home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("NEUROFEEDBACK_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real third-party recordings; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"third-party recordings not found at {SHARED_DATA} (clone with ../shared beside it)")
    return SHARED_DATA


def shared_file(shared_data: Path, rel: str) -> Path:
    """Return one recording under ``shared_data`` or skip naming the missing file."""
    p = shared_data / rel
    if not p.is_file():
        pytest.skip(f"{p} is absent")
    return p


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own data home, so nothing touches the user's real one."""
    monkeypatch.setenv("NEUROFEEDBACK_HOME", str(tmp_path_factory.mktemp("nf-home")))


# --- real headless Chromium for the HTML-report tests (tests/_browser.py) ---------------


def _require_chromium() -> None:
    """Skip when no Chromium is installed; in CI (``CI`` set) that is a failure instead."""
    from _browser import find_chromium

    if find_chromium() is None:
        msg = "chromium is not installed (apt-get install -y chromium); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {msg}", pytrace=False)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium executable, for tests that start their own ``Browser``; skips (fails in CI) without one."""
    _require_chromium()
    from _browser import find_chromium

    return find_chromium()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (with network) shared by the whole session."""
    _require_chromium()
    from _browser import Browser

    with Browser() as b:
        yield b


@pytest.fixture(scope="session")
def offline_browser():
    """One headless Chromium with no network; ``.offline_method`` says how that is enforced."""
    _require_chromium()
    from _browser import Browser

    with Browser(offline=True) as b:
        yield b
