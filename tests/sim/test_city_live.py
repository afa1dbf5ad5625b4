"""The city played against a real simulated-bank process over loopback: accounts opened through /admin,
moves played in accelerated time, reports printed, a stop-payment really blocking the criminals, and the
ground truth written at the end."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sim.city.__main__ import parse_args
from sim.city.live import LiveCity
from sim.city.scenario import CityParams, generate
from simbanks import ROOT, Sim, running, stop_payment

D = Decimal
ONE_VICTIM = CityParams(victims_per_gang=((1, 1.0),), payments_per_victim=((1, 1.0),), rented_card_chance=0.0)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with running(tmp_path_factory.mktemp("city-keys")) as simulator:
        yield simulator


def test_a_stop_sent_to_the_banks_blocks_the_criminals_and_the_truth_counts_it_frozen(sim: Sim) -> None:
    scenario = generate(21, 1, ONE_VICTIM)
    [case] = scenario.cases
    [payment] = case.payments
    payee = payment.target
    assert payee is not None
    city = LiveCity(scenario, sim.http, speed=1e9, sleep=lambda _: None)
    city.open_accounts()
    own = scenario.by_key[payee].own
    assert sim.account(*payee)["balances"] == ({"CNY": str(own)} if own else {})
    moves = list(scenario.moves)
    done = moves.index(payment) + 1
    for move in moves[:done]:
        city.play(move)
    answer = sim.send(stop_payment(payee[1], str(payment.amount), bank=payee[0]))
    assert answer.status == "held" and answer.held_amount == payment.amount
    for move in moves[done:]:
        city.play(move)
    assert all(p.amount <= own and not p.carried.get(case.case_id) for p in city.played if p.move.source == payee)
    truth = city.truth_document()
    [found] = truth["cases"]
    assert D(found["stolen"]) == D(found["frozen"]) == payment.amount
    assert D(found["cashed_out"]) == 0
    [there] = found["accounts"]
    assert (there["bank"], there["account"]) == payee and D(there["amount"]) == D(there["held"]) == payment.amount
    assert sim.account(*payee)["held"]["CNY"] == str(payment.amount)


def test_python_m_sim_city_plays_a_city_prints_reports_and_writes_the_truth(sim: Sim, tmp_path: Path) -> None:
    truth_file = tmp_path / "truth.json"
    argv = [sys.executable, "-m", "sim.city", "--banks", sim.base, "--cases", "3", "--seed", "4",
            "--speed", "100000", "--day-hours", "0.2", "--truth", str(truth_file)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    scenario = generate(4, 3, CityParams(day=timedelta(hours=0.2)))
    assert done.stdout.count("报案 C000") == 3
    for case in scenario.cases:
        for p in case.payments:
            assert p.target is not None and f"账户{p.target[1]}转账{p.amount:,}元" in done.stdout
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    assert len(truth["cases"]) == 3 and truth["moves"]
    for found in truth["cases"]:
        # Nobody stopped anything: every victim's money was cashed out, and the sums add up to the cent.
        assert D(found["stolen"]) == D(found["in_accounts"]) + D(found["cashed_out"]) == D(found["cashed_out"])
        assert D(found["frozen"]) == 0 and found["reported_at"] is not None
        paid = [D(p["amount"]) for p in found["payments"]]
        assert sum(paid) == D(found["stolen"])
    # The same seed again on the same banks: its accounts exist already, and the driver says so.
    again = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "exists already" in again.stderr


def test_jsonl_reports_carry_the_transfers_for_the_intake_api(sim: Sim) -> None:
    done = subprocess.run([sys.executable, "-m", "sim.city", "--banks", sim.base, "--cases", "2", "--seed", "31",
                           "--speed", "100000", "--day-hours", "0.1", "--format", "jsonl"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert len(reports) == 2
    for body in reports:
        assert body["narrative"].startswith("报警人") and body["transfers"]
        for t in body["transfers"]:
            assert t["to_account"] in body["narrative"] and t["currency"] == "CNY" and D(t["amount"]) > 0


def test_the_driver_talks_to_loopback_only() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--banks", "http://10.0.0.8:8101"])
    assert parse_args(["--banks", "http://127.0.0.1:9"]).banks == "http://127.0.0.1:9"


def test_pushing_the_clock_stamps_the_moves_with_city_time(tmp_path: Path) -> None:
    with running(tmp_path) as banks:
        start = datetime.fromisoformat(banks.http.get("/healthz").json()["now"])
        scenario = generate(41, 2, CityParams(day=timedelta(hours=0.5)), start=start)
        city = LiveCity(scenario, banks.http, speed=1e9, sleep=lambda _: None, push_clock=True)
        city.run()
        stamped = [(datetime.fromisoformat(p.at), scenario.at(p.move.at)) for p in city.played if p.at]
        assert len(stamped) > 10 and scenario.end > timedelta(hours=2)
        # The banks' books show the city's hours, not the fraction of a second the run took.
        assert all(abs(bank - city_time) < timedelta(seconds=5) for bank, city_time in stamped)
