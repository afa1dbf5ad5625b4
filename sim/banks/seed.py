"""Deterministic demo accounts, so a trial run and the tests find the accounts the narratives name.

`seed_demo` opens the fixed accounts of the test reports and the benchmark, then `per_bank` accounts at
each stationed bank drawn from `random.Random(seed)`, with card numbers on a real BIN of the bank and a
correct Luhn digit, and a short history of transfers among them. `open_on_demand` opens an unknown account
the first time an instruction names it, if its BIN belongs to the addressed bank (for benchmarks that
invent account numbers); its balance follows from the seed and the number alone.
"""

from __future__ import annotations

import csv
import hashlib
import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from fanzha.banking.bins import DEFAULT_STATIONED_BANKS, lookup_card
from sim.banks.ledger import Account, Channel, Ledger, LedgerError

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
REGIONS = ("310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112", "310113", "310115",
           "320102", "330106", "350203", "440305", "510107")


@dataclass(frozen=True, slots=True)
class FixedAccount:
    bank_code: str
    number: str
    holder_name: str
    balance: Decimal


# The accounts that tests/helpers.py, the web tests and bench/intake.py name in their reports.
FIXED_ACCOUNTS: tuple[FixedAccount, ...] = (
    FixedAccount("ABC", "6228480402564890018", "李某某", Decimal("86000.00")),
    FixedAccount("ABC", "6228480402564890019", "王某", Decimal("12500.00")),
    FixedAccount("ICBC", "6222020200112345678", "赵某某", Decimal("50000.00")),
    FixedAccount("ICBC", "6222021001116245702", "钱某", Decimal("47000.50")),
)


def masked_id(rnd: random.Random) -> str:
    """A resident ID number shape with everything but the region and the last four digits hidden."""
    region = rnd.choice(REGIONS)
    tail = f"{rnd.randrange(1000):03d}{rnd.choice('0123456789X')}"
    return f"{region[:3]}{'*' * 11}{tail}"


def holder_name(rnd: random.Random) -> str:
    return rnd.choice(SURNAMES) + rnd.choice(("某", "某某"))


def luhn_complete(partial: str) -> str:
    """`partial` plus the check digit that makes it pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return partial + str((10 - total % 10) % 10)


@lru_cache(maxsize=1)
def _debit_bins() -> dict[str, list[tuple[str, int]]]:
    """Bank code -> (BIN, card length) of its debit cards."""
    text = resources.files("fanzha.banking").joinpath("data", "bin.csv").read_text(encoding="utf-8")
    bins: dict[str, list[tuple[str, int]]] = {}
    for row in csv.DictReader(text.splitlines()):
        if row["type"].strip() == "DC":
            bins.setdefault(row["bank"].strip(), []).append((row["bin"].strip(), int(row["length"])))
    for entries in bins.values():
        entries.sort()
    return bins


def card_number(bank_code: str, rnd: random.Random) -> str:
    """A Luhn-valid debit card number on one of the bank's BINs (19 digits of noise if it has none)."""
    options = _debit_bins().get(bank_code)
    if not options:
        return luhn_complete("9" + "".join(rnd.choice("0123456789") for _ in range(17)))
    prefix, length = rnd.choice(options)
    body = prefix + "".join(rnd.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return luhn_complete(body)


def seed_demo(ledger: Ledger, seed: int, banks: frozenset[str], per_bank: int = 5,
              stationed: tuple[str, ...] = DEFAULT_STATIONED_BANKS) -> list[Account]:
    """Open the fixed demo accounts and `per_bank` random ones per stationed bank (skipping existing ones)."""
    rnd = random.Random(seed)
    now = ledger.now()
    opened: list[Account] = []
    start = now - timedelta(days=30)
    # Every draw happens whether or not the account exists, so a re-seed over a restored state stays in step.
    for fixed in FIXED_ACCOUNTS:
        ident = masked_id(rnd)
        if fixed.bank_code in banks and ledger.find(fixed.bank_code, fixed.number) is None:
            opened.append(ledger.open_account(fixed.bank_code, fixed.number, fixed.holder_name, ident,
                                              {"CNY": fixed.balance}, at=start))
    for bank in stationed:
        for _ in range(per_bank):
            number, name, ident = card_number(bank, rnd), holder_name(rnd), masked_id(rnd)
            balance = Decimal(rnd.randrange(0, 200_000_00)) / 100
            if bank in banks and ledger.find(bank, number) is None:
                opened.append(ledger.open_account(bank, number, name, ident, {"CNY": balance}, at=start))
    _history(ledger, opened, rnd)
    return opened


def _history(ledger: Ledger, accounts: list[Account], rnd: random.Random) -> None:
    """A few days of ordinary transfers among the seeded accounts, oldest first."""
    if len(accounts) < 2:
        return
    now = ledger.now()
    moments = sorted(now - timedelta(minutes=rnd.randrange(60, 7 * 24 * 60)) for _ in range(3 * len(accounts)))
    for at in moments:
        source, target = rnd.sample(accounts, 2)
        amount = Decimal(rnd.randrange(100, 500_000)) / 100
        try:
            ledger.transfer(source.bank_code, source.number, target.bank_code, target.number, amount, at=at,
                            channel=rnd.choice((Channel.TRANSFER, Channel.TRANSFER, Channel.PLATFORM)))
        except LedgerError:
            continue  # not enough money on that one: skip, as a customer's app would refuse


def open_on_demand(ledger: Ledger, bank_code: str, number: str, seed: int) -> Account | None:
    """Open `number` at `bank_code` if its BIN says it is that bank's card; balance from the seed and number."""
    issuer = lookup_card(number)
    if issuer is None or issuer.bank_code != bank_code:
        return None
    digest = hashlib.sha256(f"{seed}:{bank_code}:{number}".encode()).digest()
    rnd = random.Random(digest)
    balance = Decimal(rnd.randrange(1_000_00, 2_000_000_00)) / 100
    return ledger.open_account(bank_code, number, holder_name(rnd), masked_id(rnd), {"CNY": balance},
                               at=ledger.now() - timedelta(days=30))
