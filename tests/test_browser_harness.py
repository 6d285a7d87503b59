"""The headless-Chromium harness (tests/_browser.py) itself, against small HTML files."""

from __future__ import annotations

import base64
import http.server
import os
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest

from _browser import OFFLINE_CDP, OFFLINE_UNSHARE, Browser, BrowserError, JavaScriptError


def png_bytes(width: int, height: int, rgb=(200, 30, 30)) -> bytes:
    """A minimal valid RGB PNG (stdlib only)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR", "first chunk is not IHDR"
    return struct.unpack(">II", data[16:24])


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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def open_html(browser, tmp_path):
    """Write HTML to a file, open it in the shared browser; pages are closed after the test."""
    pages = []

    def _open(body: str, *, title: str = "t", via=None, **kw):
        path = tmp_path / f"page{len(pages)}.html"
        path.write_text(
            f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body>{body}</body></html>",
            encoding="utf-8",
        )
        page = (via or browser).open(path, **kw)
        pages.append(page)
        return page

    yield _open
    for p in pages:
        p.close()


def test_console_error_is_reported(open_html):
    page = open_html('<p>x</p><script>console.log("hello", 42); console.error("boom");</script>')
    assert any("boom" in e for e in page.errors)
    assert {"type": "error", "text": "boom"} in page.console
    assert {"type": "log", "text": "hello 42"} in page.console
    assert page.exceptions == [] and page.dialogs == []


def test_clean_page_has_no_errors(open_html):
    page = open_html(f'<h1>Report</h1><img alt="dot" src="{DATA_PNG}"><p>fine</p>', title="Clean")
    assert page.errors == []
    assert page.exceptions == [] and page.log_errors == [] and page.dialogs == []
    assert page.failed_requests == []
    assert page.url.startswith("file://") and page.requests[0] == page.url


def test_uncaught_exception_is_reported(open_html):
    page = open_html('<script>throw new Error("kaboom-17")</script><p id="after">still here</p>')
    assert len(page.exceptions) == 1
    assert "kaboom-17" in page.exceptions[0] and "Uncaught" in page.exceptions[0]
    assert any("kaboom-17" in e for e in page.errors)
    # the parser goes on after a failing script
    assert page.evaluate("document.getElementById('after').textContent") == "still here"


def test_alert_is_caught_and_dismissed(open_html):
    t0 = time.monotonic()
    page = open_html('<script>alert(1)</script><p id="after">after</p>', timeout=30)
    assert time.monotonic() - t0 < 30
    assert len(page.dialogs) == 1
    assert page.dialogs[0]["type"] == "alert" and page.dialogs[0]["message"] == "1"
    # dismissed: the rest of the document was parsed and scripts still run
    assert page.evaluate("document.getElementById('after').textContent") == "after"
    assert page.evaluate("1 + 1") == 2


def test_injected_markup_dialog_is_caught(open_html):
    """An XSS-style payload (event handler on a broken image) is seen as a dialog too."""
    page = open_html('<img src="data:image/png;base64,AAAA" onerror="confirm(\'xss\')"><p>x</p>')
    assert [d["type"] for d in page.dialogs] == ["confirm"]
    assert page.dialogs[0]["message"] == "xss"


def test_evaluate_title_and_inline_image(open_html):
    page = open_html(f'<img id="a" src="{DATA_PNG}"><img id="b" src="{DATA_PNG}" width="30">', title="Weekly report")
    assert page.evaluate("document.title") == "Weekly report"
    imgs = page.evaluate(
        "Array.from(document.querySelectorAll('img')).map(i => "
        "({id: i.id, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight}))"
    )
    assert imgs == [
        {"id": "a", "complete": True, "w": 3, "h": 2},
        {"id": "b", "complete": True, "w": 3, "h": 2},
    ]
    assert page.evaluate("({a: [1, 'x', null], b: true})") == {"a": [1, "x", None], "b": True}
    assert page.evaluate("undefined") is None
    assert page.evaluate("Promise.resolve(7)") == 7
    with pytest.raises(JavaScriptError, match="nope"):
        page.evaluate("(() => { throw new Error('nope') })()")


def test_viewport_size(open_html):
    page = open_html("<p>x</p>", width=640, height=480)
    assert page.evaluate("[innerWidth, innerHeight]") == [640, 480]


def test_screenshot_full_page_and_viewport(open_html, tmp_path):
    tall = '<div style="height:3000px;background:linear-gradient(#fff,#00f)">tall</div>'
    page = open_html(tall, width=800, height=600)
    full = page.screenshot(tmp_path / "full.png")
    w, h = png_size(full.read_bytes())
    assert w == 800
    assert h >= 600 and h >= 3000
    view = page.screenshot(tmp_path / "view.png", full_page=False)
    assert png_size(view.read_bytes()) == (800, 600)


def test_screenshot_short_page_is_viewport_sized(open_html, tmp_path):
    page = open_html("<p>short</p>", width=1024, height=700)
    assert png_size(page.screenshot(tmp_path / "s.png").read_bytes()) == (1024, 700)


def test_online_browser_is_not_offline(browser):
    assert browser.offline is False and browser.offline_method is None
    assert "Chrome" in browser.version.get("product", "")


def test_online_browser_reaches_loopback_server(open_html, png_server):
    """Control for the offline tests: the ordinary browser does load over HTTP."""
    page = open_html(f'<img id="i" src="{png_server.base}/online.png">')
    assert page.evaluate("document.getElementById('i').naturalWidth") == 3
    assert "/online.png" in png_server.hits
    assert page.failed_requests == [] and page.errors == []


def _assert_offline(page, png_server, tag: str) -> None:
    # the load event fired (open returned) and the document is complete
    assert page.evaluate("document.readyState") == "complete"
    assert page.evaluate("document.getElementById('p').textContent") == "loaded"
    for img_id in ("remote", "loopback"):
        state = page.evaluate(
            f"(() => {{ const i = document.getElementById('{img_id}'); return [i.complete, i.naturalWidth]; }})()"
        )
        assert state == [True, 0], img_id
    # the inline image still works offline
    assert page.evaluate("document.getElementById('local').naturalWidth") == 3
    # the requests were attempted and failed inside the browser; none reached the server
    failed = {f["url"]: f["error"] for f in page.failed_requests}
    for url in ("http://example.com/x.png", f"{png_server.base}/{tag}.png"):
        if url in page.requests:
            assert failed.get(url, "").startswith("net::ERR_"), (url, failed)
    assert f"/{tag}.png" not in png_server.hits


def _offline_body(png_server, tag: str) -> str:
    return (
        '<img id="remote" src="http://example.com/x.png">'
        f'<img id="loopback" src="{png_server.base}/{tag}.png">'
        f'<img id="local" src="{DATA_PNG}"><p id="p">loaded</p>'
    )


def test_offline_browser_blocks_remote_image(offline_browser, open_html, png_server):
    assert offline_browser.offline and offline_browser.offline_method in (OFFLINE_UNSHARE, OFFLINE_CDP)
    page = open_html(_offline_body(png_server, "offline"), via=offline_browser)
    _assert_offline(page, png_server, "offline")


def test_offline_fallback_without_unshare(chromium_path, open_html, png_server):
    """The CDP fallback (used where no network namespace can be made) is offline too."""
    with Browser(offline=True, use_unshare=False) as b:
        assert b.offline_method == OFFLINE_CDP
        page = open_html(_offline_body(png_server, "fallback"), via=b)
        _assert_offline(page, png_server, "fallback")


def test_hung_page_raises_and_browser_is_cleaned_up(chromium_path, tmp_path):
    """A page that never finishes loading raises BrowserError; closing kills chromium and its profile."""
    path = tmp_path / "hang.html"
    path.write_text("<!doctype html><title>h</title><script>while (true) {}</script>", encoding="utf-8")
    with Browser() as b:
        pid, tmpdir = b.pid, b._tmpdir
        assert os.path.isdir(tmpdir)
        t0 = time.monotonic()
        with pytest.raises(BrowserError):
            b.open(path, timeout=5)
        assert time.monotonic() - t0 < 30
        assert b.alive  # the browser itself survives a hung renderer
        ok = tmp_path / "ok.html"
        ok.write_text("<!doctype html><title>ok</title>", encoding="utf-8")
        with b.open(ok) as page:
            assert page.evaluate("document.title") == "ok"
    assert not b.alive
    assert not os.path.exists(tmpdir)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
