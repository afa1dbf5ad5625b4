"""The race between the criminals' cash-out and the center's stop-payments, in simulated time.

A discrete-event simulation over one `Scenario`: the victims' payments and the criminals' moves are played
at their scheduled times on the simulated banks' own `Ledger` (`sim.city.world`), each victim's report
reaches the center at its scheduled time (the same for every response model), and the center answers
under one `ResponseModel` (`sim.city.responders`). Banks act on an instruction when they answer it: a stop
holds what is available then (amount-limited), a statement lists the account's transactions up to then.

The race ends one hour after the criminals' last scheduled move (nothing moves after that). What counts is
the ground truth at that moment: each victim's share of the held money (`Truth.frozen`) against what it
lost to cash-out. Every model gets a fresh copy of the same city; only the model's own random draws (how
long each step takes) differ, and those come from `random.Random(f"{seed}:{model}")`.
"""

from __future__ import annotations

import heapq
import itertools
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from fanzha.tracing.assembly import Reported
from fanzha.tracing.planner import Query, Stop
from sim.city.responders import MODELS, Desk, Instruction, ResponseModel, leg_of
from sim.city.scenario import Case, Move, Scenario
from sim.city.world import CURRENCY, World

ZERO = Decimal(0)
AFTER_LAST_MOVE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class CaseResult:
    case_id: str
    stolen: Decimal
    frozen: Decimal  # held by stop-payments at the end, by ground truth
    cashed_out: Decimal
    first_stop_after: timedelta | None  # report -> the bank acting on the first stop-payment on a payee

    @property
    def share(self) -> float:
        return float(self.frozen / self.stolen)


@dataclass(frozen=True)
class RaceResult:
    model: ResponseModel
    cases: tuple[CaseResult, ...]
    stops: int
    queries: int
    traces: int
    wall_seconds: float

    @property
    def stolen(self) -> Decimal:
        return sum((c.stolen for c in self.cases), ZERO)

    @property
    def frozen(self) -> Decimal:
        return sum((c.frozen for c in self.cases), ZERO)

    @property
    def cashed_out(self) -> Decimal:
        return sum((c.cashed_out for c in self.cases), ZERO)

    @property
    def share(self) -> float:
        return float(self.frozen / self.stolen) if self.stolen else 0.0

    @property
    def median_share(self) -> float:
        return statistics.median(c.share for c in self.cases)

    def first_stop(self, q: float) -> timedelta | None:
        times = sorted(c.first_stop_after for c in self.cases if c.first_stop_after is not None)
        if not times:
            return None
        return times[min(len(times) - 1, int(q * len(times)))]

    def summary(self) -> dict[str, Any]:
        median, p90 = self.first_stop(0.5), self.first_stop(0.9)
        return {"model": self.model.name, "stolen": str(self.stolen), "frozen": str(self.frozen),
                "frozen_share": round(self.share, 4), "median_case_share": round(self.median_share, 4),
                "cashed_out": str(self.cashed_out), "stops": self.stops, "queries": self.queries,
                "traces": self.traces, "first_stop_median_s": median.total_seconds() if median else None,
                "first_stop_p90_s": p90.total_seconds() if p90 else None}


class _Desk(Desk):
    def __init__(self, stops_cover: Literal["asked", "held"] = "held") -> None:
        super().__init__(stops_cover=stops_cover)
        self.officers: dict[str, int] = defaultdict(int)
        self.busy: dict[str, int] = defaultdict(int)

    def on_merge(self, keep: str, gone: str) -> None:
        self.officers[keep] += self.officers.pop(gone, 0)
        self.busy[keep] += self.busy.pop(gone, 0)


class Race:
    def __init__(self, scenario: Scenario, model: ResponseModel, seed: int = 0,
                 after_last_move: timedelta = AFTER_LAST_MOVE, stops_cover: Literal["asked", "held"] = "held",
                 ) -> None:
        self.scenario = scenario
        self.model = model
        self.rnd = random.Random(f"{seed}:{model.name}")
        self.world = World(scenario)
        self.desk = _Desk(stops_cover)
        self.horizon = scenario.at(scenario.end + after_last_move)
        self._heap: list[tuple[datetime, int, Move | Case | Instruction]] = []
        self._seq = itertools.count()
        self.reported_at: dict[str, datetime] = {}
        self.payees: dict[str, set[tuple[str, str]]] = {}
        self.first_stop: dict[str, timedelta] = {}

    def _push(self, when: datetime, item: Move | Case | Instruction) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), item))

    def run(self) -> RaceResult:
        started = time.perf_counter()
        for move in self.scenario.moves:
            self._push(self.scenario.at(move.at), move)
        for case in self.scenario.cases:
            self._push(self.scenario.at(case.report_at), case)
        while self._heap and self._heap[0][0] <= self.horizon:
            when, _, item = heapq.heappop(self._heap)
            self.world.advance(when)
            if isinstance(item, Move):
                self.world.play(item)
            elif isinstance(item, Case):
                self._report(item)
            else:
                self._answer(item)
        self.world.advance(self.horizon)
        frozen = self.world.frozen()
        truth = self.world.truth
        cases = tuple(CaseResult(case_id=c.case_id, stolen=c.stolen, frozen=frozen.get(c.case_id, ZERO),
                                 cashed_out=truth.cashed_out(c.case_id),
                                 first_stop_after=self.first_stop.get(c.case_id))
                      for c in self.scenario.cases)
        instructions = self.desk.instructions
        return RaceResult(model=self.model, cases=cases, stops=sum(1 for i in instructions if i.kind == "stop"),
                          queries=sum(1 for i in instructions if i.kind == "query"), traces=self.desk.traces,
                          wall_seconds=time.perf_counter() - started)

    # -- the center --------------------------------------------------------------------------------------------
    def _report(self, case: Case) -> None:
        transfers = []
        for k, payment in enumerate(case.payments, start=1):
            assert payment.target is not None
            paid = self.scenario.at(payment.at)
            transfers.append(Reported(case=case.case_id, victim_id=case.case_id if k == 1 else f"{case.case_id}#{k}",
                                      payee=payment.target, amount=payment.amount, currency=CURRENCY,
                                      at=paid.replace(second=0, microsecond=0)))
        self.reported_at[case.case_id] = self.world.now
        self.payees[case.case_id] = {t.payee for t in transfers}
        group = self.desk.report(transfers)
        self.desk.officers[self.desk.group(group)] += 1
        self._act(group)

    def _duration(self, action: Query | Stop) -> timedelta:
        low, high = self.model.stop_time if isinstance(action, Stop) else self.model.query_time
        return self.model.send_delay + timedelta(seconds=self.rnd.uniform(low.total_seconds(), high.total_seconds()))

    def _act(self, group: str) -> None:
        now = self.world.now
        desk = self.desk
        if self.model.parallel:
            for action in desk.plan(group):
                self._push(now + self._duration(action), desk.start(action, group, now))
            return
        group = desk.group(group)
        while desk.busy[group] < desk.officers[group]:
            actions = desk.plan(group)
            if not actions:
                return
            group = desk.group(group)  # tracing may have merged groups
            self._push(now + self._duration(actions[0]), desk.start(actions[0], group, now))
            desk.busy[group] += 1

    def _answer(self, ins: Instruction) -> None:
        now = self.world.now
        desk = self.desk
        ins.answered_at = now
        replan = True
        if ins.kind == "stop":
            answer = self.world.stop(ins.account, ins.asked, reference=f"I{ins.id}")
            ins.status, ins.held = answer.status, answer.held
            replan = answer.status != "held"
            for case_id, payees in self.payees.items():
                if ins.account in payees and case_id not in self.first_stop:
                    self.first_stop[case_id] = now - self.reported_at[case_id]
        else:
            assert ins.since is not None
            ins.status = "answered"
            rows = self.world.ledger.transactions(*ins.account, since=ins.since)
            desk.statement(ins.account, [leg_of(t) for t in rows])
        group = desk.group(ins.group)
        if not self.model.parallel:
            desk.busy[group] -= 1
            replan = True
        if replan:
            self._act(group)


def race(scenario: Scenario, models: Sequence[ResponseModel] = MODELS, seed: int = 0,
         stops_cover: Literal["asked", "held"] = "held") -> list[RaceResult]:
    """Each model on its own fresh copy of the same city."""
    return [Race(scenario, model, seed, stops_cover=stops_cover).run() for model in models]


# ---- the table -----------------------------------------------------------------------------------------------

def _money(value: Decimal) -> str:
    return f"{value:,.0f}"


def _minutes(value: timedelta | None) -> str:
    if value is None:
        return "-"
    minutes = value.total_seconds() / 60
    return f"{minutes / 60:.1f} h" if minutes >= 120 else f"{minutes:.1f} min"


def table(scenario: Scenario, results: Sequence[RaceResult]) -> str:
    stolen = scenario.stolen()
    head = (f"city: {len(scenario.cases)} cases, {len(scenario.gangs)} gangs, {len(scenario.accounts)} accounts, "
            f"{_money(stolen)} CNY stolen (seed {scenario.seed}); each report reaches the center "
            f"{scenario.params.report_delay_min[0]:g}-{scenario.params.report_delay_min[1]:g} min after the "
            f"victim's last payment, the same for every model")
    rows: list[tuple[str, list[str]]] = [
        ("frozen before cash-out, share of stolen", [f"{r.share * 100:.1f} %" for r in results]),
        ("frozen, median case", [f"{r.median_share * 100:.1f} %" for r in results]),
        ("frozen (CNY)", [_money(r.frozen) for r in results]),
        ("lost to cash-out (CNY)", [_money(r.cashed_out) for r in results]),
        ("lost to cash-out, share of stolen", [f"{float(r.cashed_out / stolen) * 100:.1f} %" for r in results]),
        ("stop-payments sent", [str(r.stops) for r in results]),
        ("statements asked", [str(r.queries) for r in results]),
        ("report -> first stop acted on, median", [_minutes(r.first_stop(0.5)) for r in results]),
        ("report -> first stop acted on, 90th pct", [_minutes(r.first_stop(0.9)) for r in results]),
        ("traces run", [str(r.traces) for r in results]),
        ("wall time", [f"{r.wall_seconds:.1f} s" for r in results]),
    ]
    width = max(len(label) for label, _ in rows)
    cols = [max(len(r.model.title), *(len(values[i]) for _, values in rows)) for i, r in enumerate(results)]
    lines = [head, "", " " * width + "  " + "  ".join(r.model.title.rjust(w) for r, w in zip(results, cols,
                                                                                           strict=True))]
    for label, values in rows:
        lines.append(label.ljust(width) + "  " + "  ".join(v.rjust(w) for v, w in zip(values, cols, strict=True)))
    return "\n".join(lines)
