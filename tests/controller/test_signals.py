"""Stopping on a signal never waits on a lock the interrupted main thread holds."""

from __future__ import annotations

import os
import signal
import threading

from tenantops.signals import from_signal


def test_setting_an_event_whose_lock_this_thread_holds_does_not_hang() -> None:
    event = threading.Event()
    # What a signal handler meets when it interrupts `Event.wait` before it sleeps: the event's own lock is held
    # by this very thread. `event.set()` here would block forever; `from_signal` returns at once.
    with event._cond:  # type: ignore[attr-defined]
        from_signal(event.set)
        assert not event.is_set()
    assert event.wait(5)


def test_a_real_sigterm_during_a_busy_wait_loop_stops_it() -> None:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: from_signal(stop.set))
    try:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        waits = 0
        while not stop.wait(0.001):  # the runner's loop at a tiny interval: the race window, many times over
            waits += 1
            assert waits < 20_000, "never stopped"
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert stop.is_set()
