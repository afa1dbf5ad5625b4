"""``python -m sim.carrier_events``: publish simulated call events to a Redis stream at a fixed rate.

    python -m sim.carrier_events --redis-url redis://127.0.0.1:6379/0 --rate 1000 --seconds 10 \
        --flagged-count 50 --flagged-share 0.02 [--stream fanzha:call-events]

Each event carries an extra field ``sent`` (epoch seconds when it was published) for latency measurements.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import redis

from sim.carrier_events import flagged_numbers, generate


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim.carrier_events")
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--stream", default="fanzha:call-events")
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--flagged-count", type=int, default=50)
    parser.add_argument("--flagged-share", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.redis_url.startswith(("redis://127.", "redis://localhost")):
        parser.error("the simulated carriers publish to a Redis on loopback only")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    client = redis.Redis.from_url(args.redis_url)
    total = int(args.rate * args.seconds)
    events = (e for call in generate(total // 3 + 1, flagged=flagged_numbers(args.flagged_count),
                                     flagged_share=args.flagged_share, seed=args.seed) for e in call.events())
    tick = 0.01
    per_tick = max(int(args.rate * tick), 1)
    sent = 0
    begin = time.monotonic()
    while sent < total:
        pipe = client.pipeline(transaction=False)
        stamp = f"{time.time():.6f}"
        for _ in range(min(per_tick, total - sent)):
            fields: dict[Any, Any] = {**next(events), "sent": stamp}
            pipe.xadd(args.stream, fields, maxlen=1_000_000, approximate=True)
            sent += 1
        pipe.execute()
        delay = begin + sent / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(f"published {sent} events in {time.monotonic() - begin:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
