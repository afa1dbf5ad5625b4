"""The roles people work in; a module of its own so the CLI can name them without loading the database layer."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    DUTY_OFFICER = "duty_officer"  # 值班民警
    HOTLINE_OPERATOR = "hotline_operator"  # 12345 / 110 seat, police-station intake
    BANK_LIAISON = "bank_liaison"  # 银行驻点人员
    CARRIER_LIAISON = "carrier_liaison"  # 运营商驻点人员
    CALLBACK_AGENT = "callback_agent"  # 劝阻专员
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"  # manages accounts; sees no case data
