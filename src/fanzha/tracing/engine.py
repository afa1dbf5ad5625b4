"""Following victims' money through a ledger (DOMAIN.md §4; contract in docs/contracts/tracing.md).

The walk is event-driven in global time order over only the accounts victim money reaches: a heap holds one
cursor per such account, pointing at its next event (an in or an out, in the victims' currency). An account
joins on its first tainted arrival, with its own money worked out from the prefix sums of its earlier rows,
and leaves the heap as soon as it holds no victim money, so its clean traffic afterwards is never walked; a
later tainted arrival brings it back. Under LIBR an account's own money leaves first, so while it lasts the
victims' money does not move: the cursor jumps straight to the first outflow that exhausts it (found in the
prefix sums), and a busy account holding victim money costs a few steps, not its whole statement. The other
policies step through every event of an account while it holds victim money. The cost is the traced
sub-ledger, not the ledger.

Inside, money is integer minor units (see allocation.py); at the API it is Decimal.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

import numpy as np

from fanzha.tracing.allocation import Haircut, Holding, Lots, LowestBalance, Parts
from fanzha.tracing.ledger import (
    CHANNELS,
    MINOR_DIGITS,
    AccountKey,
    Ledger,
    from_minor,
    from_us,
    to_minor,
)


class Policy(StrEnum):
    LIBR = "libr"  # default: lowest intermediate balance — holder's own money is spent first,
    # victims share what is left pro rata to what each has in the account
    FIFO = "fifo"  # first money in is first out (own money present before the victims' is oldest)
    LIFO = "lifo"
    PROPORTIONAL = "proportional"  # haircut: every outflow is split over own + victims by current shares


@dataclass(frozen=True, slots=True)
class Victim:
    victim_id: str  # e.g. the case number
    txn_id: str  # the victim's credit (transfer into the first mule account) in the ledger


@dataclass(frozen=True, slots=True)
class Flow:
    """One ledger transaction that carried victim money."""

    txn_id: str
    at: datetime
    from_account: AccountKey | None
    to_account: AccountKey | None
    amount: Decimal
    channel: str
    attributed: Mapping[str, Decimal]  # victim_id -> amount of that victim's money in this transaction


@dataclass(frozen=True, slots=True)
class Loss:
    victim_id: str
    account: AccountKey
    amount: Decimal
    channel: str
    txn_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Unfollowed:
    victim_id: str
    from_account: AccountKey
    to_account: AccountKey | None
    amount: Decimal
    txn_id: str
    at: datetime
    reason: Literal["window", "depth"]


@dataclass(frozen=True, slots=True)
class AccountTrace:
    account: AccountKey
    depth: int
    first_tainted_at: datetime
    last_tainted_at: datetime
    received: Mapping[str, Decimal]  # victim money that arrived, per victim
    held: Mapping[str, Decimal]  # victim money still there now, per victim (zero entries omitted)


@dataclass(frozen=True)
class Trace:
    currency: str
    policy: Policy
    victims: tuple[Victim, ...]
    accounts: Mapping[AccountKey, AccountTrace]  # every account victim money reached
    flows: tuple[Flow, ...]  # time order
    losses: tuple[Loss, ...]
    unfollowed: tuple[Unfollowed, ...]
    # Per victim: flows that carried its money into an account (index in flows, flow), built on first use.
    _into: dict[str, dict[AccountKey, list[tuple[int, Flow]]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def _zero(self) -> Decimal:
        return from_minor(0, MINOR_DIGITS[self.currency])

    def held(self) -> dict[AccountKey, dict[str, Decimal]]:
        """Accounts holding victim money now."""
        return {key: dict(a.held) for key, a in self.accounts.items() if a.held}

    def held_total(self, account: AccountKey) -> Decimal:
        acct = self.accounts.get(account)
        return sum(acct.held.values(), self._zero()) if acct is not None else self._zero()

    def summary(self, victim_id: str) -> dict[str, Decimal]:
        """{"credit", "held", "lost", "unfollowed"}; credit == held + lost + unfollowed exactly."""
        victim = next((v for v in self.victims if v.victim_id == victim_id), None)
        if victim is None:
            raise KeyError(f"no victim {victim_id!r} in this trace")
        zero = self._zero()
        credit = next(f.amount for f in self.flows if f.txn_id == victim.txn_id)
        return {
            "credit": credit,
            "held": sum((a.held.get(victim_id, zero) for a in self.accounts.values()), zero),
            "lost": sum((x.amount for x in self.losses if x.victim_id == victim_id), zero),
            "unfollowed": sum((x.amount for x in self.unfollowed if x.victim_id == victim_id), zero),
        }

    def evidence(self, account: AccountKey, victim_id: str, *, limit: int = 100) -> list[list[Flow]]:
        """Paths from the victim's credit to this account, each a list of Flows carrying that victim's money,
        each flow after the one that brought the money (earliest paths first, at most `limit`)."""
        victim = next((v for v in self.victims if v.victim_id == victim_id), None)
        if victim is None:
            raise KeyError(f"no victim {victim_id!r} in this trace")
        into = self._into.get(victim_id)
        if into is None:
            stopped = {x.txn_id for x in self.unfollowed if x.victim_id == victim_id}
            into = {}
            for i, f in enumerate(self.flows):
                if victim_id in f.attributed and f.to_account is not None and f.txn_id not in stopped:
                    into.setdefault(f.to_account, []).append((i, f))
            self._into[victim_id] = into
        paths: list[list[Flow]] = []

        def back(acct: AccountKey, before: int, suffix: list[Flow]) -> None:
            for i, f in into.get(acct, ()):
                if i >= before or len(paths) >= limit:
                    return
                if f.txn_id == victim.txn_id:
                    paths.append([f, *suffix])
                elif f.from_account is not None:
                    back(f.from_account, i, [f, *suffix])

        back(account, len(self.flows), [])
        return paths


class _Account:
    """Walk state of one account victim money reached.

    `hold` is valid just before event `pos` (an index into the ledger's event arrays). The account's entry in
    the heap, if any, is (`due_key`, account) for event `due` >= pos: the events in between are clean traffic
    that moved no victim money, applied in one step (prefix sums) when the entry comes up.
    """

    __slots__ = ("depth", "due", "due_key", "end", "first_at", "hold", "last_at", "pos", "received", "stale")

    def __init__(self, hold: Holding, depth: int, pos: int, end: int) -> None:
        self.hold = hold
        self.depth = depth
        self.pos = pos
        self.end = end  # end of the account's bucket in the ledger's event index
        self.due = pos
        self.due_key = -1  # -1: not in the heap (no victim money, or none of it moves again)
        self.stale: list[int] = []  # keys of heap entries overtaken by an earlier arrival
        self.first_at = -1
        self.last_at = -1
        self.received: Parts = {}


def trace(ledger: Ledger, victims: Sequence[Victim], *, policy: Policy = Policy.LIBR,
          window: timedelta = timedelta(hours=72), max_depth: int = 6,
          opening_balances: Mapping[AccountKey, Decimal] | None = None) -> Trace:
    """Where each victim's money went, and where it is now (semantics: docs/contracts/tracing.md).

    Opening balances are in the victims' currency; only the accounts the money reaches are looked up.
    ValueError for no victims, victims' credits in several currencies, or a txn_id the ledger lacks.
    """
    return _trace(ledger, victims, policy, window, max_depth, opening_balances, skip_clean=True)


def _trace(ledger: Ledger, victims: Sequence[Victim], policy: Policy, window: timedelta, max_depth: int,
           opening_balances: Mapping[AccountKey, Decimal] | None, *, skip_clean: bool) -> Trace:
    policy = Policy(policy)
    if not victims:
        raise ValueError("give at least one victim")
    if max_depth < 1:
        raise ValueError("max_depth must be at least 1")
    if window <= timedelta(0):
        raise ValueError("window must be positive")
    if len({v.victim_id for v in victims}) != len(victims):
        raise ValueError("victim ids must be distinct")
    if len({v.txn_id for v in victims}) != len(victims):
        raise ValueError("two victims name the same credit transaction")
    credits = ledger.ranks([v.txn_id for v in victims])
    currencies = {ledger._currencies[int(ledger._cur[r])] for r in credits}
    if len(currencies) != 1:
        raise ValueError(f"victims' credits are in several currencies ({', '.join(sorted(currencies))}); "
                         "trace each currency separately")
    for v, r in zip(victims, credits, strict=True):
        if ledger._dst[r] < 0:
            raise ValueError(f"victim {v.victim_id}'s credit {v.txn_id} has no receiving account")
        if ledger._dst[r] == ledger._src[r]:
            raise ValueError(f"victim {v.victim_id}'s credit {v.txn_id} is a transfer to the same account")
    walk = _Walk(ledger, currencies.pop(), policy, window, max_depth, opening_balances or {}, skip_clean=skip_clean)
    walk.run(credits)
    return walk.result(tuple(victims))


class _Walk:
    def __init__(self, ledger: Ledger, currency: str, policy: Policy, window: timedelta, max_depth: int,
                 opening: Mapping[AccountKey, Decimal], *, skip_clean: bool = True) -> None:
        self.ledger = ledger
        self.currency = currency
        self.digits = MINOR_DIGITS[currency]
        self.cur = ledger._currencies.index(currency)
        self.ncur = max(1, len(ledger._currencies))
        self.policy = policy
        self.window_us = window // timedelta(microseconds=1)
        self.max_depth = max_depth
        self.opening = opening
        self.states: dict[int, _Account] = {}
        self.heap: list[tuple[int, int]] = []
        self.pending: dict[int, Parts] = {}  # row -> victim money on its way to the receiving account
        self.credit_rows: dict[int, int] = {}  # row -> victim index
        self.flows: list[tuple[int, Parts]] = []
        self.losses: list[tuple[int, int, Parts]] = []  # row, account, parts
        self.unfollowed: list[tuple[int, int, Parts, Literal["window", "depth"]]] = []
        # LIBR jumps over clean traffic (see _next_stop); the other policies, and tests, step event by event.
        self.skip_clean = policy is Policy.LIBR and skip_clean

    def _holding(self, own: int) -> Holding:
        if self.policy is Policy.LIBR:
            return LowestBalance(own)
        if self.policy is Policy.PROPORTIONAL:
            return Haircut(own)
        return Lots(own, newest_first=self.policy is Policy.LIFO)

    def _opening(self, acct: int) -> int:
        if not self.opening:
            return 0
        amount = self.opening.get(self.ledger.account_keys([acct])[0])
        return to_minor(amount, self.currency) if amount is not None else 0

    def _arrive(self, acct: int, key: int, depth: int) -> bool:
        """Victim money reaches `acct` at event `key`: make that its due event. True if it needs a heap entry."""
        ledger = self.ledger
        ev_key, cum = ledger._ev_key, ledger._ev_cum
        st = self.states.get(acct)
        if st is None:
            bucket = acct * self.ncur + self.cur
            start, end = int(ledger._offsets[bucket]), int(ledger._offsets[bucket + 1])
            pos = start + int(np.searchsorted(ev_key[start:end], key))
            # Own money before the first victim money: opening balance plus the net of earlier rows, floored.
            own = self._opening(acct) + int(cum[pos]) - int(cum[start])
            st = _Account(self._holding(max(0, own)), depth, pos, end)
            self.states[acct] = st
        elif st.due_key == key:
            return False  # its cursor is already there
        else:
            pos = st.pos + int(np.searchsorted(ev_key[st.pos:st.end], key))
            delta = int(cum[pos]) - int(cum[st.pos])
            if st.hold.tainted:
                # Only LIBR leaves victim money idle in the heap: nothing of it moved before this arrival,
                # so the clean traffic in between is own money only (and never takes it below zero).
                st.hold.own += delta
            else:
                # It went quiet with no victim money: what it held then, plus its clean traffic since.
                st.hold.reset(max(0, st.hold.own + delta))
            st.pos = pos
            if st.due_key >= 0:
                st.stale.append(st.due_key)
        st.due, st.due_key = pos, key
        return True

    def _next_stop(self, st: _Account) -> int:
        """LIBR: the next event that moves victim money out of the account (its end if none).

        Own money is spent first, so victim money moves only at the first outflow that takes the running
        balance of own money below zero, i.e. where the prefix sum drops below cum[pos] - own. (A victim's credit
        paid from this account spends own money only, floored at zero: the same sum until it would go below.)
        Searched in growing chunks, so a stop close by costs little.
        """
        cum = self.ledger._ev_cum
        pos, end = st.pos, st.end
        threshold = cum.item(pos) - st.hold.own
        if cum.item(pos + 1) < threshold:  # the usual case once own money is gone: the very next outflow
            return pos
        lo, step = pos + 1, 16
        while lo < end:
            hi = min(end, lo + step)
            below = cum[lo + 1:hi + 1] < threshold
            first = int(below.argmax())
            if below[first]:
                return lo + first
            lo, step = hi, step * 8
        return end

    def run(self, credits: list[int]) -> None:
        ledger = self.ledger
        ev_key, cum, ts, amt, dst = ledger._ev_key, ledger._ev_cum, ledger._ts, ledger._amt, ledger._dst
        heap, states, pending = self.heap, self.states, self.pending
        heappop, heapreplace, heappush = heapq.heappop, heapq.heapreplace, heapq.heappush
        window, max_depth = self.window_us, self.max_depth
        flows, losses, unfollowed = self.flows, self.losses, self.unfollowed
        skip = self.skip_clean
        for v, r in enumerate(credits):
            self.credit_rows[r] = v
            pending[r] = {v: int(amt[r])}
            # A start entry: (key, -1 - account). It sorts before the account's own entry at the same key.
            heap.append((2 * r + 1, -1 - int(dst[r])))
        heapq.heapify(heap)
        credit_rows = self.credit_rows

        while heap:
            key, acct = heap[0]
            if acct < 0:  # a victim's credit: its receiving account is depth 1 from here on
                acct = -1 - acct
                if self._arrive(acct, key, 1):
                    heapreplace(heap, (key, acct))
                else:
                    heappop(heap)
                states[acct].depth = 1
                continue
            st = states[acct]
            if st.stale and key in st.stale:
                st.stale.remove(key)
                heappop(heap)
                continue
            hold = st.hold
            pos = st.due
            if pos != st.pos:  # clean traffic skipped over: own money only
                hold.own += cum.item(pos) - cum.item(st.pos)
            r = key >> 1
            if key & 1:  # money in
                parts = pending.pop(r, None)
                if parts is None:
                    hold.add_own(amt.item(r))
                else:
                    hold.deposit(amt.item(r) - sum(parts.values()), parts)
                    t = ts.item(r)
                    if st.first_at < 0:
                        st.first_at = t
                    st.last_at = t
                    received = st.received
                    for v, x in parts.items():
                        received[v] = received.get(v, 0) + x
                    if r in credit_rows:
                        flows.append((r, parts))
            elif r in credit_rows:
                # A victim paying from an account other victims' money reached: the credit is that victim's
                # own money by definition, so it spends the holder's own money and leaves others' in place.
                hold.take_own(amt.item(r))
            else:
                to = dst.item(r)
                if to != acct:
                    parts = hold.withdraw(amt.item(r))
                    if parts:
                        flows.append((r, parts))
                        t = ts.item(r)
                        if to < 0:
                            losses.append((r, acct, parts))
                        elif t - st.last_at > window:
                            unfollowed.append((r, acct, parts, "window"))
                        elif st.depth >= max_depth:
                            unfollowed.append((r, acct, parts, "depth"))
                        else:
                            pending[r] = parts
                            if self._arrive(to, key + 1, st.depth + 1):
                                heappush(heap, (key + 1, to))
            pos += 1
            st.pos = pos
            if not hold.tainted or pos >= st.end:
                nxt = st.end  # nothing of the victims' here (until an arrival brings some), or no more rows
            elif skip:
                nxt = self._next_stop(st)
            else:
                nxt = pos
            if nxt >= st.end:
                st.due, st.due_key = pos, -1
                heappop(heap)
            else:
                st.due, st.due_key = nxt, ev_key.item(nxt)
                heapreplace(heap, (st.due_key, acct))

    def result(self, victims: tuple[Victim, ...]) -> Trace:
        ledger, scale = self.ledger, -self.digits
        ids = [v.victim_id for v in victims]
        src, dst, ts, amt, chan = ledger._src, ledger._dst, ledger._ts, ledger._amt, ledger._chan
        rows = sorted({r for r, _ in self.flows})
        acct_ids = set(self.states)
        for r in rows:
            acct_ids.update(a for a in (src.item(r), dst.item(r)) if a >= 0)
        ordered = sorted(acct_ids)
        keys: dict[int, AccountKey] = dict(zip(ordered, ledger.account_keys(ordered), strict=True))
        maybe: dict[int, AccountKey | None] = {-1: None, **keys}
        # What the output says about each row that carried victim money, worked out once per row.
        info = {r: (txn_id, from_us(ts.item(r)), maybe[src.item(r)], maybe[dst.item(r)],
                    Decimal(amt.item(r)).scaleb(scale), CHANNELS[chan.item(r)])
                for r, txn_id in zip(rows, ledger.txn_ids(rows), strict=True)}

        def named(parts: Parts) -> dict[str, Decimal]:
            return {ids[v]: Decimal(parts[v]).scaleb(scale) for v in sorted(parts)}

        flows: list[Flow] = []
        for r, parts in self.flows:
            txn_id, at, from_key, to_key, amount, channel = info[r]
            flows.append(Flow(txn_id, at, from_key, to_key, amount, channel, named(parts)))
        losses: list[Loss] = []
        for r, a, parts in self.losses:
            txn_id, at, _, _, _, channel = info[r]
            losses.extend(Loss(victim, keys[a], x, channel, txn_id, at) for victim, x in named(parts).items())
        unfollowed: list[Unfollowed] = []
        for r, a, parts, reason in self.unfollowed:
            txn_id, at, _, to_key, _, _ = info[r]
            unfollowed.extend(Unfollowed(victim, keys[a], to_key, x, txn_id, at, reason)
                              for victim, x in named(parts).items())
        reached = sorted((a for a, st in self.states.items() if st.received),
                         key=lambda a: (self.states[a].depth, self.states[a].first_at, keys[a]))
        accounts: dict[AccountKey, AccountTrace] = {}
        for a in reached:
            st, key = self.states[a], keys[a]
            accounts[key] = AccountTrace(key, st.depth, from_us(st.first_at), from_us(st.last_at),
                                         named(st.received), named(st.hold.held()))
        return Trace(currency=self.currency, policy=self.policy, victims=victims, accounts=accounts,
                     flows=tuple(flows), losses=tuple(losses), unfollowed=tuple(unfollowed))
