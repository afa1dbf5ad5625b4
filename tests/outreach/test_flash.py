"""Every flash text can be sent as one flash SMS and cannot be imitated with a link: Chinese, at most 70
characters (one UCS2 segment), no link, no number but 110 and 96110."""

from __future__ import annotations

import re

import pytest

from fanzha.cases.fraud_types import FraudType
from fanzha.outreach import flash
from fanzha.outreach.smpp import ucs2


@pytest.mark.parametrize("fraud_type", list(FraudType))
def test_every_fraud_type_has_a_sendable_text(fraud_type: FraudType) -> None:
    text = flash.TEXTS[fraud_type]
    assert flash.check_text(text) == []
    assert 0 < len(text) <= 70
    assert len(ucs2(text)) <= 140 and len(ucs2(text)) == 2 * len(text)  # one UCS2 segment, no surrogates
    assert set(re.findall(r"[0-9]+", text)) <= {"110", "96110"}
    assert not re.search(r"[A-Za-z]|[０-９Ａ-Ｚａ-ｚ]|https?|www|\.|/|:", text)
    assert sum("\u4e00" <= c <= "\u9fff" for c in text) > len(text) / 2  # Chinese
    assert "96110" in text  # the anti-fraud line is named, and only it (and 110)


def test_text_for_accepts_codes_and_chinese_names_and_falls_back() -> None:
    assert flash.text_for("task_rebate") == flash.TEXTS[FraudType.TASK_REBATE]
    assert flash.text_for("冒充公检法及政府机关") == flash.TEXTS[FraudType.IMPERSONATE_AUTHORITY]
    assert flash.text_for(None) == flash.text_for("no such type") == flash.TEXTS[FraudType.OTHER]
    assert len(set(flash.TEXTS.values())) == len(FraudType)  # each type its own words


@pytest.mark.parametrize(("text", "problem"), [
    ("【反诈中心】请点击 http://x.cn 查询", "Latin"),
    ("【反诈中心】请访问反诈网站查询。详见ｗｗｗ", "Latin"),
    ("【反诈中心】有疑问请拨打021-96110", "punctuation"),
    ("【反诈中心】有疑问请拨打12381", "numbers other than"),
    ("【反诈中心】有疑问请拨打１２３４５", "numbers other than"),  # full-width digits fold to 12345
    ("【反诈中心】请拨打幺三八或一三八", "Chinese numerals"),
    ("【反诈中心】" + "请立即挂断电话" * 10, "characters, more than 70"),
    ("【反诈中心】😀请挂断", "Basic Multilingual Plane"),
    ("【反诈中心】请挂断\u200b电话", "control or formatting"),
    ("CALL 110", "no Chinese"),
    ("", "empty"),
])
def test_check_text_refuses_what_could_be_imitated(text: str, problem: str) -> None:
    assert any(problem in p for p in flash.check_text(text)), flash.check_text(text)
