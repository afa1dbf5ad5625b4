"""Bank card and account numbers: issuer by BIN and length, Luhn as a warning, bank named nearby."""

from __future__ import annotations

import re
from datetime import date

from fanzha.banking.bins import bank_names, lookup_card, luhn_valid
from fanzha.cases.extract.model import Account, BankMention, Span

MIN_DIGITS, MAX_DIGITS = 10, 25

# Long numbers that are something else: order, waybill, QQ, badge, ID, meeting numbers... The nearest
# keyword before the number decides, so "订单号和银行卡号6228..." is still a card.
_OTHER_ID = (
    r"QQ|qq|订单|单号|运单|快递|工号|编号|警号|证号|身份证|护照|案号|会议号|会议ID|验证码"
    r"|IMEI|imei|MEID|流水号|交易号|ID"
)
_ACCOUNT_WORD = r"卡号|账号|帐号|账户|帐户|银行卡|卡|收款|转账|转入|汇入|汇款|户名"
_KEYWORD_RE = re.compile(rf"(?P<other>{_OTHER_ID})|(?P<acct>{_ACCOUNT_WORD})")
_ID_WORD_RE = re.compile(r"身份证|证件号|公民身份")
_LOOKBACK = 12
_BANK_GAP = 12  # "农业银行账户：" between a bank name and the number


def plausible_grouping(groups: list[str]) -> bool:
    """Cards and accounts are written whole, in even groups ("6228 4804 0256 4890 018") or in a bank's
    own short groups ("283-456789-883"). A long group next to others is two numbers side by side
    ("6228480402564890018 5000"), and a leading 0 is an area code ("021-62345678-8001")."""
    if len(groups) == 1:
        return True
    size = len(groups[0])
    if 3 <= size <= 6 and all(len(g) == size for g in groups[:-1]) and 1 <= len(groups[-1]) <= size:
        return True
    return groups[0][0] != "0" and all(2 <= len(g) <= 8 for g in groups)


def is_other_id(text: str, start: int) -> bool:
    """True when the nearest keyword before the number names a non-account identifier."""
    window = text[max(0, start - _LOOKBACK):start]
    last = None
    for m in _KEYWORD_RE.finditer(window):
        last = m
    return last is not None and last.group("other") is not None


_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _valid_ric(number: str) -> bool:
    """GB 11643 resident ID: province digit, real birth date, ISO 7064 MOD 11-2 check character.

    Written out rather than taken from stdnum, whose birth-place lookup raises on some region codes.
    """
    if len(number) != 18 or not number[:17].isdigit() or number[0] not in "12345678":
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= date.today().year:
        return False
    check = "10X98765432"[sum(int(d) * w for d, w in zip(number, _RIC_WEIGHTS, strict=False)) % 11]
    return number[17].upper() == check


def is_resident_id(digits: str, text: str, start: int) -> bool:
    """An 18-digit Chinese resident ID number (checked digit and birth date), or one labelled as such."""
    if len(digits) != 18:
        return False
    if _ID_WORD_RE.search(text, max(0, start - _LOOKBACK), start):
        return True
    return _valid_ric(digits) and lookup_card(digits) is None


def _bank_hint(text: str, span: Span, banks: list[BankMention]) -> BankMention | None:
    """The bank named right before the number ("农业银行账户 ..."), or just after it ("（工行）")."""
    start, end = span
    best: BankMention | None = None
    for b in banks:
        if b.kind != "bank":
            continue
        b_start, b_end = b.span
        gap = text[b_end:start]
        if b_end <= start and len(gap) <= _BANK_GAP and not any(ch.isdigit() for ch in gap):
            best = b  # later mentions are closer
        elif b_start >= end and b_start - end <= 2 and best is None:
            return b
    return best


def make_account(digits: str, text: str, span: Span, banks: list[BankMention]) -> Account:
    issuer = lookup_card(digits)
    luhn_ok = luhn_valid(digits)
    hint = _bank_hint(text, span, banks)
    warnings: list[str] = []
    if issuer is not None:
        if not luhn_ok:
            warnings.append("luhn_failed")  # a card failing Luhn is most likely mistyped
        if hint is not None and hint.code != issuer.bank_code:
            warnings.append("bank_mismatch")
        return Account(number=digits, kind="card", bank_code=issuer.bank_code, bank_name=issuer.bank_name,
                       card_type=issuer.card_type, luhn_ok=luhn_ok, warnings=tuple(warnings),
                       text=text[span[0]:span[1]], span=span)
    # No BIN: corporate and other accounts fail Luhn legitimately, so that is not worth a warning.
    code = hint.code if hint is not None else None
    if code is not None:
        warnings.append("bank_from_context")
    return Account(number=digits, kind="account", bank_code=code,
                   bank_name=bank_names().get(code, hint.name if hint else code) if code else None,
                   card_type=None, luhn_ok=luhn_ok, warnings=tuple(warnings),
                   text=text[span[0]:span[1]], span=span)
