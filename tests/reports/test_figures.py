"""Every figure against values computed by hand from tests/reports/dataset.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from fanzha.banking.models import BankInstruction
from fanzha.config import Settings
from fanzha.errors import InvalidInput
from fanzha.reports import figures as fig
from fanzha.reports.figures import Accounts, Count, DayCount, DayStopTime, Filters, FlashSms, MoneyRow, StopTime
from fanzha.reports.period import Period
from fanzha.storage.db import Database
from tests.reports.dataset import DataSet, build

D = Decimal


@pytest.fixture
def data(db: Database, settings: Settings) -> DataSet:
    return build(db, settings)


def _compute(db: Database, period: Period, filters: Filters = fig.NO_FILTERS) -> fig.Figures:
    with db.read() as session:
        return fig.compute(session, period, filters)


def _nonzero(counts: list[Count]) -> dict[str, int]:
    return {c.key: c.count for c in counts if c.count}


def test_every_figure_of_the_period_matches_the_hand_computed_values(db: Database, data: DataSet) -> None:
    f = _compute(db, data.period)
    d0, d1, d2 = data.period.days
    # C1..C6; C0 (a minute before D) and C7 (D+3 00:00) are outside.
    assert f.cases.total == 6
    assert [(c.key, c.count) for c in f.cases.by_channel] == [
        ("110", 3), ("12345", 1), ("station", 1), ("web", 1), ("app", 0)]
    assert _nonzero(f.cases.by_fraud_type) == {"task_rebate": 3, "fake_customer_service": 1, "fake_investment": 1,
                                               "impersonate_authority": 1}
    assert len(f.cases.by_fraud_type) == 13  # every type of the taxonomy, zeros included
    assert f.cases.by_day == [DayCount(d0, 2), DayCount(d1, 2), DayCount(d2, 2)]
    assert f.money == [
        # 70,000 + 5,000 + 3,000 + 12,000.50 + 999.99 + 20,000; stops held 70,000 + 6,000 + 0 + 20,000; C1's
        # freeze held 70,000, of which the bank returned 58,000 to the victim (C7's return is outside).
        MoneyRow("CNY", D("111000.49"), D("96000"), D("70000"), D("58000")),
        # C3's first return was refused; the second sent all 299,000 back.
        MoneyRow("EUR", D("299000"), D("299000"), D("299000"), D("299000")),
        MoneyRow("USD", D("1500"), D("0"), D("0"), D("0")),  # the stop was refused: nothing held
    ]
    assert all(isinstance(m.stopped, Decimal) and isinstance(m.returned, Decimal) for m in f.money)
    # ABC A1 (C1 and C6: once), ICBC A2, BOC A5, CCB A3 held at zero; BOC A4 refused. Frozen: ABC A1, BOC A5.
    assert f.accounts == Accounts(stopped=4, frozen=2)
    # N1 shut down by CMCC; N2 intercepted at CUCC and CTCC (one number); N3 refused.
    assert f.numbers_shut.total == 2
    assert _nonzero(f.numbers_shut.by_action) == {"shutdown": 1, "intercept": 1}
    # Minutes to the first held stop: C1 12, C2 30 (its renewal, answered on D+2, does not move it), C3 20,
    # C4 5 (its refused USD stop does not count), C6 40.
    assert f.stop_time.overall == StopTime(5, 1200.0, 2160.0)  # p90: 1800 + 0.6 x 600
    assert f.stop_time.by_day == [
        DayStopTime(d0, 2, 1260.0, 1692.0),  # 720, 1800: 720 + 0.9 x 1080
        DayStopTime(d1, 2, 750.0, 1110.0),  # 300, 1200
        DayStopTime(d2, 1, 2400.0, 2400.0),  # C6, whose stop was answered after midnight, stays on its day
    ]
    # W1..W4 (W0 is the day before): W1 and W2 sent, W1 delivered; W3 could not be sent, W4 still waits.
    assert f.flash == FlashSms(warnings=4, sent=2, delivered=1)
    # P1, and P2 (dissuaded twice: one person); P3 not reached; P4 after midnight on D+3.
    assert f.dissuaded == 2


@pytest.mark.parametrize(("filters", "expected"), [
    (Filters(channel="110"), {
        "cases": 3, "types": {"impersonate_authority": 1, "fake_investment": 1, "task_rebate": 1},
        "money": [MoneyRow("CNY", D(90000), D(90000), D(70000), D(58000)),
                  MoneyRow("EUR", D(299000), D(299000), D(299000), D(299000))],
        "accounts": Accounts(2, 2), "numbers": 0, "stop": StopTime(3, 1200.0, 2160.0)}),
    (Filters(fraud_type="task_rebate"), {
        "cases": 3, "types": {"task_rebate": 3},
        "money": [MoneyRow("CNY", D("28999.99"), D(26000), D(0), D(0))],
        "accounts": Accounts(2, 0), "numbers": 2, "stop": StopTime(2, 2100.0, 2340.0)}),
    (Filters(channel="110", fraud_type="task_rebate"), {
        "cases": 1, "types": {"task_rebate": 1},
        "money": [MoneyRow("CNY", D(20000), D(20000), D(0), D(0))],
        "accounts": Accounts(1, 0), "numbers": 0, "stop": StopTime(1, 2400.0, 2400.0)}),
    (Filters(channel="app"), {
        "cases": 0, "types": {}, "money": [], "accounts": Accounts(0, 0), "numbers": 0,
        "stop": StopTime(0, None, None)}),
])
def test_filters_narrow_the_cohort_for_every_figure(db: Database, data: DataSet, filters: Filters,
                                                    expected: dict[str, object]) -> None:
    f = _compute(db, data.period, filters)
    assert f.cases.total == expected["cases"]
    assert _nonzero(f.cases.by_fraud_type) == expected["types"]
    if filters.channel:
        assert [c.key for c in f.cases.by_channel] == [filters.channel]
    assert f.money == expected["money"]
    assert f.accounts == expected["accounts"]
    assert f.numbers_shut.total == expected["numbers"]
    assert f.stop_time.overall == expected["stop"]


def test_periods_are_whole_local_days_and_a_case_keeps_its_day(db: Database, data: DataSet) -> None:
    d = data.day
    first_day = _compute(db, Period(d, d))  # C1, C2
    assert first_day.cases.total == 2
    assert first_day.money == [MoneyRow("CNY", D(78000), D(76000), D(70000), D(58000))]
    assert (first_day.accounts, first_day.numbers_shut.total) == (Accounts(2, 1), 1)
    assert first_day.stop_time.overall == StopTime(2, 1260.0, 1692.0)

    before = _compute(db, Period(d - timedelta(days=1), d - timedelta(days=1)))  # C0 at 23:59
    assert before.cases.total == 1 and before.money == [MoneyRow("CNY", D(50000), D(50000), D(0), D(0))]

    # C5, C6 on D+2 and C7 at 00:00 on D+3; C6's stop answered on D+3 counts with C6, on D+2. C7's freeze
    # and its return (executed on D+5) count with C7.
    late = _compute(db, Period(d + timedelta(days=2), d + timedelta(days=3)))
    assert late.cases.by_day == [DayCount(d + timedelta(days=2), 2), DayCount(d + timedelta(days=3), 1)]
    assert late.money == [MoneyRow("CNY", D("21999.99"), D(21000), D(1000), D(1000))]
    assert late.accounts == Accounts(stopped=2, frozen=1)  # ABC A1 (C6), ABC A7 (C7)
    assert late.stop_time.overall == StopTime(2, 1290.0, 2178.0)  # 180 and 2400 seconds
    assert [(x.cases, x.median_s) for x in late.stop_time.by_day] == [(1, 2400.0), (1, 180.0)]


def test_money_returned_counts_only_what_the_bank_executed_and_frozen_keeps_it(db: Database, data: DataSet) -> None:
    with db.read() as session:
        c1_freeze = session.get(BankInstruction, data.holds["C1 freeze"])
        c3_freeze = session.get(BankInstruction, data.holds["C3 freeze"])
        assert c1_freeze is not None and c3_freeze is not None
        # The returns took their amounts off the freezes: 70,000 - 58,000 and 299,000 - 299,000 are left.
        assert (c1_freeze.held_amount, c3_freeze.held_amount) == (D(12000), D(0))
        refused = session.execute(select(BankInstruction.status, BankInstruction.requested_amount)
                                  .where(BankInstruction.kind == "return", BankInstruction.currency == "EUR")
                                  .order_by(BankInstruction.id)).all()
        assert refused == [("rejected", D(299000)), ("returned", D(299000))]  # counted once
    before = _compute(db, data.period).money
    # The victim of C1 is owed 70,000 - 58,000: the officer plans a return of the 12,000 left and a
    # supervisor approves it. Until the bank executes it, nothing more has been returned.
    b = data.builder
    return_id = b.give_back(data.holds["C1 freeze"], data.at(7, 9), data.at(7, 9, 5), None, None)
    assert _compute(db, data.period).money == before
    with db.read() as session:
        pending = session.get(BankInstruction, return_id)
        assert pending is not None and (pending.status, pending.requested_amount) == ("queued", D(12000))
    b.answer_return(return_id, data.at(8, 11), "12000")
    after = _compute(db, data.period).money
    assert after[0] == MoneyRow("CNY", D("111000.49"), D("96000"), D("70000"), D("70000"))  # frozen stays
    assert after[1:] == before[1:]  # no other currency moves


def test_a_renewal_after_the_period_does_not_move_the_first_stop_time(db: Database, data: DataSet) -> None:
    before = _compute(db, data.period).stop_time
    # C6's stop, held at 00:10 on D+3 (40 minutes after the report), renewed on D+4.
    data.renew("C6 stop_payment", data.at(4, 10), data.at(4, 10, 30))
    with db.read() as session:
        stop = session.get(BankInstruction, data.holds["C6 stop_payment"])
        assert stop is not None and stop.renewals == 1
        assert (stop.held_at, stop.answered_at) == (data.at(3, 0, 10), data.at(4, 10, 30))
    after = _compute(db, data.period).stop_time
    assert after == before
    assert after.by_day[2] == DayStopTime(data.period.days[2], 1, 2400.0, 2400.0)


def test_outreach_figures_count_calls_and_people_and_stay_out_where_a_filter_cannot_apply(
        db: Database, data: DataSet) -> None:
    by_type = _compute(db, data.period, Filters(fraud_type="task_rebate"))
    assert by_type.flash == FlashSms(warnings=3, sent=1, delivered=0)  # W2, W3, W4
    assert by_type.dissuaded is None  # the callback queue's figure has no fraud type
    by_channel = _compute(db, data.period, Filters(channel="110"))
    assert by_channel.flash is None and by_channel.dissuaded is None  # a call has no report channel
    d = data.day
    first_day = _compute(db, Period(d, d))
    assert (first_day.flash, first_day.dissuaded) == (FlashSms(1, 1, 1), 1)
    after = _compute(db, Period(d + timedelta(days=3), d + timedelta(days=3)))
    assert (after.flash, after.dissuaded) == (FlashSms(0, 0, 0), 1)  # P4
    before = _compute(db, Period(d - timedelta(days=1), d - timedelta(days=1)))
    assert before.flash == FlashSms(1, 1, 1)  # W0


def test_a_report_dated_back_among_the_periods_case_numbers_is_not_counted(db: Database, data: DataSet,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    d = data.day
    with db.read() as session:
        # C8, received three days before, was numbered between C3 and C4: inside the period's band of ids.
        band = fig.cohort_band(session, data.period)
        assert band.outsiders is not None and len(band.outsiders) == 1
        assert fig.cohort_band(session, Period(d, d)).outsiders == ()  # C1 and C2 only
        assert fig.cohort_band(session, data.period, Filters(channel="110")).outsiders is not None
        assert fig.cohort_band(session, Period(d - timedelta(days=30), d - timedelta(days=20))).empty
    # Past MAX_OUTSIDERS the join decides: the figures are the same either way.
    monkeypatch.setattr(fig, "MAX_OUTSIDERS", 0)
    with db.read() as session:
        assert fig.cohort_band(session, data.period).outsiders is None
    joined = _compute(db, data.period)
    monkeypatch.undo()
    assert joined == dataclasses.replace(_compute(db, data.period), computed_at=joined.computed_at)
    back = _compute(db, Period(d - timedelta(days=3), d - timedelta(days=3)))
    assert back.cases.total == 1 and back.money == [MoneyRow("CNY", D(4000), D(4000), D(0), D(0))]
    assert (back.accounts, back.numbers_shut.total, back.stop_time.overall) == (Accounts(1, 0), 1,
                                                                                StopTime(1, 600.0, 600.0))


def test_an_empty_period_has_zeros_and_no_times(db: Database, data: DataSet) -> None:
    empty = _compute(db, Period(data.day - timedelta(days=6), data.day - timedelta(days=4)))
    assert empty.cases.total == 0 and [x.count for x in empty.cases.by_day] == [0, 0, 0]
    assert empty.money == [] and empty.accounts == Accounts(0, 0) and empty.numbers_shut.total == 0
    assert empty.stop_time.overall == StopTime(0, None, None)
    assert (empty.flash, empty.dissuaded) == (FlashSms(0, 0, 0), 0)
    assert [x.median_s for x in empty.stop_time.by_day] == [None, None, None]


def test_each_figure_function_gives_what_compute_gives(db: Database, data: DataSet) -> None:
    whole = _compute(db, data.period)
    with db.read() as session:
        assert fig.cases_received(session, data.period) == whole.cases
        assert fig.money(session, data.period) == whole.money
        assert fig.accounts(session, data.period) == whole.accounts
        assert fig.numbers_shut(session, data.period) == whole.numbers_shut
        assert fig.stop_time(session, data.period) == whole.stop_time
        assert fig.flash_sms(session, data.period) == whole.flash
        assert fig.people_dissuaded(session, data.period) == whole.dissuaded


def test_every_figure_has_its_definition_in_its_docstring() -> None:
    for name, function in fig.DEFINITIONS.items():
        assert function.__doc__ and len(function.__doc__) > 150, name


def test_unknown_filters_and_reversed_periods_are_refused() -> None:
    with pytest.raises(InvalidInput) as channel:
        Filters(channel="fax")
    assert channel.value.field == "channel"
    with pytest.raises(InvalidInput):
        Filters(fraud_type="刷单")
    assert Filters.of("", "") == fig.NO_FILTERS
    with pytest.raises(InvalidInput) as reversed_period:
        Period.parse("2016-04-20", "2016-03-21")
    assert reversed_period.value.field == "to"
    with pytest.raises(InvalidInput):
        Period.parse("2016-13-01", None)


def test_a_period_is_whole_shanghai_days_in_utc() -> None:
    month = Period.parse("2016-03-21", "2016-04-20")  # the 2016 center's first month
    assert month.start.isoformat() == "2016-03-20T16:00:00+00:00"
    assert month.end.isoformat() == "2016-04-20T16:00:00+00:00"
    assert len(month.days) == 31


@given(st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=1, max_size=60),
       st.sampled_from([0.5, 0.9]))
def test_quantile_interpolates_as_percentile_cont(values: list[float], q: float) -> None:
    got = fig.quantile(sorted(values), q)
    assert got == pytest.approx(float(np.percentile(values, q * 100, method="linear")), rel=1e-9, abs=1e-6)


def test_quantile_of_nothing_is_none() -> None:
    assert fig.quantile([], 0.5) is None
    assert fig.quantile([300, 720, 1200, 1800, 2400], 0.9) == 2160
