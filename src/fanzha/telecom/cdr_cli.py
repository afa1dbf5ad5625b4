"""Command line for CDRs: ``fanzha telecom ingest``, ``fanzha telecom features``, ``fanzha telecom victims``.

The functions are plain typer commands on `cdr_app`; ``fanzha.cli`` mounts them under ``fanzha telecom``.
Times given as ``--since/--until/--now`` are ISO 8601 dates or date-times; without an offset they are read as
Asia/Shanghai.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import ExitStack
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from fanzha.telecom import features as feature_job
from fanzha.telecom.cdr import LOCAL_TZ, Dataset, SchemaError, ingest
from fanzha.telecom.victims import potential_victims, read_numbers, read_transfers

cdr_app = typer.Typer(help="Call detail records: ingest, per-number features, potential victims",
                      no_args_is_help=True)


class Engine(StrEnum):
    polars = "polars"
    dask = "dask"


def parse_when(text: str | None, option: str = "time") -> datetime | None:
    """An ISO 8601 date or date-time; naive values are Asia/Shanghai."""
    if text is None or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date or time", param_hint=option) from exc
    return value.replace(tzinfo=ZoneInfo(LOCAL_TZ)) if value.tzinfo is None else value


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@cdr_app.command("ingest")
def ingest_command(
    files: Annotated[list[Path], typer.Argument(help="CDR files, .csv or .parquet")],
    out: Annotated[Path, typer.Option("--out", help="directory of the normalised dataset")],
    append: Annotated[bool, typer.Option(help="add to an existing dataset")] = False,
    encoding: Annotated[str, typer.Option(help="CSV text encoding, e.g. gbk")] = "utf-8",
    buckets: Annotated[int | None, typer.Option(help="number buckets (default: from the input size)")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Check CDR files and write them as a Parquet dataset partitioned by number; bad rows are quarantined."""
    try:
        report = ingest(files, out, append=append, progress=not quiet, buckets=buckets, encoding=encoding)
    except (SchemaError, FileExistsError, FileNotFoundError, LookupError) as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        for line in report.summary():
            typer.echo(line)


@cdr_app.command("features")
def features_command(
    cdr: Annotated[Path, typer.Option("--cdr", help="dataset written by `fanzha telecom ingest`")],
    out: Annotated[Path, typer.Option("--out", help="FILE.csv or FILE.parquet")],
    since: Annotated[str | None, typer.Option(help="window start (inclusive)")] = None,
    until: Annotated[str | None, typer.Option(help="window end (exclusive)")] = None,
    engine: Annotated[Engine, typer.Option(help="polars on this machine, or dask on a cluster")] = Engine.polars,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://host:port (default: a local "
                                                       "cluster on 127.0.0.1)")] = None,
    workers: Annotated[int, typer.Option(help="worker processes of the local Dask cluster")] = 2,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Per-number features over a window (see `fanzha.telecom.features` for each feature)."""
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise _fail("--out must end in .csv or .parquet")
    start, end = parse_when(since, "--since"), parse_when(until, "--until")
    try:
        ds = Dataset.open(cdr)
    except (FileNotFoundError, SchemaError) as exc:
        raise _fail(str(exc)) from exc
    if engine == Engine.dask:
        from fanzha.telecom import distributed

        with ExitStack() as stack:
            client = (stack.enter_context(distributed.connect(scheduler)) if scheduler
                      else stack.enter_context(distributed.local_cluster(workers)))
            started = time.perf_counter()  # the clock starts once the cluster is up
            table = distributed.compute(ds, client, since=start, until=end)
            seconds = time.perf_counter() - started
    else:
        if scheduler:
            raise _fail("--scheduler needs --engine dask")
        started = time.perf_counter()
        table = feature_job.compute(ds, since=start, until=end, progress=not quiet)
        seconds = time.perf_counter() - started
    feature_job.write(table, out)
    rows = int(table.get_column("opposite_count").sum() or 0)
    typer.echo(f"{table.height:,} numbers from {rows:,} CDRs in {seconds:.2f} s "
               f"({rows / seconds if seconds else 0:,.0f} rows/s, {engine.value}) -> {out}")


@cdr_app.command("victims")
def victims_command(
    cdr: Annotated[Path, typer.Option("--cdr", help="dataset written by `fanzha telecom ingest`")],
    numbers: Annotated[Path | None, typer.Option("--numbers", help="file of flagged numbers (one a line, or CSV "
                                                                   "with a number column)")] = None,
    number: Annotated[list[str] | None, typer.Option("--number", help="a flagged number, E.164 (repeatable)")] = None,
    since: Annotated[str | None, typer.Option(help="window start (inclusive)")] = None,
    until: Annotated[str | None, typer.Option(help="window end (exclusive)")] = None,
    now: Annotated[str | None, typer.Option(help="the time 'recent' is measured from (default: --until, else the "
                                                 "last call in the dataset)")] = None,
    transfers: Annotated[Path | None, typer.Option(help="bank transfers, CSV phone,at,amount,currency,payee or "
                                                        "JSON")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The people each flagged number called, graded high / medium / low with the reasons."""
    flagged = list(number or [])
    if numbers is not None:
        flagged += read_numbers(numbers)
    if not flagged:
        raise _fail("give --numbers FILE or --number N")
    try:
        report = potential_victims(cdr, flagged, since=parse_when(since, "--since"), until=parse_when(until, "--until"),
                                   now=parse_when(now, "--now"),
                                   transfers=read_transfers(transfers) if transfers else ())
    except (FileNotFoundError, SchemaError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(report.model_dump_json(indent=1))
        return
    for item in report.flagged:
        counts = ", ".join(f"{g.value} {n}" for g, n in item.grades.items())
        typer.echo(f"{item.number}: {len(item.victims)} potential victims ({counts})")
        for v in item.victims:
            typer.echo(f"  {v.grade.value:<6} {v.number}  {v.calls} calls, {v.talk_s} s  - {'; '.join(v.reasons)}")
    sys.stdout.flush()
