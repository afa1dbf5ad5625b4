"""``python -m sim.banks``: serve every simulated bank on one loopback port.

    python -m sim.banks --port 8101 --keys-dir var/keys --seed 1 --latency-ms 200 --state var/banks.json
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from fanzha.banking.bins import bank_names
from sim.banks.app import create_app
from sim.banks.service import BankService, Options

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim.banks", description="Simulated banks for fanzha.")
    parser.add_argument("--host", default="127.0.0.1", help="bind address, loopback only")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--latency-ms", type=int, default=0, help="delay before every answer")
    parser.add_argument("--keys-dir", type=Path, default=Path("var/keys"),
                        help="bank keys, banks.keyring.json (written) and center.keyring.json (read)")
    parser.add_argument("--seed", type=int, default=None, help="open deterministic demo accounts from this seed")
    parser.add_argument("--accounts-per-bank", type=int, default=5,
                        help="random demo accounts per stationed bank when seeding")
    parser.add_argument("--state", type=Path, default=None, help="keep the books and answers in this JSON file")
    parser.add_argument("--open-unknown", action="store_true",
                        help="open an unknown account on first instruction if its BIN is the bank's (benchmarks)")
    parser.add_argument("--banks", default="", help="comma-separated bank codes (default: every bank)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms must not be negative")
    if args.host not in LOOPBACK:
        parser.error("the simulated banks listen on loopback only (127.0.0.1, ::1, localhost)")
    args.banks = tuple(code.strip() for code in args.banks.split(",") if code.strip())
    unknown = sorted(set(args.banks) - set(bank_names()))
    if unknown:
        parser.error(f"not in the BIN table's bank list: {', '.join(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    options = Options(keys_dir=args.keys_dir, latency_ms=args.latency_ms, seed=args.seed,
                      per_bank=args.accounts_per_bank, state_file=args.state, open_unknown=args.open_unknown,
                      banks=args.banks)
    service = BankService.start(options)
    print(f"simulated banks: {len(service.signers)} banks, {len(service.ledger.accounts)} accounts on "
          f"http://{args.host}:{args.port} (keys in {args.keys_dir})", file=sys.stderr, flush=True)
    # A hung "timeout" answer must not hold up a shutdown for long.
    uvicorn.run(create_app(service), host=args.host, port=args.port, log_level=args.log_level,
                access_log=False, timeout_graceful_shutdown=1)


if __name__ == "__main__":
    main()
