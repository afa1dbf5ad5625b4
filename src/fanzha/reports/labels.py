"""Words of the period report and of CSV headers, in Chinese (the statement's language) and English.

The console has its own catalogues (web/i18n); the report is written outside any request, so it carries
its own few dozen words here.
"""

from __future__ import annotations

from decimal import Decimal

from fanzha.cases.fraud_types import FraudType
from fanzha.money import minor_units

LANGS = ("zh", "en")

CHANNELS = {
    "zh": {"110": "110报警", "12345": "12345热线", "station": "派出所内线", "web": "网上报警", "app": "反诈App"},
    "en": {"110": "110 police line", "12345": "12345 hotline", "station": "Police station line",
           "web": "Online report", "app": "Anti-fraud app"},
}
ACTIONS = {
    "zh": {"shutdown": "停机", "intercept": "拦截", "block": "封堵"},
    "en": {"shutdown": "Shut down", "intercept": "Intercepted", "block": "Blocked"},
}
CURRENCIES = {
    "zh": {"CNY": "人民币", "EUR": "欧元", "USD": "美元", "HKD": "港币", "MOP": "澳门元", "TWD": "新台币",
           "GBP": "英镑", "JPY": "日元", "KRW": "韩元", "SGD": "新加坡元", "AUD": "澳元"},
    "en": {},
}

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "运行情况统计",
        "center": "反电信网络诈骗中心",
        "period": "统计期间",
        "period_value": "{first}至{last}",
        "colon": "：",
        "gap": "　",
        "filters": "范围",
        "all": "全部",
        "generated": "生成时间",
        "headline": "{first}至{last}，中心共接报电信网络诈骗案件{cases}起",
        "headline.stopped": "紧急止付涉案资金{amounts}",
        "headline.frozen": "成功冻结涉案资金{amounts}",
        "headline.nothing_frozen": "冻结涉案资金为零",
        "headline.returned": "返还被害人资金{amounts}",
        "headline.accounts": "止付账户{stopped}个、冻结账户{frozen}个",
        "headline.numbers": "关停涉案号码{numbers}个",
        "headline.stop_time": "报案至首次止付用时中位数{median}，90%的案件在{p90}以内",
        "headline.no_stop": "期间内没有银行止付回执",
        "sep": "，",
        "end": "。",
        "and": "、",
        "section.summary": "主要指标",
        "section.channel": "接报渠道",
        "section.fraud_type": "诈骗类型",
        "section.money": "涉案资金（分币种，不跨币种合计）",
        "section.blocking": "止付、冻结与关停",
        "section.outreach": "闪信预警与劝阻",
        "section.stop_time": "报案至首次止付用时",
        "section.definitions": "附：指标定义",
        "col.item": "指标",
        "col.value": "数值",
        "col.channel": "渠道",
        "col.fraud_type": "诈骗类型",
        "col.cases": "案件数",
        "col.share": "占比",
        "col.currency": "币种",
        "col.reported_lost": "报称被骗金额",
        "col.stopped": "止付金额",
        "col.frozen": "冻结金额",
        "col.returned": "返还金额",
        "col.day": "日期",
        "col.median": "中位数",
        "col.p90": "90百分位",
        "col.stop_cases": "已止付案件数",
        "col.action": "处置方式",
        "col.numbers": "号码数",
        "col.measure": "项目",
        "col.accounts": "账户数",
        "col.count": "数量",
        "dissuaded": "劝阻被害人",
        "item.dissuaded": "劝阻被害人（人）",
        "headline.dissuaded": "劝阻被害人{people}人",
        "flash.warnings": "闪信预警",
        "flash.sent": "闪信发送",
        "flash.delivered": "闪信送达",
        "item.flash_sent": "发送闪信（条）",
        "item.flash_delivered": "闪信送达（条）",
        "headline.flash": "发送闪信{sent}条、送达{delivered}条",
        "item.cases": "接报案件（起）",
        "item.accounts_stopped": "止付账户（个）",
        "item.accounts_frozen": "冻结账户（个）",
        "item.numbers_shut": "关停号码（个）",
        "item.numbers.shutdown": "其中停机（个）",
        "item.numbers.intercept": "其中拦截（个）",
        "item.numbers.block": "其中封堵（个）",
        "item.stop_median": "报案至首次止付用时中位数",
        "item.stop_p90": "报案至首次止付用时90百分位",
        "item.stop_cases": "已止付案件（起）",
        "item.stopped": "止付金额（{currency}）",
        "item.frozen": "冻结金额（{currency}）",
        "item.returned": "返还资金（{currency}）",
        "item.reported_lost": "报称被骗金额（{currency}）",
        "total": "合计",
        "stopped": "止付",
        "frozen": "冻结",
        "none": "—",
        "minutes": "{m}分钟",
        "hours": "{h}小时{m}分",
        "seconds": "{s}秒",
        "unit.minutes": "分钟",
        "chart.channel": "图1 接报渠道",
        "chart.fraud_type": "图2 诈骗类型",
        "chart.trend": "图3 每日接报案件与首次止付用时（分钟）",
        "numerals": "一二三四五六七八九十",
        "chart.cases": "案件数",
        "sheet.summary": "统计表",
        "sheet.channel": "接报渠道",
        "sheet.fraud_type": "诈骗类型",
        "sheet.by_day": "每日",
        "sheet.money": "涉案资金",
        "sheet.blocking": "止付冻结关停",
        "sheet.stop_time": "止付用时",
        "sheet.outreach": "闪信与劝阻",
        "wan": "{amount}万元",
        "def.cases": "接报案件：统计期间内接报（受理时间）的案件，每案计一次；资金、账户、号码、用时各项均指这些案件。",
        "def.money": "资金：按币种分别合计，不跨币种合计；止付、冻结金额为银行回执确认的实际止付、冻结金额，"
                     "冻结金额含此后已返还的部分；返还金额为银行确认已执行的资金返还（原路返还）金额。",
        "def.accounts": "账户：被银行确认止付或冻结的不同账户数，同一账户计一次。",
        "def.numbers": "号码：运营商确认已停机、拦截或封堵的不同号码数。",
        "def.stop_time": "用时：自报案受理至银行首次确认止付的时间，取中位数和90百分位。",
        "def.flash": "闪信：统计期间内实时通话监测发出的闪信预警；发送指短信中心已受理，送达指收到送达回执；"
                     "闪信属于通话而非报案，不按渠道统计。",
        "def.dissuaded": "劝阻：统计期间内劝阻专员回访后记为“已劝阻”的不同电话号码数；"
                         "劝阻针对人而非报案，按渠道或类型筛选时不列。",
    },
    "en": {
        "title": "Figures for the period",
        "center": "Anti-Telecom-Fraud Center",
        "period": "Period",
        "period_value": "{first} to {last}",
        "colon": ": ",
        "gap": "   ",
        "filters": "Scope",
        "all": "all",
        "generated": "Generated",
        "headline": "From {first} to {last} the center received {cases} telecom and online fraud cases",
        "headline.stopped": "stopped {amounts}",
        "headline.frozen": "froze {amounts}",
        "headline.nothing_frozen": "froze nothing",
        "headline.returned": "returned {amounts} to victims",
        "headline.accounts": "stopped {stopped} accounts and froze {frozen}",
        "headline.numbers": "had {numbers} numbers shut",
        "headline.stop_time": "the median time from report to first stop was {median}, and 90% of cases took "
                              "{p90} or less",
        "headline.no_stop": "no bank confirmed a stop-payment for these cases",
        "sep": "; ",
        "end": ".",
        "and": ", ",
        "section.summary": "Key figures",
        "section.channel": "Cases by channel",
        "section.fraud_type": "Cases by fraud type",
        "section.money": "Money, per currency (never summed across currencies)",
        "section.blocking": "Stops, freezes and numbers shut",
        "section.outreach": "Flash SMS and people dissuaded",
        "section.stop_time": "Time from report to first stop-payment",
        "section.definitions": "Definitions",
        "col.item": "Figure",
        "col.value": "Value",
        "col.channel": "Channel",
        "col.fraud_type": "Fraud type",
        "col.cases": "Cases",
        "col.share": "Share",
        "col.currency": "Currency",
        "col.reported_lost": "Reported lost",
        "col.stopped": "Stopped",
        "col.frozen": "Frozen",
        "col.returned": "Returned",
        "col.day": "Day",
        "col.median": "Median",
        "col.p90": "90th percentile",
        "col.stop_cases": "Cases with a stop",
        "col.action": "Action",
        "col.numbers": "Numbers",
        "col.measure": "Measure",
        "col.accounts": "Accounts",
        "col.count": "Count",
        "dissuaded": "People dissuaded",
        "item.dissuaded": "People dissuaded",
        "headline.dissuaded": "talked {people} people out of paying",
        "flash.warnings": "Flash warnings",
        "flash.sent": "Flash SMS sent",
        "flash.delivered": "Flash SMS delivered",
        "item.flash_sent": "Flash SMS sent",
        "item.flash_delivered": "Flash SMS delivered",
        "headline.flash": "sent {sent} flash SMS ({delivered} delivered)",
        "item.cases": "Cases received",
        "item.accounts_stopped": "Accounts stopped",
        "item.accounts_frozen": "Accounts frozen",
        "item.numbers_shut": "Numbers shut",
        "item.numbers.shutdown": "of which shut down",
        "item.numbers.intercept": "of which intercepted",
        "item.numbers.block": "of which blocked",
        "item.stop_median": "Report to first stop, median",
        "item.stop_p90": "Report to first stop, 90th percentile",
        "item.stop_cases": "Cases with a stop",
        "item.stopped": "Stopped ({currency})",
        "item.frozen": "Frozen ({currency})",
        "item.returned": "Returned ({currency})",
        "item.reported_lost": "Reported lost ({currency})",
        "total": "Total",
        "stopped": "Stopped",
        "frozen": "Frozen",
        "none": "—",
        "minutes": "{m} min",
        "hours": "{h} h {m} min",
        "seconds": "{s} s",
        "unit.minutes": "min",
        "chart.channel": "Figure 1. Cases by channel",
        "chart.fraud_type": "Figure 2. Cases by fraud type",
        "chart.trend": "Figure 3. Cases per day and time to first stop (minutes)",
        "numerals": "",
        "chart.cases": "Cases",
        "sheet.summary": "Summary",
        "sheet.channel": "Channels",
        "sheet.fraud_type": "Fraud types",
        "sheet.by_day": "Per day",
        "sheet.money": "Money",
        "sheet.blocking": "Stops and shuts",
        "sheet.stop_time": "Time to stop",
        "sheet.outreach": "Outreach",
        "wan": "{amount}",
        "def.cases": "Cases received: cases received in the period, each counted once; money, accounts, numbers "
                     "and times are about these cases.",
        "def.money": "Money: per currency, never summed across currencies; stopped and frozen are the amounts "
                     "the banks confirmed holding (frozen includes what was since returned); returned is what "
                     "the banks confirmed sending back to victims.",
        "def.accounts": "Accounts: distinct accounts a bank confirmed stopped or frozen.",
        "def.numbers": "Numbers: distinct numbers a carrier confirmed shut down, intercepted or blocked.",
        "def.stop_time": "Time: from the report's receipt to the bank's first confirmed stop; median and 90th "
                         "percentile.",
        "def.flash": "Flash SMS: warnings the live call watch recorded in the period; sent means the SMSC "
                     "accepted it, delivered that a delivery receipt came back; a warning belongs to a call, not a "
                     "report, so it has no channel.",
        "def.dissuaded": "People dissuaded: distinct phone numbers whose callback ended as dissuaded in the period; "
                         "it counts people, not reports, so it is left out when the figures are filtered.",
    },
}


class Labels:
    def __init__(self, lang: str = "zh") -> None:
        if lang not in LANGS:
            raise ValueError(f"unknown language {lang!r}; use zh or en")
        self.lang = lang

    def __call__(self, key: str, **params: object) -> str:
        text = WORDS[self.lang][key]
        return text.format(**params) if params else text

    def section(self, number: int, key: str) -> str:
        """``一、接报渠道`` in Chinese, ``2. Cases by channel`` in English."""
        numerals = self("numerals")
        prefix = f"{numerals[number - 1]}、" if numerals and number <= len(numerals) else f"{number}. "
        return prefix + self(key)

    def channel(self, code: str) -> str:
        return CHANNELS[self.lang].get(code, code)

    def fraud_type(self, code: str) -> str:
        try:
            kind = FraudType(code)
        except ValueError:
            return code
        return kind.zh if self.lang == "zh" else kind.en

    def action(self, code: str) -> str:
        return ACTIONS[self.lang].get(code, code)

    def currency(self, code: str) -> str:
        return CURRENCIES[self.lang].get(code, code)

    def duration(self, seconds: float | None) -> str:
        """Minutes as the 2016 report spoke of them ("15-20分钟"); hours past 90 minutes."""
        if seconds is None:
            return self("none")
        if seconds < 60:
            return self("seconds", s=round(seconds))
        minutes = round(seconds / 60)
        if minutes < 90:
            return self("minutes", m=minutes)
        return self("hours", h=minutes // 60, m=minutes % 60)

    def money(self, amount: Decimal, currency: str) -> str:
        return f"{amount_text(amount, currency, grouped=True)} {currency}"

    def headline_amount(self, amount: Decimal, currency: str) -> str:
        """``人民币404.00万元`` as the 2016 report wrote it; in English ``CNY 4,040,000.00``."""
        if self.lang == "zh":
            wan = (amount / Decimal(10_000)).quantize(Decimal("0.01"))
            return f"{self.currency(currency)}{self('wan', amount=f'{wan:,}')}"
        return f"{currency} {amount_text(amount, currency, grouped=True)}"


def amount_text(amount: Decimal, currency: str, *, grouped: bool = False) -> str:
    """The exact amount with the currency's minor units (more decimals only if the amount has them)."""
    minor = Decimal(1).scaleb(-minor_units(currency))
    shown = amount.quantize(minor) if amount == amount.quantize(minor) else amount.normalize()
    return f"{shown:,}" if grouped else format(shown, "f")
