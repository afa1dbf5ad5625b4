"""The city played in-process: the simulated banks' own `Ledger` on a simulated clock, plus the ground truth.

Holds are placed and money is moved through `sim.banks.ledger.Ledger`, so what a hold blocks is exactly
what the simulated banks would block: a criminal's move takes only what is available (balance less active
holds); nothing available, the move is refused. The truth (`sim.city.truth`) follows every cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sim.banks.ledger import Channel, HoldKind, Ledger, LedgerError
from sim.city.scenario import AccountKey, Move, Scenario
from sim.city.truth import Truth

CURRENCY = "CNY"
OPENED_BEFORE = timedelta(days=30)  # accounts are opened this long before the city's day


class ManualClock:
    """A clock that only moves when the simulation says so."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        if when < self.now:
            raise ValueError(f"the clock only moves forward ({when} < {self.now})")
        self.now = when


@dataclass(frozen=True, slots=True)
class Played:
    """What one scheduled move did: `amount` actually moved (less than planned when money was held)."""

    move: Move
    at: datetime
    amount: Decimal
    carried: dict[str, int]  # label -> cents, what the truth says the money was

    @property
    def refused(self) -> bool:
        return self.amount == 0

    @property
    def short(self) -> bool:
        return self.amount < self.move.amount and not self.move.sweep


@dataclass(frozen=True, slots=True)
class StopAnswer:
    status: str  # held | partial | rejected
    held: Decimal


class World:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.clock = ManualClock(scenario.start - OPENED_BEFORE)
        self.ledger = Ledger(self.clock)
        self.truth = Truth()
        for account in scenario.accounts:
            self.ledger.open_account(account.bank, account.number, account.holder, account.id_masked,
                                     {CURRENCY: account.own} if account.own else None)
            if account.own:
                self.truth.deposit(account.key, account.own)
        self.clock.set(scenario.start)
        self.played: list[Played] = []

    @property
    def now(self) -> datetime:
        return self.clock.now

    def advance(self, when: datetime) -> None:
        if when > self.clock.now:
            self.clock.set(when)

    # -- the bank's view -----------------------------------------------------------------------------------
    def available(self, account: AccountKey) -> Decimal:
        return self.ledger.available(account[0], account[1], CURRENCY)

    def held(self, account: AccountKey) -> Decimal:
        return self.ledger.held(account[0], account[1], CURRENCY)

    def balance(self, account: AccountKey) -> Decimal:
        return self.ledger.account(*account).balance(CURRENCY)

    # -- criminals and victims -----------------------------------------------------------------------------
    def play(self, move: Move) -> Played:
        """Play one scheduled move at its time; a hold makes it take only what is available."""
        self.advance(self.scenario.at(move.at))
        carried: dict[str, int] = {}
        amount = move.amount
        if move.kind == "payment":
            assert move.source is not None and move.target is not None and move.case_id is not None
            self.ledger.transfer(*move.source, *move.target, amount, CURRENCY)
            self.truth.payment(move.case_id, move.source, move.target, amount)
            carried = {move.case_id: int(amount * 100)}
        elif move.source is None:
            assert move.target is not None
            self.ledger.deposit(*move.target, amount, CURRENCY, channel=Channel(move.channel))
            self.truth.deposit(move.target, amount)
        else:
            source = move.source
            available = self.available(source)
            amount = available if move.sweep else min(amount, available)
            if amount > 0:
                held = self.held(source)
                if move.target is not None:
                    carried = self.truth.transfer(source, move.target, amount, held)
                    self.ledger.transfer(*source, *move.target, amount, CURRENCY)
                else:
                    carried = self.truth.withdraw(source, amount, held, move.channel)
                    self.ledger.withdraw(*source, amount, CURRENCY, channel=Channel(move.channel))
            else:
                amount = Decimal(0)
        played = Played(move, self.now, amount, carried)
        self.played.append(played)
        return played

    # -- the center's instructions, as the bank acts on them ---------------------------------------------------
    def stop(self, account: AccountKey, amount: Decimal, reference: str = "") -> StopAnswer:
        """An amount-limited stop-payment placed now (the bank's own rules: what is available, at most asked)."""
        try:
            outcome = self.ledger.place_hold(HoldKind.STOP_PAYMENT, *account, amount, CURRENCY,
                                             reference=reference)
        except LedgerError:
            return StopAnswer("rejected", Decimal(0))
        return StopAnswer("held" if outcome.status == "held" else "partial", outcome.hold.amount)

    def frozen(self) -> dict[str, Decimal]:
        return self.truth.frozen(self.held)

    def check(self) -> None:
        """The truth conserves every victim's money and agrees with the bank's balance of every account."""
        self.truth.check()
        for key in self.truth.lots:
            if self.truth.balance(key) != self.balance(key):
                raise AssertionError(f"{key}: truth {self.truth.balance(key)} != bank {self.balance(key)}")
