"""Bank and payment-platform names with branches; dates and times resolved against the receipt time;
URLs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fanzha.cases.extract import extract

SH = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime(2026, 4, 26, 10, 30, tzinfo=SH)


def result(text: str, received: datetime = RECEIVED) -> dict[str, Any]:
    return extract(text, received).to_dict()


def banks(text: str) -> list[tuple[str, str | None, str]]:
    return [(b["code"], b["branch"], b["text"]) for b in result(text)["banks"]]


def times(text: str, received: datetime = RECEIVED) -> list[tuple[str, str, bool, str]]:
    return [(t["value"], t["precision"], t["approximate"], t["text"]) for t in result(text, received)["times"]]


# --- banks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("mention", "code"),
    [
        ("工行", "ICBC"), ("工商银行", "ICBC"), ("中国工商银行", "ICBC"),
        ("农行", "ABC"), ("农业银行", "ABC"), ("中国农业银行", "ABC"),
        ("中行", "BOC"), ("中国银行", "BOC"),
        ("建行", "CCB"), ("建设银行", "CCB"), ("中国建设银行", "CCB"),
        ("交行", "COMM"), ("交通银行", "COMM"),
        ("邮储", "PSBC"), ("邮政储蓄银行", "PSBC"), ("中国邮政储蓄银行", "PSBC"),
        ("招行", "CMB"), ("招商银行", "CMB"),
        ("浦发", "SPDB"), ("浦发银行", "SPDB"), ("上海浦东发展银行", "SPDB"),
        ("中信银行", "CITIC"), ("兴业银行", "CIB"), ("民生银行", "CMBC"), ("光大银行", "CEB"),
        ("华夏银行", "HXBANK"), ("广发银行", "GDB"), ("平安银行", "SPABANK"), ("上海银行", "SHBANK"),
        ("北京银行", "BJBANK"), ("宁波银行", "NBBANK"), ("上海农村商业银行", "SHRCB"),
        ("汇丰银行", "HSBC"),
    ],
)
def test_bank_names_and_short_forms(mention: str, code: str) -> None:
    text = f"他去{mention}办理转账"
    [bank] = result(text)["banks"]
    assert (bank["code"], bank["kind"], bank["text"], bank["branch"]) == (code, "bank", mention, None)
    assert text[bank["span"][0]:bank["span"][1]] == mention


def test_canonical_name_comes_from_the_bank_table() -> None:
    [bank] = result("农行转账")["banks"]
    assert bank["name"] == "中国农业银行"


def test_longest_name_wins() -> None:
    assert banks("上海浦东发展银行") == [("SPDB", None, "上海浦东发展银行")]
    assert banks("上海农村商业银行") == [("SHRCB", None, "上海农村商业银行")]


@pytest.mark.parametrize(
    ("text", "code", "branch"),
    [
        ("指定的农业银行上海分行一离岸账户", "ABC", "上海分行"),
        ("与农行上海市分行专线对接", "ABC", "上海市分行"),
        ("工商银行浦东支行", "ICBC", "浦东支行"),
        ("招商银行深圳分行福田支行账户", "CMB", "深圳分行福田支行"),
        ("中信银行北京分行营业部", "CITIC", "北京分行营业部"),
    ],
)
def test_branch(text: str, code: str, branch: str) -> None:
    [bank] = result(text)["banks"]
    assert (bank["code"], bank["branch"]) == (code, branch)
    assert bank["text"].endswith(branch)


def test_branch_does_not_run_across_words() -> None:
    assert banks("从工商银行转到建设银行分行") == [("ICBC", None, "工商银行"), ("CCB", None, "建设银行")]


@pytest.mark.parametrize(
    "text", ["中国银行业协会发布", "银行间市场", "其中行人三名", "提交行程单", "施工行为", "积极参加中行动"],
)
def test_bank_lookalikes(text: str) -> None:
    assert [b for b in result(text)["banks"] if b["kind"] == "bank"] == []


@pytest.mark.parametrize(
    ("text", "code", "mention"),
    [
        ("通过支付宝转账", "ALIPAY", "支付宝"),
        ("财付通账户", "TENPAY", "财付通"),
        ("用微信转账5000元", "WECHATPAY", "微信"),
        ("开通微信支付", "WECHATPAY", "微信支付"),
        ("发了微信红包", "WECHATPAY", "微信"),
    ],
)
def test_payment_platforms(text: str, code: str, mention: str) -> None:
    [platform] = result(text)["banks"]
    assert (platform["code"], platform["kind"], platform["text"], platform["branch"]) == (
        code, "payment_platform", mention, None,
    )


def test_wechat_as_a_chat_app_is_not_a_payment_platform() -> None:
    assert result("对方加了他的微信好友")["banks"] == []


def test_bank_mentions_deduplicated_by_bank_and_branch() -> None:
    text = "农业银行上海分行……农行上海市分行……协调农行返还……农业银行上海分行"
    assert banks(text) == [("ABC", "上海分行", "农业银行上海分行"), ("ABC", "上海市分行", "农行上海市分行")]


# --- times ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "value", "precision", "approximate", "mention"),
    [
        ("4月25日上午9时接到电话", "2026-04-25T09:00:00+08:00", "hour", False, "4月25日上午9时"),
        ("凌晨5时许收到邮件", "2026-04-26T05:00:00+08:00", "hour", True, "凌晨5时许"),
        ("昨天下午3时许接到电话", "2026-04-25T15:00:00+08:00", "hour", True, "昨天下午3时许"),
        ("前天接到电话", "2026-04-24T00:00:00+08:00", "day", False, "前天"),
        ("今天上午10点半发现被骗", "2026-04-26T10:30:00+08:00", "minute", False, "今天上午10点半"),
        ("2026年3月31日8时许", "2026-03-31T08:00:00+08:00", "hour", True, "2026年3月31日8时许"),
        ("中午12点转账", "2026-04-25T12:00:00+08:00", "hour", False, "中午12点"),  # noon not yet come
        ("3月21日试运行", "2026-03-21T00:00:00+08:00", "day", False, "3月21日"),
        ("今年3月31日8时许", "2026-03-31T08:00:00+08:00", "hour", True, "今年3月31日8时许"),
        ("去年12月1日", "2025-12-01T00:00:00+08:00", "day", False, "去年12月1日"),
        ("三月二十一日上午十点", "2026-03-21T10:00:00+08:00", "hour", False, "三月二十一日上午十点"),
        ("约9点", "2026-04-26T09:00:00+08:00", "hour", True, "约9点"),
        ("9点左右", "2026-04-26T09:00:00+08:00", "hour", True, "9点左右"),
        ("9点多", "2026-04-26T09:00:00+08:00", "hour", True, "9点多"),
        ("昨晚11点", "2026-04-25T23:00:00+08:00", "hour", False, "昨晚11点"),
        ("今晨6时", "2026-04-26T06:00:00+08:00", "hour", False, "今晨6时"),
        ("2026-03-31 21:05", "2026-03-31T21:05:00+08:00", "minute", False, "2026-03-31 21:05"),
        ("25日上午9时", "2026-04-25T09:00:00+08:00", "hour", False, "25日上午9时"),
        ("十点钟", "2026-04-26T10:00:00+08:00", "hour", False, "十点钟"),
        ("上午9点一刻", "2026-04-26T09:15:00+08:00", "minute", False, "上午9点一刻"),
    ],
)
def test_time_forms(text: str, value: str, precision: str, approximate: bool, mention: str) -> None:
    assert times(text) == [(value, precision, approximate, mention)]


def test_afternoon_minutes_and_clock() -> None:
    received = datetime(2026, 4, 26, 22, 0, tzinfo=SH)
    assert times("下午3点20分转账", received) == [
        ("2026-04-26T15:20:00+08:00", "minute", False, "下午3点20分"),
    ]
    assert times("21:05接到电话", received) == [("2026-04-26T21:05:00+08:00", "minute", False, "21:05")]
    assert times("晚上8点", received) == [("2026-04-26T20:00:00+08:00", "hour", False, "晚上8点")]


def test_bare_clock_in_the_future_is_taken_as_yesterday() -> None:
    # Received at 10:30 with no date anywhere: "晚上8点" is last night, not tonight.
    assert times("晚上8点接到电话") == [("2026-04-25T20:00:00+08:00", "hour", False, "晚上8点")]
    assert times("21:05接到电话") == [("2026-04-25T21:05:00+08:00", "minute", False, "21:05")]


def test_month_day_in_the_future_is_last_year() -> None:
    received = datetime(2026, 1, 5, 9, 0, tzinfo=SH)
    assert times("12月30日晚上8点", received) == [
        ("2025-12-30T20:00:00+08:00", "hour", False, "12月30日晚上8点"),
    ]
    # Tomorrow is within a day of receipt and stays in the receipt year.
    assert times("1月6日", received) == [("2026-01-06T00:00:00+08:00", "day", False, "1月6日")]


def test_clock_takes_the_date_mentioned_before_it() -> None:
    received = datetime(2026, 4, 28, 10, 0, tzinfo=SH)
    text = "4月25日上午9时接到电话，一直到10时都没有挂断，当天下午3点又打来，次日上午再联系"
    assert times(text, received) == [
        ("2026-04-25T09:00:00+08:00", "hour", False, "4月25日上午9时"),
        ("2026-04-25T10:00:00+08:00", "hour", False, "10时"),
        ("2026-04-25T15:00:00+08:00", "hour", False, "当天下午3点"),
        ("2026-04-26T00:00:00+08:00", "day", False, "次日"),
    ]


def test_afternoon_carries_over_to_a_bare_later_hour() -> None:
    received = datetime(2026, 11, 19, 16, 40, tzinfo=SH)
    text = "11月19日上午10时许接到电话，当日下午1时至3时先后转账，下午4时许报警"
    assert [t["value"] for t in result(text, received)["times"]] == [
        "2026-11-19T10:00:00+08:00", "2026-11-19T13:00:00+08:00", "2026-11-19T15:00:00+08:00",
        "2026-11-19T16:00:00+08:00",
    ]
    # ...but not across a morning time, and not backwards.
    assert [t["value"] for t in result("3月2日上午9时接到电话，一直到11时", received)["times"]] == [
        "2026-03-02T09:00:00+08:00", "2026-03-02T11:00:00+08:00",
    ]
    assert [t["value"] for t in result("3月2日晚上9时接到电话，次日1时", received)["times"]] == [
        "2026-03-02T21:00:00+08:00", "2026-03-03T01:00:00+08:00",
    ]


def test_future_time_is_warned() -> None:
    found = result("对方要求明天上午10点前转账")
    assert [t["value"] for t in found["times"]] == ["2026-04-27T10:00:00+08:00"]
    assert [w["code"] for w in found["warnings"]] == ["time_in_future"]


def test_received_at_in_another_zone_is_converted_to_shanghai() -> None:
    # 2026-04-25 23:30 UTC is 2026-04-26 07:30 in Shanghai, so 昨天 is the 25th.
    received = datetime(2026, 4, 25, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert times("昨天", received) == [("2026-04-25T00:00:00+08:00", "day", False, "昨天")]


@pytest.mark.parametrize(
    "text",
    [
        "持续通话一个多小时", "2小时后", "15-20分钟", "半小时", "3日内到账", "快一点", "三点建议",
        "第一时间", "同时", "5-6小时",
    ],
)
def test_not_times(text: str) -> None:
    assert times(text) == []


def test_time_is_not_money() -> None:
    found = result("21:05转账2000元")
    assert [t["text"] for t in found["times"]] == ["21:05"]
    assert [a["value"] for a in found["amounts"]] == ["2000"]


# --- URLs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "value", "mention"),
    [
        ("链接为http://tb-refund.cn/app.apk。", "http://tb-refund.cn/app.apk", "http://tb-refund.cn/app.apk"),
        ("点击https://x.cn/a?b=1)下载", "https://x.cn/a?b=1", "https://x.cn/a?b=1"),
        ("打开www.abc-pay.com下载", "http://www.abc-pay.com", "www.abc-pay.com"),
        ("访问abc.cn/abc，", "http://abc.cn/abc", "abc.cn/abc"),
        ("官网 http://1.2.3.4:8080/login ，", "http://1.2.3.4:8080/login", "http://1.2.3.4:8080/login"),
    ],
)
def test_urls(text: str, value: str, mention: str) -> None:
    [url] = result(text)["urls"]
    assert (url["value"], url["text"]) == (value, mention)
    assert text[url["span"][0]:url["span"][1]] == mention


@pytest.mark.parametrize("text", ["邮箱test@163.com", "收益3.5万", "e.g. 例如", "版本1.2.3"])
def test_not_urls(text: str) -> None:
    assert result(text)["urls"] == []


def test_digits_in_a_url_are_not_phones_or_accounts() -> None:
    found = result("点击http://a.cn/13812345678/6228480402564890018")
    assert found["phones"] == [] and found["accounts"] == []
    assert len(found["urls"]) == 1
