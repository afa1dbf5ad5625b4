"""How a center answers a report: what it knows, and how fast and how many things at once it can ask.

`Desk` is the center's knowledge, kept exactly as the product keeps it (fanzha.tracing.store and
fanzha.tracing.loop.known_accounts, in memory instead of in the database): the statements the banks sent
(one account's legs each), the transfers victims reported, and every instruction asked with its answer.
From those it builds the ledger rows (a transfer seen in both statements is walked once), the opening
balances (counted from the account's earliest ledger row, see `_openings`) and the victims' credits, runs
`fanzha.tracing.engine.trace` and `fanzha.tracing.planner.plan`.

The three response models differ only in time and parallelism, never in what they know or decide:

- ``old``: the 2016 process before the center: 5-6 h to the first stop-payment (statement taking,
  paperwork carried to the bank's branch), and every further step (a statement, the next bank's stop) as
  slow. One officer per case, one step at a time.
- ``direct``: the center's direct lines to the banks: 15-20 min per stop-payment by hand, statements by
  hand over the same lines (15-20 min), one officer per case working sequentially.

  (Cases traced together, because their money meets in one account, pool their officers: a group of k
  cases has k steps in progress at most. Each officer takes the first action of the current plan.)
- ``fanzha``: the product's loop: the first stop and statement query go out seconds after the report; every
  answered statement is traced and planned at once and every resulting action is sent in parallel; each
  bank answers in 1-5 min and acts when it answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from fanzha.tracing.assembly import Leg, Reported, build_inputs
from fanzha.tracing.engine import Policy, Trace, trace
from fanzha.tracing.ledger import AccountKey, Ledger
from fanzha.tracing.planner import Asked, Known, LoopSettings, Query, Stop, known_of, plan
from sim.banks.ledger import Transaction

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ResponseModel:
    name: str
    title: str
    parallel: bool  # every planned action at once (True) or one officer, one action at a time
    stop_time: tuple[timedelta, timedelta]  # from starting a stop-payment to the bank acting on it (uniform)
    query_time: tuple[timedelta, timedelta]  # the same for a statement (TransactionQuery)
    send_delay: timedelta = timedelta(0)  # from a report or an answer to the instructions leaving


OLD = ResponseModel("old", "old process", False, (timedelta(hours=5), timedelta(hours=6)),
                    (timedelta(hours=5), timedelta(hours=6)))
DIRECT = ResponseModel("direct", "direct lines", False, (timedelta(minutes=15), timedelta(minutes=20)),
                       (timedelta(minutes=15), timedelta(minutes=20)))
FANZHA = ResponseModel("fanzha", "fanzha", True, (timedelta(minutes=1), timedelta(minutes=5)),
                       (timedelta(minutes=1), timedelta(minutes=5)), send_delay=timedelta(seconds=5))
MODELS: tuple[ResponseModel, ...] = (OLD, DIRECT, FANZHA)


def leg_of(t: Transaction) -> Leg:
    """A simulated bank's transaction as the statement line the center receives."""
    return Leg(bank_code=t.bank_code, account=t.account, txn_id=t.id, at=t.at, direction=t.direction.value,
               amount=t.amount, currency=t.currency, counterparty_bank=t.counterparty_bank,
               counterparty_account=t.counterparty_account, channel=t.channel.value, balance_after=t.balance_after)


@dataclass(slots=True)
class Instruction:
    id: int
    kind: Literal["stop", "query"]
    account: AccountKey
    group: str
    started_at: datetime
    asked: Decimal = ZERO  # a stop's amount
    since: datetime | None = None  # a query's start
    status: str = "pending"  # pending -> held | partial | rejected (stop) or answered (query)
    held: Decimal = ZERO
    answered_at: datetime | None = None


@dataclass
class Desk:
    """What the center knows and has asked; groups of cases traced together (they share accounts)."""

    settings: LoopSettings = field(default_factory=LoopSettings)
    policy: Policy = Policy.LIBR
    # What an answered stop covers in `Known.stop_requested`: the product counts what the bank holds
    # ("held"); "asked" counts what the stop asked even when it came back short (an experiment).
    stops_cover: Literal["asked", "held"] = "held"
    window: timedelta = timedelta(hours=72)
    statements: dict[AccountKey, dict[str, Leg]] = field(default_factory=dict)
    reported: dict[str, list[Reported]] = field(default_factory=lambda: defaultdict(list))  # group -> transfers
    instructions: list[Instruction] = field(default_factory=list)
    asked: dict[AccountKey, list[Instruction]] = field(default_factory=dict)  # account -> its instructions
    parent: dict[str, str] = field(default_factory=dict)  # union-find over groups (named by a case id)
    accounts: dict[str, set[AccountKey]] = field(default_factory=lambda: defaultdict(set))  # group -> accounts
    owner: dict[AccountKey, str] = field(default_factory=dict)  # account -> group
    traces: int = 0
    _cache: dict[str, Trace | None] = field(default_factory=dict)

    # -- groups ----------------------------------------------------------------------------------------------
    def group(self, name: str) -> str:
        while self.parent.get(name, name) != name:
            name = self.parent[name]
        return name

    def _claim(self, group: str, accounts: Iterable[AccountKey]) -> str:
        """Add accounts to a group, merging with any group that already has one of them."""
        group = self.group(group)
        for key in accounts:
            other = self.owner.get(key)
            if other is not None and self.group(other) != group:
                group = self._merge(group, self.group(other))
            if key not in self.accounts[group]:
                self.accounts[group].add(key)
                self.owner[key] = group
        return group

    def _merge(self, a: str, b: str) -> str:
        keep, gone = min(a, b), max(a, b)
        self.parent[gone] = keep
        self.accounts[keep] |= self.accounts.pop(gone, set())
        for key in self.accounts[keep]:
            self.owner[key] = keep
        self.reported[keep].extend(self.reported.pop(gone, []))
        self._cache.pop(gone, None)
        self._cache.pop(keep, None)
        self.on_merge(keep, gone)
        return keep

    def on_merge(self, keep: str, gone: str) -> None:
        """Hook for the race (officers join the surviving group)."""

    # -- what arrives ------------------------------------------------------------------------------------------
    def report(self, transfers: Sequence[Reported]) -> str:
        """A victim's report: its own group, merged with any group that already reached one of its payees."""
        name = transfers[0].case
        self.parent.setdefault(name, name)
        self.reported[name].extend(transfers)
        group = self._claim(name, [t.payee for t in transfers])
        self._cache.pop(group, None)
        return group

    def statement(self, account: AccountKey, legs: Iterable[Leg]) -> str:
        """A bank's answer to a TransactionQuery; returns the group it belongs to."""
        book = self.statements.setdefault(account, {})
        for leg in legs:
            book.setdefault(leg.txn_id, leg)
        group = self.group(self.owner[account])
        self._cache.pop(group, None)
        return group

    # -- instructions --------------------------------------------------------------------------------------------
    def start(self, action: Query | Stop, group: str, now: datetime) -> Instruction:
        ins = Instruction(id=len(self.instructions) + 1, kind="stop" if isinstance(action, Stop) else "query",
                          account=action.account, group=self.group(group), started_at=now,
                          asked=action.amount if isinstance(action, Stop) else ZERO,
                          since=action.since if isinstance(action, Query) else None)
        self.instructions.append(ins)
        self.asked.setdefault(ins.account, []).append(ins)
        return ins

    def known(self, accounts: Iterable[AccountKey] | None = None) -> dict[AccountKey, Known]:
        """As fanzha.tracing.loop.known_accounts: answered and pending queries, live stops, short answers."""
        keys = self.asked if accounts is None else [k for k in accounts if k in self.asked]
        return {key: self._known(self.asked[key], self.stops_cover == "held") for key in keys}

    @staticmethod
    def _known(instructions: Iterable[Instruction], held_only: bool = False) -> Known:
        """The product's rule (fanzha.tracing.planner.known_of); `held_only=False` counts what stops asked."""
        return known_of(Asked(
            kind=ins.kind, answered_at=ins.answered_at, pending=ins.answered_at is None,
            live=ins.kind == "query" or ins.status != "rejected", asked=ins.asked if ins.kind == "stop" else None,
            held=(ins.held if held_only else ins.asked) if ins.answered_at is not None else None,
            rejected=ins.status == "rejected") for ins in instructions)

    # -- thinking ----------------------------------------------------------------------------------------------
    def trace(self, group: str) -> Trace | None:
        """The group's trace over every statement of its accounts (cached until something arrives)."""
        group = self.group(group)
        if group in self._cache:
            return self._cache[group]
        statements = {key: list(self.statements[key].values())
                      for key in sorted(self.accounts[group]) if key in self.statements}
        inputs = build_inputs(statements, self.reported[group])
        result = None
        if inputs.victims:
            self.traces += 1
            result = trace(Ledger.from_rows(inputs.rows), inputs.victims, policy=self.policy, window=self.window,
                           max_depth=self.settings.max_depth, opening_balances=inputs.opening_balances)
            merged = self._claim(group, result.accounts)
            if merged != group:  # the money reached another group's accounts: trace them together
                return self.trace(merged)
        self._cache[group] = result
        return result

    def plan(self, group: str) -> list[Query | Stop]:
        result = self.trace(group)
        return [] if result is None else plan(result, self.known(result.accounts), self.settings)
