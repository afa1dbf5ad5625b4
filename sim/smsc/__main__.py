"""``python -m sim.smsc``: the simulated SMSC (SMPP 3.4) and its admin HTTP API, both on loopback.

    python -m sim.smsc --port 2775 --admin-port 2776 --system-id fanzha --password secret [--require-subunit]
                       [--receipt-delay-ms 0] [--max-per-second N] [--log var/smsc.jsonl]

Admin API: GET /healthz, /stats, /messages?since=N, /rejections; POST /faults (JSON, any of the ``Faults``
fields), /drop (every connection now), /receipts/release, /reset.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import Body, FastAPI, HTTPException

from sim.smsc.server import Faults, Smsc

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def create_admin(smsc: Smsc, smpp_port: int) -> FastAPI:
    app = FastAPI(title="simulated SMSC admin")

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "smpp_port": smpp_port}

    @app.get("/stats")
    def stats() -> dict[str, Any]:
        return smsc.stats()

    @app.get("/messages")
    def messages(since: int = 0) -> dict[str, Any]:
        return {"items": smsc.accepted[since:], "next": len(smsc.accepted)}

    @app.get("/rejections")
    def rejections(since: int = 0) -> dict[str, Any]:
        return {"items": smsc.rejected[since:], "next": len(smsc.rejected)}

    @app.post("/faults")
    def faults(changes: dict[str, Any] = Body(...)) -> dict[str, Any]:
        try:
            smsc.faults.update(changes)
        except KeyError as exc:
            raise HTTPException(422, f"unknown fault {exc.args[0]!r}") from None
        return asdict(smsc.faults)

    @app.post("/drop")
    def drop() -> dict[str, int]:
        return {"dropped": smsc.drop_all()}

    @app.post("/receipts/release")
    def release() -> dict[str, int]:
        return {"sent": smsc.release_receipts()}

    @app.post("/reset")
    def reset() -> dict[str, str]:
        smsc.reset()
        return {"status": "reset"}

    return app


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim.smsc", description="Simulated SMSC (SMPP 3.4).")
    parser.add_argument("--host", default="127.0.0.1", help="bind address, loopback only")
    parser.add_argument("--port", type=int, default=2775, help="SMPP port")
    parser.add_argument("--admin-port", type=int, default=None, help="admin HTTP port (default: SMPP port + 1)")
    parser.add_argument("--system-id", default="fanzha")
    parser.add_argument("--password", default=os.environ.get("SIM_SMSC_PASSWORD", "secret"))
    parser.add_argument("--require-subunit", action="store_true",
                        help="refuse a flash SMS without dest_addr_subunit = 1 (as some SMSCs do)")
    parser.add_argument("--receipt-delay-ms", type=int, default=0)
    parser.add_argument("--max-per-second", type=float, default=None, help="per session; above it ESME_RTHROTTLED")
    parser.add_argument("--log", type=Path, default=None, help="append accepted and refused submits (JSON lines)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK:
        parser.error("the simulated SMSC listens on loopback only (127.0.0.1, ::1, localhost)")
    return args


async def serve(args: argparse.Namespace) -> None:
    smsc = Smsc(system_id=args.system_id, password=args.password, require_subunit=args.require_subunit,
                log_path=args.log, faults=Faults(receipt_delay_ms=args.receipt_delay_ms,
                                                 max_per_second=args.max_per_second))
    port = await smsc.start(args.host, args.port)
    admin_port = args.admin_port if args.admin_port is not None else port + 1
    config = uvicorn.Config(create_admin(smsc, port), host=args.host, port=admin_port, log_level=args.log_level,
                            access_log=False, timeout_graceful_shutdown=1)
    print(f"simulated SMSC: SMPP on {args.host}:{port}, admin on http://{args.host}:{admin_port}",
          file=sys.stderr, flush=True)
    try:
        await uvicorn.Server(config).serve()
    finally:
        await smsc.close()


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
