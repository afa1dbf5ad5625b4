"""The race between cash-out and stop-payments, in simulated time: the share of stolen money frozen before the
criminals cash it out, under three ways of answering the same reports.

    python bench/race.py [--cases 200] [--seed 1] [--json FILE]

One seeded city (`sim.city.scenario`: victims paying mule networks of every shape, criminals layering the
money and cashing it out over minutes to hours) is raced three times, each on a fresh copy of the same
books, with the same report times (5-30 min after each victim's last payment):

- old process: 5-6 h to the first stop-payment, and each further step (statement, next bank's stop) as slow;
- direct lines: 15-20 min per stop-payment or statement by hand, one officer per case, one step at a time;
- fanzha: the product's loop (statement -> `fanzha.tracing` ledger -> trace -> plan -> every action sent at
  once), banks answering in 1-5 min; the first stop and statement go out seconds after the report.

Frozen means held by stop-payments at the end, by ground truth (`sim.city.truth`: labelled lots per account).
Hours of city time run in seconds of wall time. `scripts/bench race` works too (it passes a database URL,
which this benchmark does not need).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sim.city.race import race, table
from sim.city.responders import MODELS
from sim.city.scenario import generate


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/race.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200, help="victims in the city (at least 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--models", default=",".join(m.name for m in MODELS),
                        help="comma-separated: " + ", ".join(m.name for m in MODELS))
    parser.add_argument("--stops-cover", choices=("asked", "held"), default="held",
                        help="what an answered stop counts as covering when planning: the amount the bank holds "
                        "(the product's rule, default) or the amount it asked")
    parser.add_argument("--json", type=Path, default=None, help="also write the summaries as JSON here")
    parser.add_argument("--postgres-url", default=None, help=argparse.SUPPRESS)  # scripts/bench passes one
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    by_name = {m.name: m for m in MODELS}
    unknown = [n for n in names if n not in by_name]
    if unknown or not names:
        parser.error(f"unknown models: {', '.join(unknown) or '(none given)'}")
    args.models = [by_name[n] for n in names]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    scenario = generate(args.seed, args.cases)
    results = race(scenario, args.models, seed=args.seed, stops_cover=args.stops_cover)
    print(table(scenario, results))
    print(f"\n{len(scenario.moves)} scheduled moves over {scenario.end.total_seconds() / 3600:.1f} h of city time; "
          f"total wall time {time.perf_counter() - started:.1f} s")
    if args.json is not None:
        args.json.write_text(json.dumps({"cases": args.cases, "seed": args.seed, "stops_cover": args.stops_cover,
                                         "results": [r.summary() for r in results]}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
