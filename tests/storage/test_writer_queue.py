"""SQLite's writers of one process queue in order of who is waiting for a person: requests before background work."""

from __future__ import annotations

import threading
import time

from fanzha.storage.db import WriterQueue, mark_background


def _until(condition: object, timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_a_waiting_request_goes_before_background_work_that_waited_longer() -> None:
    queue = WriterQueue()
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def worker(name: str, background: bool, hold: bool = False) -> None:
        if background:
            mark_background()
        assert queue.acquire(timeout=5)
        order.append(name)
        if hold:
            holding.set()
            release.wait(5)
        queue.release()

    first = threading.Thread(target=worker, args=("dispatcher-1", True, True))
    first.start()
    assert holding.wait(5)
    waiting_background = threading.Thread(target=worker, args=("dispatcher-2", True))
    waiting_background.start()
    time.sleep(0.05)  # dispatcher-2 is queued first
    request = threading.Thread(target=worker, args=("report", False))
    request.start()
    _until(lambda: queue._foreground_waiting == 1)
    release.set()
    for thread in (first, waiting_background, request):
        thread.join(5)
    assert order == ["dispatcher-1", "report", "dispatcher-2"]


def test_the_lock_is_reentrant_and_a_wait_can_give_up() -> None:
    queue = WriterQueue()
    assert queue.acquire(timeout=1) and queue.acquire(timeout=1)  # a nested transaction of the same thread
    queue.release()
    results: list[bool] = []
    other = threading.Thread(target=lambda: results.append(queue.acquire(timeout=0.1)))
    other.start()
    other.join(5)
    assert results == [False]  # still held once by this thread
    queue.release()
    other = threading.Thread(target=lambda: results.append(queue.acquire(timeout=1)))
    other.start()
    other.join(5)
    assert results == [False, True]
