"""Why a person is in the callback queue, as data: a code and its parameters, not a sentence.

Machine-made reasons (the telecom grading, the live-call watcher) are stored structured beside the task's text, so
the console can say them in the reader's language with Shanghai times (`fanzha.web.callback_pages`), while the API
keeps the text for old clients. Parameters follow naming rules the console relies on:

- ``*_at``: an instant, ISO 8601 in UTC (shown in Asia/Shanghai);
- ``*_s``: a duration in whole seconds (shown as minutes, or seconds under one minute);
- ``amount`` (a decimal string or null) with ``currency``; ``flagged``: the fraud number (E.164);
- booleans are shown through a message of their own (``callback.reason.<name>.true|false``).

Code ``text`` holds a sentence as written (a reason typed by a person, or a task stored before reasons had codes);
it is shown as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

MAX_REASONS = 50  # a task merged again and again keeps its first fifty reasons, as its text keeps 2000 characters


class ReasonCode(StrEnum):
    TEXT = "text"  # params: text
    # the telecom analysis (fanzha.telecom.victims); every one carries `flagged`
    STILL_CONNECTED = "still_connected"  # since_at
    TRANSFER_AFTER_CALL = "transfer_after_call"  # amount, currency, lag_s
    LONG_CALL = "long_call"  # longest_s
    TOTAL_TALK = "total_talk"  # talk_s
    REPEATED_CALLS = "repeated_calls"  # calls
    REPEATED_CALLS_BACK = "repeated_calls_back"  # calls, calls_back
    ANSWERED_CALLS = "answered_calls"  # answered
    RECENT_CALL = "recent_call"  # ago_s, now_at
    UNANSWERED = "unanswered"  # calls
    SHORT_CALLS = "short_calls"  # calls, longest_s
    # the live-call watcher: a flash warning went out (flagged, call_id, on_call)
    WATCH_RING = "watch_ring"
    WATCH_CONNECTED = "watch_connected"  # connected_s


# Reasons read from call records about one flagged number: the console says the number once for a run of them.
CALL_RECORD_CODES = frozenset({
    ReasonCode.STILL_CONNECTED, ReasonCode.TRANSFER_AFTER_CALL, ReasonCode.LONG_CALL, ReasonCode.TOTAL_TALK,
    ReasonCode.REPEATED_CALLS, ReasonCode.REPEATED_CALLS_BACK, ReasonCode.ANSWERED_CALLS, ReasonCode.RECENT_CALL,
    ReasonCode.UNANSWERED, ReasonCode.SHORT_CALLS,
})

ParamName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
ParamValue = bool | int | float | Annotated[str, StringConstraints(max_length=2000)] | None


class Reason(BaseModel):
    """One reason: ``{"code": "repeated_calls", "params": {"flagged": "+852...", "calls": 3}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: ReasonCode
    params: Annotated[dict[ParamName, ParamValue], Field(max_length=12)] = {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "params": dict(self.params)}


def reason(code: ReasonCode, **params: ParamValue | datetime) -> Reason:
    """A reason; aware datetimes become ISO 8601 in UTC (naive ones are refused: their zone is unknown)."""
    clean: dict[str, ParamValue] = {}
    for name, value in params.items():
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{name}: an aware datetime is needed")
            value = value.astimezone(UTC).isoformat()
        clean[name] = value
    return Reason(code=code, params=clean)


def text(sentence: str) -> Reason:
    return Reason(code=ReasonCode.TEXT, params={"text": sentence})


def merged(old: Sequence[Reason], new: Iterable[Reason]) -> list[Reason]:
    """`old` followed by what `new` adds (an equal reason is not repeated), at most MAX_REASONS."""
    out = list(old)
    for item in new:
        if item not in out:
            out.append(item)
    return out[:MAX_REASONS]


def dumps(reasons: Sequence[Reason]) -> str:
    return json.dumps([r.as_dict() for r in reasons], ensure_ascii=False, separators=(",", ":"))


def loads(stored: str | None, fallback: str) -> list[Reason]:
    """A task's stored reasons; a task stored before reasons had codes (or unreadable ones) has its text."""
    if stored:
        try:
            return [Reason.model_validate(item) for item in json.loads(stored)]
        except (ValueError, TypeError, ValidationError):
            pass  # shown as the text below rather than failing the queue page
    return [text(fallback)]
