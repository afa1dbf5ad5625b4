"""Per-number features from normalised CDRs over a window, computed with polars (numpy for the histograms).

One row per served number that has at least one CDR in the window [since, until). The names follow the usual
feature engineering of the Sichuan fraud data (`../shared/data/README.md`), so a model can be trained on either;
features the Sichuan set lacks are marked *new*. Times of day and dates are China Standard Time (UTC+08:00,
which Asia/Shanghai has kept all year since 1991). "Counterpart" is the other party of a call.

| feature | meaning |
| --- | --- |
| number | the served number, E.164 text |
| opposite_count | calls (CDRs) in the window, both directions |
| opposite_unique | distinct counterparts |
| voccalltype1 | outgoing calls |
| voc_calltype1 | share of calls that were outgoing |
| calltype_2 | incoming calls |
| calltype_id_unique | distinct directions seen (1 or 2) |
| phone2opposite_mean, _median, _max | calls per distinct counterpart: mean, median, max |
| phone2oppo_sum_mean, _median, _max | talk seconds per distinct counterpart (a still-connected call counts 0) |
| one_call_share | *new*: share of counterparts called or calling exactly once ("few repeat calls") |
| call_dur_mean, _median, _max, _min | call duration in seconds over calls with a duration (not still connected) |
| call_dur_sum | *new*: total talk seconds (0 when no call has finished) |
| short_call_share | *new*: share of calls with a duration under 10 s (unanswered, hung up) |
| connected_calls | *new*: calls still connected when the records were extracted (duration empty) |
| imeis | distinct handsets (IMEI TAC + serial) |
| city_name_nunique, county_name_nunique | distinct cities, counties |
| cell_nunique | *new*: distinct cells |
| voc_hour_mode, voc_hour_mode_count | hour of day (0-23) with the most calls (the earliest on a tie), its calls |
| voc_hour_nunique | distinct hours of day with a call |
| voc_day_mode, voc_day_mode_count, voc_day_nunique | the same for the day of the month (1-31) |
| active_days | *new*: distinct calendar days with a call |
| month_ids | distinct calendar months with a call (the Sichuan set counts billing months) |
| span_days | *new*: days from the first call to the last in the window (a short-lived SIM has a short span) |
| calls_per_active_day | *new*: opposite_count / active_days |
| night_share | *new*: share of calls started 22:00-05:59 |
| gateway_share | *new*: share of calls through the international gateway (trunk international_gateway) |
| long_distance_share | *new*: share of calls on a long-distance trunk |
| shown_other_share | *new*: share of outgoing calls whose callee was shown another number (0 without outgoing calls) |

How it is fast: the dataset is partitioned by number (bucket = number % buckets) and sorted by (number,
opposite, start_time) at ingestion, so each bucket is read once and every per-number aggregate is a polars
group-by over a column flagged sorted (contiguous groups, no hashing). Calls and talk time per counterpart come
from the ends of (number, opposite) runs and a cumulative sum (numpy), then one more sorted group-by, not from
a hashing group-by on two keys; the hour, day-of-month, active-day and month histograms are one `numpy.bincount`
over (number index, hour) and one over (number index, day). Places are counted on integer codes written at
ingestion. Two buckets are worked on at once (polars and numpy release the GIL). Buckets are independent, which
is what `fanzha.telecom.distributed` runs on a Dask cluster: the same `bucket_features` per bucket.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl
from tqdm import tqdm  # type: ignore[import-untyped]

from fanzha.telecom.cdr import GATEWAY, Dataset, read_bucket

CST_OFFSET_S: Final = 8 * 3600
NIGHT_FROM_HOUR: Final = 22
NIGHT_UNTIL_HOUR: Final = 6
SHORT_CALL_S: Final = 10
DAY_MATRIX_CELLS: Final = 1 << 24  # bound on the (numbers x days) histogram held at once
READ_COLUMNS: Final = ("number", "opposite", "outgoing", "start_time", "duration_s", "city_code", "county_code",
                       "cell_code", "imei", "trunk", "shown_other")

FEATURE_SCHEMA: Final = pl.Schema({
    "number": pl.String,
    "opposite_count": pl.UInt32, "opposite_unique": pl.UInt32, "voccalltype1": pl.UInt32,
    "voc_calltype1": pl.Float64, "calltype_2": pl.UInt32, "calltype_id_unique": pl.UInt32,
    "phone2opposite_mean": pl.Float64, "phone2opposite_median": pl.Float64, "phone2opposite_max": pl.UInt32,
    "phone2oppo_sum_mean": pl.Float64, "phone2oppo_sum_median": pl.Float64, "phone2oppo_sum_max": pl.Int64,
    "one_call_share": pl.Float64,
    "call_dur_mean": pl.Float64, "call_dur_median": pl.Float64, "call_dur_max": pl.Int32, "call_dur_min": pl.Int32,
    "call_dur_sum": pl.Int64, "short_call_share": pl.Float64, "connected_calls": pl.UInt32,
    "imeis": pl.UInt32, "city_name_nunique": pl.UInt32, "county_name_nunique": pl.UInt32,
    "cell_nunique": pl.UInt32,
    "voc_hour_mode": pl.Int32, "voc_hour_mode_count": pl.UInt32, "voc_hour_nunique": pl.UInt32,
    "voc_day_mode": pl.Int32, "voc_day_mode_count": pl.UInt32, "voc_day_nunique": pl.UInt32,
    "active_days": pl.UInt32, "month_ids": pl.UInt32, "span_days": pl.Float64, "calls_per_active_day": pl.Float64,
    "night_share": pl.Float64, "gateway_share": pl.Float64, "long_distance_share": pl.Float64,
    "shown_other_share": pl.Float64,
})
FEATURES: Final = tuple(c for c in FEATURE_SCHEMA if c != "number")

I64 = npt.NDArray[np.int64]


def _distinct(name: str) -> pl.Expr:
    """Distinct non-null values per group (n_unique counts null as a value)."""
    return (pl.col(name).n_unique() - (pl.col(name).null_count() > 0).cast(pl.UInt32)).cast(pl.UInt32)


def _per_number(frame: pl.DataFrame) -> pl.LazyFrame:
    """Per-number aggregates: one group-by over calls sorted by number (contiguous groups)."""
    duration = pl.col("duration_s")
    return (
        frame.lazy()
        .with_columns((pl.col("shown_other") & pl.col("outgoing")).alias("_shown"),
                      (pl.col("trunk") == GATEWAY).alias("_gateway"),
                      (pl.col("trunk") == "long_distance").alias("_long"),
                      (duration < SHORT_CALL_S).alias("_short"))
        .group_by("number", maintain_order=True)
        .agg(
            pl.len().alias("opposite_count"),
            pl.col("outgoing").sum().alias("voccalltype1"),
            duration.mean().alias("call_dur_mean"),
            duration.median().alias("call_dur_median"),
            duration.max().alias("call_dur_max"),
            duration.min().alias("call_dur_min"),
            duration.sum().cast(pl.Int64).alias("call_dur_sum"),
            pl.col("_short").sum(),
            duration.null_count().alias("connected_calls"),
            _distinct("imei").alias("imeis"),
            _distinct("city_code").alias("city_name_nunique"),
            _distinct("county_code").alias("county_name_nunique"),
            _distinct("cell_code").alias("cell_nunique"),
            pl.col("start_time").min().alias("_first_call"),
            pl.col("start_time").max().alias("_last_call"),
            pl.col("_gateway").sum(),
            pl.col("_long").sum(),
            pl.col("_shown").sum(),
        )
    )


def _per_counterpart(frame: pl.DataFrame, calls_per_number: I64) -> pl.DataFrame:
    """Calls and talk time per (number, counterpart), from the ends of (number, opposite) runs and a cumulative
    sum (no second hashing group-by); then their count, mean, max and share of ones per number by `reduceat`
    over the numbers' contiguous runs of pairs, and their medians by a sorted polars group-by."""
    number = frame.get_column("number").to_numpy()
    opposite = frame.get_column("opposite").to_numpy()
    last = np.ones(len(number), dtype=bool)
    np.not_equal(number[1:], number[:-1], out=last[:-1])
    last[:-1] |= opposite[1:] != opposite[:-1]
    ends = np.flatnonzero(last)
    talked = np.cumsum(frame.get_column("duration_s").fill_null(0).to_numpy(), dtype=np.int64)[ends]
    calls = np.diff(ends, prepend=-1)
    talk = np.diff(talked, prepend=0)
    # the first pair of each number: pairs are in number order, and a number's last row ends its last pair
    number_ends = np.cumsum(calls_per_number) - 1
    pairs_per_number = np.diff(np.searchsorted(ends, number_ends), prepend=-1)
    firsts = np.concatenate([[0], np.cumsum(pairs_per_number)[:-1]])
    medians = (pl.DataFrame({"number": number[ends], "_calls": calls, "_talk": talk})
               .lazy().with_columns(pl.col("number").set_sorted())
               .group_by("number", maintain_order=True)
               .agg(pl.col("_calls").median().alias("phone2opposite_median"),
                    pl.col("_talk").median().alias("phone2oppo_sum_median"))
               .collect())
    return pl.DataFrame({
        "opposite_unique": pairs_per_number.astype(np.uint32),
        "phone2opposite_mean": np.add.reduceat(calls, firsts) / pairs_per_number,
        "phone2opposite_median": medians.get_column("phone2opposite_median"),
        "phone2opposite_max": np.maximum.reduceat(calls, firsts).astype(np.uint32),
        "phone2oppo_sum_mean": np.add.reduceat(talk, firsts) / pairs_per_number,
        "phone2oppo_sum_median": medians.get_column("phone2oppo_sum_median"),
        "phone2oppo_sum_max": np.maximum.reduceat(talk, firsts),
        "one_call_share": np.add.reduceat((calls == 1).astype(np.int64), firsts) / pairs_per_number,
    })


def _mode(counts: npt.NDArray[np.int64], first: int) -> dict[str, npt.NDArray[Any]]:
    """Mode (smallest bin on a tie, numbered from `first`), its count and the bins used, per row."""
    return {"mode": (counts.argmax(axis=1) + first).astype(np.int32),
            "mode_count": counts.max(axis=1).astype(np.uint32),
            "nunique": np.count_nonzero(counts, axis=1).astype(np.uint32)}


def _profiles(frame: pl.DataFrame, calls: I64) -> dict[str, npt.NDArray[Any]]:
    """Hour-of-day, day-of-month, active-day and month histograms per number (numbers in sorted order,
    `calls` rows each)."""
    m = len(calls)
    local_us = frame.get_column("start_time").to_numpy().view(np.int64) + CST_OFFSET_S * 1_000_000
    number_idx = np.repeat(np.arange(m, dtype=np.int64), calls)
    day = local_us // 86_400_000_000
    hour = (local_us - day * 86_400_000_000) // 3_600_000_000
    hour_counts = np.bincount(number_idx * 24 + hour, minlength=m * 24).reshape(m, 24)
    hours = _mode(hour_counts, 0)
    night = hour_counts[:, NIGHT_FROM_HOUR:].sum(axis=1) + hour_counts[:, :NIGHT_UNTIL_HOUR].sum(axis=1)
    first_day = int(day.min())
    n_days = int(day.max()) - first_day + 1
    dates = np.arange(first_day, first_day + n_days).astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    month_starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    dom = (dates - months).astype(np.int64)  # 0-based day of the month
    by_dom = np.argsort(dom, kind="stable")
    dom_starts = np.flatnonzero(np.r_[True, np.diff(dom[by_dom]) != 0])
    dom_values = dom[by_dom][dom_starts]
    active = np.empty(m, dtype=np.uint32)
    month_ids = np.empty(m, dtype=np.uint32)
    dom_counts = np.zeros((m, 31), dtype=np.int64)
    block = max(1, DAY_MATRIX_CELLS // n_days)
    row_ends = np.cumsum(calls)
    for start in range(0, m, block):
        stop = min(m, start + block)
        r0 = int(row_ends[start - 1]) if start else 0
        r1 = int(row_ends[stop - 1])
        key = (number_idx[r0:r1] - start) * n_days + (day[r0:r1] - first_day)
        matrix = np.bincount(key, minlength=(stop - start) * n_days).reshape(stop - start, n_days)
        active[start:stop] = np.count_nonzero(matrix, axis=1)
        month_ids[start:stop] = np.count_nonzero(np.add.reduceat(matrix, month_starts, axis=1), axis=1)
        dom_counts[start:stop, dom_values] = np.add.reduceat(matrix[:, by_dom], dom_starts, axis=1)
    days = _mode(dom_counts, 1)
    return {"voc_hour_mode": hours["mode"], "voc_hour_mode_count": hours["mode_count"],
            "voc_hour_nunique": hours["nunique"], "voc_day_mode": days["mode"],
            "voc_day_mode_count": days["mode_count"], "voc_day_nunique": days["nunique"],
            "active_days": active, "month_ids": month_ids, "_night": night.astype(np.uint32)}


def features_of(frame: pl.DataFrame) -> pl.DataFrame:
    """Features (`FEATURE_SCHEMA`) of the numbers in `frame`: normalised CDRs sorted by (number, opposite)."""
    if frame.height == 0:
        return pl.DataFrame(schema=FEATURE_SCHEMA)
    frame = frame.with_columns(pl.col("number").set_sorted())
    level1 = _per_number(frame).collect()
    calls = level1.get_column("opposite_count").to_numpy().astype(np.int64)
    pairs = _per_counterpart(frame, calls)
    profiles = pl.DataFrame(_profiles(frame, calls))
    count = pl.col("opposite_count")
    return (
        pl.concat([level1, pairs, profiles], how="horizontal")
        .with_columns(
            ("+" + pl.col("number").cast(pl.String)).alias("number"),
            (pl.col("voccalltype1") / count).alias("voc_calltype1"),
            (count - pl.col("voccalltype1")).alias("calltype_2"),
            ((pl.col("voccalltype1") > 0).cast(pl.UInt32) + (pl.col("voccalltype1") < count).cast(pl.UInt32))
            .alias("calltype_id_unique"),
            (pl.col("_short") / count).alias("short_call_share"),
            ((pl.col("_last_call") - pl.col("_first_call")).dt.total_microseconds() / 86_400_000_000)
            .alias("span_days"),
            (count / pl.col("active_days")).alias("calls_per_active_day"),
            (pl.col("_night") / count).alias("night_share"),
            (pl.col("_gateway") / count).alias("gateway_share"),
            (pl.col("_long") / count).alias("long_distance_share"),
            pl.when(pl.col("voccalltype1") > 0).then(pl.col("_shown") / pl.col("voccalltype1")).otherwise(0.0)
            .alias("shown_other_share"),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in FEATURE_SCHEMA.items()])
    )


def bucket_features(parts: Sequence[str | Path], since: datetime | None = None,
                    until: datetime | None = None) -> pl.DataFrame:
    """Features of one bucket of the dataset (the unit of work for both engines)."""
    frame = read_bucket([Path(p) for p in parts], columns=READ_COLUMNS, since=since, until=until)
    return features_of(frame)


def finish(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Buckets' features as one table ordered by number."""
    if not frames:
        return pl.DataFrame(schema=FEATURE_SCHEMA)
    table = pl.concat(frames, how="vertical")
    return table.sort(pl.col("number").str.slice(1).cast(pl.Int64))


def compute(dataset: Dataset | Path, *, since: datetime | None = None, until: datetime | None = None,
            progress: bool = False, parallel: int | None = None) -> pl.DataFrame:
    """Features of every number with a call in [since, until), on this machine with polars.

    `parallel` buckets are worked on at once (default: the machine's cores, at most 2): polars and numpy release
    the GIL, so one bucket's single-threaded steps overlap another's."""
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    buckets = [parts for parts in ds.parts if parts]
    bar = tqdm(total=len(buckets), desc="features", unit="bucket", file=sys.stderr,
               disable=not progress or not sys.stderr.isatty())

    def one(parts: Sequence[Path]) -> pl.DataFrame:
        table = bucket_features(parts, since, until)
        bar.update(1)
        return table

    workers = max(1, parallel if parallel is not None else min(2, os.cpu_count() or 1))
    try:
        if workers == 1 or len(buckets) < 2:
            frames = [one(parts) for parts in buckets]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="cdr-features") as pool:
                frames = list(pool.map(one, buckets))
    finally:
        bar.close()
    return finish(frames)


def write(table: pl.DataFrame, out: Path) -> None:
    """Write the feature table as CSV or Parquet (by the file's suffix)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        table.write_parquet(out)
    elif suffix == ".csv":
        table.write_csv(out)
    else:
        raise ValueError(f"features go to a .csv or .parquet file, not {out.name!r}")
