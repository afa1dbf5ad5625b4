"""A partner channel's delivery inside a server process: one background thread working the outbox."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> None: ...


D = TypeVar("D", bound=Closable)
A = TypeVar("A", bound=Closable)


@dataclass
class Delivery(Generic[D, A]):
    """A dispatcher and its adapter, worked by a daemon thread until `stop` (banks and carriers alike)."""

    dispatcher: D
    adapter: A
    stop_event: threading.Event
    thread: threading.Thread

    @staticmethod
    def launch(target: Callable[..., Any], *args: Any, name: str) -> tuple[threading.Event, threading.Thread]:
        """Start `target(*args, stop_event)` on a daemon thread; the event tells it to finish."""
        stop_event = threading.Event()
        thread = threading.Thread(target=target, args=(*args, stop_event), name=name, daemon=True)
        thread.start()
        return stop_event, thread

    def stop(self) -> None:
        """Ask the thread to finish, wait for it (at most 30 s), then close the dispatcher and the adapter."""
        self.stop_event.set()
        self.thread.join(timeout=30)
        self.dispatcher.close()
        self.adapter.close()
