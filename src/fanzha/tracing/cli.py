"""`fanzha trace`: follow victims' money through a ledger file from the command line."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from fanzha.money import amount_str
from fanzha.tracing.csv_ledger import load_csv
from fanzha.tracing.engine import Policy, Trace, Victim, trace
from fanzha.tracing.ledger import AccountKey

trace_app = typer.Typer(help="Follow victims' money through a ledger", no_args_is_help=True)


@trace_app.callback()
def _group() -> None:
    """Follow victims' money through a ledger (a callback keeps `csv` a subcommand, with more to come)."""


def _victims(values: list[str]) -> list[Victim]:
    out = []
    for value in values:
        victim_id, sep, txn_id = value.partition("=")
        out.append(Victim(victim_id=victim_id, txn_id=txn_id) if sep else Victim(victim_id=value, txn_id=value))
    return out


def _acct(key: AccountKey | None) -> str | None:
    return None if key is None else f"{key[0]}/{key[1]}"


def _iso(at: datetime) -> str:
    return at.isoformat()


def _as_dict(tr: Trace) -> dict[str, Any]:
    cur = tr.currency
    return {
        "currency": cur, "policy": tr.policy.value,
        "victims": [{"victim": v.victim_id, "txn_id": v.txn_id,
                     **{k: amount_str(a, cur) for k, a in tr.summary(v.victim_id).items()}} for v in tr.victims],
        "accounts": [{"bank": key[0], "account": key[1], "depth": a.depth,
                      "first_tainted_at": _iso(a.first_tainted_at), "last_tainted_at": _iso(a.last_tainted_at),
                      "received": {v: amount_str(x, cur) for v, x in a.received.items()},
                      "held": {v: amount_str(x, cur) for v, x in a.held.items()},
                      "held_total": amount_str(tr.held_total(key), cur)} for key, a in tr.accounts.items()],
        "losses": [{"victim": x.victim_id, "account": _acct(x.account), "amount": amount_str(x.amount, cur),
                    "channel": x.channel, "txn_id": x.txn_id, "at": _iso(x.at)} for x in tr.losses],
        "unfollowed": [{"victim": x.victim_id, "from": _acct(x.from_account), "to": _acct(x.to_account),
                        "amount": amount_str(x.amount, cur), "reason": x.reason, "txn_id": x.txn_id,
                        "at": _iso(x.at)} for x in tr.unfollowed],
    }


def _print_text(tr: Trace, window_hours: float, max_depth: int) -> None:
    cur = tr.currency
    typer.echo(f"\n{cur}: policy {tr.policy.value}, window {window_hours:g} h, max depth {max_depth}")
    typer.echo("victims (credit = held + lost + unfollowed):")
    for v in tr.victims:
        s = tr.summary(v.victim_id)
        figures = "  ".join(f"{k} {amount_str(s[k], cur):>14}" for k in ("credit", "held", "lost", "unfollowed"))
        typer.echo(f"  {v.victim_id:<16} {figures}")
    held = tr.held()
    typer.echo(f"held now ({len(held)} accounts; stop-payment candidates):")
    for key, per_victim in held.items():
        parts = "  ".join(f"{v} {amount_str(x, cur)}" for v, x in per_victim.items())
        typer.echo(f"  {_acct(key):<32} depth {tr.accounts[key].depth}  total "
                   f"{amount_str(tr.held_total(key), cur):>14}  {parts}")
    if tr.losses:
        typer.echo("losses (left the banking system):")
        for x in tr.losses:
            typer.echo(f"  {x.victim_id:<16} {amount_str(x.amount, cur):>14}  {x.channel:<8} from {_acct(x.account)}"
                       f"  txn {x.txn_id} at {_iso(x.at)}")
    if tr.unfollowed:
        typer.echo("unfollowed (beyond the window or the depth):")
        for u in tr.unfollowed:
            typer.echo(f"  {u.victim_id:<16} {amount_str(u.amount, cur):>14}  {u.reason:<6} {_acct(u.from_account)}"
                       f" -> {_acct(u.to_account)}  txn {u.txn_id} at {_iso(u.at)}")


@trace_app.command("csv")
def trace_csv(
    file: Annotated[Path, typer.Argument(help="transactions CSV (AML-style columns; see fanzha.tracing.csv_ledger)",
                                         exists=True, dir_okay=False, readable=True)],
    victim: Annotated[list[str], typer.Option(
        "--victim", help="a victim's credit: TXN_ID, or VICTIM_ID=TXN_ID; repeat for several victims")],
    policy: Annotated[Policy, typer.Option(help="attribution in mixed accounts")] = Policy.LIBR,
    window_hours: Annotated[float, typer.Option(help="follow an outflow at most this long after the last "
                                                     "victim money arrived")] = 72,
    max_depth: Annotated[int, typer.Option(help="the first account is depth 1")] = 6,
    timezone: Annotated[str, typer.Option(help="timezone of times written without an offset")] = "UTC",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Trace victims' money through a CSV ledger: where it is held now, what was lost, what was not followed."""
    try:
        loaded = load_csv(file, timezone=timezone)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for error in loaded.errors:
        typer.echo(f"{file}:{error.line}: {error.reason}", err=True)
    victims = _victims(victim)
    traces: list[Trace] = []
    try:
        # One trace per currency: amounts are never summed across currencies.
        by_currency: dict[str, list[Victim]] = {}
        for v in victims:
            by_currency.setdefault(loaded.ledger.row(v.txn_id).currency, []).append(v)
        for group in by_currency.values():
            traces.append(trace(loaded.ledger, group, policy=policy, window=timedelta(hours=window_hours),
                                max_depth=max_depth))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps({
            "rows_read": loaded.rows_read, "bad_rows": [{"line": e.line, "reason": e.reason} for e in loaded.errors],
            "traces": [_as_dict(t) for t in traces],
        }, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{file}: {loaded.rows_read} rows read, {len(loaded.errors)} bad (listed on stderr)")
    for tr in traces:
        _print_text(tr, window_hours, max_depth)
