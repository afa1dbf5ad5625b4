"""Per-number CDR features at 1M, 10M and 100M rows: polars (fanzha's engine) against pandas and DuckDB computing
the same aggregates in the same run, and the same job on Dask with 1 and 2 workers; then precision and recall of a
LightGBM model on the planted fraud numbers.

For each size N the simulator writes N rows (N/100 numbers, 0.5 % of them planted fraud numbers and as many benign
heavy callers) once to --workdir (default /tmp/fanzha-cdr-bench, never the repository), and `fanzha telecom
ingest` turns them into the normalised dataset once. Every engine then reads that dataset and computes every
feature of `fanzha.telecom.features`; a run is timed from reading the files to the finished table in memory,
median of --repeat runs. The tables are compared column by column (integers and text exactly, floats to 1e-9).
Dask clusters run on 127.0.0.1 and are started before the clock (1 worker x 2 polars threads; 2 workers x 1).
pandas is skipped, with the reason printed, when its frame would not fit in the memory available.

The model: LightGBM on the features of a stratified half of the numbers (label: planted fraud), evaluated on the
other half at probability 0.5; couriers, delivery riders and call centres are negatives, and the count of them
flagged is printed too.

    python bench/cdr.py [--sizes 1000000,10000000,100000000] [--repeat 3] [--workdir /tmp/fanzha-cdr-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from sim.cdr.generator import Options, write  # noqa: E402

from fanzha.telecom import distributed, features  # noqa: E402
from fanzha.telecom.cdr import GATEWAY, Dataset, ingest  # noqa: E402

CST_S = features.CST_OFFSET_S
PANDAS_BYTES_PER_ROW = 230  # peak memory of the pandas job per CDR row, measured at 10M rows (225 bytes)


# ------------------------------------------------------------------------------------------------------ data

def prepare(workdir: Path, rows: int, seed: int) -> tuple[Path, Path, dict[str, float]]:
    numbers = max(1_000, rows // 100)
    fraud = max(10, numbers // 200)
    raw = workdir / f"cdr-{rows}.parquet"
    truth = workdir / f"cdr-{rows}.truth.csv"
    ds = workdir / f"ds-{rows}"
    info: dict[str, float] = {}
    if not (raw.exists() and truth.exists()):
        print(f"  generating {rows:,} CDRs ({numbers:,} numbers, {fraud:,} planted fraud) -> {raw}", flush=True)
        started = time.perf_counter()
        write(raw, Options(rows=rows, numbers=numbers, fraud=fraud, seed=seed), truth=truth, progress=True)
        info["generate_s"] = time.perf_counter() - started
    if not (ds / "_cdr.json").exists():
        print(f"  ingesting -> {ds}", flush=True)
        report = ingest([raw], ds, progress=True)
        info["ingest_s"] = report.seconds
        info["ingest_rows_per_s"] = report.rows / report.seconds
    return ds, truth, info


# ------------------------------------------------------------------------------------------ the other engines

def duckdb_features(ds: Dataset, threads: int) -> pl.DataFrame:
    files = ", ".join(f"'{p}'" for p in ds.files())
    con = duckdb.connect(config={"threads": threads})
    query = f"""
    WITH calls AS (
      SELECT number, opposite, outgoing, duration_s, imei, city_code, county_code, cell_code, trunk, shown_other,
             start_time, epoch_us(start_time) + {CST_S * 1_000_000}::BIGINT AS local_us
      FROM read_parquet([{files}])
    ), c AS (
      SELECT *, local_us // 86400000000 AS day, (local_us % 86400000000) // 3600000000 AS hour,
             date_part('day', make_timestamp(local_us)) AS dom,
             date_part('year', make_timestamp(local_us)) * 12 + date_part('month', make_timestamp(local_us)) AS month
      FROM calls
    ), per AS (
      SELECT number, count(*) AS opposite_count, count(DISTINCT opposite) AS opposite_unique,
             count(*) FILTER (outgoing) AS voccalltype1,
             avg(duration_s) AS call_dur_mean, median(duration_s) AS call_dur_median,
             max(duration_s) AS call_dur_max, min(duration_s) AS call_dur_min,
             coalesce(sum(duration_s), 0) AS call_dur_sum,
             count(*) FILTER (duration_s < 10) AS short, count(*) - count(duration_s) AS connected_calls,
             count(DISTINCT imei) AS imeis, count(DISTINCT city_code) AS city_name_nunique,
             count(DISTINCT county_code) AS county_name_nunique, count(DISTINCT cell_code) AS cell_nunique,
             count(DISTINCT day) AS active_days, count(DISTINCT month) AS month_ids,
             epoch_us(max(start_time)) - epoch_us(min(start_time)) AS span_us,
             count(*) FILTER (hour >= 22 OR hour < 6) AS night,
             count(*) FILTER (trunk = '{GATEWAY}') AS gateway, count(*) FILTER (trunk = 'long_distance') AS long,
             count(*) FILTER (shown_other AND outgoing) AS shown
      FROM c GROUP BY number
    ), pairs AS (
      SELECT number, count(*) AS n, sum(coalesce(duration_s, 0)) AS talk FROM c GROUP BY number, opposite
    ), pair_stats AS (
      SELECT number, avg(n) AS phone2opposite_mean, median(n) AS phone2opposite_median,
             max(n) AS phone2opposite_max, avg(talk) AS phone2oppo_sum_mean, median(talk) AS phone2oppo_sum_median,
             max(talk) AS phone2oppo_sum_max, avg((n = 1)::INT) AS one_call_share
      FROM pairs GROUP BY number
    ), hours AS (
      SELECT number, hour, count(*) AS n FROM c GROUP BY number, hour
    ), hour_stats AS (
      SELECT number, arg_max(hour, n * 100 - hour) AS voc_hour_mode, max(n) AS voc_hour_mode_count,
             count(*) AS voc_hour_nunique FROM hours GROUP BY number
    ), doms AS (
      SELECT number, dom, count(*) AS n FROM c GROUP BY number, dom
    ), dom_stats AS (
      SELECT number, arg_max(dom, n * 100 - dom) AS voc_day_mode, max(n) AS voc_day_mode_count,
             count(*) AS voc_day_nunique FROM doms GROUP BY number
    )
    SELECT '+' || per.number::VARCHAR AS number, opposite_count, opposite_unique, voccalltype1,
           voccalltype1 / opposite_count AS voc_calltype1, opposite_count - voccalltype1 AS calltype_2,
           (voccalltype1 > 0)::INT + (voccalltype1 < opposite_count)::INT AS calltype_id_unique,
           phone2opposite_mean, phone2opposite_median, phone2opposite_max, phone2oppo_sum_mean,
           phone2oppo_sum_median, phone2oppo_sum_max, one_call_share, call_dur_mean, call_dur_median, call_dur_max,
           call_dur_min, call_dur_sum, short / opposite_count AS short_call_share, connected_calls, imeis,
           city_name_nunique, county_name_nunique, cell_nunique, voc_hour_mode, voc_hour_mode_count,
           voc_hour_nunique, voc_day_mode, voc_day_mode_count, voc_day_nunique, active_days, month_ids,
           span_us / 86400000000 AS span_days, opposite_count / active_days AS calls_per_active_day,
           night / opposite_count AS night_share, gateway / opposite_count AS gateway_share,
           long / opposite_count AS long_distance_share,
           CASE WHEN voccalltype1 > 0 THEN shown / voccalltype1 ELSE 0.0 END AS shown_other_share
    FROM per JOIN pair_stats USING (number) JOIN hour_stats USING (number) JOIN dom_stats USING (number)
    ORDER BY per.number
    """
    table = con.sql(query).pl()
    con.close()
    return table.with_columns(pl.col(name).cast(dtype) for name, dtype in features.FEATURE_SCHEMA.items())


def pandas_features(ds: Dataset) -> pl.DataFrame:
    cols = ["number", "opposite", "outgoing", "start_time", "duration_s", "imei", "city_code", "county_code",
            "cell_code", "trunk", "shown_other"]
    df = pd.concat([pd.read_parquet(p, columns=cols) for p in ds.files()], ignore_index=True)
    local_us = df["start_time"].dt.as_unit("us").astype("int64").to_numpy() + CST_S * 1_000_000
    day = local_us // 86_400_000_000
    df["hour"] = (local_us - day * 86_400_000_000) // 3_600_000_000
    stamp = pd.to_datetime(day, unit="D")
    df["day"], df["dom"], df["month"] = day, stamp.day.to_numpy(), (stamp.year * 12 + stamp.month).to_numpy()
    df["short"] = df["duration_s"] < 10
    df["night"] = (df["hour"] >= 22) | (df["hour"] < 6)
    df["gateway"], df["long"] = df["trunk"] == GATEWAY, df["trunk"] == "long_distance"
    df["shown"] = df["shown_other"] & df["outgoing"]
    df["talk"] = df["duration_s"].fillna(0).astype("int64")
    df["connected"] = df["duration_s"].isna()
    g = df.groupby("number", sort=True)
    per = g.agg(opposite_count=("opposite", "size"), opposite_unique=("opposite", "nunique"),
                voccalltype1=("outgoing", "sum"), call_dur_mean=("duration_s", "mean"),
                call_dur_median=("duration_s", "median"), call_dur_max=("duration_s", "max"),
                call_dur_min=("duration_s", "min"), call_dur_sum=("duration_s", "sum"), short=("short", "sum"),
                connected_calls=("connected", "sum"), imeis=("imei", "nunique"),
                city_name_nunique=("city_code", "nunique"), county_name_nunique=("county_code", "nunique"),
                cell_nunique=("cell_code", "nunique"), active_days=("day", "nunique"), month_ids=("month", "nunique"),
                first=("start_time", "min"), last=("start_time", "max"), night=("night", "sum"),
                gateway=("gateway", "sum"), long=("long", "sum"), shown=("shown", "sum"))
    pairs = df.groupby(["number", "opposite"], sort=False).agg(n=("talk", "size"), talk=("talk", "sum"))
    pairs["once"] = pairs["n"] == 1
    pg = pairs.groupby(level="number", sort=True)
    pair_stats = pg.agg(phone2opposite_mean=("n", "mean"), phone2opposite_median=("n", "median"),
                        phone2opposite_max=("n", "max"), phone2oppo_sum_mean=("talk", "mean"),
                        phone2oppo_sum_median=("talk", "median"), phone2oppo_sum_max=("talk", "max"),
                        one_call_share=("once", "mean"))

    def mode_stats(column: str, prefix: str) -> pd.DataFrame:
        counts = df.groupby(["number", column], sort=False).size().rename("n").reset_index()
        counts = counts.sort_values(["number", "n", column], ascending=[True, False, True])
        top = counts.drop_duplicates("number").set_index("number")
        return pd.DataFrame({f"{prefix}_mode": top[column], f"{prefix}_mode_count": top["n"],
                             f"{prefix}_nunique": counts.groupby("number").size()})

    out = per.join(pair_stats).join(mode_stats("hour", "voc_hour")).join(mode_stats("dom", "voc_day"))
    n = out["opposite_count"]
    out["voc_calltype1"] = out["voccalltype1"] / n
    out["calltype_2"] = n - out["voccalltype1"]
    out["calltype_id_unique"] = (out["voccalltype1"] > 0).astype(int) + (out["voccalltype1"] < n).astype(int)
    out["short_call_share"] = out["short"] / n
    out["span_days"] = (out["last"] - out["first"]).dt.total_seconds() / 86400
    out["calls_per_active_day"] = n / out["active_days"]
    out["night_share"], out["gateway_share"] = out["night"] / n, out["gateway"] / n
    out["long_distance_share"] = out["long"] / n
    out["shown_other_share"] = np.where(out["voccalltype1"] > 0, out["shown"] / out["voccalltype1"].clip(lower=1),
                                        0.0)
    out = out.reset_index()
    out["number"] = "+" + out["number"].astype(str)
    table = pl.from_pandas(out[list(features.FEATURE_SCHEMA)])
    return table.with_columns(pl.col(name).cast(dtype) for name, dtype in features.FEATURE_SCHEMA.items())


# -------------------------------------------------------------------------------------------------- checking

def disagreement(got: pl.DataFrame, want: pl.DataFrame) -> str | None:
    """None when the tables agree (same numbers; integers and text exact, floats to 1e-9), else the first
    difference."""
    if got.height != want.height or got.columns != want.columns:
        return f"shape {got.shape} != {want.shape}"
    if got.get_column("number").to_list() != want.get_column("number").to_list():
        return "different numbers"
    for name in want.columns[1:]:
        a, b = got.get_column(name), want.get_column(name)
        if b.dtype.is_float():
            same = ((a - b).abs() <= 1e-9 * b.abs().clip(lower_bound=1.0)) | (a.is_null() & b.is_null())
        else:
            same = (a == b) | (a.is_null() & b.is_null())
        bad = (~same.fill_null(False)).arg_true()
        if len(bad):
            i = bad[0]
            return f"{name}: {got['number'][i]} {a[i]} != {b[i]} ({len(bad)} rows)"
    return None


def detection(table: pl.DataFrame, truth: Path, seed: int) -> dict[str, float | int]:
    import lightgbm as lgb
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    kinds = pl.read_csv(truth)
    data = table.join(kinds, on="number", how="left").with_columns(pl.col("kind").fill_null("ordinary"))
    x = data.select(features.FEATURES).to_pandas()
    y = (data.get_column("kind") == "fraud").to_numpy().astype(int)
    kind = data.get_column("kind").to_numpy()
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=seed)
    model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=31, random_state=seed, verbose=-1)
    model.fit(x.iloc[idx_train], y[idx_train])
    score = model.predict_proba(x.iloc[idx_test])[:, 1]
    flagged = score >= 0.5
    benign_heavy = np.isin(kind[idx_test], ["courier", "rider", "call_centre"])
    return {"test_numbers": len(idx_test), "test_fraud": int(y[idx_test].sum()),
            "precision": float(precision_score(y[idx_test], flagged, zero_division=0)),
            "recall": float(recall_score(y[idx_test], flagged)), "f1": float(f1_score(y[idx_test], flagged)),
            "auc": float(roc_auc_score(y[idx_test], score)),
            "heavy_callers_flagged": int((flagged & benign_heavy).sum()), "heavy_callers": int(benign_heavy.sum())}


def timed(run: Callable[[], pl.DataFrame], repeat: int) -> tuple[float, list[float], float, pl.DataFrame]:
    """Median wall time, every wall time, median CPU time of this process (all its threads), the last table."""
    times, cpu = [], []
    table = pl.DataFrame()
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        table = run()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(times), times, statistics.median(cpu), table


def available_bytes() -> int:
    with open("/proc/meminfo", encoding="ascii") as fh:
        info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in fh}
    return info.get("MemAvailable", 0)


# ------------------------------------------------------------------------------------------------------ main

def bench_size(rows: int, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== {rows:,} CDR rows", flush=True)
    path, truth, info = prepare(args.workdir, rows, args.seed)
    ds = Dataset.open(path)
    results: dict[str, Any] = {"rows": rows, "buckets": ds.buckets, **info, "engines": {}}
    engines = results["engines"]

    def record(name: str, run: Callable[[], pl.DataFrame], reference: pl.DataFrame | None) -> pl.DataFrame:
        load = os.getloadavg()[0]
        median, times, cpu, table = timed(run, args.repeat)
        agree = "reference" if reference is None else (disagreement(table, reference) or "agrees")
        in_process = not name.startswith("dask")  # a Dask run's work is done in the worker processes
        engines[name] = {"median_s": median, "runs_s": times, "rows_per_s": rows / median, "check": agree,
                         "cpu_s": cpu if in_process else None, "load": load}
        cpu_text = f"cpu {cpu:6.2f} s" if in_process else "cpu in workers"
        print(f"  {name:<16} {median:8.2f} s  {rows / median / 1e6:7.2f} M rows/s  {cpu_text}  [{agree}]  "
              f"runs {', '.join(f'{t:.2f}' for t in times)}  load {load:.1f}", flush=True)
        return table

    load = os.getloadavg()
    results["load_before"] = load
    print(f"  load average {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} on {os.cpu_count()} cores", flush=True)
    polars_table = record("polars", lambda: features.compute(ds), None)
    record("duckdb", lambda: duckdb_features(ds, threads=os.cpu_count() or 2), polars_table)
    need = rows * PANDAS_BYTES_PER_ROW
    if need > available_bytes() * 0.8:
        reason = (f"pandas skipped: about {need / 2**30:.0f} GiB needed, {available_bytes() / 2**30:.0f} GiB "
                  "available")
        engines["pandas"] = {"skipped": reason}
        print(f"  {reason}", flush=True)
    else:
        record("pandas", lambda: pandas_features(ds), polars_table)
    for workers, threads in ((1, os.cpu_count() or 2), (2, 1)):
        with distributed.local_cluster(workers, polars_threads=threads) as client:
            record(f"dask {workers} worker{'s' if workers > 1 else ''}",
                   lambda client=client: distributed.compute(ds, client), polars_table)
    results["detection"] = detection(polars_table, truth, args.seed)
    d = results["detection"]
    print(f"  LightGBM on half the numbers, tested on {d['test_numbers']:,} ({d['test_fraud']} fraud): precision "
          f"{d['precision']:.3f}, recall {d['recall']:.3f}, F1 {d['f1']:.3f}, AUC {d['auc']:.4f}; benign heavy "
          f"callers flagged {d['heavy_callers_flagged']} of {d['heavy_callers']}", flush=True)
    return results


def table(all_results: Sequence[dict[str, Any]]) -> str:
    lines = ["| rows | engine | median s | M rows/s | vs polars | CPU s | load | result |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for res in all_results:
        base = res["engines"]["polars"]["median_s"]
        for name, e in res["engines"].items():
            if "skipped" in e:
                lines.append(f"| {res['rows']:,} | {name} | - | - | - | - | - | {e['skipped']} |")
                continue
            cpu = "-" if e["cpu_s"] is None else f"{e['cpu_s']:.2f}"
            lines.append(f"| {res['rows']:,} | {name} | {e['median_s']:.2f} | {e['rows_per_s'] / 1e6:.2f} | "
                         f"{e['median_s'] / base:.2f}x | {cpu} | {e['load']:.1f} | {e['check']} |")
    lines += ["", "| rows | precision | recall | F1 | AUC | heavy callers flagged |",
              "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for res in all_results:
        d = res["detection"]
        lines.append(f"| {res['rows']:,} | {d['precision']:.3f} | {d['recall']:.3f} | {d['f1']:.3f} | {d['auc']:.4f} | "
                     f"{d['heavy_callers_flagged']} / {d['heavy_callers']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/cdr.py", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000000,10000000,100000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fanzha-cdr-bench"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--postgres-url", default=None, help=argparse.SUPPRESS)  # passed by scripts/bench; unused
    args = parser.parse_args(argv)
    if str(args.workdir.resolve()).startswith(str(ROOT)):
        parser.error("--workdir must be outside the repository")
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    print(f"polars {pl.__version__}, duckdb {duckdb.__version__}, pandas {pd.__version__}; {os.cpu_count()} cores; "
          f"median of {args.repeat} runs", flush=True)
    results = [bench_size(rows, args) for rows in sizes]
    print("\n" + table(results))
    out = args.json or args.workdir / "results.json"
    out.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
