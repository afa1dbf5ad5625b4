"""The figures the center is judged by (DOMAIN.md §7), each defined once, here, in its function's docstring.

**One cohort.** Every case figure is about the cases *received* in the period (``cases.received_at``, which
never changes), narrowed by channel and fraud type. What was done for those cases - stop-payments, freezes,
returns, numbers shut - counts with them whenever the bank or carrier answered, so a case never moves from one
period to another: a past period's statement can only grow while answers are still coming in.

**Outreach** figures (flash SMS, people dissuaded) are about calls and people, not reports: they count by the
time of the warning or the outcome, and say ``None`` where a filter cannot apply to them.

**Money** is ``Decimal``, summed in SQL over the stored integer 1/10,000 units (exact on both databases), and
always per currency: there is no total across currencies anywhere in this module.

**Times** are whole local days in the center's time zone (``reports/period.py``); a day of a case is the
Shanghai calendar day of its ``received_at``.

**Percentiles** interpolate linearly between the two nearest ranks (PostgreSQL's ``percentile_cont``,
Hyndman-Fan type 7): the median of 300, 720, 1200, 1800 and 2400 seconds is 1200 and the 90th percentile
1800 + 0.6 x 600 = 2160. PostgreSQL computes them in SQL; SQLite has no such aggregate, so ``quantile`` below
does the same arithmetic on the same per-case values.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVarTuple

from sqlalchemy import Date, Float, Select, and_, case, cast, distinct, func, literal, select, text, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from fanzha.banking.lifecycle import HoldKind
from fanzha.banking.models import RETURN_KIND, BankInstruction
from fanzha.banking.returns import RETURNED
from fanzha.cases.fraud_types import FraudType
from fanzha.cases.models import Case, Channel, Transfer
from fanzha.config import SHANGHAI
from fanzha.errors import InvalidInput
from fanzha.outreach import callbacks
from fanzha.outreach.models import FlashWarning, WarningStatus
from fanzha.reports.period import Period
from fanzha.storage.db import Database
from fanzha.telecom.carriers.models import ActionStatus, CarrierActionKind, CarrierInstruction

Ts = TypeVarTuple("Ts")
CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)
FRAUD_TYPES: tuple[str, ...] = tuple(f.value for f in FraudType)
ACTIONS: tuple[str, ...] = tuple(a.value for a in CarrierActionKind)
STOP = HoldKind.STOP_PAYMENT.value
FREEZE = HoldKind.FREEZE.value
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Filters:
    """Narrow the cohort to one channel and/or one fraud type (``None``: all)."""

    channel: str | None = None
    fraud_type: str | None = None

    def __post_init__(self) -> None:
        if self.channel is not None and self.channel not in CHANNELS:
            raise InvalidInput(f"unknown channel {self.channel!r}; use one of {', '.join(CHANNELS)}", field="channel")
        if self.fraud_type is not None and self.fraud_type not in FRAUD_TYPES:
            raise InvalidInput(f"unknown fraud type {self.fraud_type!r}", field="fraud_type")

    @classmethod
    def of(cls, channel: str | None, fraud_type: str | None) -> Filters:
        """From request parameters, where an empty value means "all"."""
        return cls(channel or None, fraud_type or None)


NO_FILTERS = Filters()


# ---- results -------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    count: int


@dataclass(frozen=True, slots=True)
class CasesReceived:
    """Cases received, broken down by channel, by fraud type and by day (zeros included)."""

    by_channel: list[Count]
    by_fraud_type: list[Count]
    by_day: list[DayCount]

    @property
    def total(self) -> int:
        return sum(c.count for c in self.by_channel)


@dataclass(frozen=True, slots=True)
class MoneyRow:
    currency: str
    reported_lost: Decimal
    stopped: Decimal
    frozen: Decimal
    returned: Decimal


@dataclass(frozen=True, slots=True)
class Accounts:
    stopped: int
    frozen: int


@dataclass(frozen=True, slots=True)
class NumbersShut:
    total: int
    by_action: list[Count]


@dataclass(frozen=True, slots=True)
class StopTime:
    """Seconds from report to first stop over ``cases`` cases (``None`` when there is no such case)."""

    cases: int
    median_s: float | None
    p90_s: float | None


@dataclass(frozen=True, slots=True)
class DayStopTime:
    day: date
    cases: int
    median_s: float | None
    p90_s: float | None


@dataclass(frozen=True, slots=True)
class StopTimes:
    overall: StopTime
    by_day: list[DayStopTime]


@dataclass(frozen=True, slots=True)
class FlashSms:
    warnings: int
    sent: int
    delivered: int


@dataclass(frozen=True, slots=True)
class Figures:
    """Every figure for one period and one set of filters, as the dashboard, the API and the report show them."""

    period: Period
    filters: Filters
    computed_at: datetime
    cases: CasesReceived
    money: list[MoneyRow]
    accounts: Accounts
    numbers_shut: NumbersShut
    stop_time: StopTimes
    flash: FlashSms | None  # None with a channel filter: a flash warning belongs to a call, not a report
    dissuaded: int | None  # None with any filter (see people_dissuaded)


@dataclass(frozen=True, slots=True)
class Band:
    """The cohort as a band of case ids: ``lowest``..``highest``, less the ``outsiders`` numbered inside it.

    Cases are numbered as they arrive, so one period's cases are a narrow band of ids: the figures read each
    child table (transfers, instructions) over that band only, through its ``ix_*_figures`` index (storage
    migration 0008; returns through ``ix_bank_instructions_returns``, 0009), instead of whole tables for a hash
    join. Cases numbered inside the band that are not in the cohort (a report dated back to another period;
    with a filter, the other channels) are the outsiders: a few are left out by id; past ``MAX_OUTSIDERS``
    (``outsiders`` is None) the join on ``cases`` decides who belongs instead. Either way the band never changes
    a result."""

    lowest: int
    highest: int
    outsiders: tuple[int, ...] | None
    empty: bool = False


MAX_OUTSIDERS = 1000


def cohort_band(session: Session, period: Period, filters: Filters = NO_FILTERS) -> Band:
    cohort = and_(*_cohort(period, filters))
    lowest, highest, n = session.execute(select(func.min(Case.id), func.max(Case.id), func.count()).where(cohort)).one()
    if not n:
        return Band(0, 0, (), empty=True)
    outsiders = session.execute(
        select(Case.id).where(Case.id.between(lowest, highest), ~cohort).limit(MAX_OUTSIDERS + 1)).scalars().all()
    return Band(int(lowest), int(highest), tuple(outsiders) if len(outsiders) <= MAX_OUTSIDERS else None)


# ---- the figures -----------------------------------------------------------------------------------------------

def cases_received(session: Session, period: Period, filters: Filters = NO_FILTERS) -> CasesReceived:
    """**Cases received** (接报案件): cases whose ``received_at`` falls in the period, counted once each, by
    the channel that brought the report (110, 12345, police station, web, app), by fraud type (the police
    taxonomy; the officer's choice, else the extractor's) and by the local day of ``received_at``.

    A report sent twice under the same external reference is one case (intake keeps it so)."""
    day = _local_day(session, Case.received_at)
    rows = session.execute(
        select(day, Case.channel, Case.fraud_type, func.count())
        .where(*_cohort(period, filters)).group_by(day, Case.channel, Case.fraud_type)
    ).all()
    by_channel: dict[str, int] = dict.fromkeys(CHANNELS, 0)
    by_type: dict[str, int] = dict.fromkeys(FRAUD_TYPES, 0)
    by_day: dict[date, int] = dict.fromkeys(period.days, 0)
    for raw_day, channel, fraud_type, n in rows:
        by_channel[channel] = by_channel.get(channel, 0) + n
        by_type[fraud_type] = by_type.get(fraud_type, 0) + n
        d = _as_date(raw_day)
        by_day[d] = by_day.get(d, 0) + n
    if filters.channel:
        by_channel = {filters.channel: by_channel[filters.channel]}
    if filters.fraud_type:
        by_type = {filters.fraud_type: by_type[filters.fraud_type]}
    return CasesReceived(by_channel=[Count(k, v) for k, v in by_channel.items()],
                         by_fraud_type=[Count(k, v) for k, v in by_type.items()],
                         by_day=[DayCount(d, by_day[d]) for d in sorted(by_day)])


def money(session: Session, period: Period, filters: Filters = NO_FILTERS, *,
          band: Band | None = None) -> list[MoneyRow]:
    """Money per currency for the cohort, never summed across currencies:

    - **reported lost** (报称被骗金额): the sum of every transfer the reports name (``case_transfers.amount``);
    - **stopped** (止付金额): the sum of ``held_amount`` over the cohort's stop-payments that a bank held
      (a held answer always states the amount, zero included; a refused or unanswered stop has none);
    - **frozen** (冻结金额): the same over freezes, plus what has since been returned from them: a return
      takes its amount off the freeze's ``held_amount`` (the money left the account), but the money was frozen;
    - **returned** (返还金额): the sum of ``returned_amount`` over the cohort's returns (资金返还) that the bank
      executed (status ``returned``; its ReturnResult states the amount). Proposed, disputed, cancelled, pending,
      refused or failed returns count nothing. A return belongs to the case of the freeze it comes from, and is
      in that freeze's currency, so returned is part of frozen.

    A stop later released or expired still counts: the money was stopped. A stop and the freeze that followed
    it count once each, in their own columns; stops asked again by the trace loop each count what they held.
    Currencies appear when any of the four is non-zero, in order CNY, EUR, USD, then alphabetical."""
    band = band or cohort_band(session, period, filters)
    if band.empty:
        return []
    lost = session.execute(_of_cohort(
        select(Transfer.currency, func.sum(Transfer.amount)), Transfer.case_id, period, filters, band
    ).group_by(Transfer.currency)).all()
    held = session.execute(_of_cohort(
        select(BankInstruction.kind, BankInstruction.currency, func.sum(BankInstruction.held_amount))
        .where(_held_hold()), BankInstruction.case_id, period, filters, band
    ).group_by(BankInstruction.kind, BankInstruction.currency)).all()
    returned = session.execute(_of_cohort(
        select(BankInstruction.currency, func.sum(BankInstruction.returned_amount)).where(_executed_return()),
        BankInstruction.case_id, period, filters, band
    ).group_by(BankInstruction.currency)).all()
    table: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"lost": ZERO, STOP: ZERO, FREEZE: ZERO, RETURN_KIND: ZERO})
    for currency, lost_total in lost:
        table[currency]["lost"] += lost_total or ZERO
    for kind, currency, held_total in held:
        table[currency][kind] += held_total or ZERO
    for currency, returned_total in returned:
        table[currency][RETURN_KIND] += returned_total or ZERO
        table[currency][FREEZE] += returned_total or ZERO  # frozen, then returned: it was frozen
    return [MoneyRow(c, v["lost"], v[STOP], v[FREEZE], v[RETURN_KIND])
            for c, v in sorted(table.items(), key=_currency_order) if any(v.values())]


def accounts(session: Session, period: Period, filters: Filters = NO_FILTERS, *,
             band: Band | None = None) -> Accounts:
    """**Accounts stopped** (止付账户) and **accounts frozen** (冻结账户): distinct (bank, account) pairs with at
    least one held stop-payment (resp. freeze) among the cohort's instructions. An account held with zero
    balance counts (it is stopped: money arriving later is caught); one account stopped for two cases counts
    once."""
    band = band or cohort_band(session, period, filters)
    if band.empty:
        return Accounts(0, 0)
    held = _of_cohort(
        select(BankInstruction.kind, BankInstruction.bank_code, BankInstruction.account).where(_held_hold()),
        BankInstruction.case_id, period, filters, band).distinct().subquery()
    counts = {kind: n for kind, n in session.execute(select(held.c.kind, func.count()).group_by(held.c.kind))}
    return Accounts(stopped=counts.get(STOP, 0), frozen=counts.get(FREEZE, 0))


def numbers_shut(session: Session, period: Period, filters: Filters = NO_FILTERS, *,
                 band: Band | None = None) -> NumbersShut:
    """**Numbers shut** (关停号码): distinct phone numbers with at least one carrier instruction of the cohort
    that the carrier reported done - shut down (停机), intercepted (拦截) or blocked (封堵). A number intercepted
    at two carriers counts once; ``by_action`` counts distinct numbers per kind of action (a number both shut
    down and intercepted appears under both, once in the total). Refused, re-routed or pending ones do not
    count."""
    band = band or cohort_band(session, period, filters)
    if band.empty:
        return NumbersShut(0, [Count(a, 0) for a in ACTIONS])
    done = _of_cohort(
        select(CarrierInstruction.action, CarrierInstruction.number)
        .where(CarrierInstruction.status == ActionStatus.DONE.value),
        CarrierInstruction.case_id, period, filters, band).distinct().cte("done")
    counts = {action: n for action, n in session.execute(
        select(literal("*").label("action"), func.count(distinct(done.c.number)))
        .union_all(select(done.c.action, func.count()).group_by(done.c.action)))}
    return NumbersShut(total=counts.get("*", 0), by_action=[Count(a, counts.get(a, 0)) for a in ACTIONS])


def stop_time(session: Session, period: Period, filters: Filters = NO_FILTERS, *,
              band: Band | None = None) -> StopTimes:
    """**Report to first stop** (报案至首次止付用时): for each case of the cohort with at least one held
    stop-payment, the seconds from the case's ``received_at`` to the earliest ``held_at`` among its held
    stop-payments (when the bank's answer first said the money was held; a later renewal or release is answered
    later but never moves it); a negative value (a sender's clock ahead of the bank's) counts as zero. Reported
    as the median and the 90th percentile over those cases (see "Percentiles" above), with the number of cases,
    for the whole period and per local day of ``received_at`` (the trend). Cases with no held stop are not in
    it: the count says how many are."""
    band = band or cohort_band(session, period, filters)
    if band.empty:
        return StopTimes(StopTime(0, None, None), [DayStopTime(d, 0, None, None) for d in period.days])
    # The first time money was held per case, from the instructions alone (read in case order), then its case.
    firsts = (
        select(BankInstruction.case_id.label("case_id"), func.min(BankInstruction.held_at).label("first_stop"))
        .where(_held_hold(), BankInstruction.kind == STOP, BankInstruction.held_at.is_not(None),
               BankInstruction.case_id.between(band.lowest, band.highest))
        .group_by(BankInstruction.case_id)
    ).subquery()
    first = (
        select(Case.received_at.label("received_at"), firsts.c.first_stop)
        .join(firsts, firsts.c.case_id == Case.id).where(*_cohort(period, filters))
    ).subquery()
    if session.get_bind().dialect.name == "postgresql":
        return _stop_time_sql(session, period, first)
    per_day: dict[date, list[float]] = defaultdict(list)
    everything: list[float] = []
    for received_at, first_stop in session.execute(select(first.c.received_at, first.c.first_stop)):
        seconds = max(0.0, (first_stop - received_at).total_seconds())
        per_day[received_at.astimezone(SHANGHAI).date()].append(seconds)
        everything.append(seconds)
    return StopTimes(_summary(everything), [
        DayStopTime(d, len(v), *_pair(v)) if (v := sorted(per_day.get(d, []))) else DayStopTime(d, 0, None, None)
        for d in period.days
    ])


def flash_sms(session: Session, period: Period, filters: Filters = NO_FILTERS) -> FlashSms | None:
    """**Flash SMS** (闪信) recorded in the period by the live call watch (``flash_warnings.created_at``: the
    moment a subscriber had been on a call with a flagged number long enough; one warning per call, ever):

    - **warnings**: all of them, including those no SMS could reach (not a mainland mobile number);
    - **sent** (发送): the SMSC accepted the submit_sm (``submitted_at`` is set);
    - **delivered** (送达): the delivery receipt said DELIVRD.

    A warning belongs to a call, not to a report, so it has no channel: with a channel filter the figure is
    ``None`` (not shown). The fraud-type filter applies to the flagged number's fraud type."""
    if filters.channel is not None:
        return None
    conditions = [FlashWarning.created_at >= period.start, FlashWarning.created_at < period.end]
    if filters.fraud_type is not None:
        conditions.append(FlashWarning.fraud_type == filters.fraud_type)
    row = session.execute(
        select(func.count(), func.count(FlashWarning.submitted_at),
               func.count(case((FlashWarning.status == WarningStatus.DELIVERED.value, 1))))
        .where(*conditions)
    ).one()
    return FlashSms(warnings=int(row[0]), sent=int(row[1]), delivered=int(row[2]))


def people_dissuaded(session: Session, period: Period, filters: Filters = NO_FILTERS) -> int | None:
    """**People dissuaded** (劝阻被害人), as the callback queue defines it in ``outreach.callbacks.dissuaded_count``:
    distinct phone numbers whose callback task an agent closed as dissuaded within the period (by the time of
    that outcome). The queue counts people, not reports, with neither channel nor fraud type, so with any filter
    the figure is ``None`` (not shown) rather than a number that would not mean what it says."""
    if filters != NO_FILTERS:
        return None
    return callbacks.dissuaded_count(session, period.start, period.end)


@contextmanager
def snapshot(db: Database) -> Iterator[Session]:
    """One read-only transaction that sees one moment, so the figures of one poll agree with each other
    (REPEATABLE READ on PostgreSQL; a SQLite read transaction already sees one moment)."""
    if db.dialect != "postgresql":
        with db.read() as session:
            yield session
        return
    with (db.engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True) as conn,
          Session(bind=conn) as session, session.begin()):
        # A month's per-case times sort in memory rather than on disk (the default is 4 MB); this transaction only.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        yield session


def compute(session: Session, period: Period, filters: Filters = NO_FILTERS, *,
            now: datetime | None = None) -> Figures:
    """Every figure above; run it in a ``snapshot`` so that they all describe the same moment."""
    band = cohort_band(session, period, filters)
    return Figures(period=period, filters=filters, computed_at=now or datetime.now(UTC),
                   cases=cases_received(session, period, filters), money=money(session, period, filters, band=band),
                   accounts=accounts(session, period, filters, band=band),
                   numbers_shut=numbers_shut(session, period, filters, band=band),
                   stop_time=stop_time(session, period, filters, band=band), flash=flash_sms(session, period, filters),
                   dissuaded=people_dissuaded(session, period, filters))


# Figure name -> the function whose docstring defines it (the API serves these definitions).
DEFINITIONS = {
    "cases_received": cases_received,
    "money": money,
    "accounts": accounts,
    "numbers_shut": numbers_shut,
    "stop_time": stop_time,
    "flash_sms": flash_sms,
    "people_dissuaded": people_dissuaded,
}


def quantile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of ascending ``ordered`` by linear interpolation (as PostgreSQL's percentile_cont)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ---- helpers ---------------------------------------------------------------------------------------------------

def _cohort(period: Period, filters: Filters) -> list[ColumnElement[bool]]:
    conditions = [Case.received_at >= period.start, Case.received_at < period.end]
    if filters.channel is not None:
        conditions.append(Case.channel == filters.channel)
    if filters.fraud_type is not None:
        conditions.append(Case.fraud_type == filters.fraud_type)
    return conditions


def _of_cohort(statement: Select[*Ts], case_id: Any, period: Period, filters: Filters,
               band: Band) -> Select[*Ts]:
    """Restrict a statement over a child table (transfers, instructions) to the cohort's cases (see ``Band``)."""
    statement = statement.where(case_id.between(band.lowest, band.highest))
    if band.outsiders is None:
        return statement.join(Case, Case.id == case_id).where(*_cohort(period, filters))
    return statement.where(case_id.not_in(band.outsiders)) if band.outsiders else statement


def _held_hold() -> ColumnElement[bool]:
    """A stop-payment or freeze the bank held: only a held answer sets ``held_amount`` (zero included)."""
    return and_(BankInstruction.kind.in_((STOP, FREEZE)), BankInstruction.held_amount.is_not(None))


def _executed_return() -> ColumnElement[bool]:
    """A return the bank executed: its ReturnResult said returned and set ``returned_amount`` (the first two
    conditions are the partial index ``ix_bank_instructions_returns``; the status is read from the row)."""
    return and_(BankInstruction.kind == RETURN_KIND, BankInstruction.returned_amount.is_not(None),
                BankInstruction.status == RETURNED)


# The center's zone has had no daylight saving since 1991: its day is UTC plus a fixed offset, which both
# databases compute far faster than a time-zone rule per row (a month of cases is 80,000 rows).
_OFFSET = SHANGHAI.utcoffset(datetime(2000, 1, 1)) or timedelta(0)


def _local_day(session: Session, column: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column) + literal(_OFFSET), Date)
    return func.date(column, f"+{int(_OFFSET.total_seconds() // 60)} minutes")  # SQLite keeps naive UTC text


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _currency_order(item: tuple[str, Any]) -> tuple[int, str]:
    first = ("CNY", "EUR", "USD")
    return (first.index(item[0]) if item[0] in first else len(first), item[0])


def _pair(ordered: Sequence[float]) -> tuple[float | None, float | None]:
    return quantile(ordered, 0.5), quantile(ordered, 0.9)


def _summary(values: list[float]) -> StopTime:
    ordered = sorted(values)
    return StopTime(len(ordered), *_pair(ordered))


def _stop_time_sql(session: Session, period: Period, first: Any) -> StopTimes:
    # date_part gives double precision directly (extract goes through numeric since PostgreSQL 14).
    seconds = func.greatest(0.0, func.date_part("epoch", first.c.first_stop - first.c.received_at, type_=Float))
    day = _local_day(session, first.c.received_at)
    rows = session.execute(
        select(day, func.count(), func.percentile_cont(0.5).within_group(seconds),
               func.percentile_cont(0.9).within_group(seconds), func.grouping(day))
        .group_by(func.grouping_sets(tuple_(day), tuple_()))
    ).all()
    overall = StopTime(0, None, None)
    days: dict[date, DayStopTime] = {}
    for raw_day, n, median, p90, is_total in rows:
        if is_total:
            overall = StopTime(int(n), _float(median), _float(p90))
        else:
            d = _as_date(raw_day)
            days[d] = DayStopTime(d, int(n), _float(median), _float(p90))
    return StopTimes(overall, [days.get(d, DayStopTime(d, 0, None, None)) for d in period.days])


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
