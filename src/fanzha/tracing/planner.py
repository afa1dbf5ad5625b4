"""What to ask the banks next, as a pure function of a trace and of what the center has already asked.

`plan` looks at every account the victims' money reached (DOMAIN.md §4) and proposes:

- a `Stop` (amount-limited stop-payment) for the attributable money an account still holds that no live
  stop-payment covers yet, never more than the trace attributes to the victims (限额止付); not while the
  account is stale (a stop came back short, so the statement the trace used is out of date: the money
  moved on, and a second stop would only be refused again before the new statement says where it went);
- a `Query` (TransactionQuery from the first victim money's arrival) where the center does not know where
  that money went next: the account was never asked, a stop came back short (the money moved on), or
  victim money arrived there after the last statement was taken.

Accounts deeper than `LoopSettings.max_depth`, holding less than `floor`, or at an unknown bank (bank code
"") get nothing. The output is deterministic: by depth, then account; an account's Stop before its Query,
because holding the money is more urgent than learning where the rest went.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from fanzha.tracing.engine import Trace
from fanzha.tracing.ledger import AccountKey


@dataclass(frozen=True, slots=True)
class Query:
    """Ask the account's bank for its transactions from `since` (a TransactionQuery)."""

    account: AccountKey
    since: datetime


@dataclass(frozen=True, slots=True)
class Stop:
    """An amount-limited StopPayment on `account` for `amount` of `currency`."""

    account: AccountKey
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class LoopSettings:
    max_depth: int = 6
    floor: Decimal = Decimal("100")  # do not chase less than this (in the trace currency)


@dataclass(frozen=True, slots=True)
class Known:
    """What the center already asked of one account."""

    queried_at: datetime | None = None  # last TransactionQuery answered (None: never / not yet answered)
    query_pending: bool = False
    stop_requested: Decimal = Decimal(0)  # sum of live stop-payments asked (pending or active) for it
    stale: bool = False  # a stop came back short: money moved on, ask again


NOTHING_KNOWN = Known()


def plan(trace: Trace, known: Mapping[AccountKey, Known], settings: LoopSettings) -> list[Query | Stop]:
    """The next stop-payments and statement queries, sorted by depth, then account (Stop before Query)."""
    actions: list[Query | Stop] = []
    for account, node in sorted(trace.accounts.items(), key=lambda item: (item[1].depth, item[0])):
        if node.depth > settings.max_depth or not account[0]:
            continue
        held = trace.held_total(account)
        if held < settings.floor:
            continue
        asked = known.get(account, NOTHING_KNOWN)
        missing = held - asked.stop_requested
        # A stale account's statement is out of date (a stop came back short): ask where the money went
        # before asking for it again, or every short answer would bring the same doomed stop back.
        if missing >= settings.floor and not asked.stale:
            actions.append(Stop(account=account, amount=missing, currency=trace.currency))
        if not asked.query_pending and (asked.queried_at is None or asked.stale
                                        or node.last_tainted_at > asked.queried_at):
            actions.append(Query(account=account, since=node.first_tainted_at))
    return actions


@dataclass(frozen=True, slots=True)
class Asked:
    """One instruction already sent about an account, as `known_of` needs it."""

    kind: Literal["stop", "query"]
    answered_at: datetime | None = None  # a query's answer, or a stop's (held, partial or rejected)
    pending: bool = False  # sent or waiting to be sent; no answer yet
    live: bool = True  # a stop not refused, failed, released or expired; a query not failed
    asked: Decimal | None = None  # a stop's amount; None: the whole account
    held: Decimal | None = None  # what an answered stop holds
    rejected: bool = False  # the bank refused the stop (nothing there, account closed...)


WHOLE_ACCOUNT = Decimal("1e15")  # a whole-account stop covers whatever arrives: nothing more to ask


def known_of(asked: Iterable[Asked]) -> Known:
    """What the center knows of one account from the instructions about it.

    A live stop covers what it asked while unanswered and what the bank holds once answered: a stop that
    came back short covers only what it holds, so money that arrives later is stopped again (after the
    account's statement is fresh, see `plan`). A failed query counts as asked: the bank cannot tell more.
    """
    queried: datetime | None = None
    pending = False
    covered = Decimal(0)
    short_at: datetime | None = None
    for a in asked:
        if a.kind == "query":
            if a.pending:
                pending = True
            elif a.answered_at is not None and (queried is None or a.answered_at > queried):
                queried = a.answered_at
            continue
        if a.live:
            if a.asked is None:
                covered += WHOLE_ACCOUNT
            else:
                covered += a.asked if a.pending or a.held is None else a.held
        if a.answered_at is not None and (a.rejected or (a.asked is not None and (a.held or 0) < a.asked)):
            short_at = a.answered_at if short_at is None else max(short_at, a.answered_at)
    stale = short_at is not None and (queried is None or short_at >= queried)
    return Known(queried_at=queried, query_pending=pending, stop_requested=covered, stale=stale)
