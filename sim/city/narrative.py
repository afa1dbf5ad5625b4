"""The report each victim phones in, in Chinese, naming every payee account, its bank and the amount.

Written the way 110 and 12345 call records read (see tests/cases/narratives), so the product's extractor can
pick out the accounts (BIN-valid card numbers), banks, amounts and times. Times are Shanghai time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fanzha.banking.bins import bank_names
from sim.city.scenario import Case, Scenario

SHANGHAI = ZoneInfo("Asia/Shanghai")

OPENINGS: dict[str, str] = {
    "刷单返利": "在网上看到“点赞返佣金”的兼职广告，被拉进任务群，对方以“垫付任务”“连单”为由要求转账",
    "冒充电商物流客服": "接到自称“快递客服”的电话，称其包裹丢失需理赔，对方以“开通理赔通道”为由要求转账",
    "虚假网络投资理财": "被网友拉进“股票内部群”，在对方推荐的理财平台充值投资，后无法提现",
    "贷款、代办信用卡": "在网上申请贷款，对方称其“银行流水不足”“账户冻结”，要求先转账“解冻金”",
    "冒充公检法及政府机关": "接到自称“公安局民警”的电话，称其涉嫌洗钱，要求将存款转入“安全账户”配合调查",
    "冒充领导、熟人": "被拉进一个微信群，自称“单位领导”的人要求其先垫付一笔款项给“合作方”",
    "网络婚恋、交友": "在交友软件上结识一名“网友”，确定恋爱关系后对方诱导其在一个“投资平台”充值，后无法提现",
}


def yuan(amount: Decimal) -> str:
    text = f"{amount:,.2f}"
    return text[:-3] if text.endswith(".00") else text


def shanghai(when: datetime) -> str:
    local = when.astimezone(SHANGHAI)
    return f"{local.month}月{local.day}日{local.hour}时{local.minute:02d}分"


def narrative(case: Case, scenario: Scenario, paid_at: list[datetime] | None = None) -> str:
    """The victim's words; `paid_at` overrides the scheduled payment times (the live driver's bank times)."""
    names = bank_names()
    times = paid_at or [scenario.at(p.at) for p in case.payments]
    first = times[0] - timedelta(minutes=40)
    opening = OPENINGS.get(case.fraud_type, OPENINGS["冒充公检法及政府机关"])
    phone = case.scam_phone.removeprefix("+86")
    transfers = []
    for payment, when in zip(case.payments, times, strict=True):
        assert payment.target is not None
        bank, number = payment.target
        transfers.append(f"{shanghai(when)}通过手机银行向对方提供的{names.get(bank, bank)}账户{number}"
                         f"转账{yuan(payment.amount)}元")
    victim_bank = names.get(case.victim_account[0], case.victim_account[0])
    return (f"报警人{case.victim_name}称：{shanghai(first)}许，其{opening}，对方联系电话{phone}。"
            f"报警人从其{victim_bank}卡{'先后' if len(transfers) > 1 else '于'}{'；'.join(transfers)}，"
            f"共计被骗{yuan(case.stolen)}元。"
            f"报警人发现被骗后立即报警。")


def report(case: Case, scenario: Scenario, received_at: datetime, paid_at: list[datetime] | None = None,
           ) -> dict[str, Any]:
    """A report as the product's intake takes it: the narrative plus the transfers the victim names."""
    times = paid_at or [scenario.at(p.at) for p in case.payments]
    transfers = []
    for payment, when in zip(case.payments, times, strict=True):
        assert payment.target is not None
        transfers.append({"to_bank": payment.target[0], "to_account": payment.target[1],
                          "amount": str(payment.amount), "currency": "CNY",
                          "occurred_at": when.replace(second=0, microsecond=0).isoformat()})
    return {"case": case.case_id, "received_at": received_at.isoformat(), "channel": "110",
            "fraud_type": case.fraud_type, "victim_name": case.victim_name,
            "narrative": narrative(case, scenario, paid_at), "transfers": transfers}
