"""Reaching the victim while it still matters (DOMAIN.md §5): the live call watch, flash SMS, the callback queue.

Scammers keep a victim on the line for hours so nobody else gets through. Carriers send call events (set-up,
answer, release) over HTTP (``events.py``: ``POST /api/v1/outreach/call-events``, the embedded default) or through
a Redis stream that several watchers share as one consumer group (``events.StreamConsumer``). The watcher
(``watcher.py``) holds the flagged-number set (table ``flagged_numbers``, edited through the API and reloaded by
every watcher within a second, no restart) and keeps each call with a flagged number in ``watched_calls``. When
the subscriber has been connected for N minutes (``FANZHA_WATCH_MINUTES``; 0 = at ring) it records one flash
warning (``flash_warnings``, unique per call, so never twice, also across restarts and between watchers) and,
once that is committed, opens a high-priority callback task (``callbacks.open_task``, once per call); a call that
ends first is recorded as such. The text (``flash.py``) depends on the fraud type and never holds a link or any
number but 110 and 96110. ``warnings.FlashDispatcher`` hands queued warnings to an ``SmsSender`` (``smpp.py``:
SMPP 3.4, UCS2 message class 0, one segment) and matches submit answers and delivery receipts back to each warning.
``callbacks.py`` and ``callbacks_api.py`` hold the callback queue (劝阻) that agents work through.
"""
