"""Split a narrative into plain and highlighted pieces from the extractor's character spans."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# When two mentions overlap, the one earlier in this list is shown (an account beats the bank in it).
KINDS: tuple[str, ...] = ("account", "phone", "url", "amount", "time", "bank", "evidence")
_SOURCES: dict[str, str] = {
    "accounts": "account", "phones": "phone", "urls": "url", "amounts": "amount", "times": "time", "banks": "bank",
}


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    kind: str | None = None  # None for plain text
    detail: str = ""  # what the extractor made of it (shown on hover)


def _detail(kind: str, item: dict[str, Any]) -> str:
    if kind == "amount":
        return f"{item.get('value')} {item.get('currency')}"
    if kind == "account":
        bank = item.get("bank_name") or item.get("bank_code") or "?"
        return f"{item.get('number')} · {bank}"
    if kind == "phone":
        return str(item.get("e164") or item.get("number") or "")
    if kind == "time":
        return str(item.get("value", ""))
    if kind == "url":
        return str(item.get("value", ""))
    if kind == "bank":
        return str(item.get("name", ""))
    return ""


def _mentions(extraction: dict[str, Any]) -> list[tuple[int, int, str, str]]:
    found: list[tuple[int, int, str, str]] = []
    for source, kind in _SOURCES.items():
        for item in extraction.get(source) or []:
            start, end = item["span"]
            found.append((int(start), int(end), kind, _detail(kind, item)))
    fraud = extraction.get("fraud_type") or {}
    for item in fraud.get("evidence") or []:
        start, end = item["span"]
        found.append((int(start), int(end), "evidence", str(fraud.get("name", ""))))
    return found


def segments(text: str, extraction: dict[str, Any]) -> list[Segment]:
    """The whole text, in order, with each accepted mention as its own segment.

    Spans outside the text (an extraction of an older version of the text) are ignored rather than
    shown in the wrong place.
    """
    accepted: list[tuple[int, int, str, str]] = []
    by_priority = sorted(_mentions(extraction), key=lambda m: (KINDS.index(m[2]), m[0]))
    for start, end, kind, detail in by_priority:
        if not 0 <= start < end <= len(text):
            continue
        if any(start < a_end and a_start < end for a_start, a_end, _, _ in accepted):
            continue
        accepted.append((start, end, kind, detail))
    accepted.sort()
    out: list[Segment] = []
    cursor = 0
    for start, end, kind, detail in accepted:
        if start > cursor:
            out.append(Segment(text[cursor:start]))
        out.append(Segment(text[start:end], kind, detail))
        cursor = end
    if cursor < len(text):
        out.append(Segment(text[cursor:]))
    return out
