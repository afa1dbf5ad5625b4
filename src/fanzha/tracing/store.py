"""Statements kept per case, and the inputs of a trace assembled from them (see tracing/assembly.py).

Cases whose statements share an account are traced together, because a mule shared by two victims must be
split between them (DOMAIN.md §4).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.banking import messages as m
from fanzha.cases.models import Case, Transfer
from fanzha.tracing import assembly
from fanzha.tracing.assembly import Leg, Reported, TraceInputs
from fanzha.tracing.ledger import AccountKey, LedgerRow
from fanzha.tracing.models import LedgerEntry

__all__ = ["Leg", "TraceInputs", "build_inputs", "case_scope", "entries_of", "legs_of_answer", "legs_of_row",
           "save_legs"]


def save_legs(session: Session, *, case_id: int, instruction_id: int | None, source: str,
              legs: Iterable[Leg]) -> int:
    """Store legs not yet stored for this case (a repeated answer adds nothing); returns how many were new."""
    legs = list(legs)
    if not legs:
        return 0
    accounts = {(leg.bank_code, leg.account) for leg in legs}
    seen: set[tuple[str, str, str]] = {(b, a, t) for b, a, t in session.execute(
        select(LedgerEntry.bank_code, LedgerEntry.account, LedgerEntry.txn_id)
        .where(LedgerEntry.case_id == case_id, LedgerEntry.account.in_({a for _, a in accounts}))
    )}
    added = 0
    for leg in legs:
        key = (leg.bank_code, leg.account, leg.txn_id)
        if key in seen:
            continue
        seen.add(key)
        session.add(LedgerEntry(
            case_id=case_id, instruction_id=instruction_id, source=source, bank_code=leg.bank_code,
            account=leg.account, txn_id=leg.txn_id, at=leg.at, direction=leg.direction, amount=leg.amount,
            currency=leg.currency, counterparty_bank=leg.counterparty_bank,
            counterparty_account=leg.counterparty_account, channel=leg.channel, balance_after=leg.balance_after))
        added += 1
    session.flush()
    return added


def legs_of_answer(bank_code: str, result: m.TransactionQueryResult) -> list[Leg]:
    return [Leg(bank_code=bank_code, account=result.account, txn_id=t.txn_id, at=t.at, direction=t.direction,
                amount=t.amount, currency=t.currency, counterparty_bank=t.counterparty_bank,
                counterparty_account=t.counterparty_account, channel=t.channel, balance_after=t.balance_after)
            for t in result.transactions]


def legs_of_row(row: LedgerRow) -> list[Leg]:
    """An analyst's ledger row as the statement legs a bank would have shown for it (payer's and payee's)."""
    legs = []
    if row.from_account is not None:
        other = row.to_account
        legs.append(Leg(bank_code=row.from_account[0], account=row.from_account[1], txn_id=row.txn_id, at=row.at,
                        direction="out", amount=row.amount, currency=row.currency,
                        counterparty_bank=other[0] if other else None, counterparty_account=other[1] if other else None,
                        channel=row.channel, balance_after=None))
    if row.to_account is not None:
        other = row.from_account
        legs.append(Leg(bank_code=row.to_account[0], account=row.to_account[1], txn_id=row.txn_id, at=row.at,
                        direction="in", amount=row.amount, currency=row.currency,
                        counterparty_bank=other[0] if other else None, counterparty_account=other[1] if other else None,
                        channel=row.channel, balance_after=None))
    return legs


SCOPE_MAX_CASES = 50


def case_scope(session: Session, case_id: int, max_cases: int = SCOPE_MAX_CASES) -> list[int]:
    """This case and the cases whose statements share an account with it (traced together).

    At most ``max_cases`` of them, the most recent first: an account shared by hundreds of cases is a hub (a
    payment platform's settlement account, a bank's own clearing account), and re-tracing hundreds of cases
    on every answer would starve intake of CPU while adding nothing to this case's money.
    """
    accounts = select(LedgerEntry.bank_code, LedgerEntry.account).where(LedgerEntry.case_id == case_id)
    others = session.execute(
        select(LedgerEntry.case_id).distinct()
        .where(LedgerEntry.case_id != case_id, LedgerEntry.account.in_(accounts.with_only_columns(LedgerEntry.account)))
        .order_by(LedgerEntry.case_id.desc()).limit(max_cases - 1)
    ).scalars()
    return [case_id, *sorted(set(others))]


def entries_of(session: Session, case_ids: Sequence[int]) -> list[LedgerEntry]:
    return list(session.execute(
        select(LedgerEntry).where(LedgerEntry.case_id.in_(case_ids)).order_by(LedgerEntry.at, LedgerEntry.id)
    ).scalars())


def build_inputs(session: Session, case_ids: Sequence[int]) -> TraceInputs:
    """The trace inputs over the given cases' stored statements and reported transfers."""
    statements: dict[AccountKey, dict[str, Leg]] = defaultdict(dict)
    for e in entries_of(session, case_ids):
        # The same leg stored by two cases is one leg.
        statements[(e.bank_code, e.account)].setdefault(e.txn_id, Leg(
            bank_code=e.bank_code, account=e.account, txn_id=e.txn_id, at=e.at, direction=e.direction,
            amount=e.amount, currency=e.currency, counterparty_bank=e.counterparty_bank,
            counterparty_account=e.counterparty_account, channel=e.channel, balance_after=e.balance_after))
    rows = session.execute(
        select(Transfer, Case.number, Case.received_at).join(Case, Case.id == Transfer.case_id)
        .where(Transfer.case_id.in_(case_ids)).order_by(Transfer.case_id, Transfer.id)
    ).all()
    reported: list[Reported] = []
    per_case: dict[str, int] = defaultdict(int)
    for transfer, number, received_at in rows:
        per_case[number] += 1
        reported.append(Reported(
            case=number, victim_id=number if per_case[number] == 1 else f"{number}#{per_case[number]}",
            payee=(transfer.to_bank or "", transfer.to_account), amount=transfer.amount,
            currency=transfer.currency, at=transfer.occurred_at or received_at))
    return assembly.build_inputs({k: list(v.values()) for k, v in statements.items()}, reported)


def victims_own_accounts(session: Session, case_ids: Sequence[int]) -> frozenset[str]:
    """The accounts the victims paid from: money that comes back there (a return, a refund) is home, not moving.

    By account number alone, because a victim often names their own bank loosely or not at all.
    """
    rows = session.execute(select(Transfer.from_account).where(Transfer.case_id.in_(case_ids),
                                                               Transfer.from_account.is_not(None))).scalars()
    return frozenset(a for a in rows if a)
