"""Stop-payment speed: from a report's arrival to the bank's signed StopPaymentResult stored.

Every report names one transfer to an ABC account (BIN 62284804, 19 digits) that the simulated bank opens
on first use (`--open-unknown`), so each report yields exactly one automatic stop-payment. Reports are
offered open loop at a fixed rate (sent on schedule, never waiting for earlier answers) over raw keep-alive
HTTP/1.1 connections. A report's clock starts when its request is written to the socket and stops at the
instruction's `answered_at` (set by the dispatcher in the transaction that stores the bank's verified,
signed answer), read from the database after the run and matched by the case number of the 201 answer.

Per backend (SQLite with 1 worker, PostgreSQL with 3) and per simulated bank latency (0 and 200 ms), each
scenario gets a fresh database, key directory, simulated bank process and fanzha server. The baseline runs
the same reports through the same server with FANZHA_FIRST_MOVE=off and measures report -> 201 (case stored),
so the bank round trip's share is visible. Usage: scripts/bench stop_payment [--reports N] [--rate R]
[--latency-ms 0,200]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, or_, select

from fanzha.banking.first_move import BANKS_KEYRING, center_signer
from fanzha.banking.models import BankInstruction
from fanzha.cases.models import Case
from fanzha.config import Settings
from fanzha.storage.db import Database
from intake import (
    ROOT,
    free_port,
    fresh_postgres,
    officer_token,
    percentile,
    read_response,
    report_body,
    request_bytes,
    server,
)

SECONDS_2016 = 15 * 60  # the 2016 center's stop-payment over its direct lines to the banks: 15-20 minutes
IDLE_REUSE_S = 2.0  # uvicorn closes keep-alive connections idle for 5 s; never reuse one close to that
RESPONSE_TIMEOUT_S = 60.0
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# ---- processes -----------------------------------------------------------------------------------------------

@contextmanager
def simulated_banks(keys_dir: Path, latency_ms: int) -> Iterator[str]:
    """`python -m sim.banks` in its own process; yields its base URL once healthy (banks' keyring written)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.banks", "--port", str(port), "--keys-dir", str(keys_dir), "--open-unknown",
         "--latency-ms", str(latency_ms)], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"simulated banks exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("simulated banks did not start")
            time.sleep(0.1)
        if not (keys_dir / BANKS_KEYRING).exists():
            raise RuntimeError(f"simulated banks did not publish {keys_dir / BANKS_KEYRING}")
        yield base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def bank_totals(bank_base: str) -> dict[str, Any]:
    totals: dict[str, Any] = httpx.get(f"{bank_base}/admin/stats", timeout=10, trust_env=False).json()["total"]
    return totals


# ---- open-loop load ------------------------------------------------------------------------------------------

@dataclass
class Sent:
    """One report as the client saw it."""

    lag_s: float = math.nan  # how late against its schedule the request went out (load generator health)
    sent_at: float = math.nan  # wall clock (time.time()) when the request was written: the report's arrival
    latency_s: float = math.nan  # to the server's answer
    status: int = 0
    number: str = ""
    error: str = ""


class Connections:
    """Idle keep-alive connections, most recently used first; a send never waits for another to finish."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = time.monotonic()
        while self.idle:
            used, reader, writer = self.idle.pop()
            if now - used < IDLE_REUSE_S and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection("127.0.0.1", self.port)

    def put(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.idle.append((time.monotonic(), reader, writer))

    def close(self) -> None:
        for _, _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def _send(connections: Connections, request: bytes, due: float, record: Sent) -> None:
    try:
        reader, writer = await connections.get()
    except OSError as exc:
        record.error = f"connect: {exc!r}"
        return
    record.lag_s = time.perf_counter() - due
    record.sent_at = time.time()
    start = time.perf_counter()
    try:
        writer.write(request)
        status, body = await asyncio.wait_for(read_response(reader), RESPONSE_TIMEOUT_S)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
        record.error = repr(exc)
        writer.close()
        return
    record.latency_s = time.perf_counter() - start
    record.status = status
    if status == 201:
        record.number = str(json.loads(body)["number"])
        connections.put(reader, writer)
    else:
        record.error = f"HTTP {status}: {body[:300]!r}"
        writer.close()  # uvicorn closes the connection after an unhandled error: never reuse it


async def offer(base: str, token: str, first: int, n: int, rate: float) -> list[Sent]:
    """Reports first..first+n-1 at `rate` per second, each on schedule whatever happened to earlier ones."""
    port = int(base.rsplit(":", 1)[1])
    requests = [request_bytes(port, token, report_body(first + i)) for i in range(n)]
    records = [Sent() for _ in range(n)]
    connections = Connections(port)
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter() + 0.05
    try:
        for i, request in enumerate(requests):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(connections, request, due, records[i])))
        await asyncio.gather(*tasks)
    finally:
        connections.close()
    return records


# ---- answers in the database ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Stored:
    instructions: int  # stop-payments of the case (must be 1)
    status: str
    answered_at: datetime | None
    last_error: str


def settled_count(db: Database) -> tuple[int, int]:
    """(instructions, instructions answered or failed for good) over the whole database."""
    with db.read() as session:
        total = session.scalar(select(func.count()).select_from(BankInstruction)) or 0
        settled = session.scalar(select(func.count()).select_from(BankInstruction).where(
            or_(BankInstruction.answered_at.is_not(None), BankInstruction.status == "failed"))) or 0
    return total, settled


def wait_settled(db: Database, expected: int, timeout_s: float) -> None:
    """Until `expected` instructions exist and all are answered (or failed), or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        total, settled = settled_count(db)
        if total >= expected and settled >= total:
            return
        time.sleep(0.2)


def stored_answers(db: Database, numbers: Sequence[str]) -> dict[str, Stored]:
    found: dict[str, list[BankInstruction]] = {}
    with db.read() as session:
        for start in range(0, len(numbers), 500):
            chunk = list(numbers[start:start + 500])
            rows = session.execute(select(Case.number, BankInstruction).join(
                BankInstruction, BankInstruction.case_id == Case.id).where(Case.number.in_(chunk))).all()
            for number, instruction in rows:
                found.setdefault(number, []).append(instruction)
    return {number: Stored(len(rows), rows[0].status, rows[0].answered_at, rows[0].last_error)
            for number, rows in found.items()}


# ---- scenarios -----------------------------------------------------------------------------------------------

def _quantiles(values: list[float], prefix: str) -> dict[str, float | None]:
    if not values:
        return {f"{prefix}_p50_s": None, f"{prefix}_p90_s": None, f"{prefix}_p99_s": None}
    return {f"{prefix}_p50_s": round(statistics.median(values), 3),
            f"{prefix}_p90_s": round(percentile(values, 0.90), 3),
            f"{prefix}_p99_s": round(percentile(values, 0.99), 3)}


def _reasons(stored: Iterable[Stored]) -> dict[str, int]:
    """Why instructions failed, grouped (message ids masked)."""
    return dict(Counter(UUID_RE.sub("…", s.last_error)[:200] for s in stored if s.last_error))


def _client_side(records: list[Sent]) -> dict[str, Any]:
    ok = [r for r in records if r.status == 201]
    lags = [r.lag_s for r in records if not math.isnan(r.lag_s)]
    errors = Counter(r.error.split(":")[0][:80] for r in records if r.error)
    return {"created_201": len(ok), **_quantiles([r.latency_s for r in ok], "report_to_201"),
            "sender_lag_p99_ms": round(percentile(lags, 0.99) * 1000, 1) if lags else None,
            "errors": dict(errors)}


@dataclass(frozen=True, slots=True)
class Setup:
    backend: str
    workers: int
    database_url: str  # a fresh, empty database
    keys_dir: Path  # a fresh key directory shared by the server and the simulated banks


@dataclass(frozen=True, slots=True)
class Load:
    reports: int
    rate: float
    warmup: int
    answer_timeout_s: float
    server_creates_key: bool
    dump_dir: Path | None  # one CSV per scenario: each report's send time, 201 latency and answer latency
    trace_loop: bool = False  # the follow-the-money loop's queries and further stops compete with first stops


def _settled_rows(db: Database, records: list[Sent]) -> dict[str, Stored]:
    db.dispose()  # fresh connections: read what the server committed, nothing cached
    return stored_answers(db, [r.number for r in records if r.number])


def run_scenario(setup: Setup, load: Load, latency_ms: int, first_move: bool) -> dict[str, Any]:
    """One fresh database, key directory, simulated bank and fanzha server; the load; the figures."""
    if not load.server_creates_key:
        # Publish the center's key before the simulator starts, as a deployed center's is. Otherwise the server
        # creates it on its first report and the simulator picks up the changed center.keyring.json.
        center_signer(Settings(keys_dir=setup.keys_dir))
    token = officer_token(setup.database_url)
    env = {"FANZHA_DATABASE_URL": setup.database_url, "FANZHA_KEYS_DIR": str(setup.keys_dir),
           "FANZHA_FIRST_MOVE": "automatic" if first_move else "off",
           "FANZHA_TRACE_LOOP": "true" if load.trace_loop else "false"}
    row: dict[str, Any] = {
        "scenario": "stop_payment" if first_move else "baseline_first_move_off", "backend": setup.backend,
        "workers": setup.workers, "latency_ms": latency_ms if first_move else None, "reports": load.reports,
        "offered_rate": load.rate, "trace_loop": load.trace_loop}
    db = Database(setup.database_url)
    try:
        with simulated_banks(setup.keys_dir, latency_ms) as bank_base, \
                server("fanzha.asgi:app", {**env, "FANZHA_BANK_GATEWAY_URL": bank_base}, setup.workers) as base:
            # Warm-up: every worker builds its first-move rule and its connections. Its answers are awaited
            # (and checked below) but not timed.
            warm = asyncio.run(offer(base, token, 10**7, load.warmup, load.rate))
            warm_created = sum(r.status == 201 for r in warm)
            if first_move:
                wait_settled(db, warm_created, load.answer_timeout_s)
            bank_before = bank_totals(bank_base)
            started = time.monotonic()
            records = asyncio.run(offer(base, token, 0, load.reports, load.rate))
            row["sent_for_s"] = round(time.monotonic() - started, 1)
            row.update(_client_side(records))
            row["warmup_errors"] = _client_side(warm)["errors"]
            if not first_move:
                ok = [r for r in records if r.status == 201]
                span = max(r.sent_at + r.latency_s for r in ok) - min(r.sent_at for r in ok) if ok else 0.0
                row["throughput_per_s"] = round(len(ok) / span, 1) if span else None
                return row
            wait_settled(db, warm_created + row["created_201"], load.answer_timeout_s)
            bank_after = bank_totals(bank_base)
            stored = _settled_rows(db, records)
            warm_stored = _settled_rows(db, warm)
    finally:
        db.dispose()

    by_number = {r.number: r for r in records if r.number}
    answered = [(by_number[k], s.answered_at.timestamp()) for k, s in stored.items() if s.answered_at is not None]
    latencies = [at - r.sent_at for r, at in answered]
    after_201 = [at - (r.sent_at + r.latency_s) for r, at in answered]  # dispatcher + bank round trip share
    first_sent = min(r.sent_at for r in records if r.number) if by_number else 0.0
    last_answer = max((at for _, at in answered), default=first_sent)
    p99 = percentile(latencies, 0.99) if latencies else math.inf
    if load.dump_dir is not None:
        _dump(load.dump_dir / f"{setup.backend}-{latency_ms}ms.csv", records, stored, first_sent)
    row.update({
        "sent": load.reports, "answered": len(answered), "missing": load.reports - len(answered),
        "cases_without_exactly_one_stop_payment": sum(1 for k in by_number if k not in stored or
                                                      stored[k].instructions != 1),
        "instruction_status": dict(Counter(s.status for s in stored.values())),
        "failure_reasons": _reasons(stored.values()),
        "warmup_not_answered": sum(1 for s in warm_stored.values() if s.answered_at is None),
        "warmup_failure_reasons": _reasons(warm_stored.values()),
        "throughput_per_s": round(len(answered) / (last_answer - first_sent), 1) if last_answer > first_sent
        else None,
        **_quantiles(latencies, "report_to_answer"),
        "max_s": round(max(latencies), 3) if latencies else None,
        **_quantiles(after_201, "after_201_to_answer"),
        "bank_applied": bank_after["applied"] - bank_before["applied"],
        "bank_received": bank_after["received"] - bank_before["received"],
        "bank_duplicates_suppressed": bank_after["duplicates_suppressed"] - bank_before["duplicates_suppressed"],
        "ratio_to_2016": round(SECONDS_2016 / statistics.median(latencies)) if latencies else None,
        "goal_p99_under_1s": len(answered) == load.reports and p99 < 1.0,
    })
    return row


def _dump(path: Path, records: list[Sent], stored: dict[str, Stored], t0: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        out.write("report,sent_s,report_to_201_s,report_to_answer_s,status\n")
        for i, r in enumerate(records):
            s = stored.get(r.number)
            answer = s.answered_at.timestamp() - r.sent_at if s is not None and s.answered_at is not None else ""
            out.write(f"{i},{r.sent_at - t0:.4f},{r.latency_s:.4f},{answer},{s.status if s else r.error[:40]!r}\n")


def backend_rows(backend: str, workers: int, urls: Iterator[str], tmp: Path, load: Load,
                 latencies_ms: list[int]) -> None:
    """The baseline (first move off), then one scenario per bank latency; one JSON line each."""
    def setup(name: str) -> Setup:
        keys = tmp / f"keys-{backend}-{name}"
        keys.mkdir()
        return Setup(backend, workers, next(urls), keys)

    baseline = run_scenario(setup("baseline"), load, latencies_ms[0], first_move=False)
    print(json.dumps(baseline), flush=True)
    for latency in latencies_ms:
        row = run_scenario(setup(f"{latency}ms"), load, latency, first_move=True)
        row["baseline_report_to_201_p50_s"] = baseline["report_to_201_p50_s"]
        print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", help="server URL (scripts/bench starts one); without it, SQLite only")
    parser.add_argument("--reports", type=int, default=1000, help="reports per scenario")
    parser.add_argument("--rate", type=float, default=50.0, help="reports offered per second (open loop)")
    parser.add_argument("--latency-ms", type=lambda s: [int(x) for x in s.split(",")], default=[0, 200],
                        help="simulated bank answer latencies, comma-separated (default 0,200)")
    parser.add_argument("--warmup", type=int, default=30, help="reports sent and answered before each scenario")
    parser.add_argument("--pg-workers", type=int, default=3)
    parser.add_argument("--answer-timeout-s", type=float, default=60.0,
                        help="wait this long for outstanding answers after the last report, then count the missing")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--trace-loop", action="store_true",
                        help="also run the follow-the-money loop (a TransactionQuery with each first stop, then "
                             "stops and queries along the money); off by default: this measures the first stop")
    parser.add_argument("--dump-dir", type=Path, help="write each report's timings to a CSV per scenario here")
    parser.add_argument("--server-creates-key", action="store_true",
                        help="do not publish the center's key first: the server creates it on its first report")
    args = parser.parse_args()
    backends = args.backends.split(",")
    load = Load(args.reports, args.rate, args.warmup, args.answer_timeout_s, args.server_creates_key, args.dump_dir,
                args.trace_loop)

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if "sqlite" in backends:
            sqlite_urls = (f"sqlite:///{tmp}/stop-payment-{i}.db" for i in itertools.count())
            backend_rows("sqlite", 1, sqlite_urls, tmp, load, args.latency_ms)
        if "postgresql" in backends and args.postgres_url:
            pg_urls = (fresh_postgres(args.postgres_url, f"fanzha_bench_sp{i}") for i in itertools.count())
            backend_rows("postgresql", args.pg_workers, pg_urls, tmp, load, args.latency_ms)


if __name__ == "__main__":
    main()
