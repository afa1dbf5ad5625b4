"""Money amounts: "7万元", "299万欧元", "人民币404万元", "¥12,000.50", "壹佰贰拾万元", "USD 860,000".

An amount needs a currency word or sign before or after the number. The one exception is a number
in Arabic digits with 万 or 亿 ("被骗3.5万", "1.2亿"), taken as CNY with a ``currency_assumed`` warning
unless a counter follows ("1417.76万人次"). So dates, clock times, ages, counts and percentages, which
carry no currency, are never money.
"""

from __future__ import annotations

import re
from decimal import Decimal

from fanzha.cases.extract.model import Amount, ExtractWarning
from fanzha.cases.extract.numerals import CN_DIGIT_CHARS, CN_NUMERAL_CHARS, parse_number
from fanzha.cases.extract.spans import Claims

# Written currency -> ISO 4217. Longest forms first in the regexes built below.
_SUFFIX_CURRENCIES: dict[str, str] = {
    "人民币": "CNY", "元": "CNY", "圆": "CNY", "块钱": "CNY", "块": "CNY",
    "欧元": "EUR", "美元": "USD", "美金": "USD", "港元": "HKD", "港币": "HKD", "英镑": "GBP",
    "日元": "JPY", "日币": "JPY", "韩元": "KRW", "新台币": "TWD", "台币": "TWD", "澳门元": "MOP",
    "澳门币": "MOP", "葡币": "MOP", "澳元": "AUD", "加元": "CAD", "加币": "CAD", "新加坡元": "SGD",
    "新元": "SGD", "瑞士法郎": "CHF", "法郎": "CHF", "卢布": "RUB", "泰铢": "THB", "越南盾": "VND",
    "比索": "PHP", "林吉特": "MYR", "令吉": "MYR", "迪拉姆": "AED", "卢比": "INR",
}
_PREFIX_CURRENCIES: dict[str, str] = {
    "人民币": "CNY", "RMB": "CNY", "¥": "CNY", "￥": "CNY",
    "欧元": "EUR", "€": "EUR", "美元": "USD", "美金": "USD", "US$": "USD", "$": "USD", "港币": "HKD",
    "港元": "HKD", "HK$": "HKD", "英镑": "GBP", "£": "GBP", "日元": "JPY", "新台币": "TWD", "台币": "TWD",
    "NT$": "TWD", "澳门元": "MOP", "澳门币": "MOP", "澳元": "AUD", "加元": "CAD", "韩元": "KRW",
}
ISO_CODES = frozenset({
    "CNY", "EUR", "USD", "HKD", "GBP", "JPY", "TWD", "MOP", "KRW", "AUD", "CAD", "SGD", "CHF", "RUB",
    "THB", "VND", "PHP", "MYR", "AED", "INR", "NZD", "KHR", "MMK", "LAK", "IDR",
})
# "$" is also HK$, NT$, A$...: read as USD but say so.
_AMBIGUOUS_SIGNS = frozenset({"$"})


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_PREFIX = _alternation([*_PREFIX_CURRENCIES, *ISO_CODES])
# A currency word that can also lead an amount ("人民币5000元") belongs to the next number when a
# digit follows it: "转入账户6228...人民币5000元" must not read the account as 6.2e18 CNY. Lower-case
# numerals do not count: "5万美元一笔" is common, "人民币伍万元" uses 大写.
_SUFFIX = "|".join(
    re.escape(w) + ("(?!\\s?[0-9０-９壹贰貳叁參肆伍陆陸柒捌玖拾佰仟])" if w in _PREFIX_CURRENCIES else "")
    for w in sorted(_SUFFIX_CURRENCIES, key=len, reverse=True)
)
_ISO = _alternation(sorted(ISO_CODES))
_CN = f"[{CN_NUMERAL_CHARS}]"
_AR = r"(?:[0-9０-９]{1,3}(?:,[0-9]{3})+|[0-9０-９]+)(?:[.．][0-9０-９]+)?"
# Counters after a bare 万/亿 number make it a count, not money.
_COUNTERS = "人次起户名个件张条台部辆套只份家所位例笔吨斤米平册本篇字股手步年天日月小分秒岁倍届"

_AMOUNT_RE = re.compile(
    rf"""
    (?:(?<![A-Za-z])(?P<pcur>{_PREFIX})\s?)?
    (?<![0-9０-９.,A-Za-z{CN_NUMERAL_CHARS}])
    (?P<num>(?:{_AR}|{_CN})+)
    (?P<approx>多|余)?
    (?:
        \s?(?P<scur>{_SUFFIX})(?![旦宵素])
        (?:(?P<jiao>[0-9{CN_DIGIT_CHARS}])角)?(?:(?P<fen>[0-9{CN_DIGIT_CHARS}])分(?!钟))?(?:整)?
      | \s?(?P<iso>{_ISO})(?![A-Za-z])
    )?
    """,
    re.VERBOSE,
)
_MONEY_AFTER_RE = re.compile(rf"\s?(?:多|余)?(?:{_SUFFIX}|[万萬亿億千仟](?!万)|\s?(?:{_ISO})(?![A-Za-z]))")
_MONEY_BEFORE_RE = re.compile(rf"(?:{_PREFIX})\s?$")


def looks_like_money(text: str, start: int, end: int) -> bool:
    """A digit run with a currency word or sign right next to it ("1000000000元", "¥5000") is money."""
    return bool(_MONEY_AFTER_RE.match(text, end) or _MONEY_BEFORE_RE.search(text, max(0, start - 4), start))


# "块" is also a counter ("2块手表"): money only before 钱, a non-Chinese character, or a verb of giving.
_KUAI_OK_RE = re.compile(r"钱|[^\u4e00-\u9fff]|[给到转的了左多余被打汇买]|$")


def _find(text: str, claims: Claims) -> list[tuple[Amount, ExtractWarning | None]]:
    found: list[tuple[Amount, ExtractWarning | None]] = []
    for m in _AMOUNT_RE.finditer(text):
        pcur, scur, iso = m.group("pcur"), m.group("scur"), m.group("iso")
        num_text = m.group("num")
        start = m.start()
        if pcur is None and scur is None and iso is None:
            start = m.start("num")
        end = m.end()
        if claims.overlaps(start, end):
            continue
        if num_text[0] in CN_NUMERAL_CHARS and pcur is None and scur is None and iso is None:
            continue
        value = parse_number(num_text)
        if value is None or value <= 0:
            continue
        warning: ExtractWarning | None = None
        if scur is not None:
            if scur in ("块", "块钱") and not _KUAI_OK_RE.match(text, m.end("scur")):
                continue
            if scur in ("日元", "日币") and m.start("num") > 0 and text[m.start("num") - 1] == "月":
                continue  # "4月1日元旦" is a date
            currency = _SUFFIX_CURRENCIES[scur]
            if pcur is not None and currency == "CNY":
                currency = _PREFIX_CURRENCIES.get(pcur, pcur)  # "欧元464.6万元": 元 is just the unit
            value += _minor(m.group("jiao"), m.group("fen"))
        elif iso is not None:
            currency = iso
        elif pcur is not None:
            currency = _PREFIX_CURRENCIES.get(pcur, pcur)
            if pcur in _AMBIGUOUS_SIGNS:
                warning = ExtractWarning("currency_ambiguous", f"'{pcur}' read as {currency}",
                                         text[start:end], (start, end))
        else:
            # Bare number: only "3.5万" / "1.2亿" style, in digits, and not a count of something.
            if num_text[-1] not in "万萬亿億" or not num_text[0].isdigit():
                continue
            after = text[end:end + 1]
            if after and after in _COUNTERS:
                continue
            currency = "CNY"
            warning = ExtractWarning("currency_assumed", "no currency given; CNY assumed",
                                     text[start:end], (start, end))
        amount = Amount(value=value, currency=currency, text=text[start:end], span=(start, end))
        found.append((amount, warning))
    return found


def _minor(jiao: str | None, fen: str | None) -> Decimal:
    total = Decimal(0)
    if jiao is not None:
        total += (parse_number(jiao) or Decimal(0)) / 10
    if fen is not None:
        total += (parse_number(fen) or Decimal(0)) / 100
    return total


def extract_amounts(text: str, claims: Claims) -> tuple[list[Amount], list[ExtractWarning]]:
    """Distinct amounts in order of first mention: "7万元（70000元）" is one amount, not two."""
    amounts: list[Amount] = []
    warnings: list[ExtractWarning] = []
    seen: set[tuple[Decimal, str]] = set()
    for amount, warning in _find(text, claims):
        claims.add(*amount.span)
        key = (amount.value, amount.currency)
        if key in seen:
            continue
        seen.add(key)
        amounts.append(amount)
        if warning is not None:
            warnings.append(warning)
    return amounts, warnings
