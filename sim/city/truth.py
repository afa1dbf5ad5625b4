"""Ground truth: where each victim's money is, at every moment, as labelled lots per account.

Every account's balance is split into lots, one per victim whose money is there (labelled with the case id)
and one for everybody else's money (`OWN`: the holder's own money, income, money of no victim). Amounts are
kept in whole cents, so nothing is ever lost to rounding. The rule (DOMAIN.md §4's default, made hold-aware):

1. A victim's payment puts a lot labelled with the victim's case into the payee account.
2. Money from outside (income, cash deposits) is `OWN` money.
3. The held part of an account (balance - available, as the simulated bank's books say) belongs to the
   victims first, pro rata to their lots, and only then to `OWN`: a stop-payment or freeze holds money
   for the victims (the 2016 return rule pays frozen money out to the victims pro rata).
4. Money leaving an account comes out of its free (not held) part: `OWN` money first (lowest intermediate
   balance: the holder's own money is spent first), then the victims' free money pro rata to their free
   lots. Transfers carry their lots to the payee; cash-outs (ATM, counter, POS, abroad, platform) take
   them out of the banking system: that part of the victim's money is lost.
5. Pro rata splits are exact in cents by largest remainder, ties to the earlier case.

So for every victim, at every moment: money in accounts + money cashed out == money stolen.
A victim's *frozen* money is its share (rule 3) of the held part of every account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

AccountKey = tuple[str, str]
OWN = ""  # the label of money that is no victim's
CENTS = Decimal(100)


def cents(amount: Decimal) -> int:
    value = amount * CENTS
    if value != value.to_integral_value():
        raise ValueError(f"{amount} has more than two decimals")
    return int(value)


def money(value: int) -> Decimal:
    return (Decimal(value) / CENTS).quantize(Decimal("0.01"))


def pro_rata(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`total` cents over the labels in proportion to their weights (largest remainder, ties to the first)."""
    labels = sorted(label for label, w in weights.items() if w > 0)
    whole = sum(weights[label] for label in labels)
    if total <= 0 or whole <= 0:
        return {}
    if total > whole:
        raise ValueError(f"cannot split {total} over {whole}")
    shares = {label: total * weights[label] // whole for label in labels}
    rest = total - sum(shares.values())
    by_remainder = sorted(labels, key=lambda label: (-(total * weights[label] % whole), label))
    for label in by_remainder[:rest]:
        shares[label] += 1
    return {label: v for label, v in shares.items() if v}


class TruthError(AssertionError):
    """The city's books and the truth disagree: a bug in the simulation, never a user error."""


class Truth:
    """Labelled lots per account, plus what each victim lost to each cash-out channel."""

    def __init__(self) -> None:
        self.lots: dict[AccountKey, dict[str, int]] = defaultdict(dict)
        self.stolen: dict[str, int] = defaultdict(int)
        # victim -> cash-out channel -> cents
        self.cashed: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))

    # -- reading -------------------------------------------------------------------------------------------
    def balance(self, account: AccountKey) -> Decimal:
        return money(sum(self.lots.get(account, {}).values()))

    def victims(self) -> list[str]:
        return sorted(self.stolen)

    def held_split(self, account: AccountKey, held: Decimal) -> dict[str, int]:
        """Rule 3: the held part of the account, per label (victims first, pro rata, then OWN)."""
        lots = self.lots.get(account, {})
        held_c = cents(held)
        total = sum(lots.values())
        if held_c > total:
            raise TruthError(f"{account} holds {held} but has only {money(total)}")
        victims = {label: v for label, v in lots.items() if label != OWN}
        to_victims = min(held_c, sum(victims.values()))
        split = pro_rata(to_victims, victims)
        if held_c > to_victims:
            split[OWN] = held_c - to_victims
        return split

    def in_accounts(self, victim: str) -> Decimal:
        return money(sum(lots.get(victim, 0) for lots in self.lots.values()))

    def cashed_out(self, victim: str) -> Decimal:
        return money(sum(self.cashed.get(victim, {}).values()))

    def frozen(self, held_of: Callable[[AccountKey], Decimal], victims: Iterable[str] | None = None,
               ) -> dict[str, Decimal]:
        """Each victim's frozen money: its share of every account's held part (`held_of` from the bank)."""
        wanted = set(self.victims() if victims is None else victims)
        out: dict[str, int] = defaultdict(int)
        for account, lots in self.lots.items():
            if not any(label in wanted for label in lots):
                continue
            held = held_of(account)
            if held <= 0:
                continue
            for label, value in self.held_split(account, held).items():
                if label in wanted:
                    out[label] += value
        return {v: money(out.get(v, 0)) for v in sorted(wanted)}

    def where(self, victim: str) -> dict[AccountKey, Decimal]:
        return {account: money(lots[victim]) for account, lots in sorted(self.lots.items())
                if lots.get(victim)}

    def check(self) -> None:
        """Per victim: money in accounts + money cashed out == money stolen, to the cent; nothing negative."""
        for account, lots in self.lots.items():
            if any(v < 0 for v in lots.values()):
                raise TruthError(f"negative lot in {account}: {lots}")
        for victim, stolen in self.stolen.items():
            there = sum(lots.get(victim, 0) for lots in self.lots.values())
            gone = sum(self.cashed.get(victim, {}).values())
            if there + gone != stolen:
                raise TruthError(f"victim {victim}: {money(there)} in accounts + {money(gone)} cashed out "
                                 f"!= {money(stolen)} stolen")

    # -- money moving ----------------------------------------------------------------------------------------
    def deposit(self, account: AccountKey, amount: Decimal) -> None:
        """Rule 2: money from outside is OWN money."""
        lots = self.lots[account]
        lots[OWN] = lots.get(OWN, 0) + cents(amount)

    def payment(self, victim: str, source: AccountKey, payee: AccountKey, amount: Decimal) -> None:
        """Rule 1: the victim's own money leaves the victim's account and becomes a lot of theirs at the payee."""
        value = cents(amount)
        self._take(source, self._draw(source, value, 0))
        lots = self.lots[payee]
        lots[victim] = lots.get(victim, 0) + value
        self.stolen[victim] += value

    def transfer(self, source: AccountKey, target: AccountKey, amount: Decimal, held: Decimal) -> dict[str, int]:
        """Rule 4: `amount` leaves `source`'s free part and arrives at `target` with its labels."""
        carried = self._draw(source, cents(amount), cents(held))
        self._take(source, carried)
        lots = self.lots[target]
        for label, value in carried.items():
            lots[label] = lots.get(label, 0) + value
        return carried

    def withdraw(self, source: AccountKey, amount: Decimal, held: Decimal, channel: str) -> dict[str, int]:
        """Rule 4: money cashed out of `source`; the victims' part of it is lost to `channel`."""
        carried = self._draw(source, cents(amount), cents(held))
        self._take(source, carried)
        for label, value in carried.items():
            if label != OWN:
                self.cashed[label][channel] += value
        return carried

    def _draw(self, account: AccountKey, value: int, held: int) -> dict[str, int]:
        lots = self.lots.get(account, {})
        held_parts = self.held_split(account, money(held)) if held else {}
        free = {label: v - held_parts.get(label, 0) for label, v in lots.items()}
        if value > sum(free.values()):
            raise TruthError(f"{account}: {money(value)} leaves but only {money(sum(free.values()))} is free")
        own = min(value, free.get(OWN, 0))
        carried = pro_rata(value - own, {label: v for label, v in free.items() if label != OWN})
        if own:
            carried[OWN] = own
        return carried

    def _take(self, account: AccountKey, parts: Mapping[str, int]) -> None:
        lots = self.lots[account]
        for label, value in parts.items():
            left = lots.get(label, 0) - value
            if left < 0:
                raise TruthError(f"{account}: lot {label!r} would go negative")
            if left:
                lots[label] = left
            else:
                lots.pop(label, None)

    # -- export ----------------------------------------------------------------------------------------------
    def snapshot(self, held_of: Callable[[AccountKey], Decimal]) -> dict[str, dict[str, Any]]:
        """Per victim: stolen, in accounts (held / not held, per account), cashed out per channel."""
        frozen = self.frozen(held_of)
        victims: dict[str, dict[str, Any]] = {}
        for victim in self.victims():
            accounts = []
            for account, amount in self.where(victim).items():
                held_part = money(self.held_split(account, held_of(account)).get(victim, 0))
                accounts.append({"bank": account[0], "account": account[1], "amount": str(amount),
                                 "held": str(held_part)})
            victims[victim] = {
                "stolen": str(money(self.stolen[victim])),
                "frozen": str(frozen[victim]),
                "in_accounts": str(self.in_accounts(victim)),
                "cashed_out": str(self.cashed_out(victim)),
                "cashed_out_by_channel": {ch: str(money(v)) for ch, v in sorted(self.cashed[victim].items())},
                "accounts": accounts,
            }
        return victims
