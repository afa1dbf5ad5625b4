"""The two cases of the seed story (../shared/seed, 解放日报 2016-04-28) must come out right."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from fanzha.cases.extract import Extraction, extract

SH = ZoneInfo("Asia/Shanghai")

FENG = (
    "4月25日上午9时,市民冯某接到一通来自“宝山公安”的电话,称其涉案要将存款转移至“安全账户”。"
    "一直到10时,这个电话都没有挂断,步步“指导”他到银行办理转账。当他把自己存有7万元的银行卡卡号、密码告知对方后,"
    "发现手机屏幕异常:整个屏幕黑底白字显示着:“[上海市公安局]您接到假冒公安局、检察院、法院或银行客服等诈骗电话,"
    "切勿轻信,有疑问请拨打110咨询”的字样。对于此前持续通话一个多小时的电话,冯某产生了疑问,随即报警。"
)
FENG_RECEIVED = datetime(2016, 4, 25, 10, 30, tzinfo=SH)

GERMAN_COMPANY = (
    "今年3月31日8时许,中心接到一家公司报警,称其德国总公司财务于凌晨5时许收到一封电子邮件,"
    "被骗向指定的农业银行上海分行一离岸账户转账299万欧元。中心立即与农行上海市分行专线对接、紧急处置,"
    "成功将涉案账户止付,并协调农行将涉案款项原路返还。令人紧张的是,当天上午9时许银行一开门,就有人要上门提款。"
    "案发当晚,浦东公安分局将开设该涉案账户的3名涉案人员抓获归案。"
)
GERMAN_RECEIVED = datetime(2016, 3, 31, 8, 20, tzinfo=SH)


def _spans_slice_to_text(ex: Extraction, text: str) -> None:
    data = ex.to_dict()
    for key in ("amounts", "accounts", "phones", "banks", "times", "urls", "warnings"):
        for item in data[key]:
            start, end = item["span"]
            assert text[start:end] == item["text"], (key, item)


def test_feng_case() -> None:
    ex = extract(FENG, FENG_RECEIVED)
    data = ex.to_dict()
    assert [(a["value"], a["currency"], a["text"]) for a in data["amounts"]] == [("70000", "CNY", "7万元")]
    assert data["times"][0] == {
        "value": "2016-04-25T09:00:00+08:00", "precision": "hour", "approximate": False,
        "text": "4月25日上午9时", "span": [0, 9],
    }
    # "一直到10时" is the same day; "一个多小时" is a duration, not a time.
    assert [t["value"] for t in data["times"]] == ["2016-04-25T09:00:00+08:00", "2016-04-25T10:00:00+08:00"]
    assert [(p["kind"], p["number"]) for p in data["phones"]] == [("short", "110")]
    assert data["accounts"] == []
    assert data["banks"] == []  # "银行" alone names no bank
    assert data["warnings"] == []
    assert data["fraud_type"]["code"] == "impersonate_authority"
    assert data["fraud_type"]["name"] == "冒充公检法及政府机关"
    _spans_slice_to_text(ex, FENG)


def test_german_company_case() -> None:
    ex = extract(GERMAN_COMPANY, GERMAN_RECEIVED)
    data = ex.to_dict()
    assert [(a["value"], a["currency"], a["text"]) for a in data["amounts"]] == [
        ("2990000", "EUR", "299万欧元"),
    ]
    first_bank = data["banks"][0]
    assert (first_bank["code"], first_bank["name"], first_bank["branch"], first_bank["kind"]) == (
        "ABC", "中国农业银行", "上海分行", "bank",
    )
    assert first_bank["text"] == "农业银行上海分行"
    assert [(b["code"], b["branch"]) for b in data["banks"]] == [("ABC", "上海分行"), ("ABC", "上海市分行")]
    assert [(t["value"], t["approximate"], t["text"]) for t in data["times"]] == [
        ("2016-03-31T08:00:00+08:00", True, "今年3月31日8时许"),
        ("2016-03-31T05:00:00+08:00", True, "凌晨5时许"),
        ("2016-03-31T09:00:00+08:00", True, "当天上午9时许"),
    ]
    # The bank opening at 9:00 lies after the 8:20 report: flagged, not dropped.
    assert [(w["code"], w["text"]) for w in data["warnings"]] == [("time_in_future", "当天上午9时许")]
    assert data["phones"] == [] and data["accounts"] == []  # "3名涉案人员" is a count
    _spans_slice_to_text(ex, GERMAN_COMPANY)


def test_first_month_figures() -> None:
    text = (
        "3月21日启动试运行至4月20日,中心共接报电信网络诈骗案件4738起,"
        "成功冻结涉案资金人民币404万元、欧元464.6万元,劝阻被害人1535人。"
    )
    data = extract(text, datetime(2016, 4, 28, 5, 35, tzinfo=SH)).to_dict()
    assert [(a["value"], a["currency"]) for a in data["amounts"]] == [("4040000", "CNY"), ("4646000", "EUR")]
    assert [t["value"] for t in data["times"]] == ["2016-03-21T00:00:00+08:00", "2016-04-20T00:00:00+08:00"]
    assert data["phones"] == [] and data["accounts"] == []


def test_to_dict_is_json_ready() -> None:
    data = extract(GERMAN_COMPANY, GERMAN_RECEIVED).to_dict()
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert set(data) == {"amounts", "accounts", "phones", "banks", "times", "urls", "fraud_type", "warnings"}


def test_default_received_at_is_now_in_shanghai() -> None:
    data = extract("今天").to_dict()
    [today] = data["times"]
    assert today["value"] == datetime.now(SH).strftime("%Y-%m-%dT00:00:00+08:00")
