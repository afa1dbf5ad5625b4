"""Card and account numbers: BIN issuer, Luhn warnings, bank named nearby, things that are not accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fanzha.banking.bins import lookup_card, luhn_valid
from fanzha.cases.extract import extract

RECEIVED = datetime(2026, 4, 26, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
ABC_CARD = "6228480402564890018"  # ABC debit, 19 digits, Luhn-valid
ICBC_CARD = "6222021001116245702"  # ICBC debit, 19 digits, Luhn-valid
CCB_CARD_BAD_LUHN = "6217000010012345678"  # CCB BIN, fails Luhn


def accounts(text: str) -> list[dict[str, Any]]:
    return extract(text, RECEIVED).to_dict()["accounts"]  # type: ignore[no-any-return]


def test_fixture_numbers_are_what_the_tests_assume() -> None:
    abc, icbc, ccb = lookup_card(ABC_CARD), lookup_card(ICBC_CARD), lookup_card(CCB_CARD_BAD_LUHN)
    assert abc is not None and abc.bank_code == "ABC"
    assert icbc is not None and icbc.bank_code == "ICBC"
    assert ccb is not None and ccb.bank_code == "CCB"
    assert luhn_valid(ABC_CARD) and luhn_valid(ICBC_CARD) and not luhn_valid(CCB_CARD_BAD_LUHN)


def test_card_gets_issuer_from_bin() -> None:
    text = f"冯某向卡号{ABC_CARD}转账"
    [card] = accounts(text)
    assert card == {
        "number": ABC_CARD, "kind": "card", "bank_code": "ABC", "bank_name": "中国农业银行",
        "card_type": "DC", "luhn_ok": True, "warnings": [], "text": ABC_CARD,
        "span": [5, 5 + len(ABC_CARD)],
    }


@pytest.mark.parametrize(
    "written",
    ["6222 0210 0111 6245 702", "6222-0210-0111-6245-702", "6222　0210　0111　6245　702"],
)
def test_grouped_card_number(written: str) -> None:
    text = f"收款卡号：{written}，户名张三"
    [card] = accounts(text)
    assert card["number"] == ICBC_CARD
    assert card["bank_code"] == "ICBC"
    assert card["text"] == written
    start, end = card["span"]
    assert text[start:end] == written


def test_bank_specific_uneven_grouping() -> None:
    text = "收款账户:香港恒生银行,账号283-456789-883。"
    [acct] = accounts(text)
    assert (acct["number"], acct["kind"], acct["text"]) == ("283456789883", "account", "283-456789-883")
    assert acct["bank_code"] == "HSB"  # 恒生银行, named right before the number


def test_fullwidth_digits_are_normalised() -> None:
    written = ABC_CARD.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    [card] = accounts(f"卡号{written}")
    assert card["number"] == ABC_CARD
    assert card["text"] == written


def test_luhn_failure_is_a_warning_not_a_rejection() -> None:
    [card] = accounts(f"建设银行账户{CCB_CARD_BAD_LUHN}")
    assert card["kind"] == "card"
    assert card["bank_code"] == "CCB"
    assert card["luhn_ok"] is False
    assert card["warnings"] == ["luhn_failed"]


def test_unknown_bin_is_an_account_with_the_bank_named_before_it() -> None:
    [acct] = accounts("被骗向农业银行账户 1234567890123456789012 转账")
    assert acct["kind"] == "account"
    assert acct["bank_code"] == "ABC"
    assert acct["bank_name"] == "中国农业银行"
    assert acct["card_type"] is None
    assert acct["warnings"] == ["bank_from_context"]


def test_unknown_bin_without_bank_keeps_null_bank() -> None:
    [acct] = accounts("对方账户1234567890123456转账")
    assert acct["kind"] == "account"
    assert acct["bank_code"] is None
    assert acct["bank_name"] is None
    assert acct["warnings"] == []


def test_bank_named_in_brackets_after_the_number() -> None:
    [acct] = accounts("账号31001234567890123（建行）")
    assert acct["bank_code"] == "CCB"


def test_bank_too_far_away_or_across_another_number_is_not_used() -> None:
    [acct] = accounts("他在农业银行工作了很多年，后来听说对方账户1234567890123456")
    assert acct["bank_code"] is None
    found = accounts("农行账户1234567890123456和账户9876543210987654")
    assert [(a["number"], a["bank_code"]) for a in found] == [
        ("1234567890123456", "ABC"), ("9876543210987654", None),
    ]


def test_bin_bank_wins_over_mentioned_bank_with_a_warning() -> None:
    [card] = accounts(f"工商银行卡{ABC_CARD}")
    assert card["bank_code"] == "ABC"
    assert card["warnings"] == ["bank_mismatch"]


def test_payment_platform_does_not_become_the_bank() -> None:
    [acct] = accounts("支付宝账户1234567890123456")
    assert acct["bank_code"] is None


def test_same_number_twice_is_one_account() -> None:
    found = accounts(f"先向{ABC_CARD}转账，又向{ABC_CARD}转账")
    assert len(found) == 1
    assert found[0]["span"][0] == 2


def test_two_numbers_separated_by_a_space_are_two_things() -> None:
    result = extract(f"13812345678 {ABC_CARD}", RECEIVED).to_dict()
    assert [p["e164"] for p in result["phones"]] == ["+8613812345678"]
    assert [a["number"] for a in result["accounts"]] == [ABC_CARD]


def test_card_followed_by_an_amount_in_digits() -> None:
    result = extract(f"卡号{ABC_CARD} 5000元", RECEIVED).to_dict()
    assert [a["number"] for a in result["accounts"]] == [ABC_CARD]
    assert [a["value"] for a in result["amounts"]] == ["5000"]


@pytest.mark.parametrize(
    "text",
    [
        "身份证号310101199003071234",  # labelled resident ID (checksum wrong, the label decides)
        "冯某（11010519491231002X）",  # resident ID with X check character
        "当事人110101199001011237报警",  # valid resident ID (check digit and birth date), no label
        "订单号1234567890123456",
        "快递单号 773012345678901",
        "QQ号1234567890",
        "流水号20260426103000123456",
        "交易金额3.1415926535元",
        "编号：2026-0426-1030-0001",
    ],
)
def test_not_accounts(text: str) -> None:
    assert accounts(text) == []


def test_invalid_resident_id_without_label_is_still_reported() -> None:
    # 18 digits failing the ID checksum: a mule's account must not be lost to an ID heuristic.
    assert [a["number"] for a in accounts("对方110105194912310021账户")] == ["110105194912310021"]


def test_order_number_keyword_does_not_hide_a_card_named_after_it() -> None:
    found = accounts(f"订单号和银行卡号{ABC_CARD}")
    assert [a["number"] for a in found] == [ABC_CARD]


@pytest.mark.parametrize("text", ["日期2016-04-25", "历时5-6小时", "持续15-20分钟", "共4738起"])
def test_short_digit_groups_are_not_accounts(text: str) -> None:
    assert accounts(text) == []


def test_uneven_grouping_is_split() -> None:
    # 19 digits then 4: not a grouped 23-digit number but a card and a separate short number.
    assert [a["number"] for a in accounts(f"{ABC_CARD} 1234")] == [ABC_CARD]
