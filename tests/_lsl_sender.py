"""An LSL outlet in its own process replaying a real Muse recording, for tests/test_lsl.py.

Run as ``python tests/_lsl_sender.py --file F --name N --markers M --log out.npz``. It does what
muselsl does for a Muse 2016: an ``EEG`` stream of 5 float32 channels (TP9, AF7, AF8, TP10,
Right AUX) at 256 Hz, µV, the channels described in ``<desc><channels>``; plus a ``Markers``
string stream carrying the recording's own markers (``1``/``2`` of its P300 task) at their
samples. The recording is read with the project's reader and sent at real-time speed, each
sample stamped ``t0 + i / 256`` (``i`` its index in the file, so a stall leaves a gap in the
timestamps); each marker is pushed just before its sample, stamped with that sample's time.

It waits for a first consumer (up to ``--wait``), then streams ``--seconds`` of the file from
``--start`` s, or until SIGTERM, or ``--stop-after-go`` s after ``--go-file`` exists (then the
outlet goes away: ``--no-source-id`` makes it a stream liblsl cannot recover by itself).
With ``--stall-at A --stall-s S`` it stops sending for S seconds after A seconds (counted from
when ``--go-file`` exists, when given: the test creates it once the recording has started),
and the S seconds of the file in between are never sent (a device that dropped out). At the
end it writes what it sent to ``--log`` (npz: ``index``, ``ts``, ``values`` float32 (n, 5),
``marker_index``, ``marker_ts``, ``marker_label``, ``stall``: first and end index of the
samples never sent).
"""

from __future__ import annotations

import argparse
import os
import signal
import time

import numpy as np


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--markers", default="")
    ap.add_argument("--log", required=True)
    ap.add_argument("--start", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=16.0)
    ap.add_argument("--stall-at", type=float, default=0.0)
    ap.add_argument("--stall-s", type=float, default=0.0)
    ap.add_argument("--go-file", default="")
    ap.add_argument("--stop-after-go", type=float, default=0.0,
                    help="Stop this many seconds after --go-file exists (the source goes away).")
    ap.add_argument("--no-source-id", action="store_true",
                    help="Announce no source_id (liblsl cannot recover such a stream by itself).")
    ap.add_argument("--wait", type=float, default=60.0)
    args = ap.parse_args(argv)

    import pylsl

    from neurofeedback.io import read_recording

    raw = read_recording(args.file)
    sfreq = float(raw.info["sfreq"])
    values = np.float32(raw.get_data() * 1e6).T  # (n, 5) µV as float32, what muselsl sends
    marks = [(int(round(a["onset"] * sfreq)), a["description"].removeprefix("marker/"))
             for a in raw.annotations if a["description"].startswith("marker/")]

    marks_at = dict(marks)
    info = pylsl.StreamInfo(args.name, "EEG", values.shape[1], sfreq, pylsl.cf_float32,
                            source_id="" if args.no_source_id else f"{args.name}-source")
    chans = info.desc().append_child("channels")
    for ch in raw.ch_names:
        c = chans.append_child("channel")
        c.append_child_value("label", ch)
        c.append_child_value("unit", "microvolts")
        c.append_child_value("type", "EEG")
    info.desc().append_child_value("manufacturer", "Muse")
    outlet = pylsl.StreamOutlet(info, chunk_size=12)
    moutlet = None
    if args.markers:
        minfo = pylsl.StreamInfo(args.markers, "Markers", 1, 0.0, pylsl.cf_string,
                                 source_id=f"{args.markers}-source")
        moutlet = pylsl.StreamOutlet(minfo)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    outlet.wait_for_consumers(args.wait)
    first = int(round(args.start * sfreq))
    last = min(values.shape[0], first + int(round(args.seconds * sfreq)))
    stall = None if args.stall_s else (0, 0)  # fixed once the stall's start is known
    sent_i, sent_ts, m_i, m_ts, m_lab = [], [], [], [], []
    t0 = pylsl.local_clock() + 0.05 - first / sfreq  # sample i is taken at t0 + i / sfreq
    i = first
    go_at = None
    while i < last and not stop:
        if go_at is None and args.go_file and os.path.exists(args.go_file):
            go_at = i
        if args.stop_after_go and go_at is not None and i - go_at >= args.stop_after_go * sfreq:
            break
        if stall is None and (not args.go_file or os.path.exists(args.go_file)):
            a = max(i, int(round(i + args.stall_at * sfreq)) if args.go_file
                    else first + int(round(args.stall_at * sfreq)))
            stall = (a, a + int(round(args.stall_s * sfreq)))
        if stall is not None and stall[0] <= i < stall[1]:
            i = stall[1]  # these samples never come
            continue
        ts = t0 + i / sfreq
        wait = ts - pylsl.local_clock()
        if wait > 0:
            time.sleep(wait)
        if moutlet is not None and i in marks_at and (stall is None or not stall[0] <= i < stall[1]):
            moutlet.push_sample([marks_at[i]], ts)
            m_i.append(i)
            m_ts.append(ts)
            m_lab.append(marks_at[i])
        outlet.push_sample(values[i].tolist(), ts)
        sent_i.append(i)
        sent_ts.append(ts)
        i += 1
    time.sleep(0.5)  # let the last chunk reach the inlet before the outlet goes
    tmp = args.log + ".tmp.npz"
    np.savez(tmp, index=np.asarray(sent_i), ts=np.asarray(sent_ts), values=values[sent_i],
             marker_index=np.asarray(m_i, dtype=int), marker_ts=np.asarray(m_ts),
             marker_label=np.asarray(m_lab, dtype=str), stall=np.asarray(stall or (0, 0)),
             sfreq=sfreq)
    os.replace(tmp, args.log)


if __name__ == "__main__":
    main()
