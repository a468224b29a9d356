"""collector_paused: the cyclic collector is off inside, back as it was after the last holder."""

from __future__ import annotations

import gc
import threading

import pytest

from clearinghouse.api.collector import collector_paused, pauses_collector


@pytest.fixture(autouse=True)
def _collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_off_inside_and_on_again_after_even_on_error():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_nested_and_concurrent_holders_resume_when_the_last_leaves():
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with collector_paused():
            entered.set()
            leave.wait(5)

    thread = threading.Thread(target=other)
    with collector_paused():
        thread.start()
        assert entered.wait(5)
        with collector_paused():
            assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread still holds the pause
    leave.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_the_decorator_pauses_around_the_call_and_keeps_its_result():
    @pauses_collector
    def work(x: int) -> tuple[int, bool]:
        return x * 2, gc.isenabled()

    assert work(21) == (42, False)
    assert gc.isenabled()
    assert work.__name__ == "work"


def test_a_pause_kept_up_by_overlapping_holders_still_collects(monkeypatch):
    from clearinghouse.api import collector

    clock = [1000.0]
    monkeypatch.setattr(collector.time, "monotonic", lambda: clock[0])
    collections = []
    monkeypatch.setattr(collector.gc, "collect", lambda generation=2: collections.append(generation))
    with collector_paused():  # one long-running holder...
        for _ in range(5):  # ...while others come and go, one second apart
            clock[0] += 1.0
            with collector_paused():
                pass
        assert not gc.isenabled()
    assert collections == [1, 1]  # at 2 s and at 4 s of the pause
    assert gc.isenabled()
