"""A short-lived, per-process memory of who a token or session belongs to.

Every API request resolves its caller; remembering the answer for a few seconds saves a database round
trip and a thread hop per request. The price is bounded: a revoked token or deactivated user is refused
at most `ttl` seconds later on other processes (logout forgets at once in its own process). Unknown
tokens are never remembered, so a new token works immediately and a forged one always reaches the
database.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from fanzha.auth.actor import Actor


class ActorCache:
    def __init__(self, ttl_s: float = 5.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Actor]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Actor | None:
        if self.ttl_s <= 0:
            return None
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            expires, actor = hit
            if expires < time.monotonic():
                del self._entries[key]
                return None
            return actor

    def put(self, key: str, actor: Actor) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl_s, actor)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
