"""The page checks the report tests rely on can fail: small HTML pages that do what a broken
or hostile report would (console errors, exceptions, missing files, dialogs, network requests)
are caught by ``tests/_playwright.py``; a clean page passes."""

from __future__ import annotations

import asyncio
import base64
import http.server
import struct
import threading
import zlib

import pytest


def png_bytes(width: int, height: int, rgb=(200, 30, 30)) -> bytes:
    """A minimal valid RGB PNG (stdlib only)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


DATA_PNG = "data:image/png;base64," + base64.b64encode(png_bytes(3, 2)).decode()


@pytest.fixture(scope="module")
def png_server():
    """A loopback HTTP server answering every GET with a 3x2 PNG; ``.hits`` lists the paths."""
    body = png_bytes(3, 2)
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.hits = hits
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def open_html(open_page, tmp_path):
    """Write ``body`` into an HTML file and open it (keywords as ``open_page``)."""
    n = iter(range(100))

    def _open(body: str, *, title: str = "t", **kw):
        path = tmp_path / f"page{next(n)}.html"
        path.write_text(f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
                        f"<body>{body}</body></html>", encoding="utf-8")
        return open_page(path, **kw)

    return _open


def test_clean_page_passes(open_html):
    page = open_html(f'<h1>Report</h1><img id="a" src="{DATA_PNG}"><p>fine</p>', title="Clean")
    assert page.errors == [] and page.dialogs == [] and page.failed_requests == {}
    assert page.requests[0] == page.url and page.url.startswith("file://")
    assert page.evaluate("document.title") == "Clean"
    img = page.evaluate("(() => { const i = document.getElementById('a'); "
                        "return [i.complete, i.naturalWidth, i.naturalHeight]; })()")
    assert img == [True, 3, 2]


def test_console_error_and_uncaught_exception_are_caught(open_html):
    page = open_html('<script>console.log("hello", 42); console.error("boom");</script>'
                     '<script>throw new Error("kaboom-17")</script><p id="after">still here</p>')
    assert ("log", "hello 42") in page.console and ("error", "boom") in page.console
    assert len(page.exceptions) == 1 and "kaboom-17" in page.exceptions[0]
    assert page.errors == ["boom", page.exceptions[0]]  # a log line is not an error
    # the parser goes on after a failing script
    assert page.evaluate("document.getElementById('after').textContent") == "still here"


def test_missing_file_is_caught(open_html):
    """A report pointing at a file that is not there: an error, a failed request, no image."""
    page = open_html('<img id="m" src="missing.png">')
    assert any("net::ERR_FILE_NOT_FOUND" in e for e in page.errors), page.errors
    assert [(u.rsplit("/", 1)[1], e) for u, e in page.failed_requests.items()] == [
        ("missing.png", "net::ERR_FILE_NOT_FOUND")]
    assert page.evaluate("document.getElementById('m').naturalWidth") == 0


def test_injected_markup_is_caught_and_dismissed(open_html):
    """What the hostile-text test guards against: markup that runs is seen (dialogs, scripts,
    stray images), and the dialogs are dismissed so the page cannot hang the test."""
    page = open_html('<script>alert(1)</script><img src="data:image/png;base64,AAAA" '
                     'onerror="confirm(\'xss\')"><p id="after">after</p>')
    assert sorted(page.dialogs) == [("alert", "1"), ("confirm", "xss")]
    assert page.evaluate("document.getElementById('after').textContent") == "after"
    assert page.evaluate("document.scripts.length") == 1
    assert not page.evaluate("Array.from(document.images).every(i => i.dataset.figure)")


def _network_body(png_server, tag: str) -> str:
    return (f'<img id="loopback" src="{png_server.base}/{tag}.png">'
            f'<img id="remote" src="http://example.com/{tag}.png"><img id="local" src="{DATA_PNG}">')


def test_online_page_reaches_a_loopback_server(open_html, png_server):
    """Control for the offline test: the server notices a request that leaves the page."""
    page = open_html(_network_body(png_server, "online"))
    assert page.evaluate("navigator.onLine") is True
    assert page.evaluate("document.getElementById('loopback').naturalWidth") == 3
    assert "/online.png" in png_server.hits and f"{png_server.base}/online.png" in page.requests


def test_offline_page_requests_are_caught_and_go_nowhere(open_html, png_server):
    page = open_html(_network_body(png_server, "offline"), offline=True)
    # (navigator.onLine is no proof: Chromium 150 reports true for a file: page in an offline
    # context; what proves the network is cut is below: requests fail with DISCONNECTED)
    # the report test's check ("every request is file: or data:") sees both attempts ...
    leaving = [u for u in page.requests if not u.startswith(("file:", "data:"))]
    assert leaving == [f"{png_server.base}/offline.png", "http://example.com/offline.png"]
    # ... which failed inside the browser; none reached the server, the inline image still works
    assert all(page.failed_requests[u] == "net::ERR_INTERNET_DISCONNECTED" for u in leaving)
    assert "/offline.png" not in png_server.hits
    assert page.evaluate("['loopback', 'remote', 'local'].map(i => document.getElementById(i).naturalWidth)") == [
        0, 0, 3]


def test_viewport_and_full_page_screenshot(open_html, tmp_path):
    """The report test compares its full-page screenshot with the window's width and the page's
    height: a tall page is captured whole, a short one and the viewport at the asked size, and a page
    that overflows sideways gives a wider screenshot."""
    page = open_html('<div style="height:3000px">tall</div>', width=800, height=600)
    assert page.evaluate("[innerWidth, innerHeight]") == [800, 600]
    width, height = page.screenshot(tmp_path / "full.png")
    assert width == 800 and height >= 3000
    assert (width, height) == tuple(page.evaluate("[innerWidth, document.documentElement.scrollHeight]"))
    assert page.screenshot(tmp_path / "view.png", full_page=False) == (800, 600)
    assert open_html("<p>short</p>", width=800, height=600).screenshot(tmp_path / "short.png") == (800, 600)
    wide = open_html('<div style="width:2000px">wide</div>', width=800, height=600)
    assert wide.screenshot(tmp_path / "wide.png")[0] >= 2000


def test_hung_page_fails_instead_of_hanging(open_html):
    """A report whose script never ends raises (after the timeout) and the shared browser
    still opens the next page."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    with pytest.raises(PlaywrightTimeoutError):
        open_html("<script>while (true) {}</script>", timeout_ms=3000)
    assert open_html("<p>ok</p>", title="ok").evaluate("document.title") == "ok"


def test_the_session_browser_leaves_asyncio_to_other_tests(chromium):
    """Playwright's sync API blocks ``asyncio.run`` in the thread that runs it; the session-wide
    browser lives in its own thread, so tests after it (Prefect flows) can still use asyncio."""
    async def answer():
        return 42

    assert asyncio.run(answer()) == 42
