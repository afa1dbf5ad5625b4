"""``--state FILE``: the books, the stored answers and the clock offset as one JSON file.

Written atomically (temporary file, then rename) after every change, so a simulator that is stopped and
started again still answers a repeated idempotency key with its first answer and still holds what it held.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sim.banks.idempotency import AnswerBook, StoredAnswer
from sim.banks.ledger import (
    Account,
    AccountStatus,
    Channel,
    Direction,
    Hold,
    HoldKind,
    HoldState,
    Ledger,
    Transaction,
)

VERSION = 1


def _t(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _opt_dt(value: Any) -> datetime | None:
    return None if value is None else _dt(value)


def _txn(t: Transaction) -> dict[str, Any]:
    return {"id": t.id, "direction": t.direction.value, "amount": str(t.amount), "currency": t.currency,
            "at": _t(t.at), "channel": t.channel.value, "counterparty_bank": t.counterparty_bank,
            "counterparty_account": t.counterparty_account, "counterparty_name": t.counterparty_name,
            "balance_after": str(t.balance_after), "memo": t.memo}


def _hold(h: Hold) -> dict[str, Any]:
    return {"id": h.id, "kind": h.kind.value, "currency": h.currency,
            "requested": None if h.requested is None else str(h.requested), "amount": str(h.amount),
            "placed_at": _t(h.placed_at), "expires_at": _t(h.expires_at), "major_case": h.major_case,
            "renewals": h.renewals, "state": h.state.value, "ended_at": _t(h.ended_at),
            "case_number": h.case_number, "reference": h.reference}


def dump(ledger: Ledger, answers: AnswerBook, clock_offset: timedelta) -> dict[str, Any]:
    return {
        "version": VERSION,
        "clock_offset_s": clock_offset.total_seconds(),
        "last_txn": ledger.last_txn,
        "last_hold": ledger.last_hold,
        "external_in": {c: str(v) for c, v in ledger.external_in.items()},
        "external_out": {c: str(v) for c, v in ledger.external_out.items()},
        "accounts": [{
            "bank_code": a.bank_code, "number": a.number, "holder_name": a.holder_name, "id_masked": a.id_masked,
            "opened_at": _t(a.opened_at), "status": a.status.value,
            "balances": {c: str(v) for c, v in a.balances.items()},
            "transactions": [_txn(t) for t in a.transactions],
            "holds": [_hold(h) for h in a.holds],
        } for a in ledger.accounts.values()],
        "answers": [{"bank": bank, "sender": sender, "key": key, "digest": s.digest,
                     "payload": s.payload.decode("utf-8")}
                    for (bank, sender, key), s in answers.answers.items()],
    }


def restore(data: dict[str, Any], ledger: Ledger, answers: AnswerBook) -> timedelta:
    """Fill an empty ledger and answer book from `dump` output; returns the clock offset."""
    if data.get("version") != VERSION:
        raise ValueError(f"state file version {data.get('version')!r} is not {VERSION}")
    ledger.last_txn, ledger.last_hold = int(data["last_txn"]), int(data["last_hold"])
    for c, v in data["external_in"].items():
        ledger.external_in[c] = Decimal(v)
    for c, v in data["external_out"].items():
        ledger.external_out[c] = Decimal(v)
    for a in data["accounts"]:
        account = Account(bank_code=a["bank_code"], number=a["number"], holder_name=a["holder_name"],
                          id_masked=a["id_masked"], opened_at=_dt(a["opened_at"]),
                          status=AccountStatus(a["status"]),
                          balances={c: Decimal(v) for c, v in a["balances"].items()})
        account.transactions = [Transaction(
            id=t["id"], bank_code=account.bank_code, account=account.number, direction=Direction(t["direction"]),
            amount=Decimal(t["amount"]), currency=t["currency"], at=_dt(t["at"]), channel=Channel(t["channel"]),
            counterparty_bank=t["counterparty_bank"], counterparty_account=t["counterparty_account"],
            counterparty_name=t["counterparty_name"], balance_after=Decimal(t["balance_after"]), memo=t["memo"],
        ) for t in a["transactions"]]
        ledger.accounts[(account.bank_code, account.number)] = account
        for h in a["holds"]:
            ledger.add_hold(Hold(
                id=h["id"], kind=HoldKind(h["kind"]), bank_code=account.bank_code, account=account.number,
                currency=h["currency"], requested=None if h["requested"] is None else Decimal(h["requested"]),
                amount=Decimal(h["amount"]), placed_at=_dt(h["placed_at"]), expires_at=_dt(h["expires_at"]),
                major_case=bool(h["major_case"]), renewals=int(h["renewals"]), state=HoldState(h["state"]),
                ended_at=_opt_dt(h["ended_at"]), case_number=h["case_number"], reference=h["reference"]))
    for item in data["answers"]:
        answers.answers[(item["bank"], item["sender"], item["key"])] = StoredAnswer(
            item["digest"], item["payload"].encode("utf-8"))
    return timedelta(seconds=float(data["clock_offset_s"]))


def load(path: Path, ledger: Ledger, answers: AnswerBook) -> timedelta:
    return restore(json.loads(path.read_text(encoding="utf-8")), ledger, answers)


def save(path: Path, ledger: Ledger, answers: AnswerBook, clock_offset: timedelta) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(dump(ledger, answers, clock_offset), ensure_ascii=False, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)  # no fsync: this survives a killed simulator, which is what tests need
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
