"""A small, dependency-free Chrome DevTools Protocol client for testing HTML reports.

The browser is Debian's real ``chromium`` (or any Chrome on PATH), started headless and
driven over ``--remote-debugging-pipe``: fd 3 of the browser reads commands, fd 4 writes
responses and events, each message one JSON object terminated by a NUL byte. Only the
standard library is used (no websockets, no pyppeteer/playwright).

    with Browser() as browser:
        page = browser.open(Path("report.html"))
        assert page.errors == []
        assert page.evaluate("document.title") == "Report"
        page.screenshot(tmp_path / "report.png")

Every wait has a timeout (a hung browser raises :class:`BrowserError`, it never hangs the
test run); a reader thread owns the response pipe; the browser's process group is killed and
its temporary profile removed on ``close()``, on leaving the ``with`` block, on garbage
collection and at interpreter exit.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import math
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "Browser",
    "BrowserError",
    "CDPError",
    "JavaScriptError",
    "Page",
    "find_chromium",
    "unshare_net_works",
]

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Launch flags. The first three are required by the issue; the rest keep a container run
#: quiet, deterministic and free of background network traffic.
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--remote-debugging-pipe",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--disable-dev-shm-usage",  # /dev/shm is tiny in containers
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-features=Translate,MediaRouter,OptimizationHints,DialMediaRouteProvider",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--force-color-profile=srgb",
    "--no-pings",
)

#: Extra flags for the fallback offline mode (no network namespace available).
OFFLINE_FALLBACK_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",  # the discard port: nothing listens there
    "--proxy-bypass-list=<-loopback>",  # loopback goes through the dead proxy too
)

OFFLINE_UNSHARE = "unshare --net"
OFFLINE_CDP = "cdp Network.emulateNetworkConditions(offline) + host-resolver-rules + dead proxy"

DEFAULT_COMMAND_TIMEOUT = 30.0
DEFAULT_START_TIMEOUT = 60.0


class BrowserError(RuntimeError):
    """The browser could not be started, died, or did not answer in time."""


class CDPError(BrowserError):
    """A DevTools command returned an error."""

    def __init__(self, method: str, error: dict):
        self.method = method
        self.code = error.get("code")
        self.error_message = error.get("message", "")
        detail = f" ({error['data']})" if error.get("data") else ""
        super().__init__(f"{method} failed: {self.error_message}{detail} [code {self.code}]")


class JavaScriptError(RuntimeError):
    """``Page.evaluate`` threw in the page."""


def find_chromium() -> str | None:
    """The first Chromium/Chrome executable on PATH, or ``None``."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


_unshare_cache: bool | None = None


def unshare_net_works() -> bool:
    """Whether ``unshare --net`` can create a network namespace here (cached)."""
    global _unshare_cache
    if _unshare_cache is None:
        exe = shutil.which("unshare")
        ok = False
        if exe:
            try:
                ok = subprocess.run(
                    [exe, "--net", "--", "true"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=15,
                ).returncode == 0
            except (OSError, subprocess.SubprocessError):
                ok = False
        _unshare_cache = ok
    return _unshare_cache


# --------------------------------------------------------------------------------------
# The pipe connection
# --------------------------------------------------------------------------------------


class _Connection:
    """NUL-delimited JSON messages over two pipes; a reader thread dispatches them."""

    def __init__(self, write_fd: int, read_fd: int, describe_death: Callable[[], str]):
        self._wfd = write_fd
        self._rfd = read_fd
        os.set_blocking(self._wfd, False)
        self._describe_death = describe_death
        self.cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._next_id = 0
        self._pending: dict[int, dict | None] = {}
        self._listeners: dict[str | None, Callable[[dict], None]] = {}
        self.closed_reason: str | None = None
        self._thread = threading.Thread(target=self._read_loop, name="cdp-pipe-reader", daemon=True)
        self._thread.start()

    # -- listeners ---------------------------------------------------------------------
    def add_listener(self, session_id: str | None, fn: Callable[[dict], None]) -> None:
        with self.cond:
            self._listeners[session_id] = fn

    def remove_listener(self, session_id: str | None) -> None:
        with self.cond:
            self._listeners.pop(session_id, None)

    # -- reading -----------------------------------------------------------------------
    def _read_loop(self) -> None:
        buf = bytearray()
        reason = "the browser closed its DevTools pipe"
        try:
            while True:
                chunk = os.read(self._rfd, 1 << 20)
                if not chunk:
                    break
                scan_from = len(buf)  # only the new bytes can hold a terminator
                buf += chunk
                start = 0
                while True:
                    end = buf.find(b"\0", max(start, scan_from))
                    if end < 0:
                        break
                    if end > start:
                        self._dispatch(bytes(buf[start:end]))
                    start = end + 1
                if start:
                    del buf[:start]
        except OSError as exc:
            reason = f"reading the DevTools pipe failed: {exc}"
        except Exception as exc:  # never let the reader die silently
            reason = f"DevTools reader crashed: {exc!r}"
        finally:
            with self.cond:
                if self.closed_reason is None:
                    self.closed_reason = reason
                self.cond.notify_all()

    def _dispatch(self, raw: bytes) -> None:
        try:
            msg = json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            return
        with self.cond:
            if "id" in msg:
                if msg["id"] in self._pending:
                    self._pending[msg["id"]] = msg
            else:
                listener = self._listeners.get(msg.get("sessionId"))
                if listener is not None:
                    try:
                        listener(msg)
                    except Exception:  # a listener bug must not kill the reader
                        pass
            self.cond.notify_all()

    # -- writing -----------------------------------------------------------------------
    def _write(self, data: bytes, deadline: float) -> None:
        with self._write_lock:
            view = memoryview(data)
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BrowserError("timed out writing to the browser's DevTools pipe (browser hung?)")
                try:
                    _, writable, _ = select.select([], [self._wfd], [], min(remaining, 1.0))
                    if not writable:
                        continue
                    n = os.write(self._wfd, view)
                except BlockingIOError:
                    continue
                except (BrokenPipeError, OSError) as exc:
                    raise BrowserError(f"the browser is gone ({exc}); {self._describe_death()}") from None
                view = view[n:]

    def _frame(self, method: str, params: dict | None, session_id: str | None) -> tuple[int, bytes]:
        with self.cond:
            self._next_id += 1
            msg_id = self._next_id
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session_id is not None:
            msg["sessionId"] = session_id
        return msg_id, json.dumps(msg).encode("utf-8") + b"\0"

    def send_nowait(self, method: str, params: dict | None = None, session_id: str | None = None) -> None:
        """Send without waiting for the answer (safe to call from a listener)."""
        if self.closed_reason is not None:
            return
        _, data = self._frame(method, params, session_id)
        try:
            self._write(data, time.monotonic() + 5.0)
        except BrowserError:
            pass

    def send(
        self,
        method: str,
        params: dict | None = None,
        session_id: str | None = None,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
    ) -> dict:
        """Send one command and return its ``result``; raise on error, death or timeout."""
        deadline = time.monotonic() + timeout
        msg_id, data = self._frame(method, params, session_id)
        with self.cond:
            if self.closed_reason is not None:
                raise BrowserError(f"{method}: {self.closed_reason}; {self._describe_death()}")
            self._pending[msg_id] = None
        try:
            self._write(data, deadline)
            self.wait_for(lambda: self._pending[msg_id] is not None,
                          max(0.0, deadline - time.monotonic()),
                          f"the answer to {method} (browser hung?)")
        finally:
            with self.cond:
                reply = self._pending.pop(msg_id, None)
        if "error" in reply:
            raise CDPError(method, reply["error"])
        return reply.get("result", {})

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Block until ``predicate()`` (evaluated under the lock) is true."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                if self.closed_reason is not None:
                    raise BrowserError(f"while waiting for {what}: {self.closed_reason}; {self._describe_death()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BrowserError(f"timed out after {timeout:g} s waiting for {what}")
                self.cond.wait(min(remaining, 1.0))

    def close(self) -> None:
        for fd in (self._wfd,):
            try:
                os.close(fd)
            except OSError:
                pass
        self._thread.join(timeout=5.0)
        if not self._thread.is_alive():
            try:
                os.close(self._rfd)
            except OSError:
                pass


# --------------------------------------------------------------------------------------
# Process handling
# --------------------------------------------------------------------------------------


def _occupy_fds_3_and_4() -> list[int]:
    """Make sure fds 3 and 4 are open in this process while the browser is spawned.

    ``subprocess`` requires every ``pass_fds`` entry to be open, and its internal error pipe
    must not land on 3 or 4 (the child ``dup2``s our pipes over them). ``F_DUPFD`` returns
    the lowest free fd >= 3, so at most two probes find the holes without races.
    """
    held: list[int] = []
    devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while True:
            fd = fcntl.fcntl(devnull, fcntl.F_DUPFD_CLOEXEC, 3)
            if fd in (3, 4):
                held.append(fd)
                continue
            os.close(fd)
            break
    finally:
        if devnull in (3, 4):
            held.append(devnull)
        else:
            os.close(devnull)
    return held


def _spawn(argv: list[str], log_path: Path) -> tuple[subprocess.Popen, int, int]:
    """Start ``argv`` with a command pipe on its fd 3 and a message pipe on its fd 4.

    Returns the process, the fd we write commands to and the fd we read messages from.
    """
    cmd_read, cmd_write = os.pipe()  # browser reads commands (its fd 3)
    msg_read, msg_write = os.pipe()  # browser writes messages (its fd 4)
    # Move the child's ends out of the way (>= 10) so the dup2s below can't clobber them.
    child_in = fcntl.fcntl(cmd_read, fcntl.F_DUPFD_CLOEXEC, 10)
    child_out = fcntl.fcntl(msg_write, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(cmd_read)
    os.close(msg_write)

    def _arrange_fds() -> None:  # runs in the child between fork and exec
        os.dup2(child_in, 3)  # dup2 results are inheritable
        os.dup2(child_out, 4)

    held = _occupy_fds_3_and_4()
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(3, 4),
                preexec_fn=_arrange_fds,
                start_new_session=True,  # own process group: killpg takes every child
            )
    except BaseException:
        for fd in (cmd_write, msg_read):
            os.close(fd)
        raise
    finally:
        for fd in held:
            os.close(fd)
        os.close(child_in)
        os.close(child_out)
    return proc, cmd_write, msg_read


def _kill_tree(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _final_cleanup(proc: subprocess.Popen | None, tmpdir: str) -> None:
    """Kill the browser's process group and remove its temporary directory (idempotent)."""
    if proc is not None:
        _kill_tree(proc)
    for _ in range(5):
        shutil.rmtree(tmpdir, ignore_errors=True)
        if not os.path.exists(tmpdir):
            break
        time.sleep(0.2)


# --------------------------------------------------------------------------------------
# Browser and Page
# --------------------------------------------------------------------------------------


def _remote_object_text(obj: dict) -> str:
    if "value" in obj:
        v = obj["value"]
        return v if isinstance(v, str) else json.dumps(v)
    for key in ("unserializableValue", "description"):
        if key in obj:
            return str(obj[key])
    return str(obj.get("type", ""))


def _exception_text(details: dict) -> str:
    exc = details.get("exception") or {}
    desc = exc.get("description") or exc.get("value")
    text = details.get("text", "")
    if desc:
        return f"{text} {desc}".strip() if text and text not in str(desc) else str(desc)
    return text or "exception"


def _from_unserializable(value: str) -> Any:
    table = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}
    if value in table:
        return table[value]
    if value.endswith("n"):  # BigInt
        try:
            return int(value[:-1])
        except ValueError:
            pass
    return value


class Browser:
    """A headless Chromium driven over ``--remote-debugging-pipe``.

    ``offline=True`` gives a browser with no network: it runs in a fresh network namespace
    (``unshare --net``) when that works here, else every page gets
    ``Network.emulateNetworkConditions(offline)`` and the browser a host resolver that
    resolves nothing and a proxy that does not exist. :attr:`offline_method` says which
    (:data:`OFFLINE_UNSHARE` or :data:`OFFLINE_CDP`; ``None`` when online).
    ``use_unshare=False`` forces the fallback (to test it where unshare works).
    """

    def __init__(
        self,
        offline: bool = False,
        *,
        use_unshare: bool = True,
        executable: str | None = None,
        extra_args: tuple[str, ...] | list[str] = (),
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ):
        self.offline = offline
        self.offline_method: str | None = None
        self.executable = executable or find_chromium()
        if not self.executable:
            raise BrowserError(f"no Chromium found on PATH (tried {', '.join(CHROMIUM_NAMES)})")
        self.version: dict = {}
        self.pages: list[Page] = []
        self._proc: subprocess.Popen | None = None
        self._conn: _Connection | None = None
        self._closed = False
        self._tmpdir = tempfile.mkdtemp(prefix="nf-chromium-")
        self._finalizer = weakref.finalize(self, _final_cleanup, None, self._tmpdir)
        self.startup_seconds: float | None = None
        t0 = time.monotonic()
        try:
            if offline and use_unshare and unshare_net_works():
                try:
                    self._start(extra_args, start_timeout, unshare=True)
                    self.offline_method = OFFLINE_UNSHARE
                except BrowserError:
                    self._stop_process()
            if self._conn is None:
                flags = list(extra_args) + (list(OFFLINE_FALLBACK_FLAGS) if offline else [])
                self._start(flags, start_timeout, unshare=False)
                if offline:
                    self.offline_method = OFFLINE_CDP
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.monotonic() - t0

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return Path(self._tmpdir) / "chromium.log"

    def _describe_death(self) -> str:
        proc = self._proc
        status = "not started" if proc is None else (
            f"exit status {proc.poll()}" if proc.poll() is not None else "process still running"
        )
        return f"browser {status}; log tail: {self.log_tail()!r}"

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def _start(self, extra_args, start_timeout: float, *, unshare: bool) -> None:
        profile = Path(self._tmpdir) / ("profile-netns" if unshare else "profile")
        argv = [self.executable, *BASE_FLAGS, f"--user-data-dir={profile}", *extra_args, "about:blank"]
        if unshare:
            argv = [shutil.which("unshare") or "unshare", "--net", "--", *argv]
        proc, wfd, rfd = _spawn(argv, self.log_path)
        self._proc = proc
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _final_cleanup, proc, self._tmpdir)
        self._conn = _Connection(wfd, rfd, self._describe_death)
        try:
            self.version = self._conn.send("Browser.getVersion", timeout=start_timeout)
        except BrowserError as exc:
            raise BrowserError(f"Chromium did not start ({' '.join(argv[:4])} ...): {exc}") from None

    def _stop_process(self) -> None:
        if self._proc is not None:
            _kill_tree(self._proc)
        if self._conn is not None:
            self._conn.close()
        self._proc = None
        self._conn = None

    def close(self) -> None:
        """Close every page, ask the browser to quit, then kill its process group."""
        if self._closed:
            return
        self._closed = True
        conn, proc = self._conn, self._proc
        if conn is not None and proc is not None and proc.poll() is None and conn.closed_reason is None:
            try:
                conn.send("Browser.close", timeout=3.0)
            except BrowserError:
                pass
            try:
                proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                pass
        self._stop_process()
        self._finalizer()  # kills whatever is left and removes the temporary profile

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return (
            not self._closed
            and self._proc is not None
            and self._proc.poll() is None
            and self._conn is not None
            and self._conn.closed_reason is None
        )

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def conn(self) -> _Connection:
        if self._conn is None or self._closed:
            raise BrowserError("the browser is closed")
        return self._conn

    def send(self, method: str, params: dict | None = None, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> dict:
        """A browser-level DevTools command."""
        return self.conn.send(method, params, None, timeout)

    # -- pages -------------------------------------------------------------------------
    def open(self, path_or_url: str | os.PathLike, *, width: int = 1280, height: int = 900, timeout: float = 60) -> "Page":
        """Open a file (``Path`` or path string) or URL in a new tab and wait until it is loaded.

        Loaded means: ``Page.loadEventFired``, ``document.readyState == "complete"``, every
        ``<img>`` complete (loaded or failed) and web fonts settled.
        """
        url = _to_url(path_or_url)
        page = Page(self, url, width=width, height=height)
        try:
            page._open(timeout)
        except BaseException:
            page.close()
            raise
        self.pages.append(page)
        return page


def _to_url(path_or_url: str | os.PathLike) -> str:
    if isinstance(path_or_url, os.PathLike):
        return Path(path_or_url).resolve().as_uri()
    s = str(path_or_url)
    if "://" in s or s.startswith(("about:", "data:")):
        return s
    return Path(s).resolve().as_uri()


_READY_JS = """(() => {
  const imgs = Array.from(document.images);
  return {
    href: location.href,
    readyState: document.readyState,
    images: imgs.length,
    pendingImages: imgs.filter(i => !i.complete).map(i => i.currentSrc || i.src).slice(0, 5),
    fonts: document.fonts ? document.fonts.status : 'loaded',
  };
})()"""


class Page:
    """One tab: its console, errors, requests and dialogs, plus ``evaluate`` and ``screenshot``."""

    def __init__(self, browser: Browser, url: str, *, width: int, height: int):
        self.browser = browser
        self.url = url
        self.width = width
        self.height = height
        self.target_id: str | None = None
        self.session_id: str | None = None
        self.console: list[dict] = []
        self.exceptions: list[str] = []
        self.log_errors: list[str] = []
        self.log_entries: list[dict] = []
        self.requests: list[str] = []
        self.failed_requests: list[dict] = []
        self.dialogs: list[dict] = []
        self.crashed = False
        self.load_seconds: float | None = None
        self._loads = 0
        self._request_urls: dict[str, str] = {}
        self._closed = False

    # -- events (called by the reader thread, under the connection lock) ---------------
    def _on_event(self, msg: dict) -> None:
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Page.loadEventFired":
            self._loads += 1
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(_remote_object_text(a) for a in p.get("args", []))
            self.console.append({"type": p.get("type"), "text": text})
        elif method == "Runtime.exceptionThrown":
            self.exceptions.append(_exception_text(p.get("exceptionDetails", {})))
        elif method == "Log.entryAdded":
            entry = p.get("entry", {})
            self.log_entries.append(entry)
            if entry.get("level") == "error":
                url = entry.get("url")
                text = entry.get("text", "")
                self.log_errors.append(f"{text} ({url})" if url and url not in text else text)
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            self._request_urls[p.get("requestId", "")] = url
            self.requests.append(url)
        elif method == "Network.loadingFailed":
            self.failed_requests.append(
                {
                    "url": self._request_urls.get(p.get("requestId", ""), ""),
                    "error": p.get("errorText", ""),
                    "canceled": bool(p.get("canceled", False)),
                    "blocked_reason": p.get("blockedReason"),
                    "type": p.get("type"),
                }
            )
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append({"type": p.get("type"), "message": p.get("message", ""), "url": p.get("url", "")})
            # Dismiss at once (without waiting: we are on the reader thread) so a page can't hang.
            self.browser.conn.send_nowait(
                "Page.handleJavaScriptDialog", {"accept": False}, session_id=self.session_id
            )
        elif method in ("Inspector.targetCrashed", "Inspector.detached"):
            self.crashed = True

    # -- opening -----------------------------------------------------------------------
    def _send(self, method: str, params: dict | None = None, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> dict:
        if self._closed:
            raise BrowserError("the page is closed")
        return self.browser.conn.send(method, params, self.session_id, timeout)

    def _open(self, timeout: float) -> None:
        t0 = time.monotonic()
        deadline = t0 + timeout

        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"opening {self.url} took longer than {timeout:g} s")
            return remaining

        conn = self.browser.conn
        self.target_id = conn.send("Target.createTarget", {"url": "about:blank"}, timeout=left())["targetId"]
        # Listen before attaching: events for the session may follow the answer at once.
        self.session_id = conn.send(
            "Target.attachToTarget", {"targetId": self.target_id, "flatten": True}, timeout=left()
        )["sessionId"]
        conn.add_listener(self.session_id, self._on_event)
        for domain in ("Page", "Runtime", "Log", "Network", "Inspector"):
            self._send(f"{domain}.enable", timeout=left())
        self._send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
            timeout=left(),
        )
        if self.browser.offline and self.browser.offline_method == OFFLINE_CDP:
            self._send(
                "Network.emulateNetworkConditions",
                {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
                timeout=left(),
            )
        with conn.cond:
            loads_before = self._loads
        nav = self._send("Page.navigate", {"url": self.url}, timeout=left())
        if nav.get("errorText"):
            raise BrowserError(f"navigating to {self.url} failed: {nav['errorText']}")
        conn.wait_for(
            lambda: self._loads > loads_before or self.crashed, left(), f"the load event of {self.url}"
        )
        state: dict = {}
        while True:
            if self.crashed:
                raise BrowserError(f"the page {self.url} crashed")
            state = self.evaluate(_READY_JS, timeout=left())
            if (
                state["readyState"] == "complete"
                and (state["href"] != "about:blank" or self.url == "about:blank")
                and not state["pendingImages"]
                and state["fonts"] == "loaded"
            ):
                break
            if deadline - time.monotonic() <= 0.1:
                raise BrowserError(f"{self.url} did not finish loading within {timeout:g} s: {state}")
            time.sleep(0.05)
        self.load_seconds = time.monotonic() - t0

    # -- results -----------------------------------------------------------------------
    @property
    def errors(self) -> list[str]:
        """Console ``error``/``assert`` messages, uncaught exceptions and error log entries."""
        conn = self.browser._conn
        with conn.cond if conn is not None else contextlib.nullcontext():
            return (
                [c["text"] for c in self.console if c.get("type") in ("error", "assert")]
                + list(self.exceptions)
                + list(self.log_errors)
            )

    def evaluate(self, expression: str, *, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> Any:
        """Evaluate ``expression`` in the page and return its value as JSON (promises awaited)."""
        reply = self._send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True, "userGesture": False},
            timeout=timeout,
        )
        if "exceptionDetails" in reply:
            raise JavaScriptError(f"{expression!r} threw: {_exception_text(reply['exceptionDetails'])}")
        result = reply.get("result", {})
        if "unserializableValue" in result:
            return _from_unserializable(result["unserializableValue"])
        return result.get("value")

    def screenshot(self, path: str | os.PathLike, full_page: bool = True, *, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> Path:
        """Write a PNG of the viewport, or of the whole page when ``full_page``."""
        params: dict[str, Any] = {"format": "png", "fromSurface": True}
        if full_page:
            metrics = self._send("Page.getLayoutMetrics", timeout=timeout)
            size = metrics.get("cssContentSize") or metrics.get("contentSize")
            params["captureBeyondViewport"] = True
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": max(1, math.ceil(size["width"])),
                "height": max(1, math.ceil(size["height"])),
                "scale": 1,
            }
        data = self._send("Page.captureScreenshot", params, timeout=timeout)["data"]
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        conn = self.browser._conn
        if conn is None:
            return
        if self.session_id is not None:
            conn.remove_listener(self.session_id)
        if self.target_id is not None and conn.closed_reason is None:
            try:
                conn.send("Target.closeTarget", {"targetId": self.target_id}, timeout=10)
            except BrowserError:
                pass
        if self in self.browser.pages:
            self.browser.pages.remove(self)

    def __enter__(self) -> "Page":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Page {self.url} errors={len(self.errors)} dialogs={len(self.dialogs)}>"
