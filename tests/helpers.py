"""Builders for test reports (plain data, as a client would send), and a clock tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# A valid resident ID (checksum correct) for fictional victims.
VALID_ID = "11010519491231002X"


def report(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "110",
        "victim": {"name": "冯某", "phone": "13812345678", "id_number": VALID_ID},
        "narrative": "4月25日上午9时，市民冯某接到自称宝山公安的电话，称其涉案要将存款转移至安全账户，"
                     "冯某向农业银行账户6228480402564890018转账7万元。",
        "transfers": [{
            "to_account": "6228480402564890018", "amount": "70000", "currency": "CNY",
            "occurred_at": "2026-11-25T09:30:00+08:00", "method": "mobile_banking",
        }],
        "suspect_phones": ["+85261234567"],
    }
    body.update(overrides)
    return body


class SettableClock:
    """A clock a test moves by hand (``clock.now += timedelta(...)``), for the dispatchers' ``clock``."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now
