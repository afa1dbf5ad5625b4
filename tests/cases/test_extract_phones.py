"""Phone numbers: mobile, landline, 400/800, international, service short numbers, and look-alikes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fanzha.cases.extract import extract

RECEIVED = datetime(2026, 4, 26, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def phones(text: str) -> list[dict[str, Any]]:
    return extract(text, RECEIVED).to_dict()["phones"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("text", "written", "e164", "kind", "region"),
    [
        ("对方手机13812345678联系", "13812345678", "+8613812345678", "mobile", "CN"),
        ("电话：138 1234 5678。", "138 1234 5678", "+8613812345678", "mobile", "CN"),
        ("电话138-1234-5678。", "138-1234-5678", "+8613812345678", "mobile", "CN"),
        ("号码19912345678", "19912345678", "+8619912345678", "mobile", "CN"),
        ("来电021-12345678称", "021-12345678", "+862112345678", "landline", "CN"),
        ("来电0755 8888 8888称", "0755 8888 8888", "+8675588888888", "landline", "CN"),
        ("座机(021)62345678", "(021)62345678", "+862162345678", "landline", "CN"),
        ("座机（021）62345678", "（021）62345678", "+862162345678", "landline", "CN"),
        ("拨打02162345678", "02162345678", "+862162345678", "landline", "CN"),
        ("客服400-820-5555", "400-820-5555", "+864008205555", "shared_cost", "CN"),
        ("客服4008205555", "4008205555", "+864008205555", "shared_cost", "CN"),
        ("热线800-830-1880", "800-830-1880", "+868008301880", "toll_free", "CN"),
        ("号码+86 138 1234 5678", "+86 138 1234 5678", "+8613812345678", "mobile", "CN"),
        ("号码+8613812345678", "+8613812345678", "+8613812345678", "mobile", "CN"),
        ("号码0086 13812345678", "0086 13812345678", "+8613812345678", "mobile", "CN"),
        ("显示+1 415 555 2671", "+1 415 555 2671", "+14155552671", "foreign", "US"),
        ("显示+63 912 345 6789", "+63 912 345 6789", "+639123456789", "foreign", "PH"),
        ("显示00852 2345 6789", "00852 2345 6789", "+85223456789", "foreign", "HK"),
        ("显示+886 912 345 678", "+886 912 345 678", "+886912345678", "foreign", "TW"),
        ("联系方式：+1 (213) 555-0147。", "+1 (213) 555-0147", "+12135550147", "foreign", "US"),
        ("号码+86 (21) 6234 5678", "+86 (21) 6234 5678", "+862162345678", "landline", "CN"),
    ],
)
def test_phone_forms(text: str, written: str, e164: str, kind: str, region: str) -> None:
    [phone] = phones(text)
    assert (phone["e164"], phone["kind"], phone["region"], phone["text"]) == (e164, kind, region, written)
    start, end = phone["span"]
    assert text[start:end] == written


def test_landline_extension_is_not_swallowed_into_an_account() -> None:
    result = extract("电话021-62345678-8001", RECEIVED).to_dict()
    assert [(p["e164"], p["text"]) for p in result["phones"]] == [("+862162345678", "021-62345678")]
    assert result["accounts"] == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("有疑问请拨打110咨询", "110"),
        ("“110”报警平台", "110"),
        ("接到96110的劝阻电话", "96110"),
        ("“12345”市民服务热线", "12345"),
        ("拨打12345", "12345"),
        ("冒充95588发短信", "95588"),
        ("对方自称95533客服", "95533"),
        ("拨打120急救", "120"),
        ("拨打10086查询", "10086"),
    ],
)
def test_short_numbers(text: str, number: str) -> None:
    [phone] = phones(text)
    assert phone["kind"] == "short"
    assert phone["e164"] is None
    assert phone["number"] == number
    assert phone["region"] == "CN"


@pytest.mark.parametrize(
    "text",
    [
        "110万元",  # amount
        "共120人",  # count
        "损失达10000元",
        "共接报案件4738起",
        "面积120平方米",
        "密码12345",  # no calling word around it
        "第119号",
    ],
)
def test_numbers_that_are_not_short_phones(text: str) -> None:
    assert phones(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "卡号6228480402564890018",  # card, 19 digits
        "卡号6228 4804 0256 4890 018",  # grouped card
        "身份证号11010519491231002X",  # resident ID
        "当事人110101199001011237报警",  # resident ID without label
        "日期2016-04-25",
        "21:05接到电话",
        "转账13812345元",  # 8 digits with 元 is money
        "+12345",  # too short to be international
    ],
)
def test_not_phones(text: str) -> None:
    assert phones(text) == []


def test_mobile_inside_a_longer_run_is_not_a_phone() -> None:
    # 1[3-9] followed by 9 digits, but part of a 19-digit account
    assert phones("账户1381234567890123456") == []


def test_same_number_twice_is_reported_once() -> None:
    text = "有疑问请拨打110咨询，市民可拨打110核实；对方号码13812345678，又用138 1234 5678打来"
    found = phones(text)
    assert [(p["number"], p["span"][0]) for p in found] == [("110", 6), ("13812345678", text.index("138"))]
