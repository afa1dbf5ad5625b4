"""Entities in a fraud report narrative: amounts, accounts, phones, banks, times, URLs and fraud type.

    from fanzha.cases.extract import extract
    extract("4月25日上午9时,市民冯某...7万元...", received_at).to_dict()

Extractors run in a fixed order and claim the text they use, so that one stretch of text yields one
entity: URLs, then dates and times, then digit runs (phones, cards and accounts, ID numbers), then
amounts. Bank names are read independently (they never overlap numbers) and give account numbers
their bank when no BIN matches. Amounts, accounts, phones, URLs and banks are reported once per
entity at first mention; times once per mention.

Top-level ``warnings`` are objects {"code", "message", "text", "span"}; codes: ``currency_assumed``
(bare "3.5万" read as CNY), ``currency_ambiguous`` ("$" read as USD), ``time_in_future`` (a resolved
time after ``received_at``). Account items carry their own codes: ``luhn_failed``, ``bank_mismatch``,
``bank_from_context``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from fanzha.cases.extract.amounts import extract_amounts
from fanzha.cases.extract.banks import dedupe_banks, extract_banks
from fanzha.cases.extract.digits import extract_numbers
from fanzha.cases.extract.fraud_type import classify_fraud_type
from fanzha.cases.extract.model import (
    Account,
    Amount,
    BankMention,
    Extraction,
    ExtractWarning,
    FraudTypeResult,
    Phone,
    TimeMention,
    Url,
)
from fanzha.cases.extract.spans import Claims
from fanzha.cases.extract.times import SHANGHAI, extract_times
from fanzha.cases.extract.urls import extract_urls

__all__ = [
    "Account", "Amount", "BankMention", "ExtractWarning", "Extraction", "FraudTypeResult", "Phone",
    "TimeMention", "Url", "extract",
]

_T = TypeVar("_T")


def extract(text: str, received_at: datetime | None = None) -> Extraction:
    """Extract entities from ``text``; relative dates resolve against ``received_at`` (Asia/Shanghai).

    ``received_at`` should be timezone-aware; a naive value is taken as Shanghai local time.
    """
    if received_at is None:
        received_at = datetime.now(SHANGHAI)
    elif received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=SHANGHAI)
    claims = Claims()
    urls = extract_urls(text, claims)
    banks = [b for b in extract_banks(text) if not claims.overlaps(*b.span)]
    times, time_warnings = extract_times(text, received_at, claims)
    phones, accounts = extract_numbers(text, claims, banks)
    amounts, amount_warnings = extract_amounts(text, claims)
    guess = classify_fraud_type(text)
    return Extraction(
        amounts=amounts,
        accounts=_first(accounts, lambda a: a.number),
        phones=_first(phones, lambda p: p.e164 or p.number),
        banks=dedupe_banks(banks),
        times=times,
        urls=urls,
        fraud_type=FraudTypeResult(type=guess.type, confidence=guess.confidence,
                                   evidence=tuple(guess.evidence)),
        warnings=sorted([*time_warnings, *amount_warnings], key=lambda w: w.span),
    )


def _first(items: list[_T], key: Callable[[_T], str]) -> list[_T]:
    """Keep the first mention of each entity, in text order."""
    seen: set[str] = set()
    out: list[_T] = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out
