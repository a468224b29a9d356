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

Pool threads wait on the connections themselves. gthread's poller thread watches every kept-alive
connection and hands each request to the thread pool, and the pool hands the connection back
through a pipe when the answer is out: per request, two wake-ups of other threads that each wait
for the interpreter lock, two changes to the poller, and a future. Here each connection is
registered once in an epoll set shared by the worker's pool threads, armed for one event at a
time (`EPOLLONESHOT`): the kernel wakes one idle pool thread when a request arrives, that thread
serves it and re-arms the connection. The worker's main thread accepts, balances and closes
connections idle past the keep-alive timeout; it no longer touches a request. Linux only, as
epoll is (the production image and every machine the hub runs on).

Each worker can keep to a CPU of its own (`WEB_CPU_PINNING`): the master gives a new worker the
usable CPU that the fewest live workers hold, and the worker binds itself to it before its threads
start. Left to the scheduler, two workers on two cores were often moved between them (about one
migration per request at 32 connections, each leaving the interpreter's working set behind in the
other core's caches), or shared one core for a while with PostgreSQL on the other. `auto` (the
default) pins only where that cannot crowd anything else: as many workers as the process may use
CPUs, and no cgroup quota below that; `on` always pins (more workers than CPUs take turns on them);
`off` never does.

Run it with `gunicorn --worker-class clearinghouse.server.BalancedThreadWorker --threads N` and
without `--reuse-port` (docker/entrypoint.sh does). Importing this module does not import Django.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import errno
import os
import select
import socket
import threading
import time
from multiprocessing.sharedctypes import RawArray, RawValue

from gunicorn.config import Config
from gunicorn.workers.gthread import (
    DEFAULT_WORKER_DATA_TIMEOUT,
    STOP_KEEPALIVE_LINGER,
    TConn,
    ThreadWorker,
)

# Seconds a worker leaves a waiting connection to a less loaded sibling before accepting it itself.
HANDOVER_WINDOW = 0.005

# A connection is armed for one event: the pool thread the kernel wakes for it is its only reader
# until that thread arms it again.
_WATCH = select.EPOLLIN | select.EPOLLONESHOT

_FREE = 0
_RESERVED = -1  # claimed by the master for a worker not yet running
_UNPINNED = -1

PINNING_MODES = ("auto", "on", "off")
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def pinning_mode() -> str:
    mode = os.environ.get("WEB_CPU_PINNING", "auto").strip().lower() or "auto"
    if mode not in PINNING_MODES:
        raise ValueError(f"WEB_CPU_PINNING must be one of {', '.join(PINNING_MODES)}, not {mode!r}")
    return mode


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity, which a container's cpuset narrows)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def cgroup_cpu_quota(path: str = CGROUP_CPU_MAX) -> float | None:
    """The CPUs' worth of time the process's cgroup (v2) allows per period, None without a limit."""
    try:
        with open(path) as handle:
            fields = handle.read().split()
    except OSError:
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        return int(fields[0]) / int(fields[1])
    except (ValueError, ZeroDivisionError):
        return None


def pinning_cpus(mode: str, workers: int, cpus: list[int], quota: float | None) -> list[int]:
    """The CPUs workers are pinned to (empty: none pinned)."""
    if mode == "off" or not cpus:
        return []
    if mode == "auto" and (workers != len(cpus) or (quota is not None and quota < len(cpus))):
        return []
    return cpus


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
        self._cpus = RawArray(ctypes.c_int, [_UNPINNED] * slots)
        self._used = RawValue(ctypes.c_int, 0)  # slots at or above this index were never used

    def reserve(self) -> int | None:
        """A free slot for a worker about to be forked (called in the master), None when full."""
        for slot in range(self.slots):
            holder = self._pids[slot]
            if holder == _FREE or (holder > 0 and not _alive(holder)):
                self._pids[slot] = _RESERVED
                self._conns[slot] = 0
                self._cpus[slot] = _UNPINNED
                self._used.value = max(self._used.value, slot + 1)
                return slot
        return None

    def assign_cpu(self, slot: int, cpus: list[int]) -> int | None:
        """Give the reserved `slot` the CPU of `cpus` that the fewest other live workers hold (the
        lowest on a tie); called in the master, like reserve()."""
        if not cpus:
            return None
        held = dict.fromkeys(cpus, 0)
        for other in range(self._used.value):
            holder, cpu = self._pids[other], self._cpus[other]
            if other == slot or cpu not in held or holder == _FREE:
                continue
            if holder == _RESERVED or _alive(holder):
                held[cpu] += 1
        chosen = min(cpus, key=lambda cpu: (held[cpu], cpu))
        self._cpus[slot] = chosen
        return chosen

    def cpu_of(self, slot: int) -> int | None:
        cpu = self._cpus[slot]
        return None if cpu == _UNPINNED else cpu

    def occupy(self, slot: int, pid: int) -> None:
        self._conns[slot] = 0
        self._pids[slot] = pid

    def release(self, slot: int, pid: int) -> None:
        if self._pids[slot] in (pid, _RESERVED):
            self._conns[slot] = 0
            self._cpus[slot] = _UNPINNED
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
        self.cpu: int | None = None  # the CPU this worker keeps to (None: wherever it is scheduled)
        if self.slot is not None:
            cpus = pinning_cpus(pinning_mode(), self.cfg.workers, usable_cpus(), cgroup_cpu_quota())
            self.cpu = self.table.assign_cpu(self.slot, cpus)
        self._handover_since = 0.0  # when this worker last left a waiting connection to a sibling
        self._next_heartbeat = 0.0
        self._connections: dict[int, TConn] = {}  # by file descriptor: every open connection
        self._lock = threading.Lock()  # guards the table, nr_conns and each connection's `idle`
        self._epoll = None
        self._serving = False

    def init_process(self) -> None:
        self._epoll = select.epoll()
        if self.slot is not None:
            self.table.occupy(self.slot, os.getpid())
        if self.cpu is not None:
            # Still this process's only thread: every thread started from here on inherits it.
            try:
                os.sched_setaffinity(0, {self.cpu})
            except OSError as exc:
                self.log.warning("Worker %s left unpinned: CPU %s refused (%s)", os.getpid(), self.cpu, exc)
                self.cpu = None
        self.cfg = settled_config(self.cfg)
        self.log.cfg = self.cfg
        super().init_process()

    def run(self) -> None:
        self._serving = True
        for number in range(self.cfg.threads):
            threading.Thread(target=self._serve_forever, name=f"serve-{number}", daemon=True).start()
        try:
            super().run()  # gthread's loop: accept, timeouts, graceful stop
        finally:
            self._serving = False
            if self.slot is not None:
                self.table.release(self.slot, os.getpid())

    def notify(self) -> None:
        # Once per turn of the main thread's loop: an accept, or a second without one. The
        # heartbeat the master watches (a system call that stamps a file) is sent once a second,
        # or every quarter of a shorter timeout, not on every turn. The count the siblings read
        # is also published at every accept and close.
        now = time.monotonic()
        if now >= self._next_heartbeat:
            super().notify()
            self._next_heartbeat = now + min(1.0, self.timeout / 4)
        if self.slot is not None:
            self.table.publish(self.slot, self.nr_conns)

    # --- connections: accepted by the main thread, served by whichever pool thread wakes ---------

    def accept(self, listener) -> None:
        if self._hand_over():
            return
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        conn = TConn(self.cfg, client, address, listener.getsockname())
        # gthread gives a new connection DEFAULT_WORKER_DATA_TIMEOUT for its first bytes in a pool
        # thread, then the keep-alive timeout on the poller: the same time here, without the thread.
        conn.timeout = time.monotonic() + DEFAULT_WORKER_DATA_TIMEOUT + self.cfg.keepalive
        conn.ended = False  # shut down by the main thread, for a pool thread to close
        self._watch(conn, new=True)

    def _watch(self, conn, new: bool = False) -> None:
        if new:
            conn.fd = conn.sock.fileno()  # kept: a socket closed by gunicorn's handler reads -1
        fd = conn.fd
        with self._lock:
            if new:
                if self._connections.get(fd) is not None:
                    # gunicorn's handler closed that connection's socket itself (an SSL end, a
                    # response cut off) and the kernel reused its number before its thread got
                    # here to forget it: it is gone.
                    self.nr_conns -= 1
                self._connections[fd] = conn
                self.nr_conns += 1
            conn.idle = True  # armed and unclaimed: the keep-alive timeout applies
        try:
            if new:
                self._epoll.register(fd, _WATCH)
            else:
                self._epoll.modify(fd, _WATCH)
        except OSError:
            self._close(conn)
            return
        if new and self.slot is not None:
            self.table.publish(self.slot, self.nr_conns)

    def _serve_forever(self) -> None:
        """A pool thread: wait for any armed connection to turn readable, serve it, arm it again."""
        epoll, connections, lock = self._epoll, self._connections, self._lock
        while self._serving:
            try:
                events = epoll.poll(1.0, 1)
            except OSError:
                if not self._serving:
                    return
                raise
            for fd, _ in events:
                with lock:
                    conn = connections.get(fd)
                    if conn is None or not conn.idle:
                        continue
                    conn.idle = False  # claimed: only this thread reads it until it arms it again
                try:
                    self._serve(conn)
                except Exception:  # the thread must outlive any one connection
                    self.log.exception("Error serving a connection")
                    self._close(conn)

    def _serve(self, conn) -> None:
        conn.data_ready = True  # the kernel said so: gthread's handle() need not wait for bytes
        keepalive = self.handle(conn)
        # A request already read into the parser's buffer (pipelined, or read ahead while a body
        # was drained) no longer makes the socket readable: serve it now.
        while keepalive is True and conn.parser.unreader.buf.getvalue():
            keepalive = self.handle(conn)
        if keepalive is True:
            conn.set_timeout()
            if not self.alive:  # stopping: answer what comes soon with "Connection: close"
                conn.timeout = min(conn.timeout, time.monotonic() + STOP_KEEPALIVE_LINGER)
            self._watch(conn)
        else:
            self._close(conn, graceful=keepalive is False)

    def _close(self, conn, graceful: bool = False) -> None:
        with self._lock:
            if self._connections.get(conn.fd) is not conn:
                return  # forgotten already
            del self._connections[conn.fd]
            self.nr_conns -= 1
        if self.slot is not None:
            self.table.publish(self.slot, self.nr_conns)
        if conn.sock.fileno() != -1:  # else closed by the handler, which took it off the epoll set
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(conn.fd)
            conn.close(graceful=graceful)

    def murder_keepalived(self, force: bool = False) -> None:
        """Close the connections idle past their timeout (all of them with `force`).

        The main thread never closes a connection itself: its descriptor could be reused by the
        next accept while a pool thread is still about to read an event for it. It shuts an idle
        connection down, which makes it readable: the pool thread that the kernel wakes for it
        reads the end and closes it, as it would a connection the client closed.
        """
        now = time.monotonic()
        with self._lock:
            for conn in self._connections.values():
                if (force or (conn.idle and conn.timeout <= now)) and not conn.ended:
                    conn.ended = True
                    with contextlib.suppress(OSError):
                        conn.sock.shutdown(socket.SHUT_RDWR)

    def murder_pending(self) -> None:
        pass  # no connection waits on the main thread: murder_keepalived covers new ones too

    def _cap_keepalive(self, deadline: float) -> None:
        with self._lock:
            for conn in self._connections.values():
                conn.timeout = min(conn.timeout, deadline)

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
