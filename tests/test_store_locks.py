"""Two processes on one SQLite catalog: opening a second ``Catalog`` in a process that already
has the file open must not cancel SQLite's locks (issue 19; a scheduled import's session was
lost).

The sequence that lost data: process A has the catalog open (WAL mode: every connection keeps
a SHARED lock on the database file) and constructs another ``Catalog``, whose damage check read
the file's header with a plain ``open``/``close``, which cancels all of A's POSIX locks on
the file; process B then closes its last connection, gets the EXCLUSIVE lock, takes itself for
the last user, checkpoints and deletes the ``-wal`` file; A's next commit goes into the deleted
file, and it is gone when A ends without a clean close (a killed worker; a clean close would
checkpoint the deleted file's pages back). https://www.sqlite.org/howtocorrupt.html, section 2.2.
"""

from __future__ import annotations

import multiprocessing as mp
import os

from neurofeedback.store import Catalog


def _a(home, q_in, q_out):
    cat = Catalog(home=home)
    cat.add_subject("a1")
    q_out.put("open")
    assert q_in.get(timeout=120) == "b-open"
    Catalog(home=home)  # a second Catalog in the same process (what ingest_file does)
    q_out.put("reopened")
    assert q_in.get(timeout=120) == "b-closed"
    cat.add_subject("a2")  # committed: must survive
    q_out.put("written")
    q_out.close()
    q_out.join_thread()
    os._exit(0)  # no clean close (a killed worker): a commit in WAL mode survives that


def _b(home, q_in, q_out):
    from neurofeedback.store._engine import forget_engine

    cat = Catalog(home=home)
    cat.subjects()
    q_out.put("b-open")
    assert q_in.get(timeout=120) == "go-close"
    forget_engine(cat.url)  # B's last connection closes
    q_out.put("b-closed")


def test_a_second_catalog_in_a_process_keeps_its_locks(tmp_path):
    ctx = mp.get_context("spawn")
    to_a, from_a, to_b, from_b = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Queue()
    from neurofeedback.store._engine import forget_engine

    forget_engine(Catalog(home=tmp_path).url)  # the file exists; the parent keeps no connection
    a = ctx.Process(target=_a, args=(tmp_path, to_a, from_a))
    b = ctx.Process(target=_b, args=(tmp_path, to_b, from_b))
    a.start()
    assert from_a.get(timeout=120) == "open"
    b.start()
    to_a.put(from_b.get(timeout=120))  # b-open
    assert from_a.get(timeout=120) == "reopened"
    to_b.put("go-close")
    to_a.put(from_b.get(timeout=120))  # b-closed
    assert from_a.get(timeout=120) == "written"
    a.join(60)
    b.join(60)
    assert a.exitcode == 0 and b.exitcode == 0
    forget_engine(Catalog(home=tmp_path).url)  # read the file afresh
    assert Catalog(home=tmp_path).subjects() == ["a1", "a2"]
