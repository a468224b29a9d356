"""The hub's gunicorn worker: gthread, with new connections spread over the workers by their load.

Partner systems keep their connections open (keep-alive) and send request after request on them,
so a worker's share of the load is the number of connections it holds. gunicorn leaves the
spreading to the kernel, which does it badly either way:

- on one listening socket shared by all workers, whichever worker wakes first accepts, and an idle
  worker wakes first every time: it ends up with every connection while the others idle;
- with `--reuse-port` (a socket per worker) the kernel spreads connections by a hash of their
  addresses: ten connections land 5/5, 6/4, 7/3 or 9/1 on two workers, and the run with 9/1 has
  one worker's threads queueing on one interpreter lock while the other core idles.

`BalancedThreadWorker` shares one listening socket with its siblings and a table of how many
connections each worker holds (memory that the master maps before it forks). A worker that holds
more than the least loaded live sibling leaves a waiting connection to that sibling: it stops
watching the listening socket for `HANDOVER_WINDOW` seconds, and takes the connection itself when
it is still waiting after that (a sibling stuck in a long request never delays a client by more
than the window). Connections therefore alternate between the workers, however quickly each one
wakes.

A pool thread that has answered a request on a kept-alive connection waits up to `LINGER_MS`
(environment `WEB_LINGER_MS`, 2 by default) for that connection's next request and serves it
itself, rather than giving the connection back to the poller thread after every request.

Run it with `gunicorn --worker-class clearinghouse.server.BalancedThreadWorker --threads N` and
without `--reuse-port` (docker/entrypoint.sh does). Importing this module does not import Django.
"""

from __future__ import annotations

import copy
import ctypes
import os
import select
import threading
import time
from multiprocessing.sharedctypes import RawArray, RawValue

from gunicorn.config import Config
from gunicorn.workers.gthread import ThreadWorker

# Seconds a worker leaves a waiting connection to a less loaded sibling before accepting it itself.
HANDOVER_WINDOW = 0.005

# Milliseconds a pool thread that answered a kept-alive request waits on the connection for the
# next one before it gives the connection back to the poller thread (0: it never waits).
LINGER_MS = int(os.environ.get("WEB_LINGER_MS", "2"))

_FREE = 0
_RESERVED = -1  # claimed by the master for a worker not yet running


def _readable(sock, timeout_ms: int) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(timeout_ms))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user took the number over: not our worker
        return False
    return True


class ConnectionTable:
    """Per worker slot: its process id and the number of connections it holds.

    Mapped shared before the master forks, so every worker reads its siblings' counts without a
    system call. A slot is handed out by the master (one thread, so no two workers get the same
    one) and freed when its worker exits or, after a crash, when a new worker finds it dead.
    """

    def __init__(self, slots: int = 256) -> None:
        self.slots = slots
        self._pids = RawArray(ctypes.c_longlong, slots)
        self._conns = RawArray(ctypes.c_longlong, slots)
        self._used = RawValue(ctypes.c_int, 0)  # slots at or above this index were never used

    def reserve(self) -> int | None:
        """A free slot for a worker about to be forked (called in the master), None when full."""
        for slot in range(self.slots):
            holder = self._pids[slot]
            if holder == _FREE or (holder > 0 and not _alive(holder)):
                self._pids[slot] = _RESERVED
                self._conns[slot] = 0
                self._used.value = max(self._used.value, slot + 1)
                return slot
        return None

    def occupy(self, slot: int, pid: int) -> None:
        self._conns[slot] = 0
        self._pids[slot] = pid

    def release(self, slot: int, pid: int) -> None:
        if self._pids[slot] in (pid, _RESERVED):
            self._conns[slot] = 0
            self._pids[slot] = _FREE

    def publish(self, slot: int, connections: int) -> None:
        self._conns[slot] = connections

    def lightest_sibling(self, slot: int) -> int | None:
        """The fewest connections any live worker other than `slot` holds (None: no sibling)."""
        pids, conns = self._pids, self._conns
        lightest = None
        lightest_slot = -1
        for other in range(self._used.value):
            if other == slot or pids[other] <= 0:
                continue
            count = conns[other]
            if lightest is None or count < lightest:
                lightest, lightest_slot = count, other
        if lightest is not None and not _alive(pids[lightest_slot]):
            # A worker killed without its clean-up: free its slot, ask again without it.
            self.release(lightest_slot, pids[lightest_slot])
            return self.lightest_sibling(slot)
        return lightest


def settled_config(cfg: Config) -> Config:
    """A copy of gunicorn's configuration whose settings are plain attributes.

    gunicorn reads a setting (`cfg.keepalive`) through `Config.__getattr__`, which Python calls only
    after the ordinary lookup failed and built an AttributeError: the parser, the WSGI environ and
    the access log read dozens per request, together a quarter of a worker's instructions for a
    trivial application. A worker's settings never change while it runs (a reload starts new
    workers), so the copy holds each one's value, and the same object answers everything else.
    """
    settled = copy.copy(cfg)
    for name, setting in cfg.settings.items():
        if not hasattr(type(cfg), name):  # properties and methods of Config stay as they are
            settled.__dict__[name] = setting.get()
    return settled


class BalancedThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, accepting a new connection only when no live sibling holds fewer."""

    table: ConnectionTable | None = None

    @classmethod
    def setup(cls) -> None:
        # Runs in the master when gunicorn loads the worker class, before any fork.
        if cls.table is None:
            cls.table = ConnectionTable()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)  # in the master, one worker at a time
        # With --reuse-port each worker has a socket of its own: nothing to hand over to a sibling.
        balanced = self.table is not None and not self.cfg.reuse_port
        self.slot = self.table.reserve() if balanced else None
        self._handover_since = 0.0  # when this worker last left a waiting connection to a sibling
        self._next_heartbeat = 0.0
        self._engaged = 0  # pool threads serving or lingering on a connection
        self._engaged_lock = threading.Lock()

    def init_process(self) -> None:
        if self.slot is not None:
            self.table.occupy(self.slot, os.getpid())
        self.cfg = settled_config(self.cfg)
        self.log.cfg = self.cfg
        super().init_process()

    def run(self) -> None:
        try:
            super().run()
        finally:
            if self.slot is not None:
                self.table.release(self.slot, os.getpid())

    def notify(self) -> None:
        # Once per turn of the event loop (two or more per request): the count the siblings read
        # follows closes and timeouts. The heartbeat the master watches (a system call that stamps
        # a file) is sent once a second, or every quarter of a shorter timeout, not on every turn.
        now = time.monotonic()
        if now >= self._next_heartbeat:
            super().notify()
            self._next_heartbeat = now + min(1.0, self.timeout / 4)
        if self.slot is not None:
            self.table.publish(self.slot, self.nr_conns)

    def handle(self, conn):
        # A kept-alive connection's next request usually follows its answer within a fraction of a
        # millisecond. gthread gives the connection back to the poller thread after every request
        # and the poller hands it to a pool thread again when the request arrives: two wake-ups
        # of other threads, each waiting for the interpreter lock, and the Python work of the
        # poller's bookkeeping. The thread that answered waits for the next request itself
        # instead, for LINGER_MS at most, while the worker holds fewer connections than threads
        # (each can keep one, and one stays free for the poller's new connections). A worker
        # holding more lets its connections take turns as gthread does: a thread waiting on one
        # connection would leave others waiting, unseen by a poller that is itself waiting for
        # the interpreter lock. A request already read into the parser's buffer (pipelined) is
        # served at once.
        with self._engaged_lock:
            self._engaged += 1
        try:
            keepalive = super().handle(conn)
            while keepalive is True and self.alive and LINGER_MS and self._may_linger():
                if not conn.parser.unreader.buf.getvalue() and not _readable(conn.sock, LINGER_MS):
                    break
                keepalive = super().handle(conn)
            return keepalive
        finally:
            with self._engaged_lock:
                self._engaged -= 1

    def _may_linger(self) -> bool:
        threads = self.cfg.threads
        return self.nr_conns < threads and self._engaged < threads  # this thread is engaged

    def accept(self, listener) -> None:
        if self._hand_over():
            return
        super().accept(listener)
        if self.slot is not None:
            self.table.publish(self.slot, self.nr_conns)

    def _hand_over(self) -> bool:
        """Whether to leave the waiting connection to a sibling that holds fewer."""
        if self.slot is None:
            return False
        if self._handover_since:
            # The window passed and the connection still waits: the sibling is busy, take it.
            self._handover_since = 0.0
            return False
        lightest = self.table.lightest_sibling(self.slot)
        if lightest is None or self.nr_conns <= lightest:
            return False
        self._handover_since = time.monotonic()
        return True

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self._handover_since:
            remaining = self._handover_since + HANDOVER_WINDOW - time.monotonic()
            if remaining > 0:
                # Not watching the listening socket: the sibling's accept gets there first.
                self.set_accept_enabled(False)
                timeout = min(timeout, remaining)
            elif not self._connection_waiting():
                self._handover_since = 0.0  # a sibling took it: judge the next one afresh
        super().wait_for_and_dispatch_events(timeout)

    def _connection_waiting(self) -> bool:
        try:
            readable, _, _ = select.select(self.sockets, [], [], 0)
        except (OSError, ValueError):
            return False
        return bool(readable)
