"""The books of the simulated banks: accounts, balances, transactions and holds. Pure Python, no HTTP.

A hold (stop-payment 紧急止付 or freeze 冻结) makes money unavailable: a debit may spend only what is
available, ``balance - held``. A hold covers either the whole account (every currency, including money that
arrives later) or a fixed amount of one currency, never more than was there when it was placed. The bank
enforces its own copy of the rules of DOMAIN.md §3 (`BankRules`): a stop-payment holds 48 hours and may be
renewed at most twice; a freeze holds 180 days (365 for a major case) and lapses unless renewed before it
ends. Holds that run out are marked lazily, whenever the account is touched.

Money is conserved: every unit on an account came in from outside (`external_in`) or from another account,
and every unit that left went to another account or out (`external_out`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from fanzha.money import CURRENCIES, check_amount

Clock = Callable[[], datetime]
ZERO = Decimal(0)
ACCOUNT_RE = re.compile(r"[0-9A-Z]{6,40}")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Channel(StrEnum):
    TRANSFER = "transfer"
    ATM = "atm"
    COUNTER = "counter"
    POS = "pos"
    ABROAD = "abroad"
    PLATFORM = "platform"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    DORMANT = "dormant"
    CLOSED = "closed"


class HoldKind(StrEnum):
    STOP_PAYMENT = "stop_payment"
    FREEZE = "freeze"


class HoldState(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    EXPIRED = "expired"  # a stop-payment ran out
    LAPSED = "lapsed"  # a freeze was not renewed in time
    CONVERTED = "converted"  # a stop-payment whose money a freeze took over (止付转冻结)


class LedgerError(Exception):
    """An operation the bank refuses; `code` is a stable machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class BankRules:
    """The bank's copy of the legal limits (DOMAIN.md §3); each default is the rule's value."""

    stop_payment_term: timedelta = timedelta(hours=48)
    max_stop_payment_renewals: int = 2
    freeze_term: timedelta = timedelta(days=180)
    major_freeze_term: timedelta = timedelta(days=365)

    def term(self, kind: HoldKind, major_case: bool) -> timedelta:
        if kind is HoldKind.STOP_PAYMENT:
            return self.stop_payment_term
        return self.major_freeze_term if major_case else self.freeze_term

    def cap(self, kind: HoldKind, major_case: bool, asked: timedelta | None) -> timedelta:
        """The term asked for, or the legal one when none is asked or more is asked than the rule allows."""
        legal = self.term(kind, major_case)
        if asked is None:
            return legal
        if asked <= timedelta(0):
            raise LedgerError("bad_request", "a hold term must be positive")
        return min(asked, legal)


@dataclass(slots=True)
class Transaction:
    id: str
    bank_code: str
    account: str
    direction: Direction
    amount: Decimal
    currency: str
    at: datetime
    channel: Channel
    counterparty_bank: str | None
    counterparty_account: str | None
    counterparty_name: str
    balance_after: Decimal
    memo: str = ""


@dataclass(slots=True)
class Hold:
    id: str
    kind: HoldKind
    bank_code: str
    account: str
    currency: str  # the instruction's currency; a whole-account hold blocks every currency
    requested: Decimal | None  # None: the whole account
    amount: Decimal  # held now (a whole-account hold: the balance when placed, for the answer only)
    placed_at: datetime
    expires_at: datetime
    major_case: bool = False
    renewals: int = 0
    state: HoldState = HoldState.ACTIVE
    ended_at: datetime | None = None
    case_number: str = ""
    reference: str = ""  # the instruction that placed it

    @property
    def whole(self) -> bool:
        return self.requested is None

    @property
    def active(self) -> bool:
        return self.state is HoldState.ACTIVE


@dataclass(slots=True)
class Account:
    bank_code: str
    number: str
    holder_name: str
    id_masked: str
    opened_at: datetime
    status: AccountStatus = AccountStatus.ACTIVE
    balances: dict[str, Decimal] = field(default_factory=dict)
    transactions: list[Transaction] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)

    def balance(self, currency: str) -> Decimal:
        return self.balances.get(currency, ZERO)

    def active_holds(self) -> list[Hold]:
        return [h for h in self.holds if h.active]


@dataclass(frozen=True, slots=True)
class HoldOutcome:
    """What placing a hold did: `held` is the full amount, `partial` less than asked (not enough money)."""

    hold: Hold
    status: str  # "held" or "partial"


MAX_AMOUNT = Decimal(10) ** 14


def _amount(amount: Decimal, currency: str) -> Decimal:
    try:
        return check_amount(amount, currency, MAX_AMOUNT)
    except ValueError as exc:
        raise LedgerError("bad_amount", str(exc)) from None


def _currency(code: str) -> str:
    if code not in CURRENCIES:
        raise LedgerError("bad_currency", f"a currency is an ISO 4217 code such as CNY, not {code!r}")
    return code


class Ledger:
    """Every simulated bank's accounts; all times are aware UTC from the injected clock."""

    def __init__(self, clock: Clock = utc_now, rules: BankRules | None = None) -> None:
        self.clock = clock
        self.rules = rules or BankRules()
        self.accounts: dict[tuple[str, str], Account] = {}
        self.holds: dict[str, Hold] = {}
        self._by_reference: dict[str, str] = {}  # instruction id -> hold id
        self.external_in: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.external_out: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.last_txn = 0  # sequence numbers behind transaction and hold ids (kept in the state file)
        self.last_hold = 0

    # -- time --------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the ledger clock must return aware datetimes")
        return now.astimezone(UTC)

    def _when(self, at: datetime | None) -> datetime:
        if at is None:
            return self.now()
        if at.tzinfo is None:
            raise LedgerError("naive_time", "times must carry a timezone offset")
        return at.astimezone(UTC)

    # -- accounts ----------------------------------------------------------------------------------------
    def open_account(self, bank_code: str, number: str, holder_name: str, id_masked: str = "",
                     balances: dict[str, Decimal] | None = None, status: AccountStatus = AccountStatus.ACTIVE,
                     at: datetime | None = None) -> Account:
        """Open an account; opening balances count as money that came in from outside (a deposit)."""
        key = (bank_code, number)
        if key in self.accounts:
            raise LedgerError("account_exists", f"{bank_code} account {number} already exists")
        if not ACCOUNT_RE.fullmatch(number):
            raise LedgerError("bad_account", f"an account number is 6 to 40 digits or capitals, not {number!r}")
        when = self._when(at)
        account = Account(bank_code=bank_code, number=number, holder_name=holder_name, id_masked=id_masked,
                          opened_at=when, status=AccountStatus.ACTIVE)
        self.accounts[key] = account
        for currency, amount in (balances or {}).items():
            if amount:
                self.deposit(bank_code, number, amount, currency, at=when, memo="opening balance")
        account.status = status
        return account

    def account(self, bank_code: str, number: str) -> Account:
        account = self.accounts.get((bank_code, number))
        if account is None:
            raise LedgerError("no_such_account", f"{bank_code} has no account {number}")
        self._refresh(account)
        return account

    def find(self, bank_code: str, number: str) -> Account | None:
        try:
            return self.account(bank_code, number)
        except LedgerError:
            return None

    def available(self, bank_code: str, number: str, currency: str) -> Decimal:
        """What a debit may spend now: the balance less every active hold on this currency."""
        return self._available(self.account(bank_code, number), currency)

    def held(self, bank_code: str, number: str, currency: str) -> Decimal:
        account = self.account(bank_code, number)
        return account.balance(currency) - self._available(account, currency)

    @staticmethod
    def _limited(account: Account, currency: str, kinds: Iterable[HoldKind] = tuple(HoldKind)) -> Decimal:
        wanted = set(kinds)
        return sum((h.amount for h in account.holds
                    if h.active and not h.whole and h.currency == currency and h.kind in wanted), ZERO)

    def _available(self, account: Account, currency: str) -> Decimal:
        if any(h.whole for h in account.active_holds()):
            return ZERO
        return account.balance(currency) - self._limited(account, currency)

    def _refresh(self, account: Account) -> None:
        """Mark holds that ran out (expired stop-payments, lapsed freezes)."""
        if not account.holds:
            return
        now = self.now()
        for hold in account.holds:
            if hold.active and now >= hold.expires_at:
                hold.state = HoldState.EXPIRED if hold.kind is HoldKind.STOP_PAYMENT else HoldState.LAPSED
                hold.ended_at = hold.expires_at

    # -- money -------------------------------------------------------------------------------------------
    def deposit(self, bank_code: str, number: str, amount: Decimal, currency: str = "CNY", *,
                channel: Channel = Channel.COUNTER, at: datetime | None = None, counterparty_name: str = "",
                memo: str = "") -> Transaction:
        """Money from outside the simulated banks (cash, a bank we do not simulate)."""
        currency = _currency(currency)
        amount = _amount(amount, currency)
        account = self._usable(bank_code, number)
        when = self._when(at)
        self.external_in[currency] += amount
        return self._post(account, Direction.IN, amount, currency, when, channel, None, None,
                          counterparty_name, memo)

    def withdraw(self, bank_code: str, number: str, amount: Decimal, currency: str = "CNY", *,
                 channel: Channel = Channel.ATM, at: datetime | None = None, counterparty_name: str = "",
                 memo: str = "") -> Transaction:
        """Money leaving the simulated banks: cash at an ATM or counter, POS, abroad, a payment platform."""
        currency = _currency(currency)
        amount = _amount(amount, currency)
        account = self._usable(bank_code, number)
        self._check_available(account, amount, currency)
        when = self._when(at)
        self.external_out[currency] += amount
        return self._post(account, Direction.OUT, amount, currency, when, channel, None, None,
                          counterparty_name, memo)

    def transfer(self, from_bank: str, from_number: str, to_bank: str, to_number: str, amount: Decimal,
                 currency: str = "CNY", *, channel: Channel = Channel.TRANSFER, at: datetime | None = None,
                 memo: str = "") -> tuple[Transaction, Transaction]:
        """A transfer between two simulated accounts (same bank or not): the out leg and the in leg."""
        currency = _currency(currency)
        amount = _amount(amount, currency)
        if (from_bank, from_number) == (to_bank, to_number):
            raise LedgerError("same_account", "a transfer needs two different accounts")
        source = self._usable(from_bank, from_number)
        target = self._usable(to_bank, to_number)
        self._check_available(source, amount, currency)
        when = self._when(at)
        out = self._post(source, Direction.OUT, amount, currency, when, channel, to_bank, to_number,
                         target.holder_name, memo)
        into = self._post(target, Direction.IN, amount, currency, when, channel, from_bank, from_number,
                          source.holder_name, memo)
        return out, into

    def _usable(self, bank_code: str, number: str) -> Account:
        account = self.account(bank_code, number)
        if account.status is AccountStatus.CLOSED:
            raise LedgerError("account_closed", f"{bank_code} account {number} is closed")
        return account

    def _check_available(self, account: Account, amount: Decimal, currency: str) -> None:
        available = self._available(account, currency)
        if amount > available:
            held = account.balance(currency) - available
            reason = f"; {held} {currency} held" if held > 0 else ""
            raise LedgerError("insufficient_funds", f"{account.bank_code} account {account.number} has "
                              f"{available} {currency} available, {amount} asked{reason}")

    def _post(self, account: Account, direction: Direction, amount: Decimal, currency: str, at: datetime,
              channel: Channel, cp_bank: str | None, cp_account: str | None, cp_name: str,
              memo: str) -> Transaction:
        signed = amount if direction is Direction.IN else -amount
        balance = account.balance(currency) + signed
        account.balances[currency] = balance
        self.last_txn += 1
        txn = Transaction(id=f"T{self.last_txn:08d}", bank_code=account.bank_code, account=account.number,
                          direction=direction, amount=amount, currency=currency, at=at, channel=channel,
                          counterparty_bank=cp_bank, counterparty_account=cp_account, counterparty_name=cp_name,
                          balance_after=balance, memo=memo)
        account.transactions.append(txn)
        return txn

    def transactions(self, bank_code: str, number: str, since: datetime | None = None,
                     until: datetime | None = None, limit: int | None = None) -> list[Transaction]:
        """Transactions at or after `since` (and before `until`), oldest first."""
        rows = [t for t in self.account(bank_code, number).transactions
                if (since is None or t.at >= self._when(since)) and (until is None or t.at < self._when(until))]
        rows.sort(key=lambda t: t.at)
        return rows[:limit] if limit is not None else rows

    # -- holds -------------------------------------------------------------------------------------------
    def place_hold(self, kind: HoldKind, bank_code: str, number: str, amount: Decimal | None,
                   currency: str = "CNY", *, major_case: bool = False, term: timedelta | None = None,
                   case_number: str = "", reference: str = "") -> HoldOutcome:
        """Hold the whole account (`amount` None) or up to `amount` of `currency`.

        A limited hold takes what is available, never more than asked (限额); a freeze may also take over
        money already held by stop-payments on the account (止付转冻结). Nothing available: refused. The
        term is the one asked for, never longer than the rule allows.
        """
        if major_case and kind is HoldKind.STOP_PAYMENT:
            raise LedgerError("bad_request", "only a freeze has a major-case term")
        currency = _currency(currency)
        account = self._usable(bank_code, number)
        now = self.now()
        term = self.rules.cap(kind, major_case, term)
        if amount is None:
            held = account.balance(currency)
            hold = self._new_hold(kind, account, currency, None, held, now, term, major_case, case_number,
                                  reference)
            return HoldOutcome(hold, "held")
        amount = _amount(amount, currency)
        available = self._available(account, currency)
        convertible = self._limited(account, currency, [HoldKind.STOP_PAYMENT]) if kind is HoldKind.FREEZE else ZERO
        if any(h.whole for h in account.active_holds()) and kind is HoldKind.FREEZE:
            # A whole-account hold leaves nothing available; a freeze takes its share of the money under it.
            available = account.balance(currency) - self._limited(account, currency)
        take = min(amount, available + convertible)
        if take <= 0:
            raise LedgerError("no_funds", f"{bank_code} account {number} has no {currency} available to hold")
        if take > available:
            self._convert_stop_payments(account, currency, take - available, now)
        hold = self._new_hold(kind, account, currency, amount, take, now, term, major_case, case_number, reference)
        return HoldOutcome(hold, "held" if take == amount else "partial")

    def _convert_stop_payments(self, account: Account, currency: str, needed: Decimal, now: datetime) -> None:
        for sp in sorted((h for h in account.active_holds() if h.kind is HoldKind.STOP_PAYMENT and not h.whole
                          and h.currency == currency), key=lambda h: h.placed_at, reverse=True):
            if needed <= 0:
                break
            moved = min(sp.amount, needed)
            sp.amount -= moved
            needed -= moved
            if sp.amount == 0:
                sp.state, sp.ended_at = HoldState.CONVERTED, now

    def _new_hold(self, kind: HoldKind, account: Account, currency: str, requested: Decimal | None,
                  held: Decimal, now: datetime, term: timedelta, major_case: bool, case_number: str,
                  reference: str) -> Hold:
        self.last_hold += 1
        hold = Hold(id=f"{account.bank_code}-H{self.last_hold:07d}", kind=kind, bank_code=account.bank_code,
                    account=account.number, currency=currency, requested=requested, amount=held, placed_at=now,
                    expires_at=now + term, major_case=major_case,
                    case_number=case_number, reference=reference)
        self.add_hold(hold)
        return hold

    def add_hold(self, hold: Hold) -> None:
        self.accounts[(hold.bank_code, hold.account)].holds.append(hold)
        self.holds[hold.id] = hold
        if hold.reference:
            self._by_reference[hold.reference] = hold.id

    def hold(self, hold_id: str) -> Hold:
        hold = self.holds.get(hold_id)
        if hold is None:
            raise LedgerError("no_such_hold", f"no hold {hold_id}")
        self._refresh(self.accounts[(hold.bank_code, hold.account)])
        return hold

    def find_hold(self, reference: str) -> Hold | None:
        """The hold placed by the instruction `reference`, or by that hold id."""
        hold_id = reference if reference in self.holds else self._by_reference.get(reference)
        return self.hold(hold_id) if hold_id is not None else None

    def renew(self, hold_id: str, term: timedelta | None = None) -> Hold:
        """One more term from the current expiry; only before it ends; a stop-payment at most twice."""
        hold = self.hold(hold_id)
        if not hold.active:
            raise LedgerError(f"hold_{hold.state.value}", f"the {hold.kind.value} {hold.id} is {hold.state.value}"
                              "; a hold must be renewed before it ends")
        if hold.kind is HoldKind.STOP_PAYMENT and hold.renewals >= self.rules.max_stop_payment_renewals:
            raise LedgerError("renewals_exhausted", f"a stop-payment may be renewed at most "
                              f"{self.rules.max_stop_payment_renewals} times; freeze the account instead")
        hold.expires_at += self.rules.cap(hold.kind, hold.major_case, term)
        hold.renewals += 1
        return hold

    def release(self, hold_id: str, amount: Decimal | None = None) -> Hold:
        """Release a hold entirely, or part of a limited one (部分解除)."""
        hold = self.hold(hold_id)
        if not hold.active:
            raise LedgerError(f"hold_{hold.state.value}", f"the {hold.kind.value} {hold.id} is {hold.state.value}")
        now = self.now()
        if amount is None or hold.whole or _amount(amount, hold.currency) >= hold.amount:
            hold.state, hold.ended_at = HoldState.RELEASED, now
            return hold
        hold.amount -= amount
        return hold

    def return_from_hold(self, hold_id: str, amount: Decimal, currency: str, payee_bank: str, payee_account: str,
                         payee_name: str, *, opener: Callable[[str, str], Account | None] | None = None,
                         memo: str = "") -> Transaction:
        """Send frozen money back to a victim (资金返还): out of the hold, to the payee; the rest stays held.

        Only an active freeze pays out, never more than it holds (a limited freeze: its amount; a whole-account
        freeze: the balance less what other limited holds keep). The payee gets the money if the simulated books
        have the account (opened on demand through `opener` if given); otherwise it leaves for a bank we do not
        simulate. Returns the out leg on the frozen account.
        """
        hold = self.hold(hold_id)
        if not hold.active:
            raise LedgerError(f"hold_{hold.state.value}", f"the {hold.kind.value} {hold.id} is {hold.state.value}")
        if hold.kind is not HoldKind.FREEZE:
            raise LedgerError("not_a_freeze", f"{hold.id} is a {hold.kind.value}; money is returned only from a "
                              "freeze")
        currency = _currency(currency)
        amount = _amount(amount, currency)
        source = self._usable(hold.bank_code, hold.account)
        if not hold.whole and hold.currency != currency:
            raise LedgerError("bad_currency", f"the freeze holds {hold.currency}, not {currency}")
        balance = source.balance(currency)
        others = sum((h.amount for h in source.active_holds()
                      if h is not hold and not h.whole and h.currency == currency), ZERO)
        limit = hold.amount if not hold.whole else balance - others
        if amount > limit:
            raise LedgerError("exceeds_hold", f"the freeze {hold.id} holds {max(limit, ZERO)} {currency}; "
                              f"{amount} asked")
        if amount > balance:
            raise LedgerError("insufficient_funds", f"{hold.bank_code} account {hold.account} has {balance} "
                              f"{currency}, {amount} asked")
        target = self.find(payee_bank, payee_account)
        if target is None and opener is not None:
            target = opener(payee_bank, payee_account)
        if target is not None and target.status is AccountStatus.CLOSED:
            raise LedgerError("account_closed", f"the payee account {payee_bank} {payee_account} is closed")
        if target is source:
            raise LedgerError("same_account", "a return needs an account other than the frozen one")
        now = self.now()
        # The money this hold held leaves with the return; what is left stays held.
        hold.amount = max(ZERO, hold.amount - amount)
        out = self._post(source, Direction.OUT, amount, currency, now, Channel.TRANSFER, payee_bank, payee_account,
                         payee_name, memo)
        if target is not None:
            self._post(target, Direction.IN, amount, currency, now, Channel.TRANSFER, hold.bank_code, hold.account,
                       source.holder_name, memo)
        else:
            self.external_out[currency] += amount
        return out

    # -- totals (for conservation checks and stats) ------------------------------------------------------
    def total(self, currency: str) -> Decimal:
        return sum((a.balance(currency) for a in self.accounts.values()), ZERO)

    def currencies(self) -> set[str]:
        return {c for a in self.accounts.values() for c in a.balances} | set(self.external_in)
