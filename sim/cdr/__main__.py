"""``python -m sim.cdr``: synthetic CDRs with planted fraud numbers (``fanzha sim cdr`` runs this).

    python -m sim.cdr --rows 1000000 --numbers 20000 --fraud 100 --seed 1 --out var/cdr.parquet
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from sim.cdr.generator import Options, write


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim.cdr", description="Synthetic CDRs with planted fraud numbers.")
    parser.add_argument("--rows", type=int, required=True, help="CDR rows to write")
    parser.add_argument("--numbers", type=int, required=True, help="served subscriber numbers")
    parser.add_argument("--fraud", type=int, required=True, help="planted fraud numbers among them")
    parser.add_argument("--heavy", type=int, default=None,
                        help="benign heavy callers: couriers, delivery riders, call centres (default: as --fraud)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="FILE.csv or FILE.parquet")
    parser.add_argument("--truth", type=Path, default=None,
                        help="planted numbers as number,kind (default: FILE stem + .truth.csv)")
    parser.add_argument("--days", type=int, default=30, help="length of the period in days")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 3, 1),
                        help="first day of the period (Asia/Shanghai), YYYY-MM-DD")
    parser.add_argument("--bad-rows", type=int, default=0,
                        help="corrupt this many rows on purpose (listed in FILE.bad.csv)")
    parser.add_argument("--aware-times", action="store_true", help="CSV: write +08:00 offsets, not naive times")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.numbers < 1 or args.days < 1:
        parser.error("--rows, --numbers and --days must be positive")
    heavy = args.fraud if args.heavy is None else args.heavy
    if args.fraud < 0 or heavy < 0 or args.bad_rows < 0:
        parser.error("--fraud, --heavy and --bad-rows must not be negative")
    if args.fraud + heavy >= args.numbers:
        parser.error(f"--fraud + --heavy ({args.fraud + heavy}) must leave ordinary users among --numbers")
    if args.out.suffix.lower() not in (".csv", ".parquet"):
        parser.error("--out must end in .csv or .parquet")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    opts = Options(rows=args.rows, numbers=args.numbers, fraud=args.fraud, heavy=args.heavy, seed=args.seed,
                   days=args.days, start=args.start, bad_rows=args.bad_rows, aware_times=args.aware_times)
    write(args.out, opts, truth=args.truth, progress=not args.quiet,
          log=lambda line: print(line, file=sys.stderr, flush=True))


if __name__ == "__main__":
    main()
