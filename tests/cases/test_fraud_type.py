"""The fraud-type classifier on its own: evidence spans, negation, fallback, confidence, known hard cases."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanzha.cases.extract.fraud_type import FraudTypeGuess, _expand, classify_fraud_type
from fanzha.cases.fraud_types import FraudType

CORPUS = json.loads((Path(__file__).parent / "narratives" / "corpus.json").read_text(encoding="utf-8"))

SEED_AUTHORITY = (
    "4月25日上午9时,市民冯某接到一通来自“宝山公安”的电话,称其涉案要将存款转移至“安全账户”。一直到10时,"
    "这个电话都没有挂断,步步“指导”他到银行办理转账。"
)
SEED_HEAD_OFFICE = (
    "今年3月31日8时许,中心接到一家公司报警,称其德国总公司财务于凌晨5时许收到一封电子邮件,"
    "被骗向指定的农业银行上海分行一离岸账户转账299万欧元。"
)


def assert_spans(text: str, guess: FraudTypeGuess) -> None:
    for cue, start, end in guess.evidence:
        assert 0 <= start < end <= len(text)
        assert text[start:end] == cue
    assert [start for _, start, _ in guess.evidence] == sorted(start for _, start, _ in guess.evidence)


@pytest.mark.parametrize("entry", CORPUS, ids=[e["id"] for e in CORPUS])
def test_evidence_spans_slice_to_their_text(entry: dict[str, object]) -> None:
    text = str(entry["text"])
    guess = classify_fraud_type(text)
    assert_spans(text, guess)
    if guess.type is not FraudType.OTHER:
        assert guess.evidence, "a type other than 其他 is always backed by a cue"


@given(st.text(alphabet=st.sampled_from("刷单公安局不是没有警官客服退款游戏，。 0123456789元"), max_size=80))
def test_any_text_gives_valid_spans_and_confidence(text: str) -> None:
    guess = classify_fraud_type(text)
    assert_spans(text, guess)
    assert 0.0 <= guess.confidence <= 1.0


def test_seed_narratives() -> None:
    assert classify_fraud_type(SEED_AUTHORITY).type is FraudType.IMPERSONATE_AUTHORITY
    head_office = classify_fraud_type(SEED_HEAD_OFFICE)
    assert head_office.type is FraudType.IMPERSONATE_ACQUAINTANCE
    assert {"总公司", "电子邮件"} <= {cue for cue, _, _ in head_office.evidence}


@pytest.mark.parametrize("text", ["", "   ", "今天天气很好，报警人称其手机丢失。", "报警人称被骗，请求帮助。"])
def test_no_cue_falls_back_to_other(text: str) -> None:
    guess = classify_fraud_type(text)
    assert guess.type is FraudType.OTHER
    assert guess.evidence == []
    assert guess.confidence < 0.5


def test_other_has_cues_of_its_own() -> None:
    text = "报警人收到短信称其ETC认证失效，点击链接后银行卡被转走3,000元。"
    guess = classify_fraud_type(text)
    assert guess.type is FraudType.OTHER
    assert ("ETC", text.index("ETC"), text.index("ETC") + 3) in guess.evidence


def test_negated_cue_counts_little_and_is_not_evidence() -> None:
    plain = classify_fraud_type("对方让其刷单赚钱。")
    negated = classify_fraud_type("对方说这不是刷单，只是聊天。")
    assert plain.type is FraudType.TASK_REBATE
    assert negated.type is FraudType.OTHER
    assert negated.evidence == []


def test_negation_does_not_hide_the_real_type() -> None:
    text = "报警人称对方并不是公安，而是自称淘宝客服，称其购买的商品有质量问题可以退款。"
    guess = classify_fraud_type(text)
    assert guess.type is FraudType.FAKE_CUSTOMER_SERVICE
    assert all("公安" not in cue for cue, _, _ in guess.evidence)


def test_negation_stops_at_a_clause_break() -> None:
    guess = classify_fraud_type("这不是第一次，对方自称公安局刑警，称其涉嫌洗钱，要求转入安全账户。")
    assert guess.type is FraudType.IMPERSONATE_AUTHORITY
    assert any(cue == "安全账户" for cue, _, _ in guess.evidence)


def test_confidence_grows_with_evidence() -> None:
    weak = classify_fraud_type("对方称有一份刷单的兼职。")
    strong = classify_fraud_type(
        "对方称有一份刷单的兼职，先做点赞任务返佣金，后要求垫付做连单任务，又以卡单为由要求继续转账，无法提现。"
    )
    assert weak.type is strong.type is FraudType.TASK_REBATE
    assert strong.confidence > weak.confidence
    assert strong.confidence > 0.9


def test_confidence_falls_when_two_types_compete() -> None:
    clear = classify_fraud_type("对方自称公安局警官，称其涉嫌洗钱，要求将存款转入安全账户。")
    mixed = classify_fraud_type("对方自称公安局警官，称其涉嫌洗钱，又说可以帮其办理贷款，需先交解冻金和保证金。")
    assert clear.type is FraudType.IMPERSONATE_AUTHORITY
    assert mixed.confidence < clear.confidence


def test_repeating_a_cue_has_a_ceiling() -> None:
    # Three mentions count; a narrative that repeats a word ten times is not ten times as sure.
    assert classify_fraud_type("刷单。" * 3).confidence == classify_fraud_type("刷单。" * 10).confidence


def test_pig_butchering_is_judged_by_where_the_money_went() -> None:
    platform = classify_fraud_type(
        "其在探探上认识一名男子，两人以男女朋友相称。对方带她在数字货币平台投资USDT，充值后无法提现。"
    )
    partner = classify_fraud_type(
        "其在探探上认识一名男子，两人以男女朋友相称。对方称给她寄了礼物被海关扣下，让她先转钱交关税。"
    )
    assert platform.type is FraudType.FAKE_INVESTMENT
    assert partner.type is FraudType.ROMANCE


def test_platform_customer_service_beats_credit_threat() -> None:
    text = "对方自称京东客服，称其开通的学生代理不取消会每月扣费并影响征信。"
    assert classify_fraud_type(text).type is FraudType.FAKE_CUSTOMER_SERVICE
    text = "对方自称银保监会工作人员，称其校园贷账户需要注销，否则影响征信。"
    assert classify_fraud_type(text).type is FraudType.FAKE_CREDIT_REPAIR


def test_uniformed_buyer_is_not_authority() -> None:
    text = "一名自称某区公安分局装备科民警的男子来电，称要采购一批反光背心，让我从指定厂家先垫付货款。"
    assert classify_fraud_type(text).type is FraudType.IMPERSONATE_MILITARY_BUYER


def test_gambling_site_is_black_market() -> None:
    text = "其在博彩网站下注赢了10万元，提现时网站以注单异常、流水不足为由要求再充值。"
    assert classify_fraud_type(text).type is FraudType.BLACK_MARKET


def test_boss_named_by_surname() -> None:
    text = "其在工作群收到“王总”的私信，让她先给客户转8万元保证金，事后报销。"
    guess = classify_fraud_type(text)
    assert guess.type is FraudType.IMPERSONATE_ACQUAINTANCE
    assert any(cue == "王总" for cue, _, _ in guess.evidence)


def test_result_is_immutable() -> None:
    guess = classify_fraud_type("对方让其刷单。")
    with pytest.raises(dataclasses.FrozenInstanceError):
        guess.confidence = 1.0  # type: ignore[misc]


def test_cue_expansion() -> None:
    assert _expand("(?:淘宝|天猫)客服") == ["淘宝客服", "天猫客服"]
    assert _expand("(?:电子)?邮件|邮箱") == ["电子邮件", "邮件", "邮箱"]
    # Only a leading group is expanded: what matters is that every alternative starts with a literal.
    assert _expand("(?:三|两)倍(?:赔偿|补偿)") == ["三倍(?:赔偿|补偿)", "两倍(?:赔偿|补偿)"]


def test_fast_enough() -> None:
    # Budget is well under 1 ms per narrative; the bound here is loose so that a busy CI host passes.
    texts = [str(e["text"]) for e in CORPUS]
    start = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        for text in texts:
            classify_fraud_type(text)
    per_text = (time.perf_counter() - start) / (rounds * len(texts))
    assert per_text < 0.005, f"{per_text * 1e3:.2f} ms per narrative"
