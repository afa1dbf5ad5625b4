"""Runs of digits (whole, or grouped by spaces or dashes) sorted into phones, accounts and ID numbers.

One scanner for both, because the same run can be read either way and the reading has to be decided
once: "0755 8888 8888" is a landline, "6228 4804 0256 4890 018" a card, an 18-digit resident ID
neither, and "13812345678 6228480402564890018" two things. A run is classified whole first; if that
fails it is split at its separators and the longest classifiable stretches are taken left to right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fanzha.cases.extract.accounts import (
    MAX_DIGITS,
    MIN_DIGITS,
    is_other_id,
    is_resident_id,
    make_account,
    plausible_grouping,
)
from fanzha.cases.extract.amounts import looks_like_money
from fanzha.cases.extract.model import Account, BankMention, Phone
from fanzha.cases.extract.numerals import FULLWIDTH
from fanzha.cases.extract.phones import classify_phone, classify_short
from fanzha.cases.extract.spans import Claims

_RUN_RE = re.compile(
    # Never start inside a decimal, word, URL or an earlier digit group ("6222 0210": not at "0210").
    r"(?<![0-9０-９A-Za-z.,/_@#%+＋])(?<![0-9０-９][ \-\u00a0\u3000])"
    r"(?P<plus>[+＋]\s?)?"
    r"(?P<paren>[(（]\s?(?P<area>0[0-9]{2,3})\s?[)）]\s?)?"
    r"(?P<body>[0-9０-９](?:[0-9０-９]|(?:[ \-\u00a0\u3000]|\s?[(（][0-9０-９]{1,4}[)）]\s?)(?=[0-9０-９]))*)"
    r"(?![0-9０-９A-Za-z])"
)
_GROUP_RE = re.compile(r"[0-9０-９]+")
_CONTEXT = 8
_MAX_RUN = MAX_DIGITS + 4  # digits in the longest readable stretch: an account, or "0086" + a phone


@dataclass(frozen=True, slots=True)
class _Group:
    digits: str
    start: int
    end: int


def extract_numbers(text: str, claims: Claims, banks: list[BankMention]) -> tuple[list[Phone], list[Account]]:
    phones: list[Phone] = []
    accounts: list[Account] = []
    for m in _RUN_RE.finditer(text):
        if claims.overlaps(m.start(), m.end()):
            continue
        groups = [_Group(g.group().translate(FULLWIDTH), g.start(), g.end())
                  for g in _GROUP_RE.finditer(text, m.start("body"), m.end("body"))]
        i = 0
        while i < len(groups):
            # Longest stretch first, but never longer than any phone or account can be.
            longest, total = i, 0
            while longest < len(groups) and total + len(groups[longest].digits) <= _MAX_RUN:
                total += len(groups[longest].digits)
                longest += 1
            for j in range(longest, i, -1):
                lead = m.start() if i == 0 else groups[i].start
                found = _classify(text, groups[i:j], lead, i == 0 and m.group("plus") is not None,
                                  m.group("area") if i == 0 else None, banks, phones, accounts)
                if found:
                    claims.add(lead, groups[j - 1].end)
                    i = j
                    break
            else:
                i += 1
    return phones, accounts


def _classify(text: str, groups: list[_Group], start: int, plus: bool, area: str | None,
              banks: list[BankMention], phones: list[Phone], accounts: list[Account]) -> bool:
    """Append the phone or account the groups form; True if they formed one (or an ID number)."""
    end = groups[-1].end
    parts = [g.digits for g in groups]
    digits = "".join(parts)
    if not plus and area is None and looks_like_money(text, start, end):
        return False  # "被骗1000000000元": the amount extractor reads it
    info = classify_phone(parts, plus, area)
    if info is None and len(groups) == 1 and not plus and area is None:
        info = classify_short(digits, text[max(0, start - _CONTEXT):start], text[end:end + _CONTEXT])
    if info is not None:
        phones.append(Phone(e164=info.e164, number=info.number, kind=info.kind, region=info.region,
                            text=text[start:end], span=(start, end)))
        return True
    if plus or area is not None or not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return False
    if not plausible_grouping(parts):
        return False
    if is_resident_id(digits, text, start):
        return True  # claimed so no other extractor reads it, but not reported
    if is_other_id(text, start):
        return True
    accounts.append(make_account(digits, text, (start, end), banks))
    return True
