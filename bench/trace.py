"""Tracing speed: one 6-layer trace through ledgers of 10K to 10M transactions, against networkx and DuckDB.

Each ledger is synthetic (numpy, seeded): background traffic among many accounts with opening balances
(a few hub accounts, such as merchants and payment platforms, take a share of all transfers; some deposits
and ATM withdrawals), plus planted mule networks of six layers: victims pay into shared first-layer mules,
money fans out, fans in, fans out again, a few mules skim cash on the way, and the sixth layer cashes most
of it out through ATM, counter, POS, platforms or abroad and keeps the rest. Mules are ordinary accounts with
their own money and their own clean traffic, so attribution matters.

Per size it reports fanzha's index build (Ledger.from_frame, from string amounts) and the median of
`trace` (LIBR, 72 h window, depth 6, all planted victims of one network), against

  (a) networkx: the same time-respecting attributed walk (same heap of account cursors, same LIBR holding,
      same Trace built at the end) over a MultiDiGraph built in the same process: an account's rows come
      from the graph's adjacency, sorted, when the walk reaches it, and its own money is summed from them;
      it then steps through every row while the account holds victim money. fanzha's index answers both
      with prefix sums, which also lets it jump over runs of clean traffic. Graph build time and memory are
      reported separately; above --networkx-max (default 1M) the graph is not built and the output says
      why, from what the largest graph of the run cost.
  (b) DuckDB: a recursive CTE doing the same time-respecting 6-hop walk (an outflow after the arrival,
      within the window), i.e. reachability with arrival times. It does the walk but not the attribution,
      so it reaches every account a path of transfers reaches, including those that got only the holders'
      own money: its set contains fanzha's instead of equalling it.

The contenders run interleaved; wall and CPU medians are printed (fanzha and networkx are single-threaded,
so CPU time is their cost on a shared machine). fanzha and networkx must produce the identical Trace
(accounts, amounts held per victim, flows, losses, unfollowed transfers); the run stops otherwise.
Usage: python bench/trace.py [--sizes 10000,100000,1000000,10000000] [--repeat 5] [--seed 1]
[--networkx-max 1000000]
"""

from __future__ import annotations

import argparse
import gc
import heapq
import os
import statistics
import sys
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fanzha.tracing.allocation import LowestBalance, Parts  # noqa: E402
from fanzha.tracing.engine import (  # noqa: E402
    AccountTrace,
    Flow,
    Loss,
    Policy,
    Trace,
    Unfollowed,
    Victim,
    trace,
)
from fanzha.tracing.ledger import CHANNELS, EPOCH, Ledger  # noqa: E402

HOUR = 3_600_000_000  # microseconds
DAY = 24 * HOUR
START_US = 1_709_251_200_000_000  # 2024-03-01T00:00:00Z
SPAN_US = 30 * DAY
WINDOW = timedelta(hours=72)
WINDOW_US = 72 * HOUR
MAX_DEPTH = 6
LAYERS = (3, 6, 3, 6, 4, 3)  # mules per layer; victims pay into layer 1, layer 6 cashes out
VICTIMS = 8
NX_MEASURED: dict[str, float] = {}  # the largest networkx graph built in this run: edges, bytes, seconds


def rss() -> int:
    """Resident memory of this process, in bytes (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

CASH = ("atm", "counter", "pos", "platform", "abroad")


@dataclass
class Synthetic:
    src: np.ndarray  # int64 account id, -1: money from outside
    dst: np.ndarray  # int64 account id, -1: cash-out
    ts: np.ndarray  # int64 us, sorted
    amount: np.ndarray  # int64 cents
    channel: np.ndarray  # int64 index into CHANNELS
    opening: np.ndarray  # int64 cents per account id
    networks: list[list[int]]  # per network: the rows of its victims' credits
    mules: list[set[int]]  # per network: its mule accounts

    def __len__(self) -> int:
        return len(self.ts)


def account_key(i: int) -> tuple[str, str]:
    return f"B{i % 20:02d}", f"62{i:012d}"


def generate(size: int, seed: int) -> Synthetic:
    rng = np.random.default_rng(seed)
    n_acc = max(2_000, size // 10)
    n_hub = max(10, n_acc // 1_000)
    n_networks = max(1, min(20, size // 100_000))
    opening = (rng.lognormal(np.log(5_000), 1.0, n_acc) * 100).astype(np.int64)
    rows: list[tuple[int, int, int, int, int]] = []  # src, dst, ts, cents, channel
    networks: list[list[int]] = []
    mules_of: list[set[int]] = []
    victim_ids = n_acc  # victims' own accounts are outside the background
    pool = rng.permutation(np.arange(n_hub, n_acc))  # mules are ordinary, non-hub accounts
    taken = 0
    for _ in range(n_networks):
        t0 = START_US + int(rng.integers(0, SPAN_US - 6 * DAY))
        layers = []
        for width in LAYERS:
            layers.append([int(a) for a in pool[taken:taken + width]])
            taken += width
        mules_of.append({a for layer in layers for a in layer})
        for a in mules_of[-1]:
            opening[a] = int(rng.integers(0, 3_000)) * 100  # mules are fresh accounts: little money of their own
        credits_start = len(rows)
        inflow: dict[int, int] = {}
        for v in range(VICTIMS):
            # Victims share first-layer mules; every third victim is told to split the payment over two.
            targets = [layers[0][v % len(layers[0])]]
            if v % 3 == 0:
                targets.append(layers[0][(v + 1) % len(layers[0])])
            total = int(rng.integers(200, 800)) * 10_000
            for k, to in enumerate(targets):
                cents = total // len(targets)
                rows.append((victim_ids, to, t0 + int(rng.integers(0, 8 * HOUR)) + k, cents, 0))
                inflow[to] = inflow.get(to, 0) + cents
            victim_ids += 1
        networks.append(list(range(credits_start, len(rows))))
        for depth, layer in enumerate(layers, start=1):
            slot = t0 + 9 * HOUR + (depth - 1) * 8 * HOUR  # every layer sends after all its inflows arrived
            if depth == len(layers):
                for a in layer:  # cash out most of it in chunks, keep the rest
                    left = inflow.get(a, 0) * int(rng.integers(55, 80)) // 100
                    chan = CHANNELS.index(CASH[int(rng.integers(0, len(CASH)))])
                    for _ in range(int(rng.integers(1, 4))):
                        chunk = min(left, int(rng.integers(50, 200)) * 10_000)
                        if chunk > 0:
                            rows.append((a, -1, slot + int(rng.integers(0, 6 * HOUR)), chunk, chan))
                            left -= chunk
                continue
            nxt = layers[depth]
            senders: dict[int, list[int]] = {a: [] for a in layer}
            for j, b in enumerate(nxt):  # fan-in: each receiver gets from one or two senders
                for a in {layer[j % len(layer)], layer[int(rng.integers(0, len(layer)))]}:
                    senders[a].append(b)
            for a, receivers in senders.items():
                if not receivers:
                    receivers.append(nxt[int(rng.integers(0, len(nxt)))])
                budget = inflow.get(a, 0) * 85 // 100
                if rng.random() < 0.3:  # skim some cash on the way
                    skim = budget // 10 // 100 * 100
                    if skim:
                        rows.append((a, -1, slot + int(rng.integers(0, HOUR)), skim, CHANNELS.index("atm")))
                        budget -= skim
                for b in receivers:  # fan-out
                    cents = budget // len(receivers) // 100 * 100
                    if cents:
                        rows.append((a, b, slot + int(rng.integers(HOUR, 6 * HOUR)), cents, 0))
                        inflow[b] = inflow.get(b, 0) + cents
    planted = np.array(rows, dtype=np.int64).reshape(-1, 5)
    n_bg = max(0, size - len(planted))
    # Background: 15% of transfers touch hubs; 3% deposits from outside, 4% ATM withdrawals.
    src = np.where(rng.random(n_bg) < 0.15, rng.integers(0, n_hub, n_bg), rng.integers(0, n_acc, n_bg))
    dst = np.where(rng.random(n_bg) < 0.15, rng.integers(0, n_hub, n_bg), rng.integers(0, n_acc, n_bg))
    dst = np.where(dst == src, (dst + 1) % n_acc, dst)
    kind = rng.random(n_bg)
    src = np.where(kind < 0.03, -1, src)
    dst = np.where(kind > 0.96, -1, dst)
    channel = np.where(kind > 0.96, CHANNELS.index("atm"), np.where(kind < 0.03, CHANNELS.index("counter"), 0))
    cents = (rng.lognormal(np.log(300), 1.0, n_bg) * 100).astype(np.int64) + 1
    ts = START_US + rng.integers(0, SPAN_US, n_bg)
    src = np.concatenate([planted[:, 0], src])
    dst = np.concatenate([planted[:, 1], dst])
    ts = np.concatenate([planted[:, 2], ts])
    cents = np.concatenate([planted[:, 3], cents])
    channel = np.concatenate([planted[:, 4], channel])
    order = np.argsort(ts, kind="stable")  # rows in time order: a row's index is its rank in the ledger
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    opening = np.concatenate([opening, np.zeros(victim_ids - n_acc, dtype=np.int64)])
    return Synthetic(src=src[order], dst=dst[order], ts=ts[order], amount=cents[order], channel=channel[order],
                     opening=opening, networks=[sorted(int(rank[r]) for r in net) for net in networks],
                     mules=mules_of)


def to_frame(data: Synthetic) -> pl.DataFrame:
    def key(ids: np.ndarray) -> tuple[pl.Series, pl.Series]:
        s = pl.Series(ids)
        present = s >= 0
        bank = pl.select(pl.when(present).then(pl.format("B{}", (s % 20).cast(pl.String).str.zfill(2)))).to_series()
        number = pl.select(pl.when(present).then(pl.format("62{}", s.cast(pl.String).str.zfill(12)))).to_series()
        return bank, number

    fb, fa = key(data.src)
    tb, ta = key(data.dst)
    cents = pl.Series(data.amount)
    amount = pl.format("{}.{}", (cents // 100).cast(pl.String), (cents % 100).cast(pl.String).str.zfill(2))
    return pl.DataFrame({
        "txn_id": pl.select(pl.format("T{}", pl.int_range(len(data)))).to_series(),
        "at": pl.Series(data.ts).cast(pl.Datetime("us", "UTC")),
        "from_bank": fb, "from_account": fa, "to_bank": tb, "to_account": ta,
        "amount": pl.select(amount).to_series(),
        "currency": pl.Series(["CNY"], dtype=pl.String).gather(np.zeros(len(data), dtype=np.int64)),
        "channel": pl.Series(list(CHANNELS)).gather(data.channel),
    })


# -- (a) the same walk over a networkx MultiDiGraph ---------------------------------------------------------------

def nx_build(data: Synthetic) -> Any:
    import networkx as nx

    g = nx.MultiDiGraph()  # money from outside and cash-outs are edges from/to node -1
    g.add_edges_from(
        (s, d, {"rank": r, "amount": a, "ts": t, "channel": c})
        for r, (s, d, a, t, c) in enumerate(zip(data.src.tolist(), data.dst.tolist(), data.amount.tolist(),
                                                data.ts.tolist(), data.channel.tolist(), strict=True)))
    return g


class _NxAccount:
    __slots__ = ("active", "depth", "events", "first_at", "hold", "keys", "last_at", "pos", "received")


def nx_trace(g: Any, victims: list[Victim], credits: list[tuple[int, int]], opening: dict[int, int]) -> Trace:
    """fanzha's walk (LIBR, stepping through every event of an account that holds victim money) with the graph's
    adjacency in place of fanzha's index, and the same answer: a Trace with the same flows, losses, unfollowed
    transfers and accounts."""
    states: dict[int, _NxAccount] = {}
    pending: dict[int, Parts] = {}
    credit_rows: dict[int, int] = {}
    heap: list[tuple[int, int]] = []
    flows: list[tuple[dict[str, Any], int, int, Parts]] = []  # edge data, from, to, victim money
    losses: list[tuple[dict[str, Any], int, Parts]] = []
    unfollowed: list[tuple[dict[str, Any], int, int, Parts, Literal["window", "depth"]]] = []

    def signed(ev: tuple[int, dict[str, Any], int]) -> int:
        return int(ev[1]["amount"]) if ev[0] & 1 else -int(ev[1]["amount"])

    def activate(a: int, key: int, depth: int) -> None:
        st = states.get(a)
        if st is None:
            # An account's rows: its in- and out-edges in the graph, in time order (a self-transfer once, as out).
            events = [(d["rank"] * 2, d, v) for _, v, d in g.out_edges(a, data=True)]
            events += [(d["rank"] * 2 + 1, d, u) for u, _, d in g.in_edges(a, data=True) if u != a]
            events.sort(key=itemgetter(0))
            st = _NxAccount()
            st.events, st.keys = events, [k for k, _, _ in events]
            pos = bisect_left(st.keys, key)
            st.hold = LowestBalance(max(0, opening.get(a, 0) + sum(signed(e) for e in events[:pos])))
            st.depth, st.first_at, st.last_at, st.received = depth, -1, -1, {}
            states[a] = st
        else:
            pos = bisect_left(st.keys, key, lo=st.pos)
            st.hold.reset(max(0, st.hold.own + sum(signed(e) for e in st.events[st.pos:pos])))
        st.pos, st.active = pos, True

    for v, (r, to) in enumerate(credits):  # each victim's credit: its row and receiving account
        credit_rows[r] = v
        heap.append((2 * r + 1, -1 - to))
    heapq.heapify(heap)
    while heap:
        key, a = heap[0]
        if a < 0:
            a = -1 - a
            st = states.get(a)
            if st is not None and st.active:
                heapq.heappop(heap)
            else:
                activate(a, key, 1)
                heapq.heapreplace(heap, (key, a))
            states[a].depth = 1
            continue
        st = states[a]
        _, d, other = st.events[st.pos]
        r = key >> 1
        if key & 1:
            if r in credit_rows:
                pending[r] = {credit_rows[r]: d["amount"]}
            parts = pending.pop(r, None)
            if parts is None:
                st.hold.add_own(d["amount"])
            else:
                st.hold.deposit(d["amount"] - sum(parts.values()), parts)
                st.first_at = d["ts"] if st.first_at < 0 else st.first_at
                st.last_at = d["ts"]
                for v, x in parts.items():
                    st.received[v] = st.received.get(v, 0) + x
                if r in credit_rows:
                    flows.append((d, other, a, parts))
        elif r in credit_rows:
            st.hold.take_own(d["amount"])
        elif other != a:
            parts = st.hold.withdraw(d["amount"])
            if parts:
                flows.append((d, a, other, parts))
                if other < 0:
                    losses.append((d, a, parts))
                elif d["ts"] - st.last_at > WINDOW_US:
                    unfollowed.append((d, a, other, parts, "window"))
                elif st.depth >= MAX_DEPTH:
                    unfollowed.append((d, a, other, parts, "depth"))
                else:
                    pending[r] = parts
                    nxt = states.get(other)
                    if nxt is None or not nxt.active:
                        activate(other, key + 1, st.depth + 1)
                        heapq.heappush(heap, (key + 1, other))
        st.pos += 1
        if st.pos >= len(st.events) or (not key & 1 and not st.hold.tainted):
            heapq.heappop(heap)
            st.active = False
        else:
            heapq.heapreplace(heap, (st.keys[st.pos], a))

    ids = [v.victim_id for v in victims]

    def key_of(a: int) -> tuple[str, str] | None:
        return None if a < 0 else account_key(a)

    def named(parts: Parts) -> dict[str, Decimal]:
        return {ids[v]: Decimal(parts[v]).scaleb(-2) for v in sorted(parts)}

    def when(us: int) -> datetime:
        return EPOCH + timedelta(microseconds=us)

    reached = sorted((a for a, st in states.items() if st.received),
                     key=lambda a: (states[a].depth, states[a].first_at, account_key(a)))
    return Trace(
        currency="CNY", policy=Policy.LIBR, victims=tuple(victims),
        accounts={account_key(a): AccountTrace(account_key(a), states[a].depth, when(states[a].first_at),
                                               when(states[a].last_at), named(states[a].received),
                                               named(states[a].hold.held())) for a in reached},
        flows=tuple(Flow(f"T{d['rank']}", when(d["ts"]), key_of(u), key_of(v), Decimal(d["amount"]).scaleb(-2),
                         CHANNELS[d["channel"]], named(p)) for d, u, v, p in flows),
        losses=tuple(Loss(ids[v], account_key(a), Decimal(x).scaleb(-2), CHANNELS[d["channel"]], f"T{d['rank']}",
                          when(d["ts"])) for d, a, p in losses for v, x in sorted(p.items())),
        unfollowed=tuple(Unfollowed(ids[v], account_key(a), key_of(b), Decimal(x).scaleb(-2), f"T{d['rank']}",
                                    when(d["ts"]), reason)
                         for d, a, b, p, reason in unfollowed for v, x in sorted(p.items())),
    )


# -- (b) DuckDB: the time-respecting walk as a recursive CTE ------------------------------------------------------

DUCK_WALK = f"""
WITH RECURSIVE walk(account, rnk, ts, depth) AS (
    SELECT dst, rnk, ts, 1 FROM tx WHERE rnk IN (SELECT rnk FROM credits)
    UNION
    SELECT t.dst, t.rnk, t.ts, w.depth + 1
    FROM walk AS w JOIN tx AS t ON t.src = w.account
    WHERE t.rnk > w.rnk AND t.ts - w.ts <= {WINDOW_US} AND w.depth < {MAX_DEPTH} AND t.dst >= 0 AND t.dst <> t.src
)
SELECT account, min(ts) AS first_at, min(depth) AS depth FROM walk GROUP BY account
"""


def duck_load(data: Synthetic) -> Any:
    import duckdb

    con = duckdb.connect()
    tx = pl.DataFrame({"rnk": np.arange(len(data)), "src": data.src, "dst": data.dst, "ts": data.ts})  # noqa: F841
    con.execute("CREATE TABLE tx AS SELECT * FROM tx")
    return con


def duck_trace(con: Any, credits: list[int]) -> set[int]:
    con.execute("CREATE OR REPLACE TEMP TABLE credits AS SELECT unnest(?::BIGINT[]) AS rnk", [credits])
    return {int(a) for (a, _, _) in con.execute(DUCK_WALK).fetchall()}


# -- the run -------------------------------------------------------------------------------------------------------

def timed(runs: dict[str, Callable[[], Any]], repeat: int) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
    """Median wall and CPU time of each contender over `repeat` rounds (contenders interleaved, so a busy
    machine slows each alike), and its last result."""
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, Any] = {}
    for _ in range(repeat):
        for name, fn in runs.items():
            gc.collect()
            t, c = time.perf_counter(), time.process_time()
            results[name] = fn()
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    return ({name: statistics.median(ts) for name, ts in wall.items()},
            {name: statistics.median(ts) for name, ts in cpu.items()}, results)


def fanzha_held(tr: Trace) -> dict[int, Parts]:
    index = {v.victim_id: i for i, v in enumerate(tr.victims)}
    return {int(key[1][2:]): {index[v]: int(x * 100) for v, x in acct.held.items()}
            for key, acct in tr.accounts.items()}


def run_size(size: int, repeat: int, seed: int, nx_max: int) -> dict[str, Any]:
    t = time.perf_counter()
    data = generate(size, seed)
    frame = to_frame(data)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    ledger = Ledger.from_frame(frame)
    build_s = time.perf_counter() - t
    del frame
    credits = data.networks[0]
    victims = [Victim(victim_id=f"V{i}", txn_id=f"T{r}") for i, r in enumerate(credits)]
    # Opening balances for every account, as the API takes them (the trace looks up only those it reaches).
    opening = {(f"B{i % 20:02d}", f"62{i:012d}"): Decimal(int(c)) / 100 for i, c in enumerate(data.opening.tolist())}

    def run_fanzha() -> Trace:
        return trace(ledger, victims, policy=Policy.LIBR, window=WINDOW, max_depth=MAX_DEPTH, opening_balances=opening)

    runs: dict[str, Callable[[], Any]] = {"fanzha": run_fanzha}
    out: dict[str, Any] = {"size": len(data), "gen_s": gen_s, "build_s": build_s}
    g = None
    if len(data) <= nx_max:
        t, before = time.perf_counter(), rss()
        g = nx_build(data)
        out["nx_build_s"] = time.perf_counter() - t
        out["nx_bytes"] = max(0, rss() - before)
        NX_MEASURED.update(edges=len(data), bytes=out["nx_bytes"], seconds=out["nx_build_s"])
        opening_ids = dict(enumerate(data.opening.tolist()))
        receivers = [(r, int(data.dst[r])) for r in credits]
        runs["networkx"] = lambda: nx_trace(g, victims, receivers, opening_ids)
    else:
        measured = NX_MEASURED.get("edges")
        if measured:
            scale = len(data) / measured
            out["nx_skipped"] = (
                f"networkx skipped above {nx_max:,} transactions (--networkx-max): its MultiDiGraph took "
                f"{NX_MEASURED['bytes'] / 1e9:.2f} GB and {NX_MEASURED['seconds']:.0f} s to build for "
                f"{measured:,.0f} edges here, so {len(data):,} would need ~{NX_MEASURED['bytes'] * scale / 1e9:.0f} GB "
                f"and ~{NX_MEASURED['seconds'] * scale / 60:.0f} min before the first trace")
        else:
            out["nx_skipped"] = (f"networkx skipped above {nx_max:,} transactions (--networkx-max); "
                                 "run a smaller size in the same run to see what the graph costs")
    t = time.perf_counter()
    con = duck_load(data)
    out["duck_load_s"] = time.perf_counter() - t
    runs["duckdb"] = lambda: duck_trace(con, credits)
    # Interleaved, so that a busy machine slows every contender alike.
    times, cpu, results = timed(runs, repeat)
    con.close()
    g = None  # free the graph before the next size
    gc.collect()

    tr = results["fanzha"]
    held = fanzha_held(tr)
    out.update(trace_s=times["fanzha"], trace_cpu_s=cpu["fanzha"], reached=len(tr.accounts), flows=len(tr.flows),
               mules_reached=len(data.mules[0] & set(held)), mules=len(data.mules[0]))
    for v in victims:  # the books balance for every victim, to the cent
        s = tr.summary(v.victim_id)
        assert s["credit"] == s["held"] + s["lost"] + s["unfollowed"], (v, s)
    if "networkx" in results:
        if results["networkx"] != tr:  # every account, amount held, flow, loss and unfollowed transfer
            raise SystemExit(f"networkx and fanzha disagree at {size}: "
                             f"{len(results['networkx'].accounts)} vs {len(tr.accounts)} accounts")
        out.update(nx_trace_s=times["networkx"], nx_cpu_s=cpu["networkx"], nx_agrees=True)
    out["duck_trace_s"] = times["duckdb"]
    out["duck_reached"] = len(results["duckdb"])
    out["duck_contains_fanzha"] = set(held) <= results["duckdb"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000,10000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--networkx-max", type=int, default=1_000_000,
                        help="largest ledger to build a networkx graph for (default 1,000,000)")
    parser.add_argument("--postgres-url", help=argparse.SUPPRESS)  # scripts/bench passes one; not needed here
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results = []
    for size in sizes:
        print(f"-- {size:,} transactions (seed {args.seed}, repeat {args.repeat})", flush=True)
        r = run_size(size, args.repeat, args.seed, args.networkx_max)
        results.append(r)
        print(f"   generated in {r['gen_s']:.1f} s; fanzha index {r['build_s']:.2f} s; trace reached {r['reached']} "
              f"accounts ({r['mules_reached']}/{r['mules']} planted mules), {r['flows']} flows", flush=True)
        if "nx_build_s" in r:
            print(f"   networkx graph built in {r['nx_build_s']:.1f} s, {r['nx_bytes'] / 1e9:.2f} GB; identical trace "
                  f"(accounts, held, flows, losses): {'yes' if r['nx_agrees'] else 'NO'}", flush=True)
        else:
            print(f"   {r['nx_skipped']}", flush=True)
        print(f"   DuckDB table loaded in {r['duck_load_s']:.2f} s; reached {r['duck_reached']} accounts by time "
              f"alone; contains every account fanzha reached: {'yes' if r['duck_contains_fanzha'] else 'NO'}",
              flush=True)
    print()
    print("Wall time, median of the interleaved repeats:")
    print("| transactions | fanzha build | fanzha trace | networkx trace | networkx / fanzha "
          "| DuckDB walk | DuckDB / fanzha |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        nx_cell = f"{r['nx_trace_s'] * 1e3:.1f} ms" if "nx_trace_s" in r else "skipped (see above)"
        nx_ratio = f"{r['nx_trace_s'] / r['trace_s']:.1f}x" if "nx_trace_s" in r else "-"
        print(f"| {r['size']:,} | {r['build_s']:.2f} s | {r['trace_s'] * 1e3:.1f} ms | {nx_cell} | {nx_ratio} "
              f"| {r['duck_trace_s'] * 1e3:.1f} ms | {r['duck_trace_s'] / r['trace_s']:.1f}x |")
    # fanzha and networkx run on one thread each: their CPU time is what they cost, however busy the machine.
    cpu = "; ".join(f"{r['size']:,}: fanzha {r['trace_cpu_s'] * 1e3:.1f} ms"
                    + (f", networkx {r['nx_cpu_s'] * 1e3:.1f} ms ({r['nx_cpu_s'] / r['trace_cpu_s']:.1f}x)"
                       if "nx_cpu_s" in r else "") for r in results)
    print(f"\nCPU time of one trace, median: {cpu}")
    if len(results) > 1:
        first = results[0]
        growth = ", ".join(f"{r['size'] / first['size']:,.0f}x rows -> {r['trace_cpu_s'] / first['trace_cpu_s']:.2f}x"
                           for r in results[1:])
        print(f"fanzha trace CPU time against the {first['size']:,}-row ledger: {growth}")
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
