"""Money amounts in narratives: currencies, Chinese numerals, restatements and things that are not money."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanzha.cases.extract import extract
from fanzha.cases.extract.numerals import decimal_str, parse_number

RECEIVED = datetime(2026, 4, 26, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def amounts(text: str) -> list[dict[str, Any]]:
    return extract(text, RECEIVED).to_dict()["amounts"]  # type: ignore[no-any-return]


def pairs(text: str) -> list[tuple[str, str]]:
    return [(a["value"], a["currency"]) for a in amounts(text)]


@pytest.mark.parametrize(
    ("text", "value", "currency", "mention"),
    [
        ("存有7万元的银行卡", "70000", "CNY", "7万元"),
        ("被骗转账299万欧元", "2990000", "EUR", "299万欧元"),
        ("冻结人民币404万元", "4040000", "CNY", "人民币404万元"),
        ("付款¥12,000.50后", "12000.5", "CNY", "¥12,000.50"),
        ("一万二千元", "12000", "CNY", "一万二千元"),
        ("转账壹佰贰拾万元整。", "1200000", "CNY", "壹佰贰拾万元整"),
        ("转账壹佰贰拾万元", "1200000", "CNY", "壹佰贰拾万元"),
        ("汇出港币50万元", "500000", "HKD", "港币50万元"),
        ("wire of USD 860,000 to", "860000", "USD", "USD 860,000"),
        ("又转了2000块", "2000", "CNY", "2000块"),
        ("先付5千元", "5000", "CNY", "5千元"),
        ("兑换美元3万", "30000", "USD", "美元3万"),
        ("欧元464.6万元", "4646000", "EUR", "欧元464.6万元"),
        ("两千块钱给他", "2000", "CNY", "两千块钱"),
        ("损失3万多元", "30000", "CNY", "3万多元"),
        ("手续费12元5角", "12.5", "CNY", "12元5角"),
        ("共860,000 USD", "860000", "USD", "860,000 USD"),
        ("充值５０００元", "5000", "CNY", "５０００元"),
        ("被骗8000日元", "8000", "JPY", "8000日元"),
        ("转账新台币10万元", "100000", "TWD", "新台币10万元"),
        ("赔偿1000英镑", "1000", "GBP", "1000英镑"),
        ("共计117.91亿元", "11791000000", "CNY", "117.91亿元"),
        ("转账 38,500 元，", "38500", "CNY", "38,500 元"),
    ],
)
def test_amount_forms(text: str, value: str, currency: str, mention: str) -> None:
    found = amounts(text)
    assert [(a["value"], a["currency"], a["text"]) for a in found] == [(value, currency, mention)]
    start, end = found[0]["span"]
    assert text[start:end] == mention


@pytest.mark.parametrize(("text", "value"), [("被骗3.5万", "35000"), ("涉案1.2亿", "120000000")])
def test_bare_wan_yi_defaults_to_cny_with_a_warning(text: str, value: str) -> None:
    result = extract(text, RECEIVED).to_dict()
    assert [(a["value"], a["currency"]) for a in result["amounts"]] == [(value, "CNY")]
    assert [w["code"] for w in result["warnings"]] == ["currency_assumed"]
    assert result["warnings"][0]["span"] == result["amounts"][0]["span"]


def test_dollar_sign_is_usd_but_flagged_ambiguous() -> None:
    result = extract("对方要求支付$500保证金", RECEIVED).to_dict()
    assert pairs("对方要求支付$500保证金") == [("500", "USD")]
    assert [w["code"] for w in result["warnings"]] == ["currency_ambiguous"]


def test_explicit_currency_gives_no_warning() -> None:
    assert extract("转账7万元", RECEIVED).to_dict()["warnings"] == []


@pytest.mark.parametrize(
    "text",
    [
        "7万元（70000元）",
        "人民币70,000元即7万元",
        "七万元，也就是70000元",
    ],
)
def test_restated_sum_is_one_amount(text: str) -> None:
    found = amounts(text)
    assert [(a["value"], a["currency"]) for a in found] == [("70000", "CNY")]
    assert found[0]["span"][0] == 0  # the first mention is kept


def test_currency_word_before_a_number_leads_that_number() -> None:
    result = extract("转入账户6228480402564890018人民币5000元", RECEIVED).to_dict()
    assert [a["number"] for a in result["accounts"]] == ["6228480402564890018"]
    assert [(a["value"], a["text"]) for a in result["amounts"]] == [("5000", "人民币5000元")]
    assert pairs("账户1234567890123人民币伍万元") == [("50000", "CNY")]
    assert pairs("转账5万美元一笔") == [("50000", "USD")]


def test_same_value_in_two_currencies_is_two_amounts() -> None:
    assert pairs("冻结人民币404万元、欧元404万元") == [("4040000", "CNY"), ("4040000", "EUR")]


def test_several_amounts_keep_text_order() -> None:
    assert pairs("先转5000元，再转2万元，最后转5000元") == [("5000", "CNY"), ("20000", "CNY")]


@pytest.mark.parametrize(
    "text",
    [
        "2026年3月31日8时许接到电话",  # dates and clock times
        "上午9时到银行",
        "老人今年60岁",  # age
        "先后转账3次",  # count
        "办了2张卡",  # count with the counter 张
        "收益率50%",  # percentage
        "共接报案件4738起，劝阻1535人",
        "累计1417.76万人次",  # 万 followed by a counter is a count
        "4月1日元旦那天",  # 日元 inside a date
        "买了2块手表",  # 块 as a counter
        "单一元素",
        "持续通话一个多小时",
        "有疑问请拨打110咨询",
        "卡号6228480402564890018",
        "电话13812345678",
        "万元户",
        "21:05接到电话",
    ],
)
def test_not_money(text: str) -> None:
    assert amounts(text) == []


def test_card_number_before_amount_is_not_part_of_it() -> None:
    result = extract("向6228480402564890018转账5000元", RECEIVED).to_dict()
    assert [a["number"] for a in result["accounts"]] == ["6228480402564890018"]
    assert pairs("向6228480402564890018转账5000元") == [("5000", "CNY")]


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("7万", "70000"), ("一万二千", "12000"), ("一万二", "12000"), ("三千五", "3500"),
        ("壹佰贰拾万", "1200000"), ("十五", "15"), ("十万", "100000"), ("一千零五", "1005"),
        ("一万零五百", "10500"), ("两千", "2000"), ("1万2千", "12000"), ("1.2亿", "120000000"),
        ("一亿二千万", "120000000"), ("12,000.50", "12000.5"), ("五万亿", "5000000000000"),
    ],
)
def test_parse_number(numeral: str, value: str) -> None:
    parsed = parse_number(numeral)
    assert parsed is not None
    assert decimal_str(parsed) == value


@pytest.mark.parametrize("numeral", ["万", "百万", "一二", "二十三百", "12.", "abc", "一万一万"])
def test_parse_number_rejects_malformed(numeral: str) -> None:
    assert parse_number(numeral) is None


def test_values_are_decimal_internally() -> None:
    amount = extract("¥12,000.50", RECEIVED).amounts[0]
    assert isinstance(amount.value, Decimal)
    assert amount.value == Decimal("12000.50")


@given(st.integers(min_value=1, max_value=10**15))
def test_integer_yuan_round_trips(n: int) -> None:
    text = f"被骗{n}元"
    found = extract(text, RECEIVED).amounts
    assert len(found) == 1
    assert found[0].value == Decimal(n)
    assert found[0].currency == "CNY"
    assert found[0].text == f"{n}元"


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=99))
def test_grouped_yuan_with_cents_round_trips(n: int, cents: int) -> None:
    text = f"转账¥{n:,}.{cents:02d}"
    found = extract(text, RECEIVED).amounts
    assert [(a.value, a.currency) for a in found] == [(Decimal(f"{n}.{cents:02d}"), "CNY")]
