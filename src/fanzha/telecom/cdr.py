"""CDR schema and ingestion: carriers' CSV and Parquet call records into a normalised Parquet dataset.

A call detail record (CDR) is written by a carrier for one of its subscribers, the *served* number: the caller of
an ``out`` record, the callee of an ``in`` record. City, county, cell and IMEI are the served subscriber's.

Input columns (CSV with a header line, or Parquet; names are matched ignoring case and surrounding spaces, other
columns are ignored and reported). "Column yes" means the column must exist while its values may be empty.

| column | required | accepted values |
| --- | --- | --- |
| caller, callee | yes | E.164: ``+`` then 3-15 digits, the first not 0 |
| start_time | yes | ISO 8601 ``YYYY-MM-DD[T ]HH:MM:SS[.ffffff]`` (``/`` also between date parts), optional ``Z``, |
| | | ``±HH:MM`` or ``±HHMM``; years 1990-2099. Naive times (text or Parquet) are read as Asia/Shanghai |
| | | and counted in the report |
| duration_s | column yes | whole seconds 0-172800; empty: the call was still connected at extraction |
| direction | yes | ``out`` or ``in`` (any case) |
| carrier | yes | non-empty text |
| city, cell | column yes | text |
| county | no | text |
| imei | column yes | 14-16 digits; kept as the 14-digit TAC + serial, so a handset's IMEI and IMEISV agree |
| trunk | yes | an identifier such as ``local``, ``long_distance``, ``international_gateway`` (lower-cased) |
| displayed_number | column yes | what the callee's phone showed: ``+`` optional, 2-20 digits, spaces, ``-``, brackets |

A row that breaks a rule goes to the quarantine CSV next to the output directory (``<out>.quarantine.csv``:
``file,line,reason,raw``) with its 1-based line in the file (the header is line 1; for Parquet, the row number)
and every rule it broke; the other rows go on. Nothing is dropped silently: rows read = rows kept + rows
quarantined, and the report says so. A line with the wrong number of fields is quarantined as it was written.

The normalised dataset (``fanzha telecom ingest FILE... --out DIR``) is ``DIR/bucket=NNNN/part-RUN.parquet``,
rows in bucket ``number % buckets``, sorted by (number, opposite, start_time) within a part, and
``DIR/_cdr.json`` (the manifest: bucket count and the runs whose parts make up the dataset; a part of a run that
did not finish is not listed and never read). Columns:

| column | type | meaning |
| --- | --- | --- |
| number | Int64 | the served subscriber, E.164 digits without ``+`` |
| opposite | Int64 | the other party, E.164 digits |
| outgoing | Boolean | direction ``out`` (number is the caller) |
| start_time | Datetime(us, UTC) | |
| duration_s | Int32 | null: still connected at extraction |
| carrier, city, county, cell, trunk | String | as given (trunk lower-cased), empty as null |
| imei | Int64 | 14-digit TAC + serial, null when not recorded |
| displayed_number | String | as given, trimmed, empty as null |
| shown_other | Boolean | a number was displayed and it is not the caller's (national forms such as |
| | | ``0288...`` or ``138...`` are read as +86 before comparing) |
| city_code, county_code, cell_code | UInt32 | the place as an integer, equal for equal text within a part |
| | | file (distinct places are then counted on integers); a reader merging parts recomputes them |

Files larger than memory stream: CSV is parsed block by block (pyarrow), Parquet row group by row group; each
block's good rows are spilled to their bucket's file at once, and each bucket is sorted on its own afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from tqdm import tqdm  # type: ignore[import-untyped]

LOCAL_TZ: Final = "Asia/Shanghai"
GATEWAY: Final = "international_gateway"
COLUMNS: Final = ("caller", "callee", "start_time", "duration_s", "direction", "carrier", "city", "cell", "imei",
                  "trunk", "displayed_number")
OPTIONAL_COLUMNS: Final = ("county",)
MAX_DURATION_S: Final = 2 * 86400
SCHEMA: Final = pl.Schema({
    "number": pl.Int64(), "opposite": pl.Int64(), "outgoing": pl.Boolean(), "start_time": pl.Datetime("us", "UTC"),
    "duration_s": pl.Int32(), "carrier": pl.String(), "city": pl.String(), "county": pl.String(),
    "cell": pl.String(), "imei": pl.Int64(), "trunk": pl.String(), "displayed_number": pl.String(),
    "shown_other": pl.Boolean(),
})
CODED: Final = {"city_code": "city", "county_code": "county", "cell_code": "cell"}
STORED_SCHEMA: Final = pl.Schema([*SCHEMA.items(), *((code, pl.UInt32()) for code in CODED)])
SORT_KEY: Final = ("number", "opposite", "start_time")
MANIFEST: Final = "_cdr.json"
FORMAT: Final = "fanzha-cdr"
ROWS_PER_BUCKET: Final = 2_000_000  # target bucket size: one bucket is sorted in memory at a time
CSV_BLOCK_BYTES: Final = 16 << 20
PARQUET_BATCH_ROWS: Final = 1 << 18
QUARANTINE_FIELDS: Final = ("file", "line", "reason", "raw")

E164_RE: Final = r"^\+[1-9][0-9]{2,14}$"
OFFSET_RE: Final = r"[+-][0-9]{2}:?[0-9]{2}$"
DISPLAY_RE: Final = r"^\+?[0-9 ()\-]{2,32}$"
TRUNK_RE: Final = r"^[a-z][a-z0-9_]{0,31}$"


class SchemaError(ValueError):
    """The file cannot be read as CDRs at all (a required column is missing, an unusable column type)."""


def to_e164(number: int) -> str:
    return f"+{number}"


def parse_e164(text: str) -> int:
    """E.164 text (``+8613812345678``) as the integer the dataset stores; ValueError when it is not E.164."""
    text = text.strip()
    if not (text.startswith("+") and text[1:].isascii() and text[1:].isdigit() and 3 <= len(text) - 1 <= 15
            and text[1] != "0"):
        raise ValueError(f"not an E.164 number: {text!r}")
    return int(text[1:])


# --------------------------------------------------------------------------------------------------- validation

def _text(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String).str.strip_chars()


def _national_to_e164(display: pl.Expr) -> pl.Expr:
    digits = display.str.replace_all(r"[ ()\-]", "")
    return (pl.when(digits.str.starts_with("+")).then(digits)
            .when(digits.str.starts_with("00")).then("+" + digits.str.slice(2))
            .when(digits.str.contains(r"^1[0-9]{10}$")).then("+86" + digits)
            .when(digits.str.contains(r"^0[1-9][0-9]{8,10}$")).then("+86" + digits.str.slice(1))
            .otherwise(digits))


FIXED_OFFSET_SINCE: Final = datetime(1992, 1, 1)  # Asia/Shanghai has been UTC+08:00 all year since Sept 1991


def _local_to_utc(naive: pl.Series) -> pl.Series:
    """Naive Asia/Shanghai wall times as UTC: a fixed -8 h when every time is from 1992 on (fast), else the tz
    database (the summer times of 1986-1991)."""
    earliest = naive.min()
    if isinstance(earliest, datetime) and earliest >= FIXED_OFFSET_SINCE:
        return naive.dt.replace_time_zone("UTC") - timedelta(hours=8)
    return (naive.dt.replace_time_zone(LOCAL_TZ, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC"))


def _start_time(frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """(UTC start time or null, "was naive") for the batch's start_time column (already stripped if text)."""
    dtype = frame.schema["start_time"]
    values = frame.get_column("start_time")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return _local_to_utc(values.dt.cast_time_unit("us")), values.is_not_null()
        return values.dt.convert_time_zone("UTC").dt.cast_time_unit("us"), pl.Series([False] * len(values))
    if dtype != pl.String:
        raise SchemaError(f"start_time has type {dtype}; expected text or a timestamp")
    if values.str.contains("T", literal=True).any() or values.str.contains("/", literal=True).any() \
            or values.str.ends_with("Z").any():
        values = (values.str.replace("T", " ", literal=True).str.replace_all("/", "-", literal=True)
                  .str.replace(r"Z$", "+00:00"))
    aware = values.str.contains(OFFSET_RE).fill_null(False)
    fmt = "%Y-%m-%d %H:%M:%S" if not values.str.contains(".", literal=True).any() else "%Y-%m-%d %H:%M:%S%.f"
    if not aware.any():
        parsed = _local_to_utc(values.str.to_datetime(fmt, strict=False, time_unit="us"))
        return parsed, parsed.is_not_null()
    parsed = values.str.to_datetime(fmt + "%z", strict=False, time_zone="UTC", time_unit="us")
    if aware.all():
        return parsed, pl.Series([False] * len(values))
    naive_rows = (~aware).arg_true()
    local = _local_to_utc(values.gather(naive_rows).str.to_datetime(fmt, strict=False, time_unit="us"))
    parsed = parsed.scatter(naive_rows, local)
    return parsed, ~aware & parsed.is_not_null()


def _duration(frame: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    """(seconds as Int64 or null, "not a whole number")."""
    dtype = frame.schema["duration_s"]
    col = pl.col("duration_s")
    if dtype.is_integer():
        return col.cast(pl.Int64), pl.lit(False)
    if dtype.is_float():
        value = col.cast(pl.Int64, strict=False)
        return value, col.is_not_null() & (col.is_nan() | (col != col.round(0)) | value.is_null())
    if dtype != pl.String:
        raise SchemaError(f"duration_s has type {dtype}; expected whole seconds")
    digits = col.str.contains(r"^-?[0-9]{1,12}$")
    return pl.when(digits).then(col.cast(pl.Int64, strict=False)), col.is_not_null() & ~digits


def _blank_as_null(name: str, *, strip: bool) -> pl.Expr:
    text = _text(name) if strip else pl.col(name).cast(pl.String)
    return pl.when(text != "").then(text).alias(name)


def _reasons() -> pl.Expr:
    """Every rule a row breaks, ``; ``-separated (evaluated on the flagged rows only)."""
    rules = [
        pl.when(pl.col("caller").is_null()).then(pl.lit("caller: missing"))
        .when(~pl.col("_caller_ok")).then(pl.lit("caller: not E.164")),
        pl.when(pl.col("callee").is_null()).then(pl.lit("callee: missing"))
        .when(~pl.col("_callee_ok")).then(pl.lit("callee: not E.164")),
        pl.when(pl.col("start_time").is_null()).then(pl.lit("start_time: missing"))
        .when(pl.col("_start").is_null()).then(pl.lit("start_time: not an ISO 8601 time"))
        .when(~pl.col("_start").dt.year().is_between(1990, 2099)).then(pl.lit("start_time: outside 1990-2099")),
        pl.when(pl.col("_duration_bad")).then(pl.lit("duration_s: not a whole number of seconds"))
        .when(pl.col("_duration") < 0).then(pl.lit("duration_s: negative"))
        .when(pl.col("_duration") > MAX_DURATION_S).then(pl.lit("duration_s: longer than 48 hours")),
        pl.when(~pl.col("_direction_ok")).then(pl.lit("direction: must be out or in")),
        pl.when(pl.col("carrier").is_null()).then(pl.lit("carrier: missing")),
        pl.when(~pl.col("_imei_ok")).then(pl.lit("imei: not 14-16 digits")),
        pl.when(pl.col("_trunk").is_null()).then(pl.lit("trunk: missing"))
        .when(~pl.col("_trunk_ok")).then(pl.lit("trunk: not an identifier such as local")),
        pl.when(~pl.col("_display_ok")).then(pl.lit("displayed_number: not a phone number")),
    ]
    return (pl.when(pl.all_horizontal([pl.col(c).is_null() for c in COLUMNS])).then(pl.lit("empty line"))
            .otherwise(pl.concat_str(rules, separator="; ", ignore_nulls=True)))


def check(frame: pl.DataFrame) -> pl.DataFrame:
    """Validate one batch of raw CDR rows: returns the normalised columns (`SCHEMA`) plus ``_reason`` (null for
    a good row; every broken rule otherwise, ``; ``-separated) and ``_naive`` (the start time had no offset)."""
    for name in COLUMNS:
        if name not in frame.columns:
            raise SchemaError(f"missing column {name}")
    if "county" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("county"))
    # 1. text trimmed (only where some value needs it), empty as null; typed Parquet columns keep their type
    typed = {name for name in (*COLUMNS, "county")
             if (name == "start_time" and isinstance(frame.schema[name], pl.Datetime))
             or (name == "duration_s" and frame.schema[name].is_numeric())}
    texts = [name for name in (*COLUMNS, "county") if name not in typed]
    padded = frame.select(pl.col(name).cast(pl.String).str.contains(r"^\s|\s$").any() for name in texts).row(0)
    frame = frame.select(*(pl.col(name) for name in typed),
                         *(_blank_as_null(name, strip=pad) for name, pad in zip(texts, padded, strict=True)))
    start, naive = _start_time(frame)
    duration, duration_not_whole = _duration(frame)
    # 2. parsed values and rule flags
    display = pl.col("displayed_number")
    frame = frame.with_columns(
        pl.col("caller").str.contains(E164_RE).fill_null(False).alias("_caller_ok"),
        pl.col("callee").str.contains(E164_RE).fill_null(False).alias("_callee_ok"),
        start.alias("_start"),
        naive.alias("_naive"),
        duration.alias("_duration"),
        duration_not_whole.alias("_duration_bad"),
        pl.col("direction").str.to_lowercase().alias("_direction"),
        (pl.col("imei").is_null() | pl.col("imei").str.contains(r"^[0-9]{14,16}$")).alias("_imei_ok"),
        pl.col("trunk").str.to_lowercase().alias("_trunk"),
        (display.is_null() | (display.str.contains(DISPLAY_RE) & display.str.contains("[0-9].*[0-9]")))
        .alias("_display_ok"),
    ).with_columns(
        pl.col("_direction").is_in(["out", "in"]).fill_null(False).alias("_direction_ok"),
        pl.col("_trunk").str.contains(TRUNK_RE).fill_null(False).alias("_trunk_ok"),
    )
    bad = frame.select(~pl.all_horizontal(
        "_caller_ok", "_callee_ok", "_direction_ok", "_imei_ok", "_trunk_ok", "_display_ok",
        pl.col("_start").dt.year().is_between(1990, 2099).fill_null(False),
        ~pl.col("_duration_bad").fill_null(False),
        pl.col("_duration").is_between(0, MAX_DURATION_S).fill_null(True),
        pl.col("carrier").is_not_null())).to_series()
    reason = pl.Series("_reason", [None] * frame.height, dtype=pl.String)
    if bad.any():  # reasons are spelled out for the rows that broke a rule only
        rows = bad.arg_true()
        reason = reason.scatter(rows, frame[rows].select(_reasons()).to_series())
    frame = frame.with_columns(
        reason,
        (pl.col("_direction") == "out").alias("_out"),
        pl.when(pl.col("_caller_ok")).then(pl.col("caller").str.slice(1).cast(pl.Int64, strict=False))
        .alias("_caller"),
        pl.when(pl.col("_callee_ok")).then(pl.col("callee").str.slice(1).cast(pl.Int64, strict=False))
        .alias("_callee"),
        (display != pl.col("caller")).fill_null(False).alias("_differs"),
    )
    # 3. only a display that differs from the caller as written is read in its national form
    differs = frame.get_column("_differs")
    if differs.any():
        rows = differs.arg_true()
        subset = frame[rows].select((_national_to_e164(display) != pl.col("caller")).fill_null(False))
        frame = frame.with_columns(differs.scatter(rows, subset.to_series()).alias("_differs"))
    return frame.select(
        pl.when(pl.col("_out")).then(pl.col("_caller")).otherwise(pl.col("_callee")).alias("number"),
        pl.when(pl.col("_out")).then(pl.col("_callee")).otherwise(pl.col("_caller")).alias("opposite"),
        pl.col("_out").alias("outgoing"),
        pl.col("_start").alias("start_time"),
        pl.col("_duration").cast(pl.Int32, strict=False).alias("duration_s"),
        "carrier", "city", "county", "cell",
        pl.when(pl.col("_imei_ok")).then(pl.col("imei").str.slice(0, 14).cast(pl.Int64, strict=False))
        .alias("imei"),
        pl.col("_trunk").alias("trunk"),
        "displayed_number",
        pl.col("_differs").alias("shown_other"),
        "_reason",
        "_naive",
    )


# ------------------------------------------------------------------------------------------------------ sources

@dataclass
class _Counter:
    total: int = 0


class _CountingReader(io.RawIOBase):
    """A file whose reads move a progress bar (pyarrow pulls blocks from it)."""

    def __init__(self, raw: IO[bytes], bar: Any) -> None:
        self.raw = raw
        self.bar = bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.bar.update(n or 0)
        return int(n or 0)

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.bar.update(len(data))
        return data


def _canonical(name: str) -> str:
    return name.lstrip("\ufeff").strip().lower()


def _map_columns(path: Path, names: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Source name -> canonical name for the columns we read, and the ignored ones."""
    wanted = set(COLUMNS) | set(OPTIONAL_COLUMNS)
    mapping: dict[str, str] = {}
    ignored: list[str] = []
    for name in names:
        canonical = _canonical(name)
        if canonical in wanted:
            if canonical in mapping.values():
                raise SchemaError(f"{path}: column {canonical} appears twice")
            mapping[name] = canonical
        else:
            ignored.append(name)
    missing = [c for c in COLUMNS if c not in mapping.values()]
    if missing:
        raise SchemaError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                          f"(found: {', '.join(names) or 'none'})")
    return mapping, ignored


@dataclass
class _Skipped:
    line: int
    reason: str
    text: str


class _CsvSource:
    """CSV batches of text columns; rows with the wrong number of fields are set aside with their line."""

    def __init__(self, path: Path, *, encoding: str, bar: Any) -> None:
        self.path = path
        self.encoding = encoding
        self.bar = bar
        self.skipped: list[_Skipped] = []
        self._ranks = np.zeros(0, dtype=np.int64)  # per skipped line: good rows before it
        header_encoding = "utf-8-sig" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding
        with open(path, "rb") as fh:
            first = fh.readline().decode(header_encoding, errors="replace").rstrip("\r\n")
        header = next(csv.reader([first]), [])
        self.mapping, self.ignored = _map_columns(path, header)
        self.expected = len(header)

    def _on_invalid(self, row: Any) -> str:
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        self.skipped.append(_Skipped(int(row.number) if row.number is not None else -1, reason, str(row.text)))
        return "skip"

    def batches(self) -> Iterator[pl.DataFrame]:
        read = pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES, encoding=self.encoding)
        parse = pacsv.ParseOptions(invalid_row_handler=self._on_invalid, ignore_empty_lines=False,
                                   newlines_in_values=False)
        convert = pacsv.ConvertOptions(column_types={name: pa.binary() for name in self.mapping},
                                       include_columns=list(self.mapping), strings_can_be_null=False,
                                       quoted_strings_can_be_null=False)
        with open(self.path, "rb") as raw:
            reader = pacsv.open_csv(_CountingReader(raw, self.bar), read_options=read, parse_options=parse,
                                    convert_options=convert)
            for batch in reader:
                yield _decode(batch).rename(self.mapping)

    def lines(self, rows: np.ndarray[Any, np.dtype[np.int64]]) -> np.ndarray[Any, np.dtype[np.int64]]:
        """File lines of good rows (0-based among the rows pyarrow yielded), skipping the set-aside lines."""
        if len(self._ranks) != len(self.skipped):
            known = np.array(sorted(s.line for s in self.skipped), dtype=np.int64)
            self._ranks = known - 2 - np.arange(len(known))
        return rows + 2 + np.searchsorted(self._ranks, rows, side="right")


def _decode(batch: Any) -> pl.DataFrame:
    """Binary CSV columns as text; a value that is not UTF-8 becomes U+FFFD and its row is flagged."""
    columns: dict[str, pl.Series] = {}
    bad = np.zeros(batch.num_rows, dtype=bool)
    for name, array in zip(batch.schema.names, batch.columns, strict=True):
        try:
            text = array.cast(pa.string())
        except (pa.ArrowInvalid, UnicodeDecodeError):
            values = array.to_pylist()
            decoded = []
            for i, value in enumerate(values):
                try:
                    decoded.append(value.decode("utf-8"))
                except UnicodeDecodeError:
                    bad[i] = True
                    decoded.append(value.decode("utf-8", errors="replace"))
            text = pa.array(decoded, type=pa.string())
        columns[name] = pl.Series(name, text)
    frame = pl.DataFrame(columns)
    return frame.with_columns(pl.Series("_not_utf8", bad)) if bad.any() else frame


class _ParquetSource:
    """Parquet batches in file order, streamed by polars (row groups are decoded in parallel)."""

    def __init__(self, path: Path, *, bar: Any) -> None:
        self.path = path
        self.bar = bar
        self.mapping, self.ignored = _map_columns(path, list(pl.read_parquet_schema(path)))
        self.skipped: list[_Skipped] = []

    def batches(self) -> Iterator[pl.DataFrame]:
        scan = pl.scan_parquet(self.path).select(list(self.mapping)).rename(self.mapping)
        for frame in scan.collect_batches(chunk_size=PARQUET_BATCH_ROWS, maintain_order=True):
            self.bar.update(frame.height)
            yield frame

    def lines(self, rows: np.ndarray[Any, np.dtype[np.int64]]) -> np.ndarray[Any, np.dtype[np.int64]]:
        return rows + 1


def estimate_rows(path: Path) -> int:
    if path.suffix.lower() == ".parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    return max(1, path.stat().st_size // 110)  # a typical CDR line is 100-130 bytes


def _source(path: Path, *, encoding: str, bar: Any) -> _CsvSource | _ParquetSource:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _ParquetSource(path, bar=bar)
    if suffix in (".csv", ".txt"):
        return _CsvSource(path, encoding=encoding, bar=bar)
    raise SchemaError(f"{path}: expected a .csv or .parquet file")


# --------------------------------------------------------------------------------------------------- quarantine

def _raw_text(frame: pl.DataFrame) -> list[str]:
    """The source fields of quarantined rows, as one CSV line each."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    lines = []
    for row in frame.iter_rows():
        out.seek(0)
        out.truncate()
        writer.writerow(["" if v is None else v for v in row])
        lines.append(out.getvalue().rstrip("\n"))
    return lines


class _Quarantine:
    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        new = not (append and path.exists())
        self.fh = open(path, "w" if new else "a", newline="", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.writer = csv.writer(self.fh)
        if new:
            self.writer.writerow(QUARANTINE_FIELDS)
        self.rows = 0

    def write(self, file: str, lines: Sequence[int], reasons: Sequence[str], raw: Sequence[str]) -> None:
        self.writer.writerows((file, line, reason, text) for line, reason, text in zip(lines, reasons, raw,
                                                                                       strict=True))
        self.rows += len(lines)

    def close(self) -> None:
        self.fh.close()


# ------------------------------------------------------------------------------------------------------- ingest

@dataclass
class FileReport:
    file: str
    rows: int = 0
    good: int = 0
    quarantined: int = 0
    naive_times: int = 0
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    out: str
    quarantine: str
    run: str
    buckets: int
    files: list[FileReport]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def good(self) -> int:
        return sum(f.good for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def naive_times(self) -> int:
        return sum(f.naive_times for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows": self.rows, "good": self.good, "quarantined": self.quarantined,
                "naive_times": self.naive_times}

    def summary(self) -> list[str]:
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        lines = [f"{self.rows:,} rows read from {len(self.files)} file(s) in {self.seconds:.1f} s "
                 f"({rate:,.0f} rows/s): {self.good:,} kept in {self.out} ({self.buckets} buckets), "
                 f"{self.quarantined:,} quarantined in {self.quarantine}"]
        for f in self.files:
            if f.naive_times:
                lines.append(f"{f.file}: {f.naive_times:,} start times had no UTC offset and were read as "
                             f"{LOCAL_TZ} (UTC+08:00)")
            if f.ignored_columns:
                lines.append(f"{f.file}: ignored column(s) {', '.join(f.ignored_columns)}")
        return lines


def quarantine_path(out: Path) -> Path:
    return out.with_name(out.name + ".quarantine.csv")


def choose_buckets(rows: int) -> int:
    """A power of two, at least 4, so that a bucket holds about `ROWS_PER_BUCKET` rows."""
    return max(4, 1 << max(0, math.ceil(math.log2(max(1, rows) / ROWS_PER_BUCKET))))


def ingest(files: Sequence[Path], out: Path, *, append: bool = False, progress: bool = True,
           buckets: int | None = None, encoding: str = "utf-8") -> IngestReport:
    """Read CDR files into the normalised dataset at `out` (see the module docstring); bad rows go to
    `quarantine_path(out)`. `append` adds a run to an existing dataset (its bucket count is kept)."""
    started = time.perf_counter()
    files = [Path(f) for f in files]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"no such file: {f}")
    manifest = read_manifest(out) if (out / MANIFEST).exists() else None
    if manifest is not None and not append:
        raise FileExistsError(f"{out} already holds a CDR dataset; add --append to add these records to it")
    if manifest is None and out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty and holds no CDR dataset")
    out.mkdir(parents=True, exist_ok=True)
    n_buckets = int(manifest["buckets"]) if manifest else (buckets or choose_buckets(
        sum(estimate_rows(f) for f in files)))
    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    spill = out / f".spill-{run}"
    spill.mkdir()
    show = progress and sys.stderr.isatty()
    quarantine = _Quarantine(quarantine_path(out), append=append)
    writers: dict[int, Any] = {}
    reports: list[FileReport] = []
    try:
        for path in files:
            reports.append(_ingest_file(path, encoding=encoding, n_buckets=n_buckets, spill=spill,
                                        writers=writers, quarantine=quarantine, show=show))
        for writer in writers.values():
            writer.close()
        bar = tqdm(total=len(writers), desc="sort buckets", unit="bucket", file=sys.stderr, disable=not show)
        for bucket in sorted(writers):
            part = out / f"bucket={bucket:04d}" / f"part-{run}.parquet"
            part.parent.mkdir(exist_ok=True)
            frame = with_place_codes(pl.read_ipc_stream(spill / f"{bucket:04d}.arrows").sort(SORT_KEY))
            frame.write_parquet(part, compression="lz4", statistics=True, row_group_size=1 << 20)
            bar.update(1)
        bar.close()
    finally:
        quarantine.close()
        for writer in writers.values():
            writer.close()
        shutil.rmtree(spill, ignore_errors=True)
    report = IngestReport(out=str(out), quarantine=str(quarantine.path), run=run, buckets=n_buckets, files=reports,
                          seconds=time.perf_counter() - started)
    runs = list(manifest["runs"]) if manifest else []
    runs.append({"id": run, "at": datetime.now(UTC).isoformat(timespec="seconds"), "buckets_written": sorted(writers),
                 "files": [asdict(r) for r in reports]})
    _write_manifest(out, {"format": FORMAT, "version": 1, "buckets": n_buckets, "bucket_of": "number % buckets",
                          "sorted_by": list(SORT_KEY), "runs": runs})
    return report


def _ingest_file(path: Path, *, encoding: str, n_buckets: int, spill: Path, writers: dict[int, Any],
                 quarantine: _Quarantine, show: bool) -> FileReport:
    csv_input = path.suffix.lower() != ".parquet"
    total = path.stat().st_size if csv_input else estimate_rows(path)
    bar = tqdm(total=total, desc=path.name, unit="B" if csv_input else "row", unit_scale=True, file=sys.stderr,
               disable=not show)
    report = FileReport(file=str(path))
    source = _source(path, encoding=encoding, bar=bar)
    report.ignored_columns = list(source.ignored)
    drained = 0
    seen = 0
    try:
        for raw in source.batches():
            checked = check(raw)
            if "_not_utf8" in raw.columns:
                checked = checked.with_columns(
                    pl.when(raw.get_column("_not_utf8"))
                    .then(pl.concat_str([pl.lit("not valid UTF-8 (try --encoding gbk)"), pl.col("_reason")],
                                        separator="; ", ignore_nulls=True))
                    .otherwise(pl.col("_reason")).alias("_reason"))
            bad_mask = checked.get_column("_reason").is_not_null()
            good = checked.filter(~bad_mask)
            report.rows += raw.height
            report.good += good.height
            report.naive_times += int(good.get_column("_naive").sum())
            if bad_mask.any():
                rows = np.flatnonzero(bad_mask.to_numpy()).astype(np.int64)
                lines = source.lines(rows + seen)
                bad_raw = raw.select([c for c in raw.columns if c != "_not_utf8"]).filter(bad_mask)
                quarantine.write(str(path), lines.tolist(), checked.get_column("_reason").filter(bad_mask).to_list(),
                                 _raw_text(bad_raw))
                report.quarantined += len(rows)
            seen += raw.height
            _spill(good.drop("_reason", "_naive"), n_buckets=n_buckets, spill=spill, writers=writers)
            drained = _drain(source.skipped, drained, path, quarantine, report)
        _drain(source.skipped, drained, path, quarantine, report)
    finally:
        bar.close()
    return report


def _drain(skipped: list[_Skipped], start: int, path: Path, quarantine: _Quarantine, report: FileReport) -> int:
    rows = skipped[start:]
    if rows:
        quarantine.write(str(path), [s.line for s in rows], [s.reason for s in rows], [s.text for s in rows])
        report.rows += len(rows)
        report.quarantined += len(rows)
    return len(skipped)


def _spill(good: pl.DataFrame, *, n_buckets: int, spill: Path, writers: dict[int, Any]) -> None:
    if good.height == 0:
        return
    keyed = good.with_columns((pl.col("number") % n_buckets).alias("_bucket"))
    for (bucket,), part in keyed.partition_by("_bucket", as_dict=True).items():
        table = part.drop("_bucket").to_arrow()
        key = int(bucket)
        if key not in writers:  # Arrow IPC (LZ4): read back once, so cheap to write and to read
            writers[key] = pa.ipc.new_stream(spill / f"{key:04d}.arrows", table.schema,
                                              options=pa.ipc.IpcWriteOptions(compression="lz4"))
        writers[key].write_table(table)


# ------------------------------------------------------------------------------------------------------ dataset

def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(out / MANIFEST)


def read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{root} holds no CDR dataset (no {MANIFEST}); run `fanzha telecom ingest` first")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise SchemaError(f"{path} is not a {FORMAT} manifest")
    return manifest


@dataclass(frozen=True, slots=True)
class Dataset:
    """A normalised CDR dataset: its buckets and the part files of every finished run."""

    root: Path
    buckets: int
    parts: tuple[tuple[Path, ...], ...]  # per bucket

    @classmethod
    def open(cls, root: Path) -> Dataset:
        manifest = read_manifest(root)
        n = int(manifest["buckets"])
        parts: list[list[Path]] = [[] for _ in range(n)]
        for run in manifest["runs"]:
            for bucket in run["buckets_written"]:
                parts[int(bucket)].append(root / f"bucket={int(bucket):04d}" / f"part-{run['id']}.parquet")
        return cls(root=root, buckets=n, parts=tuple(tuple(p) for p in parts))

    def bucket_of(self, number: int) -> int:
        return number % self.buckets

    def files(self) -> list[Path]:
        return [p for parts in self.parts for p in parts]

    def scan(self) -> pl.LazyFrame:
        """Every row of the dataset (no particular order)."""
        files = self.files()
        if not files:
            return pl.LazyFrame(schema=STORED_SCHEMA)
        return pl.scan_parquet(files, schema=STORED_SCHEMA)


def window_filter(since: datetime | None, until: datetime | None) -> pl.Expr:
    """Rows with since <= start_time < until (either bound optional; bounds must be aware)."""
    expr = pl.lit(True)
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise ValueError("window bounds must be aware datetimes")
    if since is not None:
        expr = expr & (pl.col("start_time") >= since.astimezone(UTC))
    if until is not None:
        expr = expr & (pl.col("start_time") < until.astimezone(UTC))
    return expr


def with_place_codes(frame: pl.DataFrame) -> pl.DataFrame:
    """Add city_code, county_code and cell_code: equal text, equal code (within this frame)."""
    return frame.with_columns(pl.col(text).cast(pl.Categorical).to_physical().cast(pl.UInt32).alias(code)
                              for code, text in CODED.items())


def read_bucket(parts: Sequence[Path], *, columns: Sequence[str] | None = None, since: datetime | None = None,
                until: datetime | None = None) -> pl.DataFrame:
    """One bucket's rows in the window, sorted by (number, opposite, start_time) with polars told so."""
    cols = list(columns) if columns is not None else list(STORED_SCHEMA)
    if not parts:
        return pl.DataFrame(schema={c: STORED_SCHEMA[c] for c in cols})
    merge = len(parts) > 1  # several runs: merge their sorted parts, recompute the place codes over all of them
    read = list(dict.fromkeys(CODED.get(c, c) for c in cols)) if merge else cols
    if merge:
        read += [c for c in SORT_KEY if c not in read]
    lf = pl.scan_parquet(list(parts), schema=STORED_SCHEMA)
    if since is not None or until is not None:
        lf = lf.filter(window_filter(since, until))
    frame = lf.select(read).collect()
    if merge:
        frame = frame.sort(SORT_KEY)
        if any(c in CODED for c in cols):
            frame = with_place_codes(frame)
        frame = frame.select(cols)
    return frame.with_columns(pl.col("number").set_sorted()) if "number" in cols else frame


def with_parties(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``caller`` and ``callee`` as E.164 text (for rules written on the input schema)."""
    number = "+" + pl.col("number").cast(pl.String)
    opposite = "+" + pl.col("opposite").cast(pl.String)
    return frame.with_columns(pl.when(pl.col("outgoing")).then(number).otherwise(opposite).alias("caller"),
                              pl.when(pl.col("outgoing")).then(opposite).otherwise(number).alias("callee"),
                              pl.when(pl.col("outgoing")).then(pl.lit("out")).otherwise(pl.lit("in"))
                              .alias("direction"))
