"""The dashboard's queries with a million cases on PostgreSQL, against a naive baseline in the same run.

Builds a fresh database (the real migrations, so the real indexes) and fills it with COPY from generated rows,
not through the API: N cases (default 1,000,000) received over the last 365 days (numbered in arrival order;
half a percent of reports dated back by up to three days), with their reported
transfers (about 1.25 per case, 95 % CNY), their bank instructions (a stop-payment for each case paying a
known bank, answered after minutes to hours, most held, some refused or unanswered, a tenth of the held ones
renewed two days later; a transaction query beside each stop, as the first move sends one; a freeze for a
quarter of the held stops; a return to the victim from half of the freezes, most executed by the bank for some
or all of the frozen money, the rest refused or still waiting) and carrier actions for a third of the cases
(some intercepted at two carriers). Then VACUUM ANALYZE, as autovacuum would.

For each dashboard period (today, 7 days, 30 days; 365 days for the report, which is not a dashboard
query) it times every figure function of fanzha/reports/figures.py (the SQL the dashboard runs on each poll)
and the whole poll (`compute`), median of --repeat runs after one warm-up, against the naive way: pull the
period's rows (same joins, same WHERE) into pandas and aggregate there. Goal: every dashboard query under
200 ms. Usage: python bench/figures.py --postgres-url URL [--cases 1000000] [--repeat 7] [--seed 7]
(``./scripts/bench figures`` starts a private PostgreSQL and passes --postgres-url).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fanzha.auth import service as auth_service  # noqa: E402
from fanzha.auth.models import Role  # noqa: E402
from fanzha.cli import prepare_database  # noqa: E402
from fanzha.config import Settings  # noqa: E402
from fanzha.reports import figures as fig  # noqa: E402
from fanzha.reports.period import Period  # noqa: E402
from fanzha.storage.db import Database  # noqa: E402

DB_NAME = "fanzha_bench_figures"
CHANNELS = (("110", .45), ("12345", .25), ("station", .15), ("web", .10), ("app", .05))
FRAUD_TYPES = tuple(fig.FRAUD_TYPES)
BANKS = ("ICBC", "ABC", "BOC", "CCB", "COMM", "PSBC", "CMB", "SPDB", "CITIC", "CIB", "CMBC")
CURRENCIES = (("CNY", .95), ("HKD", .02), ("USD", .02), ("EUR", .01))
CARRIERS = ("CMCC", "CUCC", "CTCC")
US = 1_000_000
MONEY = 10_000  # stored units per currency unit
GOAL_MS = 200.0


# ---- data ------------------------------------------------------------------------------------------------------

def _ts(us: np.ndarray) -> pl.Series:
    """Microseconds since the epoch as PostgreSQL timestamptz text (UTC)."""
    return pl.Series(us.astype("int64")).cast(pl.Datetime("us")).dt.strftime("%Y-%m-%d %H:%M:%S%.6f") + "+00"


def _prefixed(series: pl.Series, prefix: str) -> pl.Series:
    return pl.select(pl.concat_str([pl.lit(prefix), series])).to_series()


def _masked(values: pl.Series, present: np.ndarray) -> pl.Series:
    """``values`` where ``present``, NULL elsewhere."""
    return pl.select(pl.when(pl.Series(present)).then(values).otherwise(None)).to_series()


def _ts_or_null(us: np.ndarray, present: np.ndarray) -> pl.Series:
    return _masked(_ts(us), present)


def _copy(conn: Any, table: str, frame: pl.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="")
    buffer.seek(0)
    columns = ", ".join(frame.columns)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
        while chunk := buffer.read(8 << 20):
            copy.write(chunk)


def _pick(rng: np.random.Generator, weighted: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    names = np.array([w[0] for w in weighted])
    return names[rng.choice(len(names), size=n, p=[w[1] for w in weighted])]


def build(url: str, n: int, seed: int, now: datetime) -> dict[str, int]:
    """Fill a migrated database; returns row counts."""
    rng = np.random.default_rng(seed)
    db = Database(url)
    with db.transaction() as session:
        user = auth_service.create_user(session, None, username="bench", display_name="bench",
                                        role=Role.DUTY_OFFICER, org_code="center", password=None)
        user_id, org_id = user.id, user.org_id
    db.dispose()
    now_us = int(now.timestamp() * US)
    received = np.sort(now_us - rng.integers(0, 365 * 86_400 * US, size=n))
    # Half a percent of reports arrive dated back by up to three days (typed in late): numbered now, received then.
    late = rng.random(n) < .005
    received[late] -= rng.integers(3600 * US, 72 * 3600 * US, size=int(late.sum()))
    case_id = np.arange(1, n + 1)
    cases = pl.DataFrame({
        "id": case_id, "number": _prefixed(pl.Series(case_id).cast(pl.Utf8).str.zfill(10), "B"),
        "channel": _pick(rng, CHANNELS, n),
        "status": np.array(["received", "accepted", "in_progress", "closed"])[rng.integers(0, 4, n)],
        "fraud_type": np.array(FRAUD_TYPES)[np.minimum(rng.geometric(0.28, n) - 1, len(FRAUD_TYPES) - 1)],
        "narrative": "bench", "extraction": "{}", "warnings": "[]", "received_at": _ts(received),
        "first_action_at": _ts(received + 40 * US), "created_by_id": user_id, "created_by_org_id": org_id,
    })
    # Transfers: 1 (80 %), 2 (15 %) or 3 (5 %) per case.
    per_case = rng.choice([1, 2, 3], size=n, p=[.8, .15, .05])
    t_case = np.repeat(case_id, per_case)
    m = len(t_case)
    t_received = received[t_case - 1]
    t_bank_known = rng.random(m) < .9
    t_bank = np.where(t_bank_known, np.array(BANKS)[rng.integers(0, len(BANKS), m)], None)
    amount_units = (np.round(np.exp(rng.normal(9.0, 1.2, m)), 2) * 100).astype("int64") * (MONEY // 100)
    currency = _pick(rng, CURRENCIES, m)
    accounts = _prefixed(pl.Series(rng.integers(10**15, 10**16, m)).cast(pl.Utf8), "622")
    transfers = pl.DataFrame({
        "case_id": t_case, "to_account": accounts, "to_bank": pl.Series(t_bank, dtype=pl.Utf8),
        "amount": amount_units, "currency": currency, "occurred_at": _ts(t_received - 1800 * US),
        "method": "bank_transfer",
    })
    # One stop-payment per case whose first transfer pays a known bank, with a transaction query beside it.
    first = np.concatenate([[0], np.cumsum(per_case)[:-1]])
    stop_rows = first[t_bank_known[first]]
    k = len(stop_rows)
    s_case = t_case[stop_rows]
    s_received = received[s_case - 1]
    created = s_received + rng.integers(5, 120, k) * US
    fate = rng.random(k)  # held (80 %), refused (10 %), unanswered (10 %)
    held = fate < .8
    answered = fate < .9
    answered_at = created + (np.exp(rng.normal(6.5, 1.0, k)) * US).astype("int64")  # minutes to hours
    requested = amount_units[stop_rows]
    held_amount = np.where(rng.random(k) < .7, requested, (requested * rng.random(k)).astype("int64") // MONEY * MONEY)
    status = np.where(held, "active", np.where(answered, "rejected", "sent"))
    # A tenth of the held stops renewed two days on: the bank's last answer moves, the time first held does not.
    renewed = held & (rng.random(k) < .1)
    last_answer = np.where(renewed, answered_at + 47 * 3600 * US, answered_at)
    freeze = held & (rng.random(k) < .25)
    f = int(freeze.sum())

    def instructions(kind: str, rows: np.ndarray, start: int, *, status: Any, requested: Any, held: Any,
                     created: np.ndarray, answered: np.ndarray, answered_present: np.ndarray,
                     held_at: np.ndarray | None = None, held_present: np.ndarray | None = None,
                     renewals: Any = 0) -> pl.DataFrame:
        size = len(rows)
        never = np.zeros(size, dtype=bool)
        return pl.DataFrame({
            "id": np.arange(start, start + size), "case_id": s_case[rows], "kind": kind,
            "bank_code": t_bank[stop_rows][rows].astype(str), "account": accounts.gather(stop_rows[rows]),
            "currency": currency[stop_rows][rows], "requested_amount": requested, "held_amount": held,
            "major_case": False, "status": status, "renewals": renewals,
            "message_id": _prefixed(pl.Series(np.arange(start, start + size)).cast(pl.Utf8), "bench-"),
            "requested_by_id": user_id, "created_at": _ts(created), "sent_at": _ts(created + 2 * US),
            "answered_at": _ts_or_null(answered, answered_present),
            "held_at": _ts_or_null(created if held_at is None else held_at,
                                   never if held_present is None else held_present),
            "answer": "{}", "last_error": "",
        })

    everything = np.arange(k)
    stops = instructions("stop_payment", everything, 1, status=status, requested=requested,
                         held=_masked(pl.Series(held_amount), held), created=created, answered=last_answer,
                         answered_present=answered, held_at=answered_at, held_present=held,
                         renewals=renewed.astype("int64"))
    queries = instructions("transaction_query", everything, k + 1, status="answered", requested=None, held=None,
                           created=created, answered=created + 30 * US, answered_present=np.ones(k, dtype=bool))
    frozen_rows = everything[freeze]
    freeze_held = held_amount[freeze]
    freeze_answered = answered_at[freeze] + 4000 * US
    # Returns from half of the freezes (planned a month on): 70 % executed, for all the frozen money or part
    # of it (the bank then holds that much less), 15 % refused, 15 % still with the bank.
    r_from = np.flatnonzero(rng.random(f) < .5)
    r = len(r_from)
    r_fate = rng.random(r)
    executed = r_fate < .7
    r_amount = np.where(rng.random(r) < .6, freeze_held[r_from],
                        (freeze_held[r_from] * rng.random(r)).astype("int64") // MONEY * MONEY)
    left = freeze_held.copy()
    left[r_from[executed]] -= r_amount[executed]
    freezes = instructions("freeze", frozen_rows, 2 * k + 1, status="active", requested=freeze_held, held=left,
                           created=answered_at[freeze] + 3600 * US, answered=freeze_answered,
                           answered_present=np.ones(f, dtype=bool), held_at=freeze_answered,
                           held_present=np.ones(f, dtype=bool))
    r_created = freeze_answered[r_from] + 30 * 86_400 * US
    returns = instructions("return", frozen_rows[r_from], 2 * k + f + 1,
                           status=np.where(executed, "returned", np.where(r_fate < .85, "rejected", "sent")),
                           requested=r_amount, held=None, created=r_created, answered=r_created + 86_400 * US,
                           answered_present=r_fate < .85).with_columns(
        target_instruction_id=pl.Series(2 * k + 1 + r_from), payee_account=pl.lit("6214830000000011"),
        payee_bank=pl.lit("CMB"), payee_name=pl.lit("王某"), basis=pl.lit("single_victim"),
        returned_amount=_masked(pl.Series(r_amount), executed))
    # Carrier actions for a third of the cases; a fifth of them intercepted at two carriers.
    c_cases = case_id[rng.random(n) < 1 / 3]
    twice = rng.random(len(c_cases)) < .2
    c_case = np.concatenate([c_cases, c_cases[twice]])
    c = len(c_case)
    base = pl.Series(rng.integers(13_000_000_000, 19_999_999_999, len(c_cases))).cast(pl.Utf8)
    number_text = _prefixed(pl.concat([base, base.filter(pl.Series(twice))]), "+86")
    c_created = received[c_case - 1] + 600 * US
    c_fate = rng.random(c)
    carrier = pl.DataFrame({
        "case_id": c_case, "batch": pl.Series(c_case).cast(pl.Utf8), "action":
            np.where(np.arange(c) >= len(c_cases), "intercept", np.where(rng.random(c) < .7, "shutdown", "intercept")),
        "number": number_text, "carrier": np.array(CARRIERS)[rng.integers(0, 3, c)],
        "status": np.where(c_fate < .8, "done", np.where(c_fate < .9, "refused", "sent")),
        "reason": "bench", "officer": "bench", "route_source": "library", "hops": 0,
        "message_id": _prefixed(pl.Series(np.arange(c)).cast(pl.Utf8), "bench-c-"),
        "requested_by_id": user_id, "created_at": _ts(c_created), "sent_at": _ts(c_created),
        "answered_at": _ts_or_null(c_created + 900 * US, c_fate < .9), "answer": "{}", "last_error": "",
    })
    # Outreach: a flash warning for a quarter as many calls as there are cases (80 % delivered, some never
    # sent), and a callback task for a sixth as many people (half of them dissuaded).
    w = n // 4
    warned = now_us - rng.integers(0, 365 * 86_400 * US, size=w)
    w_fate = rng.random(w)
    submitted = w_fate < .9
    flash = pl.DataFrame({
        "call_id": _prefixed(pl.Series(np.arange(w)).cast(pl.Utf8), "call-"),
        "number": _prefixed(pl.Series(rng.integers(13_000_000_000, 19_999_999_999, w)).cast(pl.Utf8), "+86"),
        "flagged": "+85261234567",
        "fraud_type": np.array(FRAUD_TYPES)[np.minimum(rng.geometric(0.28, w) - 1, len(FRAUD_TYPES) - 1)],
        "text": "【反诈】请立即挂断", "attempts": 1,
        "status": np.where(w_fate < .8, "delivered", np.where(submitted, "undelivered", "not_sent")),
        "created_at": _ts(warned), "submitted_at": _ts_or_null(warned + 2 * US, submitted),
        "delivered_at": _ts_or_null(warned + 9 * US, w_fate < .8), "last_error": "",
    })
    t = n // 6
    opened = now_us - rng.integers(0, 365 * 86_400 * US, size=t)
    t_fate = rng.random(t)
    closed = t_fate < .85
    tasks = pl.DataFrame({
        "phone": _prefixed(pl.Series(np.arange(t) + 13_100_000_000).cast(pl.Utf8), "+86"),
        "grade": "high", "grade_rank": 0, "source": "watcher", "reason": "bench", "on_call": False,
        "status": np.where(t_fate < .5, "dissuaded", np.where(t_fate < .6, "paid", np.where(closed, "gave_up",
                                                                                             "open"))),
        "attempts": 1, "next_attempt_at": _ts(opened), "closed_at": _ts_or_null(opened + 1800 * US, closed),
        "created_at": _ts(opened), "updated_at": _ts(opened), "version": 1,
    })
    engine = create_engine(url)
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        for table, frame in (("cases", cases), ("case_transfers", transfers), ("bank_instructions", stops),
                             ("bank_instructions", queries), ("bank_instructions", freezes),
                             ("bank_instructions", returns),
                             ("carrier_instructions", carrier), ("flash_warnings", flash), ("callback_tasks", tasks)):
            _copy(raw, table, frame)
        for table in ("cases", "case_transfers", "bank_instructions", "carrier_instructions", "flash_warnings",
                      "callback_tasks"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return {"cases": n, "case_transfers": m, "bank_instructions": 2 * k + f + r, "of which returns": r,
            "carrier_instructions": c,
            "flash_warnings": w, "callback_tasks": t}


# ---- the naive way ---------------------------------------------------------------------------------------------

def naive(engine: Any, period: Period) -> dict[str, Any]:
    """The same figures by pulling the period's rows into pandas and aggregating there."""
    where = "c.received_at >= %(start)s AND c.received_at < %(end)s"
    params = {"start": period.start, "end": period.end}
    with engine.connect() as conn:
        raw = conn.connection.driver_connection

        def frame(sql: str) -> pd.DataFrame:
            with raw.cursor() as cur:
                cur.execute(sql, params)
                return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])

        out: dict[str, Any] = {}
        timings: dict[str, float] = {}
        t = time.perf_counter()
        cases = frame(f"SELECT c.received_at, c.channel, c.fraud_type FROM cases c WHERE {where}")
        cases["day"] = cases["received_at"].dt.tz_convert("Asia/Shanghai").dt.date
        out["cases"] = (cases.groupby("channel").size(), cases.groupby("fraud_type").size(),
                        cases.groupby("day").size())
        timings["cases_received"] = time.perf_counter() - t
        t = time.perf_counter()
        lost = frame("SELECT t.currency, t.amount FROM case_transfers t JOIN cases c ON c.id = t.case_id"
                     f" WHERE {where}")
        held = frame("SELECT b.kind, b.currency, b.held_amount FROM bank_instructions b"
                     f" JOIN cases c ON c.id = b.case_id WHERE {where}"
                     " AND b.kind IN ('stop_payment', 'freeze') AND b.held_amount IS NOT NULL")
        returned = frame("SELECT b.currency, b.returned_amount FROM bank_instructions b"
                         f" JOIN cases c ON c.id = b.case_id WHERE {where}"
                         " AND b.kind = 'return' AND b.returned_amount IS NOT NULL AND b.status = 'returned'")
        out["money"] = (lost.groupby("currency")["amount"].sum(),
                        held.groupby(["kind", "currency"])["held_amount"].sum(),
                        returned.groupby("currency")["returned_amount"].sum())
        timings["money"] = time.perf_counter() - t
        t = time.perf_counter()
        acc = frame("SELECT b.kind, b.bank_code, b.account FROM bank_instructions b JOIN cases c ON c.id = b.case_id"
                    f" WHERE {where} AND b.kind IN ('stop_payment', 'freeze') AND b.held_amount IS NOT NULL")
        out["accounts"] = acc.drop_duplicates().groupby("kind").size()
        timings["accounts"] = time.perf_counter() - t
        t = time.perf_counter()
        nums = frame("SELECT ci.action, ci.number FROM carrier_instructions ci JOIN cases c ON c.id = ci.case_id"
                     f" WHERE {where} AND ci.status = 'done'")
        out["numbers"] = (nums["number"].nunique(), nums.groupby("action")["number"].nunique())
        timings["numbers_shut"] = time.perf_counter() - t
        t = time.perf_counter()
        stops = frame("SELECT c.id, c.received_at, b.held_at FROM cases c"
                      f" JOIN bank_instructions b ON b.case_id = c.id WHERE {where}"
                      " AND b.kind = 'stop_payment' AND b.held_amount IS NOT NULL"
                      " AND b.held_at IS NOT NULL")
        first = stops.groupby(["id", "received_at"], as_index=False)["held_at"].min()
        seconds = (first["held_at"] - first["received_at"]).dt.total_seconds().clip(lower=0)
        first["day"] = first["received_at"].dt.tz_convert("Asia/Shanghai").dt.date
        out["stop_time"] = (seconds.quantile([.5, .9]), seconds.groupby(first["day"]).quantile([.5, .9]))
        timings["stop_time"] = time.perf_counter() - t
        t = time.perf_counter()
        warned = frame("SELECT status, submitted_at FROM flash_warnings"
                       " WHERE created_at >= %(start)s AND created_at < %(end)s")
        out["flash_sms"] = (len(warned), int(warned["submitted_at"].notna().sum()),
                            int((warned["status"] == "delivered").sum()))
        timings["flash_sms"] = time.perf_counter() - t
        t = time.perf_counter()
        talked = frame("SELECT phone FROM callback_tasks WHERE status = 'dissuaded'"
                       " AND closed_at >= %(start)s AND closed_at < %(end)s")
        out["people_dissuaded"] = talked["phone"].nunique()
        timings["people_dissuaded"] = time.perf_counter() - t
    out["timings"] = timings
    return out


# ---- measuring -------------------------------------------------------------------------------------------------

def _load() -> str:
    """The machine's load average (1, 5, 15 min) on its cores: the bench shares them with everything else."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def median_ms(action: Callable[[], Any], repeat: int) -> float:
    action()  # warm-up
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        action()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


def naive_ms(engine: Any, period: Period, repeat: int) -> dict[str, float]:
    naive(engine, period)
    runs = [naive(engine, period)["timings"] for _ in range(repeat)]
    medians = {name: statistics.median(r[name] for r in runs) * 1000 for name in runs[0]}
    medians["compute"] = sum(medians.values())
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", required=True, help="server URL (scripts/bench starts one)")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="reuse the database of an earlier run if it has the rows")
    args = parser.parse_args()

    admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    url = make_url(args.postgres_url).set(database=DB_NAME).render_as_string(hide_password=False)
    now = datetime.now(UTC)
    reuse = False
    if args.keep:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DB_NAME}).first():
                probe = create_engine(url)
                with probe.connect() as c:
                    reuse = c.execute(text("SELECT count(*) FROM cases")).scalar_one() == args.cases
                probe.dispose()
    if reuse:
        prepare_database(Settings(database_url=url))  # a newer schema since that run: migrate it
    else:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
        prepare_database(Settings(database_url=url))
        t = time.perf_counter()
        counts = build(url, args.cases, args.seed, now)
        built = time.perf_counter() - t
        print(f"built in {built:.1f} s (generate + COPY + VACUUM ANALYZE): "
              + ", ".join(f"{name} {rows:,}" for name, rows in counts.items()), flush=True)
    admin.dispose()

    db = Database(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        server = conn.execute(text("SHOW server_version")).scalar_one()
        last = conn.execute(text("SELECT max(received_at) FROM cases")).scalar_one()
    print(f"PostgreSQL {server}; {args.cases:,} cases up to {last:%Y-%m-%d %H:%M} UTC; "
          f"median of {args.repeat} runs after a warm-up; {_load()}\n")
    windows = {"today": Period.preset("today"), "7 days": Period.preset("7d"), "30 days": Period.preset("30d"),
               "365 days (report)": Period.preset("30d")}
    today = windows["today"].last
    windows["365 days (report)"] = Period(today - timedelta(days=364), today)
    functions: dict[str, Callable[..., Any]] = {
        "cases_received": fig.cases_received, "money": fig.money, "accounts": fig.accounts,
        "numbers_shut": fig.numbers_shut, "stop_time": fig.stop_time, "flash_sms": fig.flash_sms,
        "people_dissuaded": fig.people_dissuaded, "compute": fig.compute}
    header = f"{'period':<18} {'query':<15} {'cases':>9} {'fanzha ms':>10} {'naive ms':>10} {'speed-up':>9}  goal"
    print(header)
    print("-" * len(header))
    slowest_dashboard = 0.0
    for label, period in windows.items():
        with db.read() as session:
            n_cases = fig.cases_received(session, period).total
        baseline = naive_ms(engine, period, max(3, args.repeat // 2) if "365" in label else args.repeat)
        for name, function in functions.items():
            def run(function: Callable[..., Any] = function, period: Period = period) -> Any:
                with fig.snapshot(db) as session:
                    return function(session, period)
            ms = median_ms(run, args.repeat)
            dashboard = "365" not in label
            if dashboard and name != "compute":
                slowest_dashboard = max(slowest_dashboard, ms)
            goal = ("ok" if ms < GOAL_MS else "SLOW") if dashboard and name != "compute" else ""
            print(f"{label:<18} {name:<15} {n_cases:>9,} {ms:>10.1f} {baseline[name]:>10.1f} "
                  f"{baseline[name] / ms:>8.1f}x  {goal}", flush=True)
    print(f"\nslowest dashboard query: {slowest_dashboard:.1f} ms (goal < {GOAL_MS:.0f} ms per query); {_load()}")
    with engine.connect() as conn:
        sizes = conn.execute(text(
            "SELECT relname, pg_size_pretty(pg_relation_size(oid)) FROM pg_class"
            " WHERE relname LIKE 'ix_%figures%' OR relname = 'ix_bank_instructions_returns' ORDER BY relname")).all()
    if sizes:
        print("figure indexes: " + ", ".join(f"{name} {size}" for name, size in sizes))
    db.dispose()
    engine.dispose()


if __name__ == "__main__":
    main()
