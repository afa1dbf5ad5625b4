"""Who owns the money in one account, and whose money an outflow takes, in exact minor units.

A holding keeps the holder's own money and each victim's money (victims by their index in the trace). Every
split is exact: largest remainder, ties to the earlier victim, so nothing is created or lost to rounding.
An outflow larger than the holding takes only what is there; the rest is money the ledger does not explain.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Protocol

Parts = dict[int, int]  # victim index -> minor units


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` in proportion to `weights` (total <= sum(weights)); leftover units go to the largest
    remainders, ties to the earlier weight."""
    whole = sum(weights)
    if total >= whole:
        return list(weights)
    shares: list[int] = []
    remainders: list[int] = []
    for w in weights:
        q, r = divmod(total * w, whole)
        shares.append(q)
        remainders.append(r)
    left = total - sum(shares)
    if left:
        # Fewer leftover units than positive remainders, so a share never exceeds its weight. The sort is
        # stable, so among equal remainders the earlier weight comes first.
        for i in sorted(range(len(weights)), key=remainders.__getitem__, reverse=True)[:left]:
            shares[i] += 1
    return shares


def _split_parts(total: int, parts: Parts) -> Parts:
    order = sorted(parts)
    shares = largest_remainder(total, [parts[v] for v in order])
    return {v: s for v, s in zip(order, shares, strict=True) if s}


class Holding(Protocol):
    own: int  # the holder's money (and unexplained money): never any victim's
    tainted: int  # victim money in the account

    def add_own(self, amount: int) -> None: ...
    def deposit(self, own: int, parts: Parts) -> None: ...
    def withdraw(self, amount: int) -> Parts: ...
    def take_own(self, amount: int) -> None: ...
    def reset(self, own: int) -> None: ...
    def held(self) -> Parts: ...


class LowestBalance:
    """LIBR: the holder's own money leaves first; victims share the rest pro rata to what each has now."""

    __slots__ = ("own", "parts", "tainted")

    def __init__(self, own: int) -> None:
        self.own = own
        self.tainted = 0
        self.parts: Parts = {}

    def add_own(self, amount: int) -> None:
        self.own += amount

    def deposit(self, own: int, parts: Parts) -> None:
        self.own += own
        mine = self.parts
        for v, x in parts.items():
            mine[v] = mine.get(v, 0) + x
            self.tainted += x

    def withdraw(self, amount: int) -> Parts:
        if amount <= self.own:  # the common case on a busy account: no victim money moves
            self.own -= amount
            return {}
        rest = amount - self.own
        self.own = 0
        if rest >= self.tainted:
            taken, self.parts, self.tainted = self.parts, {}, 0
            return taken
        taken = _split_parts(rest, self.parts)
        for v, x in taken.items():
            left = self.parts[v] - x
            if left:
                self.parts[v] = left
            else:
                del self.parts[v]
        self.tainted -= rest
        return taken

    def take_own(self, amount: int) -> None:
        self.own = max(0, self.own - amount)

    def reset(self, own: int) -> None:
        self.own = own

    def held(self) -> Parts:
        return dict(self.parts)


class Haircut(LowestBalance):
    """PROPORTIONAL: every outflow is split over own money and victims by their current shares."""

    __slots__ = ()

    def withdraw(self, amount: int) -> Parts:
        if not self.tainted:
            self.own = max(0, self.own - amount)
            return {}
        order = sorted(self.parts)
        shares = largest_remainder(min(amount, self.own + self.tainted),
                                   [self.own] + [self.parts[v] for v in order])
        self.own -= shares[0]
        taken: Parts = {}
        for v, x in zip(order, shares[1:], strict=True):
            if x:
                taken[v] = x
                left = self.parts[v] - x
                if left:
                    self.parts[v] = left
                else:
                    del self.parts[v]
                self.tainted -= x
        return taken


class _Lot:
    __slots__ = ("own", "parts", "total")

    def __init__(self, own: int, parts: Parts) -> None:
        self.own = own
        self.parts = parts
        self.total = own + sum(parts.values())


class Lots:
    """FIFO or LIFO: money leaves in (or against) order of arrival; one arrival is one lot, and a lot partly
    taken gives up its own money and victims' money pro rata. Own money present before the first victim
    money is the oldest lot."""

    __slots__ = ("lots", "newest_first", "own", "tainted")

    def __init__(self, own: int, *, newest_first: bool) -> None:
        self.newest_first = newest_first
        self.lots: deque[_Lot] = deque([_Lot(own, {})] if own else [])
        self.own = own
        self.tainted = 0

    def add_own(self, amount: int) -> None:
        self.own += amount
        last = self.lots[-1] if self.lots else None
        if last is not None and not last.parts:  # consecutive clean credits are one lot: a busy account stays small
            last.own += amount
            last.total += amount
        else:
            self.lots.append(_Lot(amount, {}))

    def deposit(self, own: int, parts: Parts) -> None:
        self.lots.append(_Lot(own, dict(parts)))
        self.own += own
        self.tainted += sum(parts.values())

    def withdraw(self, amount: int) -> Parts:
        taken: Parts = {}
        lots = self.lots
        while amount > 0 and lots:
            lot = lots[-1] if self.newest_first else lots[0]
            if amount >= lot.total:
                amount -= lot.total
                self.own -= lot.own
                for v, x in lot.parts.items():
                    taken[v] = taken.get(v, 0) + x
                    self.tainted -= x
                if self.newest_first:
                    lots.pop()
                else:
                    lots.popleft()
                continue
            order = sorted(lot.parts)
            shares = largest_remainder(amount, [lot.own] + [lot.parts[v] for v in order])
            lot.own -= shares[0]
            self.own -= shares[0]
            for v, x in zip(order, shares[1:], strict=True):
                if x:
                    taken[v] = taken.get(v, 0) + x
                    self.tainted -= x
                    lot.parts[v] -= x
            lot.parts = {v: x for v, x in lot.parts.items() if x}
            lot.total -= amount
            amount = 0
        return taken

    def take_own(self, amount: int) -> None:
        """Spend own money only, in the policy's order (a victim paying from an account others' money reached)."""
        for lot in reversed(self.lots) if self.newest_first else iter(self.lots):
            if amount <= 0:
                break
            x = min(amount, lot.own)
            lot.own -= x
            lot.total -= x
            self.own -= x
            amount -= x
        self.lots = deque(lot for lot in self.lots if lot.total)

    def reset(self, own: int) -> None:
        # Only called when no victim money is left: whatever the account holds now is one own lot.
        self.lots = deque([_Lot(own, {})] if own else [])
        self.own = own

    def held(self) -> Parts:
        out: Parts = {}
        for lot in self.lots:
            for v, x in lot.parts.items():
                out[v] = out.get(v, 0) + x
        return out
