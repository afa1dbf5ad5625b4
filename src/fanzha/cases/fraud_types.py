"""The police taxonomy of telecom/online fraud (DOMAIN.md §6), most frequent first."""

from __future__ import annotations

from enum import StrEnum


class FraudType(StrEnum):
    """Stable English codes; the Chinese name is what officers see and what reports carry."""

    TASK_REBATE = "task_rebate"  # 刷单返利
    FAKE_CUSTOMER_SERVICE = "fake_customer_service"  # 冒充电商物流客服
    FAKE_INVESTMENT = "fake_investment"  # 虚假网络投资理财
    FAKE_LOAN = "fake_loan"  # 贷款、代办信用卡
    FAKE_CREDIT_REPAIR = "fake_credit_repair"  # 虚假征信
    FAKE_SHOPPING = "fake_shopping"  # 虚假购物、服务
    IMPERSONATE_AUTHORITY = "impersonate_authority"  # 冒充公检法及政府机关
    IMPERSONATE_ACQUAINTANCE = "impersonate_acquaintance"  # 冒充领导、熟人
    GAME_TRADE = "game_trade"  # 网络游戏产品虚假交易
    ROMANCE = "romance"  # 网络婚恋、交友
    IMPERSONATE_MILITARY_BUYER = "impersonate_military_buyer"  # 冒充军警购物
    BLACK_MARKET = "black_market"  # 网黑案件
    OTHER = "other"  # 其他

    @property
    def zh(self) -> str:
        return ZH_NAMES[self]

    @property
    def en(self) -> str:
        return EN_NAMES[self]

    @classmethod
    def parse(cls, value: str) -> FraudType:
        """Accept the English code or the Chinese name."""
        value = value.strip()
        if value in cls._value2member_map_:
            return cls(value)
        for member, name in ZH_NAMES.items():
            if name == value:
                return member
        raise ValueError(f"unknown fraud type {value!r}; expected one of: " + ", ".join(ZH_NAMES.values()))


ZH_NAMES: dict[FraudType, str] = {
    FraudType.TASK_REBATE: "刷单返利",
    FraudType.FAKE_CUSTOMER_SERVICE: "冒充电商物流客服",
    FraudType.FAKE_INVESTMENT: "虚假网络投资理财",
    FraudType.FAKE_LOAN: "贷款、代办信用卡",
    FraudType.FAKE_CREDIT_REPAIR: "虚假征信",
    FraudType.FAKE_SHOPPING: "虚假购物、服务",
    FraudType.IMPERSONATE_AUTHORITY: "冒充公检法及政府机关",
    FraudType.IMPERSONATE_ACQUAINTANCE: "冒充领导、熟人",
    FraudType.GAME_TRADE: "网络游戏产品虚假交易",
    FraudType.ROMANCE: "网络婚恋、交友",
    FraudType.IMPERSONATE_MILITARY_BUYER: "冒充军警购物",
    FraudType.BLACK_MARKET: "网黑案件",
    FraudType.OTHER: "其他",
}

EN_NAMES: dict[FraudType, str] = {
    FraudType.TASK_REBATE: "Task / click-farming rebate",
    FraudType.FAKE_CUSTOMER_SERVICE: "Fake e-commerce or courier service",
    FraudType.FAKE_INVESTMENT: "Fake investment",
    FraudType.FAKE_LOAN: "Fake loan or credit card",
    FraudType.FAKE_CREDIT_REPAIR: "Fake credit-record repair",
    FraudType.FAKE_SHOPPING: "Fake shopping or services",
    FraudType.IMPERSONATE_AUTHORITY: "Impersonating police, procuratorate, courts or government",
    FraudType.IMPERSONATE_ACQUAINTANCE: "Impersonating a boss or acquaintance",
    FraudType.GAME_TRADE: "Fake game-item trade",
    FraudType.ROMANCE: "Online romance",
    FraudType.IMPERSONATE_MILITARY_BUYER: "Impersonating military or police buyers",
    FraudType.BLACK_MARKET: "Online black-market case",
    FraudType.OTHER: "Other",
}
