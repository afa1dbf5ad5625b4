"""``python -m sim.carriers``: serve every simulated carrier on one loopback port.

    python -m sim.carriers --port 8102 --keys-dir var/keys --latency-ms 100 --state var/carriers.json
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from sim.carriers.app import create_app
from sim.carriers.service import CarrierService, Options

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim.carriers", description="Simulated carriers for fanzha.")
    parser.add_argument("--host", default="127.0.0.1", help="bind address, loopback only")
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument("--latency-ms", type=int, default=0, help="delay before every answer")
    parser.add_argument("--keys-dir", type=Path, default=Path("var/keys"),
                        help="carrier keys, carriers.keyring.json (written) and center.keyring.json (read)")
    parser.add_argument("--state", type=Path, default=None, help="keep the register and answers in this JSON file")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms must not be negative")
    if args.host not in LOOPBACK:
        parser.error("the simulated carriers listen on loopback only (127.0.0.1, ::1, localhost)")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    service = CarrierService.start(Options(keys_dir=args.keys_dir, latency_ms=args.latency_ms,
                                           state_file=args.state))
    print(f"simulated carriers: {', '.join(sorted(service.signers))} on http://{args.host}:{args.port} "
          f"(keys in {args.keys_dir})", file=sys.stderr, flush=True)
    uvicorn.run(create_app(service), host=args.host, port=args.port, log_level=args.log_level,
                access_log=False, timeout_graceful_shutdown=1)


if __name__ == "__main__":
    main()
