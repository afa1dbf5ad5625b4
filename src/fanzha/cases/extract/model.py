"""Result types of the narrative extractor and their JSON form.

Every span is a [start, end) pair of Python str offsets into the original narrative, so that
``text[start:end] == item.text`` and a console can highlight the mention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fanzha.cases.extract.numerals import decimal_str
from fanzha.cases.fraud_types import FraudType

Span = tuple[int, int]
JSON = dict[str, Any]


def _span(span: Span) -> list[int]:
    return [span[0], span[1]]


@dataclass(frozen=True, slots=True)
class Amount:
    value: Decimal
    currency: str  # ISO 4217
    text: str
    span: Span

    def to_dict(self) -> JSON:
        return {"value": decimal_str(self.value), "currency": self.currency, "text": self.text,
                "span": _span(self.span)}


@dataclass(frozen=True, slots=True)
class Account:
    number: str  # digits only
    kind: str  # "card" (BIN and length matched) or "account"
    bank_code: str | None
    bank_name: str | None
    card_type: str | None  # DC, CC, SCC, PC
    luhn_ok: bool
    warnings: tuple[str, ...]
    text: str
    span: Span

    def to_dict(self) -> JSON:
        return {"number": self.number, "kind": self.kind, "bank_code": self.bank_code,
                "bank_name": self.bank_name, "card_type": self.card_type, "luhn_ok": self.luhn_ok,
                "warnings": list(self.warnings), "text": self.text, "span": _span(self.span)}


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str | None  # None for service short numbers (110, 96110, 95588), which have no E.164 form
    number: str  # national digits as dialled in the number's country, e.g. "02162345678", "96110"
    kind: str  # mobile, landline, toll_free, shared_cost, short, foreign, other
    region: str | None  # ISO 3166 region, "CN" for mainland numbers
    text: str
    span: Span

    def to_dict(self) -> JSON:
        return {"e164": self.e164, "number": self.number, "kind": self.kind, "region": self.region,
                "text": self.text, "span": _span(self.span)}


@dataclass(frozen=True, slots=True)
class BankMention:
    code: str
    name: str
    branch: str | None
    kind: str  # "bank" or "payment_platform"
    text: str
    span: Span

    def to_dict(self) -> JSON:
        return {"code": self.code, "name": self.name, "branch": self.branch, "kind": self.kind,
                "text": self.text, "span": _span(self.span)}


@dataclass(frozen=True, slots=True)
class TimeMention:
    value: str  # ISO 8601 with +08:00
    precision: str  # day, hour, minute
    approximate: bool
    text: str
    span: Span

    def to_dict(self) -> JSON:
        return {"value": self.value, "precision": self.precision, "approximate": self.approximate,
                "text": self.text, "span": _span(self.span)}


@dataclass(frozen=True, slots=True)
class Url:
    value: str  # with a scheme; "http://" is assumed for bare domains
    text: str
    span: Span

    def to_dict(self) -> JSON:
        return {"value": self.value, "text": self.text, "span": _span(self.span)}


@dataclass(frozen=True, slots=True)
class FraudTypeResult:
    type: FraudType
    confidence: float
    evidence: tuple[tuple[str, int, int], ...]

    def to_dict(self) -> JSON:
        return {"name": self.type.zh, "code": self.type.value, "confidence": self.confidence,
                "evidence": [{"text": text, "span": [start, end]} for text, start, end in self.evidence]}


@dataclass(frozen=True, slots=True)
class ExtractWarning:
    code: str  # e.g. "currency_assumed", "currency_ambiguous", "time_in_future"
    message: str
    text: str
    span: Span

    def to_dict(self) -> JSON:
        return {"code": self.code, "message": self.message, "text": self.text, "span": _span(self.span)}


@dataclass(frozen=True, slots=True)
class Extraction:
    amounts: list[Amount] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    phones: list[Phone] = field(default_factory=list)
    banks: list[BankMention] = field(default_factory=list)
    times: list[TimeMention] = field(default_factory=list)
    urls: list[Url] = field(default_factory=list)
    fraud_type: FraudTypeResult | None = None
    warnings: list[ExtractWarning] = field(default_factory=list)

    def to_dict(self) -> JSON:
        return {
            "amounts": [a.to_dict() for a in self.amounts],
            "accounts": [a.to_dict() for a in self.accounts],
            "phones": [p.to_dict() for p in self.phones],
            "banks": [b.to_dict() for b in self.banks],
            "times": [t.to_dict() for t in self.times],
            "urls": [u.to_dict() for u in self.urls],
            "fraud_type": self.fraud_type.to_dict() if self.fraud_type is not None else None,
            "warnings": [w.to_dict() for w in self.warnings],
        }
