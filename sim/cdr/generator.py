"""CDR rows for a `Population`, generated in chunks with numpy and written as CSV or Parquet.

Each row is the record of a served subscriber (the caller of an ``out`` row, the callee of an ``in`` row); its
city, county, cell and IMEI are that subscriber's. Columns, as `fanzha telecom ingest` reads them: caller, callee
(E.164), start_time, duration_s, direction (out/in), carrier, city, county, cell (CGI ``460-MNC-LAC-CI``), imei,
trunk (local, long_distance, international_gateway), displayed_number.

The period ends at the extraction time: a call still going then has an empty duration ("still connected"). CSV
start times are naive Asia/Shanghai wall times (as carriers export them) unless `aware_times`; Parquet start times
are UTC timestamps. Output is a function of the options alone (seed included): chunks draw from their own
`SeedSequence` children, so the same options give the same bytes.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from tqdm import tqdm  # type: ignore[import-untyped]

from sim.cdr import population as popmod
from sim.cdr.population import (
    CARRIERS,
    CITY_CODES,
    CITY_NAMES,
    COUNTIES_PER_CITY,
    FRAUD,
    HOUR_WEIGHTS,
    I64,
    MNC,
    OFFICIAL_DISPLAYS,
    ORDINARY,
    Population,
    mix,
)

CHUNK_ROWS = 1 << 20
LOCAL_OFFSET_S = 8 * 3600  # Asia/Shanghai has been UTC+8 all year since 1991
TRUNKS = ("local", "long_distance", "international_gateway")
LOCAL, LONG_DISTANCE, GATEWAY = range(3)
BAD_KINDS_CSV = ("bad_caller", "bad_time", "negative_duration", "bad_direction", "missing_caller", "short_row",
                 "bad_trunk", "bad_imei", "bad_callee")
BAD_KINDS_PARQUET = ("bad_caller", "negative_duration", "bad_direction", "missing_caller", "bad_trunk", "bad_imei",
                     "bad_callee")

# Per kind (ordinary, fraud, courier, rider, call centre).
LONG_DISTANCE_SHARE = np.array([0.14, 0.6, 0.03, 0.03, 0.05])
STAY_IN_HOME_COUNTY = np.array([0.6, 0.0, 0.2, 0.2, 1.0])
SHORT_SHARE = np.array([0.08, 0.5, 0.05, 0.05, 0.2])  # unanswered or hung up: 0-8 s
DURATION_MEDIAN_S = np.array([60.0, 30.0, 25.0, 20.0, 90.0])
DURATION_SIGMA = np.array([1.1, 0.8, 0.5, 0.5, 0.9])
FRESH_SHARE_IN = np.array([0.12, 0.2, 0.85, 0.9, 0.97])  # incoming calls from outside the circle


@dataclass(frozen=True, slots=True)
class Options:
    rows: int
    numbers: int
    fraud: int
    seed: int
    heavy: int | None = None  # benign heavy callers; default: as many as fraud numbers
    days: int = 30
    start: date = date(2024, 3, 1)
    bad_rows: int = 0
    aware_times: bool = False  # CSV only: write +08:00 offsets instead of naive wall times

    @property
    def heavy_callers(self) -> int:
        return self.fraud if self.heavy is None else self.heavy


@dataclass(frozen=True, slots=True)
class Written:
    rows: int
    truth: Path
    bad: Path | None
    planted: int


def _period_start_local_s(start: date) -> int:
    """Seconds since the epoch of the period's first local midnight, counted on the local wall clock."""
    return int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())


def _luhn(payload: I64) -> I64:
    """Luhn check digit for 14-digit IMEI payloads (TAC + serial)."""
    total = np.zeros(len(payload), dtype=np.int64)
    rest = payload.copy()
    for position in range(14):
        digit = rest % 10
        rest //= 10
        if position % 2 == 0:  # the rightmost payload digit is doubled
            digit = digit * 2
            digit = np.where(digit > 9, digit - 9, digit)
        total += digit
    return np.asarray((10 - total % 10) % 10, dtype=np.int64)


def chunk_frame(pop: Population, rng: np.random.Generator, n: int, opts: Options) -> pl.DataFrame:
    """`n` CDR rows in start-time order, typed (start_time a UTC datetime, duration_s Int32 with nulls)."""
    served, domestic = pop.served, pop.foreign_from
    idx = np.repeat(np.arange(served), rng.multinomial(n, pop.weight / pop.weight.sum()))
    kind = pop.kind[idx]
    u = rng.random((12, n))

    day = pop.first_day[idx] + (u[0] * pop.life_days[idx]).astype(np.int64)
    hour = np.empty(n, dtype=np.int64)
    for code in range(len(HOUR_WEIGHTS)):
        mask = kind == code
        hour[mask] = np.minimum(np.searchsorted(np.cumsum(HOUR_WEIGHTS[code]), u[1][mask], side="right"), 23)
    local_s = _period_start_local_s(opts.start) + day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    utc_s = local_s - LOCAL_OFFSET_S

    out = u[2] < pop.out_share[idx]
    fresh = u[3] < np.where(out, pop.fresh_share[idx], FRESH_SHARE_IN[kind])
    slot = (pop.contacts[idx] * u[4] ** 2).astype(np.int64)  # favourites first
    circle = mix(idx, slot, 11) % domestic
    opp = np.where(fresh, rng.integers(0, domestic, n), circle)
    abroad = (kind == ORDINARY) & ~out & (u[5] < 0.006)  # relatives abroad call in
    if len(pop.numbers) > domestic:
        opp = np.where(abroad, rng.integers(domestic, len(pop.numbers), n), opp)
    for _ in range(3):  # nobody else calls a fraud SIM (outside its life it does not exist), nor itself
        taken = (opp == idx) | ((opp < served) & (pop.kind[np.minimum(opp, served - 1)] == FRAUD))
        opp = np.where(taken, (opp + 1) % domestic, opp)

    engaged = (kind == FRAUD) & ~fresh  # victims who answer and call back: long calls
    mu = np.log(np.where(engaged, 420.0, DURATION_MEDIAN_S[kind]))
    sigma = np.where(engaged, 0.9, DURATION_SIGMA[kind])
    duration = np.minimum(np.exp(mu + sigma * rng.standard_normal(n)), 4 * 3600).astype(np.int64)
    short = (u[6] < SHORT_SHARE[kind]) & ~engaged
    duration = np.where(short, rng.integers(0, 9, n), duration)
    period_end_utc = _period_start_local_s(opts.start) + opts.days * 86400 - LOCAL_OFFSET_S
    connected = utc_s + duration > period_end_utc  # still on the line when the records were extracted

    roam_slot = (u[7] * pop.cities[idx]).astype(np.int64)
    city = np.where(roam_slot > 0, mix(idx, roam_slot, 7) % len(CITY_NAMES), pop.home_city[idx])
    travelling = (kind == ORDINARY) & (mix(idx, day, 13) % 100 < 3)  # 3 % of an ordinary user's days away
    city = np.where(travelling, mix(idx, day, 17) % len(CITY_NAMES), city)
    at_home = city == pop.home_city[idx]
    stay = (u[9] < STAY_IN_HOME_COUNTY[kind]) & at_home
    work = (kind == ORDINARY) & at_home & ~stay & (u[8] < 0.8)  # ordinary users: home, work, now and then elsewhere
    county = CITY_CODES[city] * 100 + 1 + np.select(
        [stay, work], [pop.home_county[idx], mix(idx, 19) % COUNTIES_PER_CITY],
        rng.integers(0, COUNTIES_PER_CITY, n))
    cell_slot = (u[10] * pop.cells[idx]).astype(np.int64)
    lac = mix(county, 5) % 65534 + 1
    ci = mix(idx, cell_slot, county) % (1 << 28)
    imei_slot = (u[11] * pop.imeis[idx]).astype(np.int64)
    imei14 = pop.tac[idx] * 10**6 + mix(idx, imei_slot, 3) % 10**6
    imei = imei14 * 10 + _luhn(imei14)

    trunk = np.where(rng.random(n) < LONG_DISTANCE_SHARE[kind], LONG_DISTANCE, LOCAL)
    foreign = opp >= domestic
    trunk = np.where(foreign, GATEWAY, trunk)
    gateway = pop.gateway[idx] & out & (rng.random(n) < 0.7)
    trunk = np.where(gateway, GATEWAY, trunk)
    # What the callee's phone showed: the caller's number, nothing (hidden), or a spoofed one through the gateway.
    spoof_official = gateway & (rng.random(n) < 0.6)
    spoof_domestic = gateway & ~spoof_official
    hidden = ~out & (rng.random(n) < 0.03)
    official = rng.integers(0, len(OFFICIAL_DISPLAYS), n)
    other = pop.numbers[rng.integers(0, domestic, n)]

    order = np.argsort(utc_s, kind="stable")
    served_no = pop.numbers[idx]
    opp_no = pop.numbers[opp]
    caller = np.where(out, served_no, opp_no)[order]
    frame = pl.DataFrame({
        "caller": caller,
        "callee": np.where(out, opp_no, served_no)[order],
        "start_time": utc_s[order] * 1_000_000,
        "duration_s": duration[order],
        "connected": connected[order],
        "out": out[order],
        "carrier": pop.carrier[idx][order],
        "city": city[order],
        "county": county[order],
        "mnc": pop.carrier[idx][order],
        "lac": lac[order],
        "ci": ci[order],
        "imei": imei[order],
        "trunk": trunk[order],
        "disp": np.select([spoof_official, spoof_domestic, hidden], [1, 2, 3], 0)[order],
        "official": official[order],
        "other": other[order],
    })
    e164 = "+" + pl.col("caller").cast(pl.String)
    return frame.select(
        e164.alias("caller"),
        ("+" + pl.col("callee").cast(pl.String)).alias("callee"),
        pl.col("start_time").cast(pl.Datetime("us", "UTC")),
        pl.when(~pl.col("connected")).then(pl.col("duration_s")).cast(pl.Int32).alias("duration_s"),
        pl.when(pl.col("out")).then(pl.lit("out")).otherwise(pl.lit("in")).alias("direction"),
        pl.col("carrier").replace_strict(dict(enumerate(CARRIERS)), return_dtype=pl.String),
        pl.col("city").replace_strict(dict(enumerate(CITY_NAMES)), return_dtype=pl.String),
        pl.col("county").cast(pl.String),
        pl.concat_str(pl.lit("460-"), pl.col("mnc").replace_strict(dict(enumerate(MNC)), return_dtype=pl.String),
                      pl.lit("-"), pl.col("lac").cast(pl.String), pl.lit("-"), pl.col("ci").cast(pl.String))
        .alias("cell"),
        pl.col("imei").cast(pl.String),
        pl.col("trunk").replace_strict(dict(enumerate(TRUNKS)), return_dtype=pl.String),
        pl.when(pl.col("disp") == 0).then(e164)
        .when(pl.col("disp") == 1)
        .then(pl.col("official").replace_strict(dict(enumerate(OFFICIAL_DISPLAYS)), return_dtype=pl.String))
        .when(pl.col("disp") == 2).then("+" + pl.col("other").cast(pl.String))
        .otherwise(None).alias("displayed_number"),
    )


def _bad_rows(rng: np.random.Generator, rows: int, count: int, kinds: tuple[str, ...]) -> dict[int, str]:
    count = min(count, rows)
    positions = np.sort(rng.choice(rows, count, replace=False)) if count else np.zeros(0, dtype=np.int64)
    return {int(p): kinds[i % len(kinds)] for i, p in enumerate(positions)}


BAD_VALUES = {
    "bad_caller": ("caller", "+86 138-ABCD-0000"), "missing_caller": ("caller", ""),
    "bad_callee": ("callee", "13800138000x"), "bad_time": ("start_time", "2024-02-30 25:61:00"),
    "negative_duration": ("duration_s", "-5"), "bad_direction": ("direction", "sideways"),
    "bad_trunk": ("trunk", "long distance!"), "bad_imei": ("imei", "86AB12"),
}


def _corrupt(frame: pl.DataFrame, bad: dict[int, str]) -> pl.DataFrame:
    """Overwrite the listed rows' fields (all columns are strings, or duration an integer for Parquet)."""
    for kind in sorted(set(bad.values()) - {"short_row"}):
        column, value = BAD_VALUES[kind]
        rows = [r for r, k in bad.items() if k == kind]
        series = frame.get_column(column)
        typed: object = int(value) if series.dtype == pl.Int32 else (None if value == "" else value)
        frame = frame.with_columns(series.scatter(rows, [typed] * len(rows)))
    return frame


def _csv_strings(frame: pl.DataFrame, aware: bool) -> pl.DataFrame:
    local = pl.col("start_time").dt.replace_time_zone(None) + pl.duration(seconds=LOCAL_OFFSET_S)
    fmt = "%Y-%m-%dT%H:%M:%S+08:00" if aware else "%Y-%m-%d %H:%M:%S"
    return frame.with_columns(local.dt.to_string(fmt).alias("start_time"),
                              pl.col("duration_s").cast(pl.String))


def write(path: Path, opts: Options, *, truth: Path | None = None, progress: bool = True,
          log: Callable[[str], None] | None = None) -> Written:
    """Generate `opts.rows` rows into `path` (.csv or .parquet) plus the truth file of planted numbers
    (``number,kind``) and, with bad rows, ``<path>.bad.csv`` (``line,kind``: file line for CSV, row for Parquet)."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"output must end in .csv or .parquet, not {path.name!r}")
    root = np.random.SeedSequence(opts.seed)
    pop_seq, bad_seq, chunk_root = root.spawn(3)
    pop = popmod.build(np.random.default_rng(pop_seq), numbers=opts.numbers, fraud=opts.fraud,
                       heavy=opts.heavy_callers, days=opts.days)
    is_csv = suffix == ".csv"
    bad = _bad_rows(np.random.default_rng(bad_seq), opts.rows, opts.bad_rows,
                    BAD_KINDS_CSV if is_csv else BAD_KINDS_PARQUET)
    n_chunks = -(-opts.rows // CHUNK_ROWS)
    seqs = chunk_root.spawn(n_chunks)
    path.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=opts.rows, unit="row", unit_scale=True, file=sys.stderr, desc=path.name,
               disable=not progress or not sys.stderr.isatty())
    writer: pq.ParquetWriter | None = None
    try:
        with open(path, "wb") as raw:
            for c in range(n_chunks):
                first = c * CHUNK_ROWS
                n = min(CHUNK_ROWS, opts.rows - first)
                frame = chunk_frame(pop, np.random.default_rng(seqs[c]), n, opts)
                local_bad = {r - first: k for r, k in bad.items() if first <= r < first + n}
                if is_csv:
                    _write_csv_chunk(raw, _corrupt(_csv_strings(frame, opts.aware_times), local_bad), local_bad,
                                     header=c == 0)
                else:
                    table = _corrupt(frame, local_bad).to_arrow()
                    if writer is None:
                        writer = pq.ParquetWriter(raw, table.schema, compression="zstd")
                    writer.write_table(table, row_group_size=CHUNK_ROWS)
                bar.update(n)
            if writer is not None:
                writer.close()
    finally:
        bar.close()
    truth = truth or path.with_name(path.stem + ".truth.csv")
    planted = pop.planted()
    with open(truth, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["number", "kind"])
        out.writerows((f"+{number}", kind) for number, kind in planted)
    bad_path = None
    if bad:
        bad_path = path.with_name(path.name + ".bad.csv")
        offset = 2 if is_csv else 1
        with open(bad_path, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["line", "kind"])
            out.writerows((r + offset, k) for r, k in sorted(bad.items()))
    if log:
        log(f"{opts.rows} CDR rows in {path}; {len(planted)} planted numbers in {truth}"
            + (f"; {len(bad)} bad rows listed in {bad_path}" if bad_path else ""))
    return Written(rows=opts.rows, truth=truth, bad=bad_path, planted=len(planted))


def _write_csv_chunk(raw: IO[bytes], frame: pl.DataFrame, bad: dict[int, str], *, header: bool) -> None:
    short = sorted(r for r, k in bad.items() if k == "short_row")
    if not short:
        frame.write_csv(raw, include_header=header)
        return
    buffer = io.StringIO()
    frame.write_csv(buffer, include_header=False)
    lines = buffer.getvalue().split("\n")
    for r in short:
        lines[r] = ",".join(lines[r].split(",")[:5])  # a truncated record: 5 of 12 fields
    if header:
        raw.write((",".join(frame.columns) + "\n").encode())
    raw.write("\n".join(lines).encode())


def period_bounds(opts: Options) -> tuple[datetime, datetime]:
    """The simulated period as aware UTC datetimes [start, end)."""
    start = datetime(opts.start.year, opts.start.month, opts.start.day, tzinfo=UTC) - timedelta(hours=8)
    return start, start + timedelta(days=opts.days)
