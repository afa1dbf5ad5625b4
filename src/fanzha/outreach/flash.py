"""The flash SMS texts (闪信), one per fraud type (DOMAIN.md §6).

A flash SMS is shown full screen while the victim is still on the line with the scammer. Every text is Chinese,
fits one UCS2 segment (at most 70 characters, all in the Basic Multilingual Plane), and carries no link and no
number but 110 and 96110: a warning that can never ask anyone to tap, visit or call anything else cannot be
imitated by a scammer's own "warning" with a link. ``check_text`` enforces this at import and in the tests.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from fanzha.cases.fraud_types import FraudType

MAX_CHARS: Final = 70  # one UCS2 segment: 140 octets
ALLOWED_NUMBERS: Final = frozenset({"110", "96110"})
SIGNATURE: Final = "【反诈中心】"
# Anything a link or an address could be written with: Latin letters and digits in any width, and the
# punctuation of URLs, e-mail addresses and phone numbers (full-width forms are folded by NFKC first).
_LATIN = re.compile(r"[A-Za-z]")
_LINK_PUNCTUATION = re.compile(r"[./:@#%&=?_~\\\-+]")
_DIGIT_RUNS = re.compile(r"[0-9]+")
# Chinese numerals could spell a number out (一三八…); the texts use none.
_CJK_NUMERALS = re.compile(r"[〇零一二三四五六七八九十百千万壹贰叁肆伍陆柒捌玖拾两]")

TEXTS: Final[dict[FraudType, str]] = {
    FraudType.TASK_REBATE: SIGNATURE + "刷单返利都是诈骗！"
                           "请立即挂断电话，不要再垫付任何钱款。有疑问请拨打96110或110。",
    FraudType.FAKE_CUSTOMER_SERVICE: SIGNATURE + "客服说要退款理赔是诈骗！"
                                     "请立即挂断电话，不要提供验证码或转账。有疑问请拨打96110。",
    FraudType.FAKE_INVESTMENT: SIGNATURE + "高收益投资理财是诈骗！"
                               "请立即挂断电话，不要再充值转账。有疑问请拨打96110或110。",
    FraudType.FAKE_LOAN: SIGNATURE + "先交钱才放贷款是诈骗！"
                         "请立即挂断电话，不要缴纳任何费用。有疑问请拨打96110或110。",
    FraudType.FAKE_CREDIT_REPAIR: SIGNATURE + "注销账户修复征信是诈骗！"
                                  "请立即挂断电话，不要转账贷款。有疑问请拨打96110或110。",
    FraudType.FAKE_SHOPPING: SIGNATURE + "私下交易低价商品是诈骗！"
                             "请立即挂断电话，不要先付款。有疑问请拨打96110或110。",
    FraudType.IMPERSONATE_AUTHORITY: SIGNATURE + "公检法不会电话办案，没有安全账户！"
                                     "请立即挂断电话，切勿转账。有疑问请拨打96110或110。",
    FraudType.IMPERSONATE_ACQUAINTANCE: SIGNATURE + "冒充领导熟人借钱是诈骗！"
                                        "请立即挂断，当面核实身份前切勿转账。有疑问请拨打96110。",
    FraudType.GAME_TRADE: SIGNATURE + "低价买卖游戏装备账号是诈骗！"
                          "请立即挂断电话，不要私下转账。有疑问请拨打96110或110。",
    FraudType.ROMANCE: SIGNATURE + "网恋对象带您投资赌博是诈骗！"
                       "请立即挂断电话，不要转账。有疑问请拨打96110或110。",
    FraudType.IMPERSONATE_MILITARY_BUYER: SIGNATURE + "冒充军警采购要求垫资是诈骗！"
                                          "请立即挂断电话，切勿转账。有疑问请拨打96110或110。",
    FraudType.BLACK_MARKET: SIGNATURE + "帮人收款转账是违法犯罪！"
                            "请立即挂断电话，不要出借银行卡。有疑问请拨打96110或110。",
    FraudType.OTHER: SIGNATURE + "与您通话的号码涉嫌诈骗！"
                     "请立即挂断电话，切勿转账汇款。有疑问请拨打96110或110。",
}


def text_for(fraud_type: str | None) -> str:
    """The text for a fraud type (its code or Chinese name); the general warning when unknown or missing."""
    if fraud_type:
        try:
            return TEXTS[FraudType.parse(fraud_type)]
        except ValueError:
            pass
    return TEXTS[FraudType.OTHER]


def check_text(text: str) -> list[str]:
    """What is wrong with a flash text (empty when it may be sent)."""
    problems: list[str] = []
    if not text:
        return ["empty"]
    if len(text) > MAX_CHARS:
        problems.append(f"{len(text)} characters, more than {MAX_CHARS} (one UCS2 segment)")
    if any(ord(c) > 0xFFFF for c in text):
        problems.append("a character outside the Basic Multilingual Plane (two UCS2 units)")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text):
        problems.append("a control or formatting character")
    folded = unicodedata.normalize("NFKC", text)
    if _LATIN.search(folded):
        problems.append("Latin letters (a link or a name to search for)")
    if _LINK_PUNCTUATION.search(folded):
        problems.append("punctuation of a link, address or phone number")
    numbers = set(_DIGIT_RUNS.findall(folded))
    if numbers - ALLOWED_NUMBERS:
        problems.append("numbers other than 110 and 96110: " + ", ".join(sorted(numbers - ALLOWED_NUMBERS)))
    if _CJK_NUMERALS.search(text):
        problems.append("Chinese numerals (a number spelled out)")
    if not any("\u4e00" <= c <= "\u9fff" for c in text):
        problems.append("no Chinese text")
    return problems


for _fraud_type, _text in TEXTS.items():
    _wrong = check_text(_text)
    if _wrong:  # pragma: no cover - a developer's mistake, caught on import
        raise ValueError(f"flash text for {_fraud_type.value} is not sendable: {'; '.join(_wrong)}")
