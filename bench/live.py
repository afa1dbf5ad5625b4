"""Live call watch, end to end: carrier events through Redis Streams to flash SMS over SMPP.

A generator process publishes simulated carrier call events (``sim.carrier_events``) to a Redis stream at a fixed
rate, in real time: each call rings, is answered a fraction of a second later and released a little after that. A
share of the calls involve one of the flagged numbers. Two watcher processes (a consumer group of two, each a
server's ``LiveWatch`` without the HTTP part: consumer thread, watcher, flash dispatcher, SMPP sender) share the
stream, record each warning (PostgreSQL by default), open its callback task and send the flash SMS to the
simulated SMSC (``sim.smsc``) over SMPP on loopback. ``FANZHA_WATCH_MINUTES`` is 0 (warn at ring), so every
flagged call is warned by its set-up event.

Measured per rate:
- latency from an event's XADD (the generator's clock) to its submit_sm reaching the SMSC (the SMSC's clock, the
  same machine), for the set-up event of every flagged call: p50, p99, max;
- sustained events/s: events the consumers read over the publishing window, and the consumer group's backlog
  when the generator stops;
- counts: flagged calls published (warnings due), warnings recorded (distinct calls), submit_sm accepted by the
  SMSC, lost (due but never at the SMSC) and doubled (a destination reached twice).

``--stages`` also times each step of a warning's way (consumer read, batch handler, decision committed, sender's
claim, submit_sm written, SMSC), the CPU each part used while publishing and the watchers' garbage-collector pauses.

Usage: scripts/bench live [--rates 1000,10000] [--seconds 30] [--flagged-share 0.01] [--sqlite] [--stages]
(scripts/bench starts a private PostgreSQL; Redis and the SMSC are started here on loopback.)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STREAM = "fanzha:call-events"
SYSTEM_ID, PASSWORD = "fanzha", "benchpw"
PIDS: dict[str, list[int]] = {}  # the processes of a run, by part, for their CPU time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# ---- the generator process ------------------------------------------------------------------------------------

def _resp(*parts: str) -> bytes:
    """One Redis command in RESP (the generator writes them itself: redis-py's packing would cost it more CPU than
    the watchers it is loading)."""
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        raw = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


def generator(args: argparse.Namespace) -> None:
    """Publish events in real time at ``rate`` for ``seconds``; write the flagged calls' publish times."""
    import heapq
    from urllib.parse import urlparse

    from sim.carrier_events import PREFIXES, flagged_numbers

    target = urlparse(args.redis_url)
    conn = socket.create_connection((target.hostname or "127.0.0.1", target.port or 6379))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = conn.makefile("rb")
    rng = random.Random(args.seed)
    flagged = flagged_numbers(args.flagged_count)
    total = int(args.rate * args.seconds)
    tick = 0.005
    begin = time.time()
    scheduled: list[tuple[float, int, tuple[str, ...]]] = []  # answers and releases to come
    published = calls = serial = 0
    sent_at: dict[str, float] = {}  # subscriber -> when its flagged call's set-up was published
    used: set[str] = set()

    def number() -> str:
        return f"+86{rng.choice(PREFIXES)}{rng.randrange(10**8):08d}"

    while published < total:
        now = time.time()
        at = datetime.fromtimestamp(now, UTC).isoformat()
        due = min(int((now - begin) * args.rate), total) - published
        batch: list[tuple[str, ...]] = []
        fresh: list[str] = []  # subscribers of the flagged calls set up in this batch
        while scheduled and scheduled[0][0] <= now and len(batch) < due:
            batch.append(heapq.heappop(scheduled)[2])
        while len(batch) < due:
            calls += 1
            call_id = f"b{args.seed}-{calls}"
            person = number()
            if rng.random() < args.flagged_share:
                while person in used:
                    person = number()
                used.add(person)
                bad = rng.choice(flagged)
                caller, callee = (bad, person) if rng.random() < 0.8 else (person, bad)
                fresh.append(person)
            else:
                caller, callee = person, number()
            batch.append(("setup", call_id, caller, callee))
            answer = now + rng.uniform(0.05, 0.3)
            release = answer + rng.expovariate(1.0)
            serial += 2
            heapq.heappush(scheduled, (answer, serial, ("answer", call_id, caller, callee)))
            heapq.heappush(scheduled, (release, serial + 1, ("release", call_id, caller, callee)))
        if batch:
            sent = time.time()
            stamp = f"{sent:.6f}"
            sent_at.update(dict.fromkeys(fresh, sent))
            conn.sendall(b"".join(
                _resp("XADD", STREAM, "MAXLEN", "~", "2000000", "*", "kind", kind, "call_id", call_id, "at", at,
                      "caller", caller, "callee", callee, "carrier", "CMCC", "sent", stamp)
                for kind, call_id, caller, callee in batch))
            for _ in batch:  # each answer: $<len>, then the entry id
                line = reader.readline()
                if not line.startswith(b"$"):
                    raise RuntimeError(f"XADD failed: {line!r}")
                reader.readline()
            published += len(batch)
        elapsed = time.time() - now
        if elapsed < tick:
            time.sleep(tick - elapsed)
    ended = time.time()
    conn.close()
    Path(args.out).write_text(json.dumps({"published": published, "calls": calls, "begin": begin, "end": ended,
                                          "sent_at": sent_at}))


# ---- a watcher process ----------------------------------------------------------------------------------------

def watcher(args: argparse.Namespace) -> None:
    """One member of the consumer group with its sender, until SIGTERM; then its counters as JSON on stdout."""
    from fanzha.config import Settings
    from fanzha.outreach.watcher import LiveWatch
    from fanzha.storage.db import Database

    stamps = install_stage_hooks() if args.stages else None
    settings = Settings(database_url=args.database_url, redis_url=args.redis_url, watch_minutes=0,
                        smsc_host="127.0.0.1", smsc_port=args.smsc_port, smsc_system_id=SYSTEM_ID,
                        smsc_password=PASSWORD, smsc_window=args.window,
                        smsc_max_per_second=args.smsc_rate, watch_sweep_s=0.5)
    sys.setswitchinterval(settings.gil_switch_interval_s)  # as a server's lifespan does
    db = Database(settings.database_url)
    live = LiveWatch.build(db, settings, consumer_names=[args.name]).start(settings.watch_sweep_s)
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        time.sleep(0.05)
    time.sleep(0.2)
    live.stop()
    consumer = live.consumers[0].stats
    out = {"name": args.name, "read": consumer.read, "relevant": consumer.relevant, "batches": consumer.batches,
           "errors": consumer.errors, "warned": live.watcher.totals.warned,
           "transactions": live.watcher.transactions,
           "transaction_ms_mean": round(live.watcher.transaction_s / max(live.watcher.transactions, 1) * 1000, 1),
           "transaction_ms_max": round(live.watcher.transaction_max_s * 1000, 1),
           "dispatcher": vars(live.dispatcher.stats) if live.dispatcher else None}
    if live.dispatcher is not None:
        out["smpp"] = vars(live.dispatcher.sender.stats)  # type: ignore[attr-defined]
    if stamps is not None:
        out["stages"] = {number: times for number, times in stamps.items() if "written" in times}
        out["gc"] = gc_summary()
    print(json.dumps(out), flush=True)
    db.dispose()


# ---- where the time goes (--stages) ------------------------------------------------------------------------------

STAGES = ("read", "handle", "committed", "claim", "claimed", "written")


def install_stage_hooks() -> dict[str, dict[str, float]]:
    """Wrap the watcher's steps to stamp, per subscriber of a flagged call, when its set-up event reached each one
    (time.time(), comparable with the generator's and the SMSC's clocks on this machine):

    read: the consumer's pre-check found a flagged number in the entry (XREADGROUP answered and parsed);
    handle: the watcher's batch handler got it (after waiting for the batch before it);
    committed: the warning's transaction committed (the durable commit done);
    claim / claimed: the sender's claim transaction began / committed (just before the submit_sm is written);
    written: the submit_sm went into the socket. The SMSC's receive time comes from its own log.
    Only the first stamp of each stage counts (a number is the subscriber of one flagged call)."""
    from fanzha.outreach.smpp import SmppSender
    from fanzha.outreach.warnings import FlashDispatcher
    from fanzha.outreach.watcher import HandleResult, Watcher

    stamps: dict[str, dict[str, float]] = {}
    refs: dict[int, str] = {}
    watch_gc()

    def stamp(number: str, stage: str) -> None:
        stamps.setdefault(number, {}).setdefault(stage, time.time())

    relevant, handle, done = Watcher.relevant, Watcher.handle, Watcher._done
    claim, send = FlashDispatcher.claim, SmppSender._send

    def relevant_(self: Watcher, caller: str, callee: str) -> bool:
        found = relevant(self, caller, callee)
        if found:
            stamp(caller, "read")
            stamp(callee, "read")
        return found

    def handle_(self: Watcher, events: Any, **kwargs: Any) -> Any:
        for event in events:
            stamp(event.caller, "handle")
            stamp(event.callee, "handle")
        return handle(self, events, **kwargs)

    def done_(self: Watcher, result: HandleResult, **kwargs: Any) -> None:
        for message in result.warnings:
            refs[message.ref] = message.destination
            stamp(message.destination, "committed")
        done(self, result, **kwargs)

    def claim_(self: FlashDispatcher, batch: Sequence[int]) -> set[int]:
        for ref in batch:
            if ref in refs:
                stamp(refs[ref], "claim")
        allowed = claim(self, batch)
        for ref in allowed:
            if ref in refs:
                stamp(refs[ref], "claimed")
        return allowed

    def send_(self: SmppSender, client: Any, pdu: Any) -> None:
        send(self, client, pdu)
        if pdu.command == "submit_sm":
            destination = pdu.destination_addr
            stamp("+" + (destination.decode() if isinstance(destination, bytes) else str(destination)), "written")

    Watcher.relevant, Watcher.handle, Watcher._done = relevant_, handle_, done_  # type: ignore[method-assign]
    FlashDispatcher.claim = claim_  # type: ignore[method-assign,assignment]
    SmppSender._send = send_  # type: ignore[method-assign]
    return stamps


GC_PAUSES: list[tuple[int, float, float]] = []  # (generation, seconds, when) of each collection in this process


def watch_gc() -> None:
    """Time the garbage collector's pauses (they stop every thread of the process)."""
    import gc

    started: list[float] = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            GC_PAUSES.append((info["generation"], time.perf_counter() - started[0], time.time()))

    gc.callbacks.append(callback)


def gc_summary() -> dict[str, Any]:
    pauses = sorted(seconds * 1000 for _, seconds, _ in GC_PAUSES)
    return {"collections": len(pauses), "total_ms": round(sum(pauses), 1),
            "max_ms": round(pauses[-1], 2) if pauses else 0.0,
            "full": [(round(when, 3), round(seconds * 1000, 1)) for g, seconds, when in GC_PAUSES if g == 2]}


def stage_table(stats: list[dict[str, Any]], sent_at: dict[str, float],
                received: dict[str, float]) -> list[tuple[str, float, float, float]]:
    """(step, p50 ms, p99 ms, max ms) for each step from XADD to the SMSC."""
    merged: dict[str, dict[str, float]] = {}
    for s in stats:
        merged.update(s.get("stages", {}))
    steps = ("sent", *STAGES, "smsc")
    deltas: dict[str, list[float]] = {f"{a} -> {b}": [] for a, b in itertools.pairwise(steps)}
    for number, times in merged.items():
        if number not in sent_at or number not in received:
            continue
        times = {"sent": sent_at[number], **times, "smsc": received[number]}
        for a, b in itertools.pairwise(steps):
            if a in times and b in times:
                deltas[f"{a} -> {b}"].append((times[b] - times[a]) * 1000)
    return [(name, round(percentile(v, 0.5), 2), round(percentile(v, 0.99), 2), round(max(v), 2) if v else 0.0)
            for name, v in deltas.items()]


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each live process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def postgres_pids(url: str) -> list[int]:
    """The processes of the PostgreSQL server at ``url`` (this machine): its postmaster and the postmaster's
    children (backends, WAL writer, checkpointer...); other servers on the machine are not counted."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        backend = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    engine.dispose()

    def parent(pid: int) -> int:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])

    postmaster = parent(backend)
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent(int(entry.name)) == postmaster:
                    pids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return pids


# ---- orchestration ----------------------------------------------------------------------------------------------

@contextmanager
def process(cmd: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, cwd=ROOT, **kwargs)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def private_redis() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="fanzha-bench-redis-")
    port = free_port()
    cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", directory, "--save", "",
           "--appendonly", "no"]
    with process(cmd, stdout=subprocess.DEVNULL) as proc:
        import redis

        client = redis.Redis(port=port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        PIDS["redis"] = [proc.pid]
        yield f"redis://127.0.0.1:{port}/0"
    shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def smsc_sim() -> Iterator[tuple[int, str]]:
    import httpx

    port, admin = free_port(), free_port()
    cmd = [sys.executable, "-m", "sim.smsc", "--port", str(port), "--admin-port", str(admin),
           "--system-id", SYSTEM_ID, "--password", PASSWORD]
    with process(cmd, stderr=subprocess.DEVNULL) as proc:
        PIDS["smsc"] = [proc.pid]
        base = f"http://127.0.0.1:{admin}"
        for _ in range(400):
            try:
                if httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield port, base


WARM_UP_BLOCK = "86199"  # subscribers of the warm-up calls: a block the generator never uses


def warm_up(client: Any, admin: str, args: argparse.Namespace, calls: int = 40) -> int:
    """A few flagged calls before the measured run, so that each watcher has opened its connections and compiled
    its statements (a server does this once, in its first second): the run measures the steady state."""
    import httpx
    from sim.carrier_events import flagged_numbers

    bad = flagged_numbers(args.flagged_count)[0]
    now = datetime.now(UTC).isoformat()
    for i in range(calls):  # one at a time, so that both consumers get some
        person = f"+{WARM_UP_BLOCK}{i:08d}"
        for kind in ("setup", "answer", "release"):
            client.xadd(STREAM, {"kind": kind, "call_id": f"warm-{i}", "at": now, "caller": bad, "callee": person})
        time.sleep(0.02)
    deadline = time.time() + 60
    while time.time() < deadline and httpx.get(f"{admin}/stats", trust_env=False).json()["accepted"] < calls:
        time.sleep(0.1)
    time.sleep(1.0)
    accepted: int = httpx.get(f"{admin}/stats", trust_env=False).json()["accepted"]
    return accepted


def fresh_database(args: argparse.Namespace, label: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from fanzha.cli import prepare_database
    from fanzha.config import Settings

    if args.sqlite:
        path = Path(tempfile.mkdtemp(prefix="fanzha-bench-live-")) / "live.db"
        url = f"sqlite:///{path}"
    else:
        name = f"fanzha_bench_live_{label}"
        admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
    prepare_database(Settings(database_url=url))
    return url


def flag_numbers(url: str, count: int) -> None:
    from sim.carrier_events import flagged_numbers

    from fanzha.outreach.watcher import put_flagged
    from fanzha.storage.db import Database

    db = Database(url)
    types = ["impersonate_authority", "task_rebate", "fake_investment", "fake_customer_service", None]
    with db.transaction() as session:
        for i, number in enumerate(flagged_numbers(count)):
            put_flagged(session, number=number, fraud_type=types[i % len(types)], case_number=None,
                        reason="bench", by="bench", now=datetime.now(UTC))
    db.dispose()


def run(args: argparse.Namespace, rate: int) -> dict[str, Any]:
    import httpx
    import redis
    from sqlalchemy import func, select

    from fanzha.outreach.models import FlashWarning
    from fanzha.storage.db import Database

    url = fresh_database(args, str(rate))
    flag_numbers(url, args.flagged_count)
    here = [sys.executable, str(Path(__file__).resolve())]
    with private_redis() as redis_url, smsc_sim() as (smsc_port, admin):
        client = redis.Redis.from_url(redis_url)
        client.xgroup_create(STREAM, "watchers", id="0", mkstream=True)
        watchers = [subprocess.Popen([*here, "--role", "watcher", "--name", f"w{i}", "--database-url", url,
                                      "--redis-url", redis_url, "--smsc-port", str(smsc_port),
                                      "--window", str(args.window), "--smsc-rate", str(args.smsc_rate),
                                      *(["--stages"] if args.stages else [])],
                                     cwd=ROOT, stdout=subprocess.PIPE) for i in range(args.consumers)]
        PIDS["watchers"] = [proc.pid for proc in watchers]
        try:
            deadline = time.time() + 30
            while time.time() < deadline and httpx.get(f"{admin}/stats", trust_env=False).json()["counters"].get(
                    "binds", 0) < args.consumers:
                time.sleep(0.1)
            baseline = warm_up(client, admin, args)
            out = Path(tempfile.mkdtemp(prefix="fanzha-bench-gen-")) / "gen.json"
            PIDS["postgres"] = [] if args.sqlite else postgres_pids(url)
            others = [pid for pids in PIDS.values() for pid in pids]
            cpu_before, load_before = cpu_seconds(others), os.getloadavg()
            gen_proc = subprocess.Popen([*here, "--role", "generator", "--redis-url", redis_url, "--rate", str(rate),
                                         "--seconds", str(args.seconds), "--flagged-share", str(args.flagged_share),
                                         "--flagged-count", str(args.flagged_count), "--seed", str(rate),
                                         "--out", str(out)], cwd=ROOT)
            _, status, usage = os.wait4(gen_proc.pid, 0)
            gen_proc.returncode = os.waitstatus_to_exitcode(status)
            if gen_proc.returncode:
                raise RuntimeError(f"the generator failed ({gen_proc.returncode})")
            cpu_after, load_after = cpu_seconds(others), os.getloadavg()
            gen = json.loads(out.read_text())
            span = gen["end"] - gen["begin"]
            cpu = {part: round(sum(cpu_after.get(p, 0) - cpu_before.get(p, 0) for p in pids) / span, 2)
                   for part, pids in PIDS.items()}
            cpu["generator"] = round((usage.ru_utime + usage.ru_stime) / span, 2)
            group = client.xinfo_groups(STREAM)[0]
            backlog_at_end = int(group.get("lag") or 0) + int(group.get("pending") or 0)
            expected = set(gen["sent_at"])
            caught_up_at = None
            drain_deadline = time.time() + args.drain
            while time.time() < drain_deadline:  # let the consumers and the SMSC catch up
                group = client.xinfo_groups(STREAM)[0]
                backlog = int(group.get("lag") or 0) + int(group.get("pending") or 0)
                if backlog == 0 and caught_up_at is None:
                    caught_up_at = time.time()
                accepted = httpx.get(f"{admin}/stats", trust_env=False).json()["accepted"]
                if backlog == 0 and accepted - baseline >= len(expected):
                    break
                time.sleep(0.2)
            time.sleep(1.0)
            group = client.xinfo_groups(STREAM)[0]
            backlog_after_drain = int(group.get("lag") or 0) + int(group.get("pending") or 0)
        finally:
            for proc in watchers:
                proc.send_signal(signal.SIGTERM)
            stats = []
            for proc in watchers:
                stdout, _ = proc.communicate(timeout=60)
                lines = [line for line in stdout.decode().splitlines() if line.startswith("{")]
                stats.append(json.loads(lines[-1]) if lines else {})
        messages = httpx.get(f"{admin}/messages", trust_env=False, timeout=60).json()["items"]
        smsc_stats = httpx.get(f"{admin}/stats", trust_env=False).json()
        client.close()
    db = Database(url)
    with db.read() as session:
        measured = ~FlashWarning.call_id.startswith("warm-")
        warned_calls = session.scalar(select(func.count(func.distinct(FlashWarning.call_id))).where(measured))
        warning_rows = session.scalar(select(func.count()).select_from(FlashWarning).where(measured))
        by_status = dict(session.execute(select(FlashWarning.status, func.count()).where(measured)
                                         .group_by(FlashWarning.status))
                         .all())
    db.dispose()
    messages = [m for m in messages if not m["destination_addr"].startswith(WARM_UP_BLOCK)]
    destinations = Counter("+" + m["destination_addr"] for m in messages)
    latencies = [(m["received_at"] - gen["sent_at"]["+" + m["destination_addr"]]) * 1000 for m in messages
                 if "+" + m["destination_addr"] in gen["sent_at"]]
    window = gen["end"] - gen["begin"]
    consumed = sum(s.get("read", 0) for s in stats)
    # events/s the two consumers kept up with: all of them over the time it took to read them all
    busy = (caught_up_at or time.time()) - gen["begin"]
    return {
        "rate": rate, "seconds": round(window, 1), "published": gen["published"],
        "published_per_s": round(gen["published"] / window), "consumed": consumed,
        "sustained_per_s": round(min(consumed, gen["published"]) / max(busy, window)),
        "backlog_at_end": backlog_at_end, "caught_up_after_s": round(caught_up_at - gen["end"], 1)
        if caught_up_at else None, "unprocessed": backlog_after_drain,
        "flagged_calls": len(expected), "warnings": warned_calls,
        "warning_rows": warning_rows, "by_status": by_status, "smsc_accepted": len(messages),
        "lost": len(expected - set(destinations)), "doubled": sum(1 for n in destinations.values() if n > 1),
        "unexpected": len(set(destinations) - expected),
        "p50_ms": round(percentile(latencies, 0.50), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1) if latencies else None,
        "per_consumer": [(s.get("name"), s.get("read"), s.get("relevant"), s.get("batches")) for s in stats],
        "cpu_cores": cpu, "load_before": load_before, "load_after": load_after,
        "gc": [{**w["gc"], "full": [(round(when - gen["begin"], 1), ms) for when, ms in w["gc"]["full"]]}
               for w in stats if "gc" in w],
        "stages": stage_table(stats, gen["sent_at"], {"+" + m["destination_addr"]: m["received_at"]
                                                     for m in messages}) if args.stages else [],
        "smsc": smsc_stats["counters"], "watchers": stats,
        "doubled_detail": [m for m in messages if destinations["+" + m["destination_addr"]] > 1],
        "latency_by_time": sorted((round(gen["sent_at"]["+" + m["destination_addr"]] - gen["begin"], 3),
                                   round((m["received_at"] - gen["sent_at"]["+" + m["destination_addr"]]) * 1000, 1))
                                  for m in messages if "+" + m["destination_addr"] in gen["sent_at"]),
    }


TABLE = ("rate ev/s", "sent ev/s", "sustained ev/s", "backlog@end", "caught up s", "flagged calls", "warnings",
         "submit_sm", "lost", "doubled", "p50 ms", "p99 ms", "max ms")


def print_table(rows: list[dict[str, Any]], backend: str) -> None:
    print(f"\nlive call watch: Redis Streams -> 2 watchers ({backend}) -> SMPP -> simulated SMSC; warn at ring")
    widths = [max(len(h), 11) for h in TABLE]
    print(" | ".join(h.rjust(w) for h, w in zip(TABLE, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        lost = r["lost"] if not r["unprocessed"] else f"({r['unprocessed']} unread)"
        cells = [r["rate"], r["published_per_s"], r["sustained_per_s"], r["backlog_at_end"],
                 r["caught_up_after_s"], r["flagged_calls"], r["warnings"], r["smsc_accepted"], lost, r["doubled"],
                 r["p50_ms"], r["p99_ms"], r["max_ms"]]
        print(" | ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True)))
    for r in rows:
        print(f"  {r['rate']}/s: per consumer (name, read, relevant, batches) {r['per_consumer']}; "
              f"warnings by status {r['by_status']}")
        print(f"  {r['rate']}/s: CPU cores busy while publishing {r['cpu_cores']}; load average "
              f"{' '.join(f'{x:.2f}' for x in r['load_before'])} before, "
              f"{' '.join(f'{x:.2f}' for x in r['load_after'])} after")
        for step, p50, p99, top in r["stages"]:
            print(f"    {step:>22}: p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  max {top:8.2f} ms")
        if r["stages"]:
            print(f"  {r['rate']}/s: garbage collector per watcher (full collections: seconds into the run, "
                  f"pause ms) {r['gc']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["main", "generator", "watcher"], default="main")
    parser.add_argument("--postgres-url", default=os.environ.get("FANZHA_BENCH_POSTGRES_URL", ""))
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--rates", default="1000,10000")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--flagged-share", type=float, default=0.01, help="share of calls with a flagged number")
    parser.add_argument("--drain", type=float, default=90.0, help="seconds to let the watchers catch up")
    parser.add_argument("--flagged-count", type=int, default=200)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--smsc-rate", type=float, default=2000.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--stages", action="store_true",
                        help="also time each step of a warning's way (the watchers stamp them) and the CPU per part")
    # internal (child processes)
    parser.add_argument("--name", default="w0")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--smsc-port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if args.role == "generator":
        generator(args)
        return
    if args.role == "watcher":
        watcher(args)
        return
    if not args.sqlite and not args.postgres_url:
        parser.error("--postgres-url (scripts/bench live sets it) or --sqlite")
    rows = [run(args, int(rate)) for rate in args.rates.split(",")]
    print_table(rows, "SQLite" if args.sqlite else "PostgreSQL")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
