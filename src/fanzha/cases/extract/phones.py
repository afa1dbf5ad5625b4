"""Phone numbers: mobile, landline with area code, 400/800 lines, international and service short numbers.

Candidates come from the digit-run scanner (``digits.py``); this module decides whether a run of digit
groups is a phone and formats it with ``phonenumbers``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

_KINDS = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "landline",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.SHARED_COST: "shared_cost",
}
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_AREA_RE = re.compile(r"0[1-9][0-9]{1,2}")
_SERVICE_LINE_RE = re.compile(r"[48]00[0-9]{7}")
_LANDLINE_RE = re.compile(r"0[1-9][0-9]{8,10}")

# Service short numbers. The first set is unmistakable on its own; the others are ordinary numbers
# too ("120平方米", "10000元") and need a calling word around them.
SHORT_ALWAYS = frozenset({"110", "96110"})
_SHORT_RE = re.compile(r"1[0-9]{2}|1[0-2][0-9]{3}|9[56][0-9]{3}|10[0-9]{3}")
_CALL_BEFORE_RE = re.compile(
    r"(?:拨打|致电|电话|热线|号码|来电|打给|拨|打|呼叫|报警|客服|联系|显示|冒充|短信)[^0-9]{0,3}$"
)
_CALL_AFTER_RE = re.compile(
    r"^[^0-9]{0,4}(?:电话|热线|报警|咨询|平台|来电|号码|客服|核实|求助|举报|服务|短信)"
)
# A number followed by a unit or counter is a quantity, not a phone ("110万", "120人").
_UNIT_AFTER_RE = re.compile(
    r"^\s?(?:[元块万千百亿人次个起名岁年月日号天时点分秒条件张户笔米斤吨度辆台部份家所套倍%％]|美元|欧元)"
)


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    e164: str | None
    number: str
    kind: str
    region: str | None


def _info(parsed: phonenumbers.PhoneNumber, fallback_kind: str) -> PhoneInfo:
    region = phonenumbers.region_code_for_number(parsed)
    valid = phonenumbers.is_valid_number(parsed)
    if region is not None and region != "CN" and valid:
        kind = "foreign"
    elif valid:
        kind = _KINDS.get(phonenumbers.number_type(parsed), "other")
    else:
        kind = fallback_kind
    national = re.sub(r"[^0-9]", "", phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL))
    return PhoneInfo(e164=phonenumbers.format_number(parsed, PhoneNumberFormat.E164), number=national,
                     kind=kind, region=region or ("CN" if parsed.country_code == 86 else None))


def _parse(number: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except NumberParseException:
        return None


def classify_phone(groups: list[str], plus: bool, paren_area: str | None) -> PhoneInfo | None:
    """Phone for digit groups as written ("021", "6234", "5678"); None if they do not form one."""
    digits = "".join(groups)
    if paren_area is not None:  # "(021)62345678"
        parsed = _parse(paren_area + digits, "CN")
        if parsed is None or not phonenumbers.is_possible_number(parsed):
            return None
        return _info(parsed, "landline")
    if plus or (digits.startswith("00") and len(digits) >= 10):
        # International: "+63 912 345 6789", "0086 138...", "00852 2345 6789". Must validate, since
        # the written prefix leaves no other reading to fall back on.
        parsed = _parse("+" + (digits if plus else digits[2:]), None)
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            return None
        return _info(parsed, "other")
    if len(digits) == 11 and _MOBILE_RE.fullmatch(digits):
        parsed = _parse(digits, "CN")
        return _info(parsed, "mobile") if parsed is not None else None
    if len(groups) > 1 and _AREA_RE.fullmatch(groups[0]) and 8 <= len(digits) <= 12:
        # Written with an area code apart: "021-62345678", "0755 8888 8888", "021-96110".
        parsed = _parse(digits, "CN")
        if parsed is None:
            return None
        if phonenumbers.is_valid_number(parsed) or len(digits) >= 10:
            return _info(parsed, "landline")
        return None
    if _SERVICE_LINE_RE.fullmatch(digits):
        parsed = _parse(digits, "CN")
        return _info(parsed, "other") if parsed is not None else None
    if len(groups) == 1 and _LANDLINE_RE.fullmatch(digits):
        parsed = _parse(digits, "CN")
        if parsed is not None and phonenumbers.is_valid_number(parsed):
            return _info(parsed, "landline")
    return None


def classify_short(digits: str, before: str, after: str) -> PhoneInfo | None:
    """Service short number (110, 96110, 12345, 95588) given the text just before and after it."""
    if not _SHORT_RE.fullmatch(digits) or _UNIT_AFTER_RE.match(after):
        return None
    if digits not in SHORT_ALWAYS and not (_CALL_BEFORE_RE.search(before) or _CALL_AFTER_RE.match(after)):
        return None
    return PhoneInfo(e164=None, number=digits, kind="short", region="CN")
