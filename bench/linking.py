"""Case linking at scale: how long finding the cases that share a new report's entities takes at 1M cases.

Fills a fresh database with N cases and 3 suspect entities each (phone, account, URL; about a third of
the values shared with other cases, as gangs reuse numbers and mule accounts), then times
`fanzha.cases.linking.find_links` for new reports. The baseline is the same query with the (kind, value)
index dropped, in the same run. Usage: scripts/bench linking [--cases 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fanzha.cases.linking import find_links  # noqa: E402
from fanzha.cli import prepare_database  # noqa: E402
from fanzha.config import Settings  # noqa: E402
from fanzha.storage.db import Database  # noqa: E402


def _series(dialect: str, n: int) -> str:
    if dialect == "postgresql":
        return f"SELECT g AS i FROM generate_series(1, {n}) AS g"
    return f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s"


def populate(db: Database, n: int) -> None:
    shared = max(1, n * 2 // 3)  # values drawn from a smaller pool repeat across cases
    d = db.dialect
    cat = "||"
    with db.transaction() as s:
        s.execute(text(
            "INSERT INTO users (id, username, display_name, role, org_id, active, created_at) "
            "VALUES (1, 'bench', 'bench', 'duty_officer', 1, true, CURRENT_TIMESTAMP)"))
        s.execute(text(
            "INSERT INTO cases (id, number, channel, status, fraud_type, narrative, extraction, received_at, "
            "created_by_id, created_by_org_id) "
            f"SELECT i, 'SH20260101-' {cat} i, '110', 'received', 'other', '', '{{}}', CURRENT_TIMESTAMP, 1, 1 "
            f"FROM ({_series(d, n)}) AS t"))
        for kind, expr in (
            ("phone", f"'+86139' {cat} ((CAST(i AS BIGINT) * 7919) % {shared})"),
            ("account", f"'62284804' {cat} ((CAST(i AS BIGINT) * 104729) % {shared})"),
            ("url", f"'lure' {cat} (i % {shared}) {cat} '.example.cn'"),
        ):
            s.execute(text(
                "INSERT INTO case_entities (case_id, kind, value, org_hint) "
                f"SELECT i, '{kind}', {expr}, NULL FROM ({_series(d, n)}) AS t"))
    with db.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


def time_lookups(db: Database, n_cases: int, lookups: int) -> list[float]:
    rnd = random.Random(7)
    shared = max(1, n_cases * 2 // 3)
    times = []
    for _ in range(lookups):
        entities = [("phone", f"+86139{rnd.randrange(shared)}"), ("account", f"62284804{rnd.randrange(shared)}"),
                    ("url", f"lure{rnd.randrange(shared * 2)}.example.cn")]
        with db.transaction() as session:
            start = time.perf_counter()
            find_links(session.connection(), n_cases + 1, entities)
            times.append(time.perf_counter() - start)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(times) * 1000, 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 3)}


def run(label: str, url: str, n: int, lookups: int) -> dict[str, Any]:
    prepare_database(Settings(database_url=url))
    db = Database(url)
    start = time.perf_counter()
    populate(db, n)
    fill_s = time.perf_counter() - start
    indexed = summary(time_lookups(db, n, lookups))
    with db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_case_entities_kind_value"))
        conn.execute(text("DROP INDEX ix_case_entities_org_hint"))
        # The unique (case_id, kind, value) index cannot serve a (kind, value) lookup either.
    unindexed = summary(time_lookups(db, n, max(5, lookups // 100)))
    db.dispose()
    return {"backend": label, "cases": n, "entities": 3 * n, "fill_s": round(fill_s, 1), "indexed": indexed,
            "baseline_no_index": unindexed,
            "speedup_median": round(unindexed["median_ms"] / max(indexed["median_ms"], 1e-6), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres-url")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("linking:", json.dumps(run("sqlite", f"sqlite:///{tmp}/link.db", args.cases, args.lookups)))
    if args.postgres_url:
        from sqlalchemy import create_engine

        admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "fanzha_link" WITH (FORCE)'))
            conn.execute(text('CREATE DATABASE "fanzha_link"'))
        admin.dispose()
        url = make_url(args.postgres_url).set(database="fanzha_link").render_as_string(hide_password=False)
        print("linking:", json.dumps(run("postgresql", url, args.cases, args.lookups)))


if __name__ == "__main__":
    main()
