"""Feedback outputs: --output parsing, LSL and OSC received by another process on loopback,
the tone's fail-soft behaviour (and its synthesis on miniaudio's null device), the terminal gauge.

Every subprocess runs with a timeout and is killed in ``finally``: no test can hang.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass

import numpy as np
import pytest

from neurofeedback.errors import ConfigError, NeurofeedbackError
from neurofeedback.feedback.outputs import (
    LSL_CHANNELS,
    OUTPUTS,
    FeedbackSink,
    LslOutput,
    OscOutput,
    TerminalGauge,
    ToneOutput,
    open_outputs,
    parse_outputs,
)

NAN = math.nan


@dataclass(frozen=True)
class Update:
    """Stands for neurofeedback.feedback.step.FeedbackOutput (the outputs duck-type it)."""

    t: float = 70.0
    phase: str = "training"
    metric: float = 0.4123
    threshold: float = 0.39
    reward: bool = True
    artifact: bool = False
    inhibited: bool = False
    reason: str = ""
    level: float = 0.62
    reward_rate: float = 0.64


BASELINE = Update(t=10.0, phase="baseline", metric=0.35, threshold=NAN, reward=False, level=0.45,
                  reward_rate=NAN, reason="baseline")
REWARD = Update()
ARTIFACT = Update(t=70.25, metric=NAN, reward=False, artifact=True, level=0.0, reward_rate=0.5,
                  reason="artifact: 212 µV peak-to-peak on O1")
UPDATES = (BASELINE, REWARD, ARTIFACT)


def _expected_row(u: Update) -> list[float]:
    return [u.metric, u.threshold, float(u.reward), u.level, float(u.artifact), u.reward_rate]


def _same_f32(got, want) -> bool:
    """float32 round trip: NaN matches NaN, numbers match to float32 precision."""
    got, want = np.float32(got), np.float32(want)
    return bool(np.isnan(got) and np.isnan(want)) or bool(got == want)


class _Lines:
    """Read a subprocess's stdout lines on a thread, so waiting for one can time out."""

    def __init__(self, proc: subprocess.Popen):
        self.q: queue.Queue = queue.Queue()
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._t.start()

    def _read(self, stream):
        for line in stream:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def wait_for(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {prefix!r} line within {timeout} s; got {self.lines}")
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the receiver ended before {prefix!r}; got {self.lines}")
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    def rest(self, timeout: float) -> list[str]:
        """Every further line until the stream ends."""
        self._t.join(timeout)
        while True:
            try:
                line = self.q.get_nowait()
            except queue.Empty:
                return self.lines
            if line is not None:
                self.lines.append(line)


def _spawn(script: str, tmp_path, *args, env=None) -> tuple[subprocess.Popen, _Lines]:
    path = tmp_path / f"receiver_{uuid.uuid4().hex[:6]}.py"
    path.write_text(textwrap.dedent(script))
    proc = subprocess.Popen([sys.executable, str(path), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    return proc, _Lines(proc)


def _finish(proc: subprocess.Popen, lines: _Lines, timeout: float) -> dict | list:
    """Wait for the receiver to exit and return the JSON of its last line."""
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    out = lines.rest(timeout=10)
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 0, f"receiver failed ({proc.returncode}): {out} {err[-2000:]}"
    return json.loads(out[-1])


# ----------------------------------------------------------------------------------------------
# --output
# ----------------------------------------------------------------------------------------------
def test_parse_outputs_accepts_names_in_order_without_repeats():
    assert parse_outputs("terminal,lsl,osc") == ("terminal", "lsl", "osc")
    assert parse_outputs(" Tone , terminal,tone ") == ("tone", "terminal")
    assert set(parse_outputs(",".join(OUTPUTS))) == set(OUTPUTS)


@pytest.mark.parametrize("text, bad", [("terminal,midi", "midi"), ("", ""), ("lsl,,osc", ""),
                                       ("LSL;OSC", "LSL;OSC")])
def test_parse_outputs_rejects_unknown_names_mne_style(text, bad):
    with pytest.raises(ConfigError) as err:
        parse_outputs(text)
    assert str(err.value) == (
        "Invalid value for the --output parameter. Allowed values are 'terminal', 'tone', 'lsl' "
        f"and 'osc', but got {bad!r} instead."
    )
    assert isinstance(err.value, NeurofeedbackError) and "\n" not in str(err.value)


def test_parse_outputs_rejects_non_strings():
    with pytest.raises(ConfigError, match="--output parameter. It must be a comma-separated"):
        parse_outputs(["lsl"])


# ----------------------------------------------------------------------------------------------
# LSL, received by another process
# ----------------------------------------------------------------------------------------------
LSL_RECEIVER = r"""
import json, sys, time
import pylsl

name, n = sys.argv[1], int(sys.argv[2])
found = pylsl.resolve_byprop("name", name, timeout=15)
if not found:
    print(json.dumps({"error": "stream not found"}), flush=True)
    sys.exit(3)
inlet = pylsl.StreamInlet(found[0], max_buflen=30, recover=False)
info = inlet.info(timeout=10)
labels, units = [], []
ch = info.desc().child("channels").child("channel")
while not ch.empty():
    labels.append(ch.child_value("label"))
    units.append(ch.child_value("unit"))
    ch = ch.next_sibling("channel")
meta = info.desc().child("neurofeedback")
inlet.open_stream(timeout=10)
print("READY", flush=True)
samples, stamps = [], []
deadline = time.monotonic() + 20
while len(samples) < n and time.monotonic() < deadline:
    sample, ts = inlet.pull_sample(timeout=1.0)
    if sample is not None:
        samples.append(sample)
        stamps.append(ts)
print(json.dumps({
    "name": info.name(), "type": info.type(), "source_id": info.source_id(),
    "channel_count": info.channel_count(), "nominal_srate": info.nominal_srate(),
    "channel_format": info.channel_format(), "labels": labels, "units": units,
    "manufacturer": info.desc().child_value("manufacturer"),
    "protocol": meta.child_value("protocol"), "bands": meta.child_value("bands"),
    "window_s": meta.child("window").child_value("seconds"),
    "samples": samples, "stamps": stamps,
}), flush=True)
"""


def test_lsl_stream_received_in_another_process(tmp_path, monkeypatch):
    monkeypatch.delenv("LSLAPICFG", raising=False)  # restored (unset) after the test
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/lsl_api/lsl_api.cfg of the user's
    import pylsl

    name = f"nf-test-{uuid.uuid4().hex[:10]}"
    sink = LslOutput(name, stream_info={"protocol": "alpha-up", "bands": ["alpha"],
                                        "metric_unit": "fraction", "window": {"seconds": 2.0}})
    # the machine-scope configuration is in place for this process and its children
    cfg = os.environ.get("LSLAPICFG")
    assert cfg and sink.config_path is not None and str(sink.config_path) == cfg
    text = open(cfg).read()
    assert "ResolveScope = machine" in text and "KnownPeers = {127.0.0.1}" in text

    proc = None
    try:
        proc, lines = _spawn(LSL_RECEIVER, tmp_path, name, len(UPDATES))
        lines.wait_for("READY", timeout=40)
        deadline = time.monotonic() + 10
        while not sink.have_consumers() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sink.have_consumers()
        t_before = pylsl.local_clock()
        for u in UPDATES:
            sink.send(u)
            time.sleep(0.02)
        t_after = pylsl.local_clock()
        got = _finish(proc, lines, timeout=40)
    finally:
        sink.close()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    assert got["name"] == name and got["type"] == "Feedback"
    assert got["source_id"] == sink.source_id
    assert got["channel_count"] == 6 and got["nominal_srate"] == 0.0  # irregular rate
    assert got["channel_format"] == pylsl.cf_float32
    assert got["labels"] == list(LSL_CHANNELS)
    assert got["units"] == ["fraction", "fraction", "bool", "fraction", "bool", "fraction"]
    assert got["manufacturer"] == "neurofeedback"
    assert got["protocol"] == "alpha-up" and json.loads(got["bands"]) == ["alpha"]
    assert float(got["window_s"]) == 2.0
    assert len(got["samples"]) == len(UPDATES)
    for sample, u in zip(got["samples"], UPDATES):
        want = _expected_row(u)
        assert all(_same_f32(g, w) for g, w in zip(sample, want)), (sample, want)
    assert math.isnan(got["samples"][0][1])  # threshold during the baseline: NaN carried
    assert math.isnan(got["samples"][2][0])  # metric of an artifact window: NaN carried
    stamps = got["stamps"]
    assert stamps == sorted(stamps) and t_before <= stamps[0] and stamps[-1] <= t_after


def test_lsl_send_after_close_is_a_noop_and_bad_name_is_one_line():
    sink = LslOutput(f"nf-test-{uuid.uuid4().hex[:10]}", update_hz=4.0)
    sink.close()
    sink.send(REWARD)
    sink.close()
    assert not sink.have_consumers()
    with pytest.raises(ConfigError, match="Invalid value for the 'lsl_name' parameter"):
        LslOutput("  ")
    with pytest.raises(ConfigError, match="'scope' parameter. Allowed values are 'machine', "
                                          "'network' and None, but got 'galaxy'"):
        LslOutput("x", scope="galaxy")


def test_lsl_respects_the_users_configuration(tmp_path, monkeypatch):
    from neurofeedback.feedback.outputs import configure_lsl

    own = tmp_path / "mine.cfg"
    own.write_text("[multicast]\nResolveScope = link\n")
    monkeypatch.setenv("LSLAPICFG", str(own))
    assert configure_lsl("machine") == own
    assert os.environ["LSLAPICFG"] == str(own) and "link" in own.read_text()


# ----------------------------------------------------------------------------------------------
# OSC, received by another process
# ----------------------------------------------------------------------------------------------
OSC_RECEIVER = r"""
import json, sys, time
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

got, done = [], []

def handler(address, *args):
    if address == "/test/done":
        done.append(True)
    else:
        got.append([address, list(args)])

disp = Dispatcher()
disp.set_default_handler(handler)
server = BlockingOSCUDPServer(("127.0.0.1", 0), disp)
server.timeout = 0.2
print("PORT", server.server_address[1], flush=True)
deadline = time.monotonic() + float(sys.argv[1])
while not done and time.monotonic() < deadline:
    server.handle_request()
server.server_close()
print(json.dumps(got), flush=True)
"""


def _expected_osc(u: Update, prefix: str = "/neurofeedback") -> list:
    m, thr, rew, lev, art, rate = _expected_row(u)
    return [
        [f"{prefix}/metric", [m]], [f"{prefix}/threshold", [thr]], [f"{prefix}/reward", [int(rew)]],
        [f"{prefix}/level", [lev]], [f"{prefix}/artifact", [int(art)]],
        [f"{prefix}/reward_rate", [rate]], [f"{prefix}/phase", [u.phase]],
        [f"{prefix}/update", [m, thr, int(rew), lev, int(art), rate]],
    ]


def _check_osc(got: list, updates, prefix: str) -> None:
    want = [msg for u in updates for msg in _expected_osc(u, prefix)]
    assert [g[0] for g in got] == [w[0] for w in want]
    for (addr, gargs), (_, wargs) in zip(got, want):
        assert len(gargs) == len(wargs), addr
        for g, w in zip(gargs, wargs):
            if isinstance(w, str):
                assert g == w, addr
            elif isinstance(w, int):  # 'i' arguments arrive as ints
                assert isinstance(g, int) and g == w, addr
            else:  # 'f' arguments: float32, NaN carried
                assert _same_f32(g, w), (addr, g, w)


@pytest.mark.parametrize("bundle", [False, True], ids=["messages", "bundle"])
def test_osc_messages_received_in_another_process(tmp_path, bundle):
    from pythonosc.udp_client import SimpleUDPClient

    prefix = "/nf" if bundle else "/neurofeedback"
    proc = None
    try:
        proc, lines = _spawn(OSC_RECEIVER, tmp_path, 30)
        port = int(lines.wait_for("PORT", timeout=30).split()[1])
        sink = OscOutput("127.0.0.1", port, prefix + "/", bundle=bundle)  # trailing '/' dropped
        for u in UPDATES:
            sink.send(u)
            time.sleep(0.01)
        sink.close()
        sink.send(REWARD)  # after close: nothing
        time.sleep(0.1)
        SimpleUDPClient("127.0.0.1", port).send_message("/test/done", 1)
        got = _finish(proc, lines, timeout=40)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    _check_osc(got, UPDATES, prefix)


def test_osc_bad_parameters_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="'osc_port' parameter. It must be an integer in "
                                          r"\[1, 65535\], but got 70000"):
        OscOutput(port=70000)
    with pytest.raises(ConfigError, match="'osc_prefix' parameter"):
        OscOutput(prefix="neurofeedback")
    with pytest.raises(ConfigError, match="'osc_prefix' parameter"):
        OscOutput(prefix="/neuro feedback")
    with pytest.raises(ConfigError, match="cannot resolve 'no-such-host.invalid'") as err:
        OscOutput(host="no-such-host.invalid")
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------------------------
# open_outputs
# ----------------------------------------------------------------------------------------------
def test_open_outputs_opens_sinks_and_skips_terminal(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "miniaudio", None)  # no audio library: the tone fails soft
    with caplog.at_level(logging.WARNING, logger="neurofeedback"):
        sinks = open_outputs("terminal,osc,tone", osc_port=45999)
    try:
        assert [type(s) for s in sinks] == [OscOutput, ToneOutput]
        assert all(isinstance(s, FeedbackSink) for s in sinks)
        assert sinks[0].port == 45999 and not sinks[1].available
        for s in sinks:
            s.send(REWARD)
    finally:
        for s in sinks:
            s.close()
    assert open_outputs(["terminal"]) == [] and open_outputs(()) == []
    with pytest.raises(ConfigError, match="--output parameter"):
        open_outputs(["osc", "speaker"])
    with pytest.raises(ConfigError, match="'osc_port'"):
        open_outputs("lsl,osc", lsl_name=f"nf-test-{uuid.uuid4().hex[:10]}", osc_port=0)


# ----------------------------------------------------------------------------------------------
# tone
# ----------------------------------------------------------------------------------------------
def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and r.name == "neurofeedback"]


def test_tone_without_audio_library_is_a_noop_with_one_warning(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "miniaudio", None)  # import fails
    with caplog.at_level(logging.WARNING, logger="neurofeedback"):
        tone = ToneOutput()
        for u in UPDATES * 3:
            tone.send(u)
        tone.close()
        tone.close()
    assert not tone.available
    warns = _warnings(caplog)
    assert len(warns) == 1 and "tone output unavailable" in warns[0] and "miniaudio" in warns[0]
    assert tone.frames == 0


def test_tone_without_audio_device_is_a_noop_with_one_warning(caplog):
    pytest.importorskip("miniaudio")
    with caplog.at_level(logging.WARNING, logger="neurofeedback"):
        tone = ToneOutput()
        available = tone.available
        for u in UPDATES:
            tone.send(u)
        tone.close()
    if available:
        pytest.skip("this machine has an audio output device (the no-device path is not reachable)")
    warns = _warnings(caplog)
    assert len(warns) == 1 and "no audio output device" in warns[0]
    assert "\n" not in warns[0]


def test_tone_target_follows_level_and_reward():
    tone = ToneOutput.__new__(ToneOutput)  # the mapping only: no device
    tone.base_hz, tone.span_hz, tone.volume, tone.no_reward_gain = 220.0, 440.0, 0.2, 0.3
    tone._target = (220.0, 0.0)
    assert tone.target(Update(level=0.0)) == (220.0, pytest.approx(0.2))
    assert tone.target(Update(level=1.0)) == (660.0, pytest.approx(0.2))
    assert tone.target(Update(level=0.5, reward=False)) == (440.0, pytest.approx(0.06))
    assert tone.target(Update(level=1.7))[0] == 660.0  # clipped
    assert tone.target(BASELINE)[1] == 0.0 and tone.target(ARTIFACT)[1] == 0.0
    assert tone.target(Update(level=NAN))[1] == 0.0


def test_tone_plays_on_the_null_audio_device():
    pytest.importorskip("miniaudio", reason="the 'miniaudio' package is not installed")
    tone = ToneOutput(base_hz=220, span_hz=440, volume=0.2, sample_rate=22050, backend="null")
    try:
        assert tone.available, tone.reason
        tone.send(Update(level=0.75))  # 220 + 440 * 0.75 = 550 Hz, rewarded: full volume
        deadline = time.monotonic() + 10
        while tone.frames < 22050 // 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert tone.frames >= 22050 // 2, "the audio thread did not pull samples"
        block = tone.render(22050)  # 1 s after the glide: the pitch and the amplitude
    finally:
        tone.close()
    frames = tone.frames
    time.sleep(0.2)
    assert tone.frames == frames  # stopped
    spec = np.abs(np.fft.rfft(block * np.hanning(block.size)))
    peak_hz = np.argmax(spec) * 22050 / block.size
    assert abs(peak_hz - 550.0) <= 1.0
    assert np.max(np.abs(block)) == pytest.approx(0.2, rel=0.01)
    assert block.dtype == np.float32


def test_tone_rejects_bad_parameters():
    with pytest.raises(ConfigError, match="'volume' parameter. It must be in"):
        ToneOutput(volume=2.0)
    with pytest.raises(ConfigError, match="'backend' parameter. Allowed values are"):
        ToneOutput(backend="speaker")
    with pytest.raises(ConfigError, match="'sample_rate' parameter"):
        ToneOutput(sample_rate=100)


# ----------------------------------------------------------------------------------------------
# terminal
# ----------------------------------------------------------------------------------------------
def _render(out, **kw) -> str:
    from rich.console import Console

    console = Console(record=True, width=80, color_system=None)
    gauge = TerminalGauge(**kw)
    console.print(gauge.render(out, protocol_name="alpha-up", elapsed_s=83.0, duration_s=600.0,
                               extra={"delay": "80 ms"}))
    return console.export_text()


def _bar(text: str) -> str:
    line = next(ln for ln in text.splitlines() if ln.lstrip().startswith("level"))
    return line[line.index("[") + 1:line.index("]")]


def test_gauge_shows_level_threshold_metric_and_reward():
    text = _render(REWARD)
    bar = _bar(text)
    assert len(bar) == 50
    assert bar.index(TerminalGauge.MARKER) == 25  # the threshold: level 0.5 in training
    assert bar.count(TerminalGauge.MARKER) == 1
    n_fill = round(0.62 * 50)  # 31 cells, the marker inside them
    assert bar[:n_fill].replace(TerminalGauge.MARKER, "") == TerminalGauge.FILLED * (n_fill - 1)
    assert bar[n_fill:] == TerminalGauge.EMPTY * (50 - n_fill)
    assert "metric 0.4123" in text and "threshold 0.39" in text
    assert "● reward" in text and "○" not in text
    assert "reward rate 64%" in text and "TRAINING" in text and "alpha-up" in text
    assert "1:23 / 10:00" in text and "delay: 80 ms" in text


def test_gauge_marks_an_explicit_threshold_level_and_no_reward():
    @dataclass(frozen=True)
    class WithThreshold(Update):
        threshold_level: float = 0.2

    text = _render(WithThreshold(reward=False, level=0.1), width=40)
    bar = _bar(text)
    assert len(bar) == 40 and bar.index(TerminalGauge.MARKER) == 8
    assert bar.count(TerminalGauge.FILLED) == 4
    assert "○ no reward" in text and "●" not in text


def test_gauge_shows_artifact_inhibit_and_baseline():
    text = _render(ARTIFACT)
    assert "metric –" in text and "artifact: artifact: 212 µV" not in text
    assert "✕ artifact: 212 µV peak-to-peak on O1" in text
    assert TerminalGauge.FILLED not in _bar(text) and "] –" in text
    text = _render(Update(reward=False, inhibited=True, reason="inhibit: EMG"))
    assert "⊘ inhibit: EMG" in text and "○ no reward" in text
    assert "⊘ inhibit: band raised" in _render(Update(reward=False, inhibited=True))
    text = _render(BASELINE)
    assert "BASELINE" in text and "threshold –" in text and "reward rate –" in text
    assert TerminalGauge.MARKER not in _bar(text)  # no threshold yet
