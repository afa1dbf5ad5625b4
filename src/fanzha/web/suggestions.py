"""Turn an extraction into suggestions an officer may adopt, one click each; nothing is adopted by itself.

An account and an amount in the same sentence make one transfer suggestion (to account, bank, amount,
currency, and a time if the sentence names one); everything else is suggested on its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fanzha.cases.fraud_types import FraudType
from fanzha.config import SHANGHAI

_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
# How the money moved, by the words the narrative uses for it; the first match wins.
_METHODS: tuple[tuple[str, str], ...] = (
    ("手机银行", "mobile_banking"), ("网上银行", "online_banking"), ("网银", "online_banking"),
    ("支付宝", "alipay"), ("微信", "wechat"), ("ATM", "atm"), ("柜台", "counter"), ("柜面", "counter"),
    ("POS", "pos"),
)


@dataclass(frozen=True, slots=True)
class Suggestion:
    kind: str  # transfer, amount, account, phone, url, fraud_type
    data: dict[str, str]  # the structured fields it fills
    text: str  # the words in the narrative it came from
    span: tuple[int, int]
    warnings: tuple[str, ...] = field(default=())
    note: str = ""  # e.g. the classifier's confidence

    @property
    def key(self) -> str:
        """Identifies the suggestion across re-extractions (used to mark it adopted)."""
        return self.kind + ":" + "|".join(f"{k}={v}" for k, v in sorted(self.data.items()))

    @property
    def payload(self) -> str:
        """The data as JSON, for a checkbox value or a button's data attribute."""
        return json.dumps(self.data, ensure_ascii=False, sort_keys=True)


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        bounds.append((start, match.end()))
        start = match.end()
    if start < len(text):
        bounds.append((start, len(text)))
    return bounds


def _sentence_of(bounds: list[tuple[int, int]], position: int) -> tuple[int, int]:
    for start, end in bounds:
        if start <= position < end:
            return start, end
    return 0, 0


def _inside(span: list[int], sentence: tuple[int, int]) -> bool:
    return sentence[0] <= span[0] and span[1] <= sentence[1]


def _distance(a: list[int], b: list[int]) -> int:
    return max(0, b[0] - a[1], a[0] - b[1])


def _method(sentence_text: str) -> str:
    for word, method in _METHODS:
        if word in sentence_text:
            return method
    return "bank_transfer"


def _span(item: dict[str, Any]) -> tuple[int, int]:
    start, end = item["span"]
    return int(start), int(end)


def _local_minute(iso_value: str) -> str:
    return datetime.fromisoformat(iso_value).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def _transfer(text: str, bounds: list[tuple[int, int]], account: dict[str, Any], amount: dict[str, Any],
              extraction: dict[str, Any]) -> Suggestion:
    sentence = _sentence_of(bounds, _span(account)[0])
    bank = account.get("bank_code") or ""
    if not bank:
        banks = [b for b in extraction.get("banks") or []
                 if b.get("kind") == "bank" and _inside(b["span"], sentence)]
        if banks:
            bank = min(banks, key=lambda b: _distance(b["span"], account["span"]))["code"]
    times = [t for t in extraction.get("times") or [] if _inside(t["span"], sentence)]
    when = _local_minute(times[0]["value"]) if times and times[0].get("precision") != "day" else ""
    start = min(account["span"][0], amount["span"][0])
    end = max(account["span"][1], amount["span"][1])
    data = {"to_account": account["number"], "to_bank": bank, "amount": str(amount["value"]),
            "currency": str(amount["currency"]), "occurred_at": when,
            "method": _method(text[sentence[0]:sentence[1]])}
    return Suggestion("transfer", data, text[start:end], (start, end), tuple(account.get("warnings") or ()))


def suggest(text: str, extraction: dict[str, Any]) -> list[Suggestion]:
    """Suggestions in the order their words appear in the narrative."""
    bounds = _sentences(text)
    out: list[Suggestion] = []
    used_amounts: set[int] = set()
    amounts = list(extraction.get("amounts") or [])
    for account in extraction.get("accounts") or []:
        sentence = _sentence_of(bounds, account["span"][0])
        candidates = [(i, a) for i, a in enumerate(amounts)
                      if i not in used_amounts and _inside(a["span"], sentence)]
        if candidates:
            index, amount = min(candidates, key=lambda c: _distance(c[1]["span"], account["span"]))
            used_amounts.add(index)
            out.append(_transfer(text, bounds, account, amount, extraction))
        else:
            data = {"number": account["number"], "bank": account.get("bank_code") or ""}
            out.append(Suggestion("account", data, account["text"], _span(account),
                                  tuple(account.get("warnings") or ())))
    for i, amount in enumerate(amounts):
        if i not in used_amounts:
            out.append(Suggestion("amount", {"amount": str(amount["value"]), "currency": str(amount["currency"])},
                                  amount["text"], _span(amount)))
    for phone in extraction.get("phones") or []:
        value = phone.get("e164") or phone.get("number")
        if value:
            out.append(Suggestion("phone", {"phone": str(value)}, phone["text"], _span(phone)))
    for url in extraction.get("urls") or []:
        out.append(Suggestion("url", {"url": str(url["value"])}, url["text"], _span(url)))
    fraud = extraction.get("fraud_type")
    if fraud and fraud.get("code") and fraud.get("code") != FraudType.OTHER.value:
        evidence = fraud.get("evidence") or []
        span = _span(evidence[0]) if evidence else (0, 0)
        out.append(Suggestion("fraud_type", {"fraud_type": str(fraud["code"])},
                              "、".join(e["text"] for e in evidence[:4]), span,
                              note=f"{float(fraud.get('confidence', 0)):.0%}"))
    return sorted(out, key=lambda s: (s.span[0], s.kind))
