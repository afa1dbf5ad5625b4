"""Play a city against running simulated banks, over their loopback admin endpoints, in accelerated real time.

The driver opens the scenario's accounts (``POST /admin/accounts``), then plays every payment and criminal
move at its time divided by the speed (``POST /admin/transactions``), printing each victim's report when it
falls due, so the product can be fed while the criminals keep moving. A move first reads the account
(``GET /admin/accounts/...``) and takes only what is available; a move the bank refuses because a hold
landed in the meantime is retried with what is available then.

The ground truth follows every move as in the race (`sim.city.truth`), with the held part read just before
the move. With ``push_clock`` the banks' clock is pushed forward so that their timestamps run at city time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

from sim.city import narrative
from sim.city.scenario import AccountKey, Case, Move, Scenario
from sim.city.truth import Truth, money

CURRENCY = "CNY"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost", "[::1]"})
RETRIES = 3


class CityError(Exception):
    """The banks refused to set the city up (an account exists already, a bank is not simulated...)."""


def check_loopback(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise CityError(f"the simulated banks are reached on loopback only, not {url}")
    return url.rstrip("/")


@dataclass
class PlayedMove:
    move: Move
    at: str  # the bank's timestamp
    amount: Decimal
    carried: dict[str, int]


@dataclass
class LiveCity:
    scenario: Scenario
    http: httpx.Client
    speed: float = 60.0
    out: TextIO | None = None
    report_format: str = "text"  # text | jsonl
    push_clock: bool = False
    sleep: Callable[[float], None] = time.sleep
    truth: Truth = field(default_factory=Truth)
    paid_at: dict[str, list[datetime]] = field(default_factory=dict)
    reported_at: dict[str, datetime] = field(default_factory=dict)
    played: list[PlayedMove] = field(default_factory=list)
    _pushed: timedelta = timedelta(0)

    # -- the banks -----------------------------------------------------------------------------------------
    def _account(self, key: AccountKey) -> dict[str, Any]:
        response = self.http.get(f"/admin/accounts/{key[0]}/{key[1]}")
        if response.status_code != 200:
            raise CityError(f"reading {key}: {response.status_code} {response.text}")
        data: dict[str, Any] = response.json()
        return data

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post("/admin/transactions", json=body)

    def held(self, key: AccountKey) -> Decimal:
        return Decimal(self._account(key)["held"].get(CURRENCY, "0"))

    def open_accounts(self) -> None:
        for account in self.scenario.accounts:
            response = self.http.post("/admin/accounts", json={
                "bank": account.bank, "account": account.number, "holder_name": account.holder,
                "id_masked": account.id_masked, "balances": {CURRENCY: str(account.own)} if account.own else {}})
            if response.status_code == 409:
                raise CityError(f"{account.bank} account {account.number} exists already: these banks have "
                                f"played seed {self.scenario.seed}; restart them or pick another --seed")
            if response.status_code != 201:
                raise CityError(f"opening {account.bank} {account.number}: {response.status_code} {response.text}")
            if account.own:
                self.truth.deposit(account.key, account.own)

    # -- playing ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Open the accounts, then play every move and report at its (accelerated) time.

        The city's clock starts now (the scenario's start should be the banks' time now), so opening many
        accounts eats into the first minutes of the city, not into the criminals' schedule after them.
        """
        wall_start = time.monotonic()
        self.open_accounts()
        events: list[tuple[timedelta, int, Move | Case]] = [(m.at, 1, m) for m in self.scenario.moves]
        events += [(c.report_at, 0, c) for c in self.scenario.cases]
        events.sort(key=lambda e: (e[0], e[1], e[2].seq if isinstance(e[2], Move) else 0))
        for offset, _, item in events:
            wait = wall_start + offset.total_seconds() / self.speed - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            if self.push_clock:
                self._catch_up(offset, wall_start)
            if isinstance(item, Move):
                self.play(item)
            else:
                self.report(item)

    def _catch_up(self, offset: timedelta, wall_start: float) -> None:
        """Push the banks' clock so that it shows the city's time (start + offset)."""
        behind = offset - timedelta(seconds=time.monotonic() - wall_start) - self._pushed
        if behind > timedelta(seconds=1):
            response = self.http.post("/admin/clock", json={"advance_seconds": behind.total_seconds()})
            if response.status_code != 200:
                raise CityError(f"pushing the clock: {response.status_code} {response.text}")
            self._pushed += behind

    def play(self, move: Move) -> PlayedMove:
        if move.kind == "payment":
            assert move.source is not None and move.target is not None and move.case_id is not None
            legs = self._move(move, move.amount)
            self.truth.payment(move.case_id, move.source, move.target, move.amount)
            self.paid_at.setdefault(move.case_id, []).append(datetime.fromisoformat(legs[0]["at"]))
            return self._record(move, legs, move.amount, {move.case_id: int(move.amount * 100)})
        if move.source is None:
            assert move.target is not None
            legs = self._move(move, move.amount)
            self.truth.deposit(move.target, move.amount)
            return self._record(move, legs, move.amount, {})
        for _ in range(RETRIES):
            view = self._account(move.source)
            available = Decimal(view["available"].get(CURRENCY, "0"))
            held = Decimal(view["held"].get(CURRENCY, "0"))
            amount = available if move.sweep else min(move.amount, available)
            if amount <= 0:
                return self._record(move, [], Decimal(0), {})
            response = self._post(self._body(move, amount))
            if response.status_code == 201:
                legs = response.json()["transactions"]
                if move.target is not None:
                    carried = self.truth.transfer(move.source, move.target, amount, held)
                else:
                    carried = self.truth.withdraw(move.source, amount, held, move.channel)
                return self._record(move, legs, amount, carried)
            if response.status_code != 409:
                raise CityError(f"move {move}: {response.status_code} {response.text}")
        return self._record(move, [], Decimal(0), {})

    def _move(self, move: Move, amount: Decimal) -> list[dict[str, Any]]:
        response = self._post(self._body(move, amount))
        if response.status_code != 201:
            raise CityError(f"move {move}: {response.status_code} {response.text}")
        legs: list[dict[str, Any]] = response.json()["transactions"]
        return legs

    @staticmethod
    def _body(move: Move, amount: Decimal) -> dict[str, Any]:
        body: dict[str, Any] = {"amount": str(amount), "currency": CURRENCY, "channel": move.channel,
                                "memo": f"city:{move.kind}:{move.seq}"}
        if move.source is not None:
            body["from"] = {"bank": move.source[0], "account": move.source[1]}
        if move.target is not None:
            body["to"] = {"bank": move.target[0], "account": move.target[1]}
        if move.source is None:
            body["counterparty_name"] = "现金存入"
        return body

    def _record(self, move: Move, legs: list[dict[str, Any]], amount: Decimal, carried: dict[str, int],
                ) -> PlayedMove:
        played = PlayedMove(move=move, at=legs[0]["at"] if legs else "", amount=amount, carried=carried)
        self.played.append(played)
        return played

    def report(self, case: Case) -> dict[str, Any]:
        now = datetime.now(UTC) + self._pushed
        self.reported_at[case.case_id] = now
        body = narrative.report(case, self.scenario, now, self.paid_at.get(case.case_id))
        if self.out is not None:
            if self.report_format == "jsonl":
                self.out.write(json.dumps(body, ensure_ascii=False) + "\n")
            else:
                local = now.astimezone(narrative.SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
                self.out.write(f"[{local}] 报案 {case.case_id}\n{body['narrative']}\n\n")
            self.out.flush()
        return body

    # -- the truth --------------------------------------------------------------------------------------------
    def truth_document(self) -> dict[str, Any]:
        """Every victim's money at the end (held / not held per account, cashed out per channel), and the moves."""
        held_cache: dict[AccountKey, Decimal] = {}

        def held_of(key: AccountKey) -> Decimal:
            if key not in held_cache:
                held_cache[key] = self.held(key)
            return held_cache[key]

        self.truth.check()
        victims = self.truth.snapshot(held_of)
        cases = []
        for case in self.scenario.cases:
            paid = self.paid_at.get(case.case_id, [])
            cases.append({
                "case": case.case_id, "victim_name": case.victim_name, "fraud_type": case.fraud_type,
                "victim_account": {"bank": case.victim_account[0], "account": case.victim_account[1]},
                "reported_at": self.reported_at[case.case_id].isoformat() if case.case_id in self.reported_at
                else None,
                "payments": [{"bank": p.target[0], "account": p.target[1], "amount": str(p.amount),
                              "at": paid[i].isoformat() if i < len(paid) else None}
                             for i, p in enumerate(case.payments) if p.target is not None],
                **victims.get(case.case_id, {}),
            })
        return {
            "seed": self.scenario.seed, "speed": self.speed, "rule": "sim.city.truth (labelled lots, held money is "
            "the victims' first, outflows take own money first then victims pro rata)",
            "cases": cases,
            "gangs": [{"gang": g.gang_id, "shape": g.shape,
                       "entries": [list(k) for k in g.entries], "edges": [[list(a), list(b)] for a, b in g.edges]}
                      for g in self.scenario.gangs],
            "moves": [{"at": p.at, "kind": p.move.kind, "from": list(p.move.source) if p.move.source else None,
                       "to": list(p.move.target) if p.move.target else None, "planned": str(p.move.amount),
                       "amount": str(p.amount), "channel": p.move.channel,
                       "victims": {label: str(money(v)) for label, v in sorted(p.carried.items()) if label}}
                      for p in self.played],
        }
