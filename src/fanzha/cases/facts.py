"""Turn confirmed facts (transfers, suspect phones, accounts, URLs, devices) into rows and link keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.banking.bins import lookup_card, luhn_valid, resolve_bank
from fanzha.cases.models import CaseEntity, EntityKind, Transfer
from fanzha.cases.normalize import carrier_code, device_id
from fanzha.cases.schemas import FactsIn
from fanzha.errors import InvalidInput
from fanzha.money import check_amount

# Reported transfer times may run a little ahead of the receipt clock (unsynchronised phones).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(slots=True)
class PreparedFacts:
    transfers: list[Transfer] = field(default_factory=list)
    entities: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (kind, value) -> org hint
    warnings: list[str] = field(default_factory=list)


def _bank_code(field_name: str, given: str | None, account: str) -> str | None:
    if given:
        code = resolve_bank(given)
        if code is None:
            raise InvalidInput(f"unknown bank {given!r}: give a bank code such as ABC or a name such as 农业银行",
                               field=field_name)
        return code
    issuer = lookup_card(account)
    return issuer.bank_code if issuer else None


def _card_warning(path: str, account: str, warnings: list[str]) -> None:
    # Luhn only warns: corporate and payment accounts fail it legitimately.
    if 16 <= len(account) <= 19 and account.isdigit() and lookup_card(account) and not luhn_valid(account):
        warnings.append(f"{path}: card number {account} fails the Luhn check; confirm it with the victim")


def prepare_facts(facts: FactsIn, *, received_at: datetime, max_amount: Decimal) -> PreparedFacts:
    """Validate rules that need context (amount limits, times, banks) and build the rows."""
    out = PreparedFacts()
    for i, t in enumerate(facts.transfers):
        path = f"transfers.{i}"
        try:
            check_amount(t.amount, t.currency, max_amount)
        except ValueError as exc:
            raise InvalidInput(str(exc), field=f"{path}.amount") from exc
        if t.occurred_at is not None and t.occurred_at > received_at + CLOCK_SKEW:
            raise InvalidInput("a transfer cannot happen after the report was received",
                               field=f"{path}.occurred_at")
        to_bank = _bank_code(f"{path}.to_bank", t.to_bank, t.to_account)
        from_bank = resolve_bank(t.from_bank) if t.from_bank else None
        _card_warning(f"{path}.to_account", t.to_account, out.warnings)
        out.transfers.append(Transfer(
            from_account=t.from_account, from_bank=from_bank or (t.from_bank or None), to_account=t.to_account,
            to_bank=to_bank, to_name=t.to_name, amount=t.amount, currency=t.currency,
            occurred_at=t.occurred_at, method=t.method,
        ))
        out.entities.setdefault((EntityKind.ACCOUNT.value, t.to_account), to_bank)
    for i, acct in enumerate(facts.suspect_accounts):
        bank = _bank_code(f"suspect_accounts.{i}.bank", acct.bank, acct.number)
        _card_warning(f"suspect_accounts.{i}.number", acct.number, out.warnings)
        out.entities.setdefault((EntityKind.ACCOUNT.value, acct.number), bank)
    for phone in facts.suspect_phones:
        out.entities.setdefault((EntityKind.PHONE.value, phone), carrier_code(phone))
    for url in facts.suspect_urls:
        out.entities.setdefault((EntityKind.URL.value, url), None)
    for i, device in enumerate(facts.suspect_devices):
        value, is_imei = device_id(device)
        if not is_imei:
            out.warnings.append(f"suspect_devices.{i}: {value} is not a valid IMEI; kept as given")
        out.entities.setdefault((EntityKind.DEVICE.value, value), None)
    return out


def new_entities(session: Session, case_id: int, prepared: PreparedFacts) -> list[CaseEntity]:
    """Entity rows this case does not hold yet."""
    rows = session.execute(select(CaseEntity.kind, CaseEntity.value).where(CaseEntity.case_id == case_id))
    held = {(kind, value) for kind, value in rows}
    return [
        CaseEntity(case_id=case_id, kind=kind, value=value, org_hint=hint)
        for (kind, value), hint in prepared.entities.items() if (kind, value) not in held
    ]
