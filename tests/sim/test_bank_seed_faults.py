"""Demo accounts are deterministic and plausible; armed faults fire in order and run out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim.banks.faults import FaultBook, FaultMode
from sim.banks.ledger import Ledger
from sim.banks.seed import FIXED_ACCOUNTS, open_on_demand, seed_demo

from fanzha.banking.bins import lookup_card, luhn_valid

BANKS = frozenset({"ABC", "ICBC", "BOC", "CCB", "COMM", "PSBC", "CMB", "SPDB", "CITIC", "CIB", "CMBC"})


def _snapshot(ledger: Ledger) -> list[tuple[str, str, str, dict[str, Decimal], int]]:
    return sorted((a.bank_code, a.number, a.holder_name, dict(a.balances), len(a.transactions))
                  for a in ledger.accounts.values())


def test_seeding_is_deterministic_and_opens_the_reports_accounts() -> None:
    first, second, other = Ledger(), Ledger(), Ledger()
    seed_demo(first, 7, BANKS)
    seed_demo(second, 7, BANKS)
    seed_demo(other, 8, BANKS)
    assert _snapshot(first) == _snapshot(second) != _snapshot(other)
    for fixed in FIXED_ACCOUNTS:
        assert first.account(fixed.bank_code, fixed.number).holder_name == fixed.holder_name
    assert len(first.accounts) == len(FIXED_ACCOUNTS) + 5 * len(BANKS)
    for (bank, number), account in first.accounts.items():
        assert account.balance("CNY") >= 0
        if (bank, number) not in {(f.bank_code, f.number) for f in FIXED_ACCOUNTS}:
            issuer = lookup_card(number)
            assert luhn_valid(number) and issuer is not None and issuer.bank_code == bank
    assert first.total("CNY") == first.external_in["CNY"] - first.external_out["CNY"]
    before = len(first.accounts)
    seed_demo(first, 7, BANKS)  # again on restored state: nothing doubled
    assert len(first.accounts) == before


def test_unknown_accounts_open_on_demand_only_at_their_own_bank() -> None:
    ledger = Ledger()
    opened = open_on_demand(ledger, "ABC", "6228480412345678901", seed=1)
    assert opened is not None and opened.balance("CNY") > 0
    assert open_on_demand(Ledger(), "ABC", "6228480412345678901", seed=1).balances == opened.balances  # type: ignore[union-attr]
    assert open_on_demand(ledger, "ICBC", "6228480412345678902", seed=1) is None


def test_faults_fire_in_order_bank_first_and_run_out() -> None:
    book = FaultBook()
    book.arm("*", FaultMode.ERROR_500)
    book.arm("ABC", FaultMode.LATE, count=2, delay_ms=100)
    book.arm("ABC", FaultMode.TIMEOUT)
    shots = [book.take("ABC") for _ in range(5)]
    assert [(s.mode, s.delay_s) if s else None for s in shots] == [
        (FaultMode.LATE, 0.1), (FaultMode.LATE, 0.1), (FaultMode.TIMEOUT, 30.0), (FaultMode.ERROR_500, 0.0), None]
    with pytest.raises(ValueError):
        book.arm("ABC", FaultMode.LATE, count=0)
