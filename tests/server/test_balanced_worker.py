"""clearinghouse.server: connections spread over gunicorn workers by their load."""

from __future__ import annotations

import collections
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clearinghouse.server import (
    BalancedThreadWorker,
    ConnectionTable,
    cgroup_cpu_quota,
    pinning_cpus,
    pinning_mode,
    settled_config,
)

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


# --- the table ---------------------------------------------------------------------------------


def test_slots_are_handed_out_once_and_reused_after_release():
    table = ConnectionTable(slots=3)
    first, second = table.reserve(), table.reserve()
    assert {first, second} == {0, 1}
    table.occupy(first, os.getpid())
    table.release(first, os.getpid())
    assert table.reserve() == first


def test_a_full_table_hands_out_nothing():
    table = ConnectionTable(slots=1)
    assert table.reserve() == 0
    assert table.reserve() is None


def test_lightest_sibling_ignores_itself_and_free_slots():
    table = ConnectionTable(slots=4)
    me, sibling, spare = table.reserve(), table.reserve(), table.reserve()
    table.occupy(me, os.getpid())
    assert table.lightest_sibling(me) is None  # the sibling's process has not started yet
    table.occupy(sibling, os.getppid())
    table.publish(me, 1)
    table.publish(sibling, 4)
    assert table.lightest_sibling(me) == 4
    table.release(spare, os.getpid())
    assert table.lightest_sibling(sibling) == 1


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_dead_worker_is_dropped_and_its_slot_reused():
    table = ConnectionTable(slots=2)
    me, crashed = table.reserve(), table.reserve()
    table.occupy(me, os.getpid())
    table.occupy(crashed, _dead_pid())
    table.publish(me, 5)
    table.publish(crashed, 0)  # it would draw every connection if it were believed
    assert table.lightest_sibling(me) is None
    assert table.reserve() == crashed


def test_a_dead_workers_slot_is_reserved_again():
    table = ConnectionTable(slots=1)
    table.occupy(table.reserve(), _dead_pid())
    assert table.reserve() == 0


# --- gunicorn with the worker ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn(*args: str, workers: int = 2, procs: list | None = None, env: dict | None = None):
    port = _free_port()
    argv = [
        str(GUNICORN), "tests.server.pid_app:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--threads", "2",
        "--worker-class", "clearinghouse.server.BalancedThreadWorker", "--log-level", "warning", *args,
    ]  # fmt: skip
    environ = {**os.environ, **(env or {})}
    proc = subprocess.Popen(argv, cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if procs is not None:
        procs.append(proc)
    try:
        workers_seen: set[str] = set()
        deadline = time.monotonic() + 30
        # Ready when every worker has answered (each new connection goes to the lighter one).
        while len(workers_seen) < workers:
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "gunicorn did not start its workers"
            try:
                workers_seen.add(_get(port, "/"))
            except OSError:
                time.sleep(0.1)
        time.sleep(0.2)  # the workers see the start-up probes' connections closed
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def server(request):
    yield from _gunicorn(*getattr(request, "param", []))


@pytest.fixture
def one_worker(request):
    # One worker of two threads (and the extra gunicorn arguments a test names).
    yield from _gunicorn(*getattr(request, "param", []), workers=1)


def _get(port: int, path: str, conn: http.client.HTTPConnection | None = None) -> str:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        return response.read().decode()
    finally:
        if own:
            conn.close()


def _answers_on_new_connections(port: int, path: str, count: int) -> list[str]:
    """One answer to `path` on each of `count` connections, all open at once."""
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(count)]
    try:
        return [_get(port, path, conn) for conn in connections]
    finally:
        for conn in connections:
            conn.close()


@pytest.mark.slow
def test_kept_alive_connections_alternate_between_the_workers(server):
    connections = [http.client.HTTPConnection("127.0.0.1", server, timeout=10) for _ in range(10)]
    try:
        served_by = [_get(server, "/", conn) for conn in connections]
        # Every connection stays with its worker.
        assert [_get(server, "/", conn) for conn in connections] == served_by
    finally:
        for conn in connections:
            conn.close()
    assert sorted(collections.Counter(served_by).values()) == [5, 5]


@pytest.mark.slow
@pytest.mark.parametrize("server", [["--reuse-port"]], indirect=True)
def test_with_a_socket_per_worker_connections_are_served_without_waiting(server):
    # Nothing to hand over (the kernel picks the socket): no connection waits out a window.
    started = time.monotonic()
    served_by = set(_answers_on_new_connections(server, "/", 10))
    assert served_by and time.monotonic() - started < 2


def _read_responses(sock: socket.socket, count: int) -> list[bytes]:
    """The bodies of the next `count` responses on the socket (each with a Content-Length)."""
    buffer, bodies = b"", []
    while len(bodies) < count:
        head, sep, rest = buffer.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            None,
        )
        if sep and length is not None and len(rest) >= length:
            bodies.append(rest[:length])
            buffer = rest[length:]
            continue
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(bodies)} responses"
        buffer += chunk
    return bodies


@pytest.mark.slow
def test_pipelined_requests_are_all_answered(one_worker):
    with socket.create_connection(("127.0.0.1", one_worker), timeout=10) as sock:
        sock.sendall(b"GET /thread HTTP/1.1\r\nHost: hub\r\n\r\n" * 3)
        bodies = _read_responses(sock, 3)
    assert len(set(bodies)) == 1  # one thread answered all three, in order


@pytest.mark.slow
def test_a_connection_idle_between_requests_is_still_served(server):
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    try:
        first = _get(server, "/", conn)
        time.sleep(0.5)
        assert _get(server, "/", conn) == first
    finally:
        conn.close()


def _closed_by_server_after(sock: socket.socket) -> float:
    """Seconds until the server closes the connection (the socket reads its end)."""
    started = time.monotonic()
    sock.settimeout(15)
    while sock.recv(65536):
        pass
    return time.monotonic() - started


@pytest.mark.slow
def test_more_connections_than_threads_are_all_served_and_kept(one_worker):
    # Twelve kept-alive connections on two threads: every request answered on its own socket
    # (a raw socket: a closed connection fails the test instead of being opened again).
    sockets = [socket.create_connection(("127.0.0.1", one_worker), timeout=10) for _ in range(12)]
    try:
        for _ in range(5):
            for sock in sockets:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: hub\r\n\r\n")
            bodies = {body for sock in sockets for body in _read_responses(sock, 1)}
            assert len(bodies) == 1  # the one worker
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.slow
def test_a_slow_request_leaves_the_other_thread_to_the_other_connections(one_worker):

    port = one_worker
    slow = threading.Thread(target=lambda: _get(port, "/slow?1.0"))
    slow.start()  # holds one of the two threads for a second
    time.sleep(0.1)
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(4)]
    try:
        started = time.monotonic()
        for _ in range(5):
            for conn in connections:
                _get(port, "/", conn)
        assert time.monotonic() - started < 0.7
    finally:
        slow.join(timeout=5)
        for conn in connections:
            conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("one_worker", [["--keep-alive", "1"]], indirect=True)
def test_a_kept_alive_connection_idle_past_the_timeout_is_closed(one_worker):
    with socket.create_connection(("127.0.0.1", one_worker), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: hub\r\n\r\n")
        _read_responses(sock, 1)
        # One second of keep-alive, noticed within the main thread's next turn (a second).
        assert 0.9 < _closed_by_server_after(sock) < 3.5
    # The worker goes on serving.
    assert _get(one_worker, "/")


@pytest.mark.slow
@pytest.mark.parametrize("one_worker", [["--keep-alive", "1"]], indirect=True)
def test_a_connection_that_never_sends_is_closed_and_holds_no_thread(one_worker):
    silent = [socket.create_connection(("127.0.0.1", one_worker), timeout=10) for _ in range(3)]
    try:
        # More silent connections than threads: requests on other connections are still served.
        assert _get(one_worker, "/")
        # At the latest after gthread's time for the first bytes (5 s) plus the keep-alive timeout.
        assert 0.9 < _closed_by_server_after(silent[0]) < 8.5
    finally:
        for sock in silent:
            sock.close()


@pytest.mark.slow
def test_connections_the_clients_closed_leave_their_workers_count(server):
    connections = [http.client.HTTPConnection("127.0.0.1", server, timeout=10) for _ in range(10)]
    served_by = [_get(server, "/", conn) for conn in connections]
    lighter = served_by[0]
    for conn, pid in zip(connections, served_by, strict=True):
        if pid == lighter:
            conn.close()
    time.sleep(0.3)  # the worker reads each end and closes its side
    later = [http.client.HTTPConnection("127.0.0.1", server, timeout=10) for _ in range(4)]
    try:
        # That worker now holds none against its sibling's five: it takes every new connection.
        assert {_get(server, "/", conn) for conn in later} == {lighter}
    finally:
        for conn in connections + later:
            conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("one_worker", [["--worker-connections", "4"]], indirect=True)
def test_connections_gunicorn_closed_itself_leave_the_count(one_worker):
    # A worker stops accepting at 4 connections: one still counted per closed socket would stop
    # it after four of these.
    for _ in range(6):  # the application fails mid-answer: gunicorn closes the socket at once
        with socket.create_connection(("127.0.0.1", one_worker), timeout=10) as sock:
            sock.sendall(b"GET /broken HTTP/1.1\r\nHost: hub\r\n\r\n")
            assert _closed_by_server_after(sock) < 5
    assert _get(one_worker, "/")


@pytest.mark.slow
def test_a_request_cut_off_by_its_client_leaves_the_worker_serving(one_worker):
    with socket.create_connection(("127.0.0.1", one_worker), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: hub\r\nContent-Length: 100\r\n\r\nabc")
    for _ in range(4):  # both threads are free again
        assert _get(one_worker, "/")


@pytest.mark.slow
def test_a_stopping_worker_answers_the_request_in_progress():

    procs: list[subprocess.Popen] = []
    server = _gunicorn(workers=1, procs=procs)
    port = next(server)
    answers: list[tuple[int, bytes]] = []

    def slow_request() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/slow?1.0")
        response = conn.getresponse()
        answers.append((response.status, response.read()))

    client = threading.Thread(target=slow_request)
    client.start()
    time.sleep(0.3)
    procs[0].send_signal(signal.SIGTERM)
    client.join(timeout=10)
    assert [status for status, body in answers] == [200] and answers[0][1].isdigit()
    assert procs[0].wait(timeout=15) == 0  # and the kept-alive connection did not hold it up
    server.close()


def _worker(table: ConnectionTable, connections: int) -> BalancedThreadWorker:
    worker = object.__new__(BalancedThreadWorker)  # no gunicorn around it: the accept decision only
    worker.table = table
    worker.slot = table.reserve()
    table.occupy(worker.slot, os.getpid())
    worker.nr_conns = connections
    worker._handover_since = 0.0
    worker._next_heartbeat = 0.0
    return worker


def _beside_a_sibling(connections: int, sibling_connections: int) -> BalancedThreadWorker:
    table = ConnectionTable(slots=2)
    worker = _worker(table, connections=connections)
    sibling = table.reserve()
    table.occupy(sibling, os.getppid())
    table.publish(sibling, sibling_connections)
    return worker


def test_the_heavier_worker_leaves_a_connection_once_then_takes_it():
    worker = _beside_a_sibling(3, 2)
    assert worker._hand_over() is True
    # Still waiting after the window (the sibling is busy): this worker accepts it.
    assert worker._hand_over() is False
    assert worker._hand_over() is True  # the next connection is judged afresh


def test_a_worker_no_heavier_than_its_siblings_accepts():
    worker = _beside_a_sibling(2, 2)
    assert worker._hand_over() is False


def test_the_heartbeat_goes_out_once_per_interval_the_count_every_turn(monkeypatch):
    table = ConnectionTable(slots=2)
    worker = _worker(table, connections=1)
    sibling = table.reserve()
    table.occupy(sibling, os.getppid())
    beats = []
    worker.tmp = type("Tmp", (), {"notify": lambda self: beats.append(1)})()
    worker.timeout = 15
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    worker.notify()
    for count in (2, 3, 4):
        worker.nr_conns = count
        clock[0] += 0.3
        worker.notify()
    assert len(beats) == 1 and table.lightest_sibling(sibling) == 4
    clock[0] += 0.2  # a second after the first
    worker.notify()
    assert len(beats) == 2


def test_the_settled_configuration_answers_every_setting_as_gunicorns_does():
    from gunicorn.config import Config

    cfg = Config()
    cfg.set("keepalive", 7)
    cfg.set("bind", ["127.0.0.1:9999"])
    cfg.set("forwarded_allow_ips", "10.0.0.1,127.0.0.1")
    settled = settled_config(cfg)
    for name in cfg.settings:
        assert getattr(settled, name) == getattr(cfg, name), name
    # Properties and methods of Config work on the copy, and the original is untouched.
    assert settled.address == cfg.address and settled.is_ssl == cfg.is_ssl
    assert [str(n) for n in settled.forwarded_allow_networks()] == ["10.0.0.1/32", "127.0.0.1/32"]
    assert "keepalive" in settled.__dict__ and "keepalive" not in cfg.__dict__
    with pytest.raises(AttributeError):
        settled.no_such_setting  # noqa: B018


# --- CPU pinning --------------------------------------------------------------------------------


def test_auto_pins_only_as_many_workers_as_usable_cpus_without_a_lower_quota():
    assert pinning_cpus("auto", 2, [0, 1], None) == [0, 1]
    assert pinning_cpus("auto", 2, [2, 5], 2.0) == [2, 5]
    assert pinning_cpus("auto", 2, [0, 1], 1.5) == []  # a quota: the time is shared, not the CPUs
    assert pinning_cpus("auto", 2, list(range(16)), None) == []  # a big host: the scheduler spreads
    assert pinning_cpus("auto", 4, [0, 1], None) == []


def test_on_always_pins_and_off_never():
    assert pinning_cpus("on", 4, [0, 1], None) == [0, 1]
    assert pinning_cpus("on", 2, list(range(16)), 1.0) == list(range(16))
    assert pinning_cpus("off", 2, [0, 1], None) == []
    assert pinning_cpus("on", 2, [], None) == []  # no affinity to read: nothing to pin to


def test_the_pinning_mode_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("WEB_CPU_PINNING", raising=False)
    assert pinning_mode() == "auto"
    monkeypatch.setenv("WEB_CPU_PINNING", " Off ")
    assert pinning_mode() == "off"
    monkeypatch.setenv("WEB_CPU_PINNING", "sometimes")
    with pytest.raises(ValueError, match="WEB_CPU_PINNING"):
        pinning_mode()


def test_the_cgroup_quota_is_read_as_cpus(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    assert cgroup_cpu_quota(str(cpu_max)) == 1.5
    cpu_max.write_text("max 100000\n")
    assert cgroup_cpu_quota(str(cpu_max)) is None
    cpu_max.write_text("garbage\n")
    assert cgroup_cpu_quota(str(cpu_max)) is None
    assert cgroup_cpu_quota(str(tmp_path / "absent")) is None


def test_each_new_worker_gets_the_cpu_the_fewest_live_workers_hold():
    table = ConnectionTable(slots=8)
    first, second = table.reserve(), table.reserve()
    assert (table.assign_cpu(first, [0, 1]), table.assign_cpu(second, [0, 1])) == (0, 1)
    table.occupy(first, os.getpid())
    table.occupy(second, os.getppid())
    # A reload: the new workers start beside the old ones, one on each CPU.
    third, fourth = table.reserve(), table.reserve()
    assert (table.assign_cpu(third, [0, 1]), table.assign_cpu(fourth, [0, 1])) == (0, 1)
    # The old ones leave; the new worker on CPU 0 dies; its replacement takes the lowest free slot
    # (the old first worker's) and CPU 0 again, not CPU 1 where the other live worker is.
    table.release(first, os.getpid())
    table.release(second, os.getppid())
    table.occupy(fourth, os.getppid())
    table.release(third, 0)  # still reserved: freed as a worker that never started
    replacement = table.reserve()
    assert replacement == first and table.assign_cpu(replacement, [0, 1]) == 0
    assert table.cpu_of(replacement) == 0 and table.cpu_of(fourth) == 1
    table.release(replacement, 0)
    assert table.cpu_of(replacement) is None
    assert table.assign_cpu(replacement, []) is None


def test_a_dead_workers_cpu_counts_for_nothing():
    table = ConnectionTable(slots=4)
    gone = table.reserve()
    table.assign_cpu(gone, [0, 1])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    table.occupy(gone, dead.pid)  # a worker killed without its clean-up, on CPU 0
    live = table.reserve()
    assert table.assign_cpu(live, [0, 1]) == 0


@pytest.mark.slow
def test_pinned_workers_serve_from_cpus_of_their_own():
    usable = sorted(os.sched_getaffinity(0))
    cpus = [usable[0], usable[1 % len(usable)]]  # on a single CPU both workers share it
    for port in _gunicorn(workers=2, env={"WEB_CPU_PINNING": "on"}):
        answers = set(_answers_on_new_connections(port, "/cpus", 4))
    by_worker = dict(answer.split(":") for answer in answers)
    assert len(by_worker) == 2
    assert sorted(by_worker.values()) == sorted(str(cpu) for cpu in cpus)


@pytest.mark.slow
def test_unpinned_workers_keep_every_cpu():
    everything = ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(0)))
    for port in _gunicorn(workers=2, env={"WEB_CPU_PINNING": "off"}):
        answer = _get(port, "/cpus")
    assert answer.split(":")[1] == everything
