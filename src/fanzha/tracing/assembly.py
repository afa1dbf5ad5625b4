"""From bank statements and victims' reports to a trace's inputs (pure: no database, no network).

A bank's TransactionQuery answer lists one account's legs. A transfer between two accounts whose statements
we both hold shows twice (the payer's out leg, the payee's in leg): the payer's leg is kept and the matching
payee leg stands for it, so the money is walked once. Each reported transfer becomes a victim credit: the
statement row that matches it, or, while no statement shows it, the report's own account of it.

Used by the product (tracing/store.py, over stored legs) and by the simulated city's race, so both decide
from exactly the same picture.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from fanzha.tracing.engine import Victim
from fanzha.tracing.ledger import CASH_OUT_CHANNELS, AccountKey, LedgerRow

# The payer's and payee's legs of one transfer carry the same amount and (almost) the same time.
PAIR_TOLERANCE = timedelta(minutes=2)
# A reported transfer time is the victim's memory; the bank's credit may be this far from it.
CREDIT_MATCH = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Leg:
    """One line of one account's statement."""

    bank_code: str
    account: str
    txn_id: str
    at: datetime
    direction: str  # in | out
    amount: Decimal
    currency: str
    counterparty_bank: str | None
    counterparty_account: str | None
    channel: str
    balance_after: Decimal | None

    @property
    def key(self) -> AccountKey:
        return (self.bank_code, self.account)


@dataclass(frozen=True, slots=True)
class Reported:
    """A transfer a victim reported: the payee, amount and time as the victim gives them."""

    case: str  # the case number (or the city's case id)
    victim_id: str
    payee: AccountKey
    amount: Decimal
    currency: str
    at: datetime


@dataclass
class TraceInputs:
    rows: list[LedgerRow] = field(default_factory=list)
    victims: list[Victim] = field(default_factory=list)
    opening_balances: dict[AccountKey, Decimal] = field(default_factory=dict)
    victim_case: dict[str, str] = field(default_factory=dict)  # victim id -> case
    # "statement": a statement shows the victim's credit; "report": only the victim's word has it so far.
    credit_source: dict[str, str] = field(default_factory=dict)
    covered: set[AccountKey] = field(default_factory=set)  # accounts whose statements we hold


def build_inputs(statements: Mapping[AccountKey, Sequence[Leg]], reported: Iterable[Reported]) -> TraceInputs:
    """Ledger rows (each transfer once), victims and opening balances for one trace."""
    out = TraceInputs(covered=set(statements))
    entries = sorted((leg for legs in statements.values() for leg in legs), key=lambda e: e.at)
    sent: dict[tuple[AccountKey, AccountKey, Decimal, str], list[tuple[datetime, str]]] = defaultdict(list)
    for e in entries:
        if e.direction == "out" and e.counterparty_account:
            sent[(e.key, (e.counterparty_bank or "", e.counterparty_account), e.amount, e.currency)].append(
                (e.at, _row_id(e)))
    stands_for: dict[tuple[AccountKey, str], str] = {}  # (account, statement txn id) -> ledger row id
    for e in entries:
        other: AccountKey | None = (e.counterparty_bank or "", e.counterparty_account) \
            if e.counterparty_account else None
        if e.direction == "out":
            to = None if e.channel in CASH_OUT_CHANNELS else other
            out.rows.append(LedgerRow(txn_id=_row_id(e), at=e.at, from_account=e.key, to_account=to,
                                      amount=e.amount, currency=e.currency, channel=e.channel))
            stands_for[(e.key, e.txn_id)] = _row_id(e)
            continue
        paired = _paired(sent, other, e) if other is not None and other in out.covered else None
        if paired is not None:
            stands_for[(e.key, e.txn_id)] = paired
            continue
        out.rows.append(LedgerRow(txn_id=_row_id(e), at=e.at, from_account=other, to_account=e.key,
                                  amount=e.amount, currency=e.currency, channel=e.channel))
        stands_for[(e.key, e.txn_id)] = _row_id(e)
    credits: dict[AccountKey, list[LedgerRow]] = defaultdict(list)
    for row in out.rows:
        if row.to_account is not None:
            credits[row.to_account].append(row)  # a victim's credit may be seen from the payer's side too
    claimed: set[str] = set()
    for r in reported:
        match = _closest_credit(credits.get(r.payee, []), r, claimed)
        if match is None:
            match = LedgerRow(txn_id=f"report/{r.victim_id}", at=r.at, from_account=None, to_account=r.payee,
                              amount=r.amount, currency=r.currency)
            out.rows.append(match)
            out.credit_source[r.victim_id] = "report"
        else:
            out.credit_source[r.victim_id] = "statement"
        claimed.add(match.txn_id)
        out.victims.append(Victim(victim_id=r.victim_id, txn_id=match.txn_id))
        out.victim_case[r.victim_id] = r.case
    out.opening_balances = _openings(statements, out.rows, stands_for)
    return out


def _row_id(leg: Leg) -> str:
    return f"{leg.bank_code}/{leg.account}/{leg.txn_id}"


def _paired(sent: dict[tuple[AccountKey, AccountKey, Decimal, str], list[tuple[datetime, str]]],
            payer: AccountKey, leg: Leg) -> str | None:
    """The payer's out row standing for this in leg (one out leg pairs with one in leg), or None."""
    times = sent.get((payer, leg.key, leg.amount, leg.currency), [])
    for i, (at, txn) in enumerate(times):
        if abs(at - leg.at) <= PAIR_TOLERANCE:
            del times[i]
            return txn
    return None


def _closest_credit(candidates: list[LedgerRow], r: Reported, claimed: set[str]) -> LedgerRow | None:
    fits = [row for row in candidates if row.amount == r.amount and row.currency == r.currency
            and row.txn_id not in claimed and abs(row.at - r.at) <= CREDIT_MATCH]
    return min(fits, key=lambda row: abs(row.at - r.at), default=None)


def _openings(statements: Mapping[AccountKey, Sequence[Leg]], rows: Sequence[LedgerRow],
              stands_for: Mapping[tuple[AccountKey, str], str]) -> dict[AccountKey, Decimal]:
    """Each covered account's balance before its earliest ledger row, as the engine reads `opening_balances`.

    A statement starts at the query's `since`; its first leg's `balance_after` gives the balance just before
    that leg. Other statements may hold earlier rows of the account (a payer's transfer into it before
    `since`), so their net is taken off; otherwise that money would count twice and the trace would show
    money the bank no longer has. The result may be negative; the engine floors own money at zero only
    after adding those rows back.
    """
    ranked = [row for _, row in sorted(enumerate(rows), key=lambda pair: (pair[1].at, pair[0]))]
    before: dict[AccountKey, Decimal] = {}
    starts: dict[str, list[AccountKey]] = defaultdict(list)  # ledger row -> accounts whose first leg it is
    for key, legs in statements.items():
        first = min((leg for leg in legs if leg.balance_after is not None), key=lambda leg: leg.at, default=None)
        if first is None or first.balance_after is None:
            continue
        signed = first.amount if first.direction == "in" else -first.amount
        before[key] = first.balance_after - signed
        starts[stands_for[(key, first.txn_id)]].append(key)
    opening: dict[AccountKey, Decimal] = {}
    net: dict[AccountKey, Decimal] = defaultdict(Decimal)  # signed sum of the rows seen so far, per account
    for row in ranked:
        for key in starts.get(row.txn_id, ()):
            opening[key] = before[key] - net[key]
        if row.to_account is not None:
            net[row.to_account] += row.amount
        if row.from_account is not None:
            net[row.from_account] -= row.amount
    return opening
