"""``python -m sim.city``: play a simulated city against running simulated banks (``python -m sim.banks``).

    python -m sim.city --banks http://127.0.0.1:8101 --cases 20 --seed 1 --speed 60 --truth var/truth.json

Opens the city's accounts in the banks, plays the victims' payments and the criminals' moves at `--speed`
times real time, prints each victim's report (Chinese narrative naming payee account, bank and amount) when
it falls due, and writes the ground truth as JSON at the end (`--truth`). The race in simulated time is
``python bench/race.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from sim.city.live import CityError, LiveCity, check_loopback
from sim.city.scenario import CityParams, generate


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim.city", description="A simulated city's fraud, played "
                                     "against the simulated banks.")
    parser.add_argument("--banks", default="http://127.0.0.1:8101", help="the simulated banks' base URL (loopback)")
    parser.add_argument("--cases", type=int, default=20, help="victims in the city")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=60.0, help="city seconds per real second")
    parser.add_argument("--day-hours", type=float, default=None,
                        help="gangs start within this many city hours (default: the scenario's 12)")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text", help="how reports are printed")
    parser.add_argument("--push-clock", action="store_true",
                        help="push the banks' clock forward so their timestamps show city time")
    parser.add_argument("--truth", type=Path, default=None, help="write the ground truth JSON here at the end")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    if args.speed <= 0:
        parser.error("--speed must be positive")
    if args.day_hours is not None and args.day_hours <= 0:
        parser.error("--day-hours must be positive")
    try:
        args.banks = check_loopback(args.banks)
    except CityError as exc:
        parser.error(str(exc))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    params = CityParams() if args.day_hours is None else CityParams(day=timedelta(hours=args.day_hours))
    with httpx.Client(base_url=args.banks, timeout=30, trust_env=False) as http:
        try:
            health = http.get("/healthz")
            health.raise_for_status()
        except httpx.HTTPError as exc:
            print(f"the simulated banks do not answer at {args.banks}: {exc}", file=sys.stderr)
            return 2
        start = datetime.fromisoformat(health.json()["now"])
        scenario = generate(args.seed, args.cases, params, start=start)
        print(f"city: {len(scenario.cases)} cases, {len(scenario.gangs)} gangs, {len(scenario.accounts)} accounts, "
              f"{scenario.stolen():,} CNY to be stolen over {scenario.end}, played at {args.speed:g}x",
              file=sys.stderr, flush=True)
        city = LiveCity(scenario, http, speed=args.speed, out=sys.stdout, report_format=args.format,
                        push_clock=args.push_clock)
        try:
            city.run()
        except CityError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted: the truth covers the moves played so far", file=sys.stderr)
        if args.truth is not None:
            args.truth.parent.mkdir(parents=True, exist_ok=True)
            args.truth.write_text(json.dumps(city.truth_document(), ensure_ascii=False, indent=1), encoding="utf-8")
            print(f"ground truth written to {args.truth}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
