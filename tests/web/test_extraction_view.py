"""How extraction results are shown (highlight pieces) and offered (suggestions), on made-up inputs."""

from __future__ import annotations

from typing import Any

from fanzha.web.highlight import Segment, segments
from fanzha.web.suggestions import suggest


def _mention(text: str, part: str, **fields: Any) -> dict[str, Any]:
    start = text.index(part)
    return {"text": part, "span": [start, start + len(part)], **fields}


def test_highlights_cover_the_text_exactly_once_in_order() -> None:
    text = "向农业银行账户6228480402564890018转账7万元。"
    extraction = {
        "banks": [_mention(text, "农业银行", code="ABC", name="中国农业银行", kind="bank")],
        "accounts": [_mention(text, "6228480402564890018", number="6228480402564890018", bank_code="ABC")],
        "amounts": [_mention(text, "7万元", value="70000", currency="CNY")],
    }
    pieces = segments(text, extraction)
    assert "".join(p.text for p in pieces) == text
    assert [(p.text, p.kind) for p in pieces if p.kind] == [
        ("农业银行", "bank"), ("6228480402564890018", "account"), ("7万元", "amount")]
    assert pieces[-1] == Segment("。")


def test_overlapping_mentions_show_the_more_specific_one() -> None:
    text = "转到6228480402564890018"
    extraction = {
        "accounts": [_mention(text, "6228480402564890018", number="6228480402564890018")],
        "amounts": [_mention(text, "6228", value="6228", currency="CNY")],  # a number inside the account
    }
    assert [(p.text, p.kind) for p in segments(text, extraction) if p.kind] == [("6228480402564890018", "account")]


def test_spans_outside_the_text_are_ignored_not_misplaced() -> None:
    text = "短文本"
    extraction = {"amounts": [{"text": "7万元", "span": [10, 13], "value": "70000", "currency": "CNY"}]}
    assert segments(text, extraction) == [Segment("短文本")]


def test_account_and_amount_in_one_sentence_make_one_transfer() -> None:
    text = "9时许，冯某通过手机银行向农业银行账户6228480402564890018转账7万元。随后又被要求再转3万元。"
    extraction = {
        "accounts": [_mention(text, "6228480402564890018", number="6228480402564890018", bank_code="ABC")],
        "amounts": [_mention(text, "7万元", value="70000", currency="CNY"),
                    _mention(text, "3万元", value="30000", currency="CNY")],
        "times": [_mention(text, "9时许", value="2026-04-25T09:00:00+08:00", precision="hour")],
    }
    found = suggest(text, extraction)
    transfers = [s for s in found if s.kind == "transfer"]
    assert len(transfers) == 1
    assert transfers[0].data == {"to_account": "6228480402564890018", "to_bank": "ABC", "amount": "70000",
                                 "currency": "CNY", "occurred_at": "2026-04-25T09:00", "method": "mobile_banking"}
    # The amount in another sentence is offered on its own, not glued to the account.
    assert [s.data for s in found if s.kind == "amount"] == [{"amount": "30000", "currency": "CNY"}]


def test_bank_named_in_the_sentence_fills_in_for_an_unknown_card() -> None:
    text = "转入建设银行账户1234567890123转账5000元"
    extraction = {
        "accounts": [_mention(text, "1234567890123", number="1234567890123", bank_code=None)],
        "amounts": [_mention(text, "5000元", value="5000", currency="CNY")],
        "banks": [_mention(text, "建设银行", code="CCB", name="中国建设银行", kind="bank")],
    }
    (transfer,) = [s for s in suggest(text, extraction) if s.kind == "transfer"]
    assert transfer.data["to_bank"] == "CCB"
    assert transfer.data["method"] == "bank_transfer"


def test_lone_accounts_phones_urls_and_the_fraud_type_are_offered() -> None:
    text = "对方电话+85261234567，让其登录www.fake-safe.cn，账户6228480402564890018。"
    extraction = {
        "accounts": [_mention(text, "6228480402564890018", number="6228480402564890018", bank_code="ABC")],
        "phones": [_mention(text, "+85261234567", e164="+85261234567", number="61234567")],
        "urls": [_mention(text, "www.fake-safe.cn", value="http://www.fake-safe.cn")],
        "fraud_type": {"code": "impersonate_authority", "name": "冒充公检法及政府机关", "confidence": 0.91,
                       "evidence": [_mention(text, "对方")]},
    }
    found = {s.kind: s for s in suggest(text, extraction)}
    assert found["account"].data == {"number": "6228480402564890018", "bank": "ABC"}
    assert found["phone"].data == {"phone": "+85261234567"}
    assert found["url"].data == {"url": "http://www.fake-safe.cn"}
    assert found["fraud_type"].data == {"fraud_type": "impersonate_authority"}
    assert found["fraud_type"].note == "91%"


def test_other_as_fraud_type_is_not_worth_suggesting() -> None:
    extraction = {"fraud_type": {"code": "other", "name": "其他", "confidence": 0.3, "evidence": []}}
    assert suggest("报称被骗", extraction) == []
