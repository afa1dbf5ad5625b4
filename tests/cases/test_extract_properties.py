"""Properties of the extractor over arbitrary and generated narratives."""

from __future__ import annotations

import json
import time
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.banking.bins import luhn_valid
from fanzha.cases.extract import extract

RECEIVED = datetime(2026, 4, 26, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))

# Narrative-like text: Chinese words the extractors care about, digits, separators and punctuation.
_PIECES = st.sampled_from([
    "元", "万", "亿", "块", "欧元", "人民币", "¥", "$", "USD", "农行", "工商银行", "上海分行", "支付宝", "微信转账",
    "昨天", "下午", "3点", "许", "月", "日", "时", "分", "半", "约", "卡号", "账户", "电话", "拨打", "身份证",
    "订单号", "一", "二", "十", "百", "千", "两", "壹", "拾", "www.", ".com", "http://", "/", "+", "-", " ",
    "，", "。", "（", "）", ":", ".", ",", "@", "被骗", "转账", "110", "96110",
])
_NARRATIVE = st.lists(
    st.one_of(_PIECES, st.integers(min_value=0, max_value=10**20).map(str), st.text(max_size=3)), max_size=40,
).map("".join)


@settings(max_examples=300)
@given(_NARRATIVE)
def test_spans_always_slice_to_the_item_text(text: str) -> None:
    data = extract(text, RECEIVED).to_dict()
    for key in ("amounts", "accounts", "phones", "banks", "times", "urls", "warnings"):
        for item in data[key]:
            start, end = item["span"]
            assert 0 <= start < end <= len(text)
            assert text[start:end] == item["text"]
    for cue in data["fraud_type"]["evidence"]:
        assert text[cue["span"][0]:cue["span"][1]] == cue["text"]
    json.dumps(data)  # JSON-ready whatever the input


@settings(max_examples=300)
@given(_NARRATIVE)
def test_entities_never_overlap_each_other(text: str) -> None:
    data = extract(text, RECEIVED).to_dict()
    keys = ("amounts", "accounts", "phones", "times", "urls")
    spans = sorted(item["span"] for key in keys for item in data[key])
    for (_, end), (start, _) in pairwise(spans):
        assert end <= start


@settings(max_examples=200)
@given(_NARRATIVE)
def test_amount_values_are_positive_normalised_decimals(text: str) -> None:
    for amount in extract(text, RECEIVED).to_dict()["amounts"]:
        value = amount["value"]
        assert "E" not in value and "e" not in value
        assert not (("." in value) and value.endswith("0"))
        assert float(value) > 0
        assert len(amount["currency"]) == 3 and amount["currency"].isupper()


@given(st.text(alphabet="0123456789", min_size=16, max_size=19).filter(lambda s: s[0] in "3456789"))
def test_account_luhn_flag_matches_luhn(number: str) -> None:
    result = extract(f"收款账户{number}转账", RECEIVED).to_dict()
    [account] = result["accounts"]
    assert account["number"] == number
    assert account["luhn_ok"] == luhn_valid(number)
    assert ("luhn_failed" in account["warnings"]) == (account["kind"] == "card" and not luhn_valid(number))


@given(
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=28),
    st.integers(min_value=0, max_value=23),
    st.integers(min_value=0, max_value=59),
)
def test_explicit_datetime_round_trips(month: int, day: int, hour: int, minute: int) -> None:
    text = f"2025年{month}月{day}日{hour}:{minute:02d}接到电话"
    [mention] = extract(text, RECEIVED).to_dict()["times"]
    assert mention["value"] == f"2025-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00+08:00"
    assert mention["precision"] == "minute"


def test_pathological_inputs_stay_linear() -> None:
    # Each of these once took seconds (cubic digit-group splitting, quadratic claim checks).
    for text in (" ".join(["1234"] * 2000), "3点" * 3000, "5元，" * 3000, "-".join(["12"] * 3000)):
        started = time.perf_counter()
        extract(text, RECEIVED)
        assert time.perf_counter() - started < 2.0
