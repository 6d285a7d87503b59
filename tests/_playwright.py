"""Headless Chromium for the HTML-report tests, driven by Playwright's Python API.

The browser is Debian's ``chromium`` (``executable_path``; never a Playwright browser
download), started once per test session by ``plain launch``, which gives it a fresh
temporary profile that Playwright removes on close. Every :meth:`Chromium.open` gets its own
browser context (``offline=True`` for no network) and records what the page did: console
messages (Chromium's own "Failed to load resource" log entries arrive there too), uncaught
exceptions, dialogs (dismissed at once), requests and failed requests.

Playwright's sync API runs an event loop in the thread that starts it, and while it lives
``asyncio.run`` fails in that thread; so one worker thread owns Playwright and the methods
below run there, leaving the test thread free for the rest of the suite.
"""

from __future__ import annotations

import shutil
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Headless (Playwright adds ``--headless``) as root, and no background traffic on a closed network.
LAUNCH_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync")
TIMEOUT_MS = 60_000
# loaded means: the load event, every <img> complete (loaded or failed) and web fonts settled
_READY_JS = """() => Array.from(document.images).every(i => i.complete)
  && (!document.fonts || document.fonts.status === 'loaded')"""


def find_chromium() -> str | None:
    """The first Chromium/Chrome executable on PATH, or ``None``."""
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, in pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


class Chromium:
    """One headless Chromium; :meth:`open` a file in it, :meth:`close` when done."""

    def __init__(self, executable: str):
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="playwright")
        try:
            self._pw = self.call(_start_playwright)
            self.browser = self.call(self._pw.chromium.launch, executable_path=executable,
                                     headless=True, chromium_sandbox=False, args=list(LAUNCH_ARGS))
        except BaseException:
            self.close()
            raise

    def call(self, fn, *args, **kwargs):
        """Run ``fn(*args, **kwargs)`` on the thread that owns Playwright."""
        return self._worker.submit(fn, *args, **kwargs).result()

    def open(self, path: Path, *, offline: bool = False, width: int = 1280, height: int = 900,
             timeout_ms: int = TIMEOUT_MS) -> Page:
        """Open ``path`` in a new context and wait until it (images, fonts) is loaded."""
        return self.call(Page, self, Path(path).resolve().as_uri(), offline, width, height, timeout_ms)

    def close(self) -> None:
        if hasattr(self, "browser"):
            self.call(self.browser.close)
        if hasattr(self, "_pw"):
            self.call(self._pw.stop)
        self._worker.shutdown()


def _start_playwright():
    from playwright.sync_api import sync_playwright

    return sync_playwright().start()


class Page:
    """One opened page and what it did; made by :meth:`Chromium.open` (on its thread)."""

    def __init__(self, chromium: Chromium, url: str, offline: bool, width: int, height: int,
                 timeout_ms: int):
        self._chromium = chromium
        self.url = url
        self.console: list[tuple[str, str]] = []  # (type, text)
        self.exceptions: list[str] = []
        self.dialogs: list[tuple[str, str]] = []  # (type, message)
        self.requests: list[str] = []
        self.failed_requests: dict[str, str] = {}  # url -> Chromium's error text
        self._context = chromium.browser.new_context(
            viewport={"width": width, "height": height}, offline=offline)
        try:
            self._context.set_default_timeout(timeout_ms)
            page = self._page = self._context.new_page()
            page.on("console", lambda m: self.console.append((m.type, m.text)))
            page.on("pageerror", lambda e: self.exceptions.append(str(e)))
            page.on("dialog", self._on_dialog)
            page.on("request", lambda r: self.requests.append(r.url))
            page.on("requestfailed", lambda r: self.failed_requests.__setitem__(r.url, r.failure))
            page.goto(url, wait_until="load")
            page.wait_for_function(_READY_JS)
        except BaseException:
            self._context.close()
            raise

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append((dialog.type, dialog.message))
        dialog.dismiss()

    @property
    def errors(self) -> list[str]:
        """Console ``error``/``assert`` messages and uncaught exceptions."""
        return [t for kind, t in self.console if kind in ("error", "assert")] + self.exceptions

    def evaluate(self, expression: str):
        """The JSON value of a JavaScript expression (or function) in the page."""
        return self._chromium.call(self._page.evaluate, expression)

    def screenshot(self, path: Path, full_page: bool = True) -> tuple[int, int]:
        """Write a PNG of the whole page (or the viewport); return its size in pixels."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return png_size(self._chromium.call(self._page.screenshot, path=path, full_page=full_page))

    def close(self) -> None:
        self._chromium.call(self._context.close)
