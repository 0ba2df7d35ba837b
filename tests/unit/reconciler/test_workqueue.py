"""Work-queue semantics: de-duplication, one worker per key, backoff, delayed requeue."""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.workqueue import Backoff, ShutDownError, WorkQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _drain(queue: WorkQueue[str]) -> list[str]:
    taken = []
    while (key := queue.get(timeout=0)) is not None:
        taken.append(key)
        queue.done(key)
    return taken


def test_a_key_added_twice_while_queued_is_taken_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    queue.add("a")
    assert len(queue) == 2
    assert _drain(queue) == ["a", "b"]


def test_a_key_added_while_processing_waits_for_done_and_is_taken_again_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert queue.get(timeout=0) == "a"
    queue.add("a")
    queue.add("a")
    assert queue.get(timeout=0) is None, "a key is never handed to two workers at once"
    queue.done("a")
    assert queue.get(timeout=0) == "a"
    queue.done("a")
    assert queue.get(timeout=0) is None


def test_backoff_doubles_from_five_milliseconds_and_is_capped() -> None:
    backoff = Backoff(base=0.005, cap=300.0)
    assert [backoff.delay(n) for n in range(5)] == [0.0, 0.005, 0.01, 0.02, 0.04]
    assert backoff.delay(40) == 300.0
    assert backoff.delay(10_000) == 300.0


def test_rate_limited_keys_wait_their_backoff_and_forget_resets_it() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(Backoff(base=1.0, cap=60.0), clock=clock)
    assert queue.add_rate_limited("a") == 1.0
    assert queue.get(timeout=0) is None
    assert queue.delayed() == 1
    clock.now += 1.0
    assert queue.get(timeout=0) == "a"
    queue.done("a")
    assert queue.add_rate_limited("a") == 2.0
    assert queue.failures("a") == 2
    queue.forget("a")
    assert queue.failures("a") == 0
    assert queue.add_rate_limited("a") == 1.0


def test_the_earliest_of_several_delays_wins() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    queue.add_after("a", 30)
    queue.add_after("a", 5)
    queue.add_after("a", 60)
    clock.now += 5
    assert _drain(queue) == ["a"]
    clock.now += 100
    assert _drain(queue) == [], "superseded delays do not fire again"


def test_delayed_keys_come_out_in_due_order() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    queue.add_after("late", 20)
    queue.add_after("early", 10)
    queue.add_after("now", 0)
    assert _drain(queue) == ["now"]
    clock.now += 25
    assert _drain(queue) == ["early", "late"]


def test_a_blocked_getter_is_woken_by_add_and_by_shutdown() -> None:
    queue: WorkQueue[str] = WorkQueue()
    taken: list[str | None] = []
    worker = threading.Thread(target=lambda: taken.append(queue.get(timeout=10)))
    worker.start()
    queue.add("a")
    worker.join(timeout=10)
    assert taken == ["a"]

    errors: list[BaseException] = []

    def wait_for_shutdown() -> None:
        try:
            queue.get(timeout=10)
        except ShutDownError as err:
            errors.append(err)

    waiter = threading.Thread(target=wait_for_shutdown)
    waiter.start()
    queue.shutdown()
    waiter.join(timeout=10)
    assert len(errors) == 1
    queue.add("ignored after shutdown")
    with pytest.raises(ShutDownError):
        queue.get(timeout=0)


def test_a_delayed_key_wakes_a_blocked_getter_when_due() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 0.05)
    started = time.monotonic()
    assert queue.get(timeout=5) == "a"
    assert time.monotonic() - started >= 0.04


def test_many_workers_never_hold_the_same_key_at_once() -> None:
    queue: WorkQueue[int] = WorkQueue()
    holding: set[int] = set()
    overlaps: list[int] = []
    lock = threading.Lock()
    processed = 0

    def work() -> None:
        nonlocal processed
        while True:
            try:
                key = queue.get(timeout=0.2)
            except ShutDownError:
                return
            if key is None:
                return
            with lock:
                if key in holding:
                    overlaps.append(key)
                holding.add(key)
                processed += 1
            queue.add(key % 5)  # re-add keys that may be in flight elsewhere
            time.sleep(0.0005)
            with lock:
                holding.discard(key)
            queue.done(key)
            if processed > 500:
                queue.shutdown()

    for key in range(50):
        queue.add(key)
    workers = [threading.Thread(target=work) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert overlaps == []
    assert processed > 50
