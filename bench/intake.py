"""Intake speed: reports per second through the HTTP API (SQLite and PostgreSQL), and extraction time.

Each server runs in its own process on 127.0.0.1; the load comes from this process. The same load is run
against bench/baseline_app.py (store the raw body, nothing else) under the same settings, so the ratio is
robust to a shared, noisy machine. Usage: scripts/bench intake [--reports N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fanzha.auth import service as auth_service  # noqa: E402
from fanzha.auth.models import Role  # noqa: E402
from fanzha.cases.extract import extract  # noqa: E402
from fanzha.cli import prepare_database  # noqa: E402
from fanzha.config import Settings  # noqa: E402
from fanzha.storage.db import Database  # noqa: E402

NARRATIVES = [
    "4月25日上午9时，市民冯某接到一通来自“宝山公安”的电话，称其涉案要将存款转移至“安全账户”。一直到10时，"
    "这个电话都没有挂断，冯某通过手机银行向农业银行账户6228480402564890018转账7万元。对方电话+85261234567。",
    "报警人李某称，昨天下午3时许在网上认识一名自称客服的人员，对方称其快递丢失可理赔，诱导其下载会议软件并"
    "共享屏幕，先后向工行账户6222021001116245702转账人民币12,000.50元和3.5万元，对方电话021-62345678。",
    "今年3月31日8时许，一家公司报警，称其德国总公司财务于凌晨5时许收到一封电子邮件，被骗向指定的农业银行上海"
    "分行一离岸账户转账299万欧元。",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report_body(i: int) -> dict[str, Any]:
    rnd = random.Random(i)
    phone = f"+86139{rnd.randrange(10**8):08d}"
    # A third of reports name one of 500 gang numbers, so each such number gathers a few cases over a run
    # (as a gang reuses a number for several victims) and intake does real linking work.
    shared = f"+86137{rnd.randrange(500):08d}" if rnd.random() < 0.3 else phone
    return {
        "channel": rnd.choice(["110", "12345", "station", "web", "app"]),
        "victim": {"name": f"受害人{i}", "phone": f"138{rnd.randrange(10**8):08d}"},
        "narrative": NARRATIVES[i % len(NARRATIVES)],
        "transfers": [{"to_account": f"62284804{rnd.randrange(10**11):011d}", "amount": str(rnd.randrange(1, 10**6)),
                       "currency": "CNY", "occurred_at": datetime.now(UTC).isoformat()}],
        "suspect_phones": [shared],
    }


@contextmanager
def server(module: str, env: dict[str, str], workers: int) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        env={**os.environ, **env}, cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{module} did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def request_bytes(port: int, token: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body, ensure_ascii=False).encode()
    head = (f"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


async def load(base: str, token: str, n: int, concurrency: int, offset: int) -> tuple[float, list[float]]:
    """Keep-alive HTTP/1.1 over raw sockets: a load generator light enough not to be the bottleneck
    (httpx's client costs more CPU per request than the trivial baseline server on this 2-core machine)."""
    port = int(base.rsplit(":", 1)[1])
    requests = [request_bytes(port, token, report_body(offset + i)) for i in range(n)]
    latencies: list[float] = []
    next_index = iter(range(n))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in next_index:
                start = time.perf_counter()
                writer.write(requests[i])
                status, body = await read_response(reader)
                latencies.append(time.perf_counter() - start)
                if status != 201:
                    raise RuntimeError(f"report {i}: {status} {body[:300]!r}")
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start), latencies


def fresh_postgres(server_url: str, name: str) -> str:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def officer_token(url: str) -> str:
    prepare_database(Settings(database_url=url))
    db = Database(url)
    with db.transaction() as session:
        user = auth_service.create_user(session, None, username="bench", display_name="bench",
                                        role=Role.DUTY_OFFICER, org_code="center", password=None)
        token = auth_service.create_api_token(session, None, user, "bench")
    db.dispose()
    return token


def run_backend(label: str, url: str, baseline_url: str, workers: int, n: int, c: int,
                rounds: int) -> dict[str, Any]:
    """Alternate fanzha and the baseline for several rounds; report medians (the machine is shared)."""
    token = officer_token(url)
    rates: list[float] = []
    base_rates: list[float] = []
    lat: list[float] = []
    base_lat: list[float] = []
    with server("fanzha.asgi:app", {"FANZHA_DATABASE_URL": url}, workers) as base, \
            server("baseline_app:app", {"BASELINE_DATABASE_URL": baseline_url, "PYTHONPATH": str(ROOT / "bench")},
                   workers) as baseline:
        asyncio.run(load(base, token, min(100, n), c, 10**7))  # warm-up
        asyncio.run(load(baseline, "x", min(100, n), c, 10**7))
        for r in range(rounds):
            rate, latencies = asyncio.run(load(base, token, n, c, r * n))
            base_rate, base_latencies = asyncio.run(load(baseline, "x", n, c, r * n))
            rates.append(rate)
            base_rates.append(base_rate)
            lat += latencies
            base_lat += base_latencies
    rate, base_rate = statistics.median(rates), statistics.median(base_rates)
    return {"backend": label, "workers": workers, "reports_per_round": n, "rounds": rounds, "concurrency": c,
            "reports_per_s_median": round(rate, 1), "reports_per_s_rounds": [round(x) for x in rates],
            "p50_ms": round(statistics.median(lat) * 1000, 1), "p99_ms": round(percentile(lat, 0.99) * 1000, 1),
            "baseline_reports_per_s_median": round(base_rate, 1),
            "baseline_p50_ms": round(statistics.median(base_lat) * 1000, 1),
            "ratio_to_baseline": round(rate / base_rate, 2)}


def extraction_times(rounds: int) -> dict[str, Any]:
    corpus_file = ROOT / "tests" / "cases" / "narratives" / "corpus.json"
    texts = [e["text"] for e in json.loads(corpus_file.read_text(encoding="utf-8"))] if corpus_file.exists() \
        else NARRATIVES
    received = datetime.now(UTC)
    for t in texts:
        extract(t, received)  # warm caches
    times: list[float] = []
    for _ in range(rounds):
        for t in texts:
            start = time.perf_counter()
            extract(t, received)
            times.append(time.perf_counter() - start)
    chars = statistics.mean(len(t) for t in texts)
    return {"narratives": len(texts), "runs": len(times), "mean_chars": round(chars),
            "median_ms": round(statistics.median(times) * 1000, 3), "p99_ms": round(percentile(times, 0.99) * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres-url", help="server URL (scripts/bench starts one)")
    parser.add_argument("--reports", type=int, default=2000, help="reports per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--pg-workers", type=int, default=3)
    parser.add_argument("--extraction-rounds", type=int, default=20)
    args = parser.parse_args()

    print("extraction:", json.dumps(extraction_times(args.extraction_rounds)))
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run_backend("sqlite", f"sqlite:///{tmp}/fanzha.db", f"sqlite:///{tmp}/baseline.db", 1,
                            args.reports, args.concurrency, args.rounds)]
        if args.postgres_url:
            rows.append(run_backend("postgresql", fresh_postgres(args.postgres_url, "fanzha_bench"),
                                    fresh_postgres(args.postgres_url, "fanzha_bench_baseline"), args.pg_workers,
                                    args.reports, args.concurrency, args.rounds))
    for row in rows:
        print("intake:", json.dumps(row))


if __name__ == "__main__":
    main()
