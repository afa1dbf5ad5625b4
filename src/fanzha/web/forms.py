"""Console forms -> the domain's input schemas, and validation errors -> messages by form field.

The form state is kept as the strings the officer typed, so a form with an error comes back exactly as it
was sent, with each message next to the field it is about.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from fanzha.cases.extract.numerals import decimal_str, parse_number
from fanzha.cases.schemas import FactsIn, ReportIn
from fanzha.config import SHANGHAI
from fanzha.errors import DomainError

# Separators between items typed into one box: new lines, commas (both widths), 、 and semicolons.
_LIST_SPLIT = re.compile(r"[\n\r,，、;；]+")
_LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")
TRANSFER_FIELDS: tuple[str, ...] = ("to_account", "to_bank", "to_name", "amount", "currency", "occurred_at", "method")


@dataclass(frozen=True, slots=True)
class FieldError:
    code: str  # message key under "error." in the catalogues
    detail: str = ""  # the validator's own words, when they add something (which check failed)
    params: dict[str, str] = field(default_factory=dict)  # placeholders of the message (a limit, the bank typed)


Errors = dict[str, FieldError]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _texts(form: FormData, name: str) -> list[str]:
    return [v.strip() if isinstance(v, str) else "" for v in form.getlist(name)]


def split_list(text: str) -> list[str]:
    return [item.strip() for item in _LIST_SPLIT.split(text) if item.strip()]


def local_datetime(value: str) -> datetime | str | None:
    """A ``datetime-local`` value read as Shanghai time; anything else is passed on to fail validation."""
    if not value:
        return None
    if _LOCAL_TIME.match(value):
        return datetime.fromisoformat(value.replace(" ", "T")).replace(tzinfo=SHANGHAI)
    return value


def _amount(value: str) -> str:
    """Digits as typed, or a Chinese numeral officers write as they hear it ("7万", "三万五") as digits."""
    plain = re.sub(r"[\s,，]", "", value)
    if re.fullmatch(r"-?\d+(\.\d+)?", plain):
        return plain
    spoken = parse_number(plain.removesuffix("元").removesuffix("人民币"))
    return decimal_str(spoken) if spoken is not None else plain


@dataclass(slots=True)
class TransferRow:
    to_account: str = ""
    to_bank: str = ""
    to_name: str = ""
    amount: str = ""
    currency: str = "CNY"
    occurred_at: str = ""
    method: str = "bank_transfer"

    def is_blank(self) -> bool:
        return not (self.to_account or self.to_bank or self.to_name or self.amount or self.occurred_at)

    def to_input(self) -> dict[str, Any]:
        return {
            "to_account": self.to_account, "to_bank": self.to_bank or None, "to_name": self.to_name or None,
            "amount": _amount(self.amount) if self.amount else None, "currency": self.currency or "CNY",
            "occurred_at": local_datetime(self.occurred_at), "method": self.method or "bank_transfer",
        }


@dataclass(slots=True)
class IntakeForm:
    channel: str = ""
    received_at: str = ""
    external_ref: str = ""
    reporter_name: str = ""
    reporter_phone: str = ""
    reporter_id_number: str = ""
    victim_name: str = ""
    victim_phone: str = ""
    victim_id_number: str = ""
    narrative: str = ""
    fraud_type: str = ""  # "" = decided by the extractor
    transfers: list[TransferRow] = field(default_factory=lambda: [TransferRow()])
    suspect_phones: str = ""
    suspect_accounts: str = ""
    suspect_urls: str = ""

    @classmethod
    def from_form(cls, form: FormData) -> IntakeForm:
        columns = {name: _texts(form, f"t_{name}") for name in TRANSFER_FIELDS}
        count = max((len(values) for values in columns.values()), default=0)
        rows = [
            TransferRow(**{name: (values[i] if i < len(values) else "") for name, values in columns.items()})
            for i in range(count)
        ]
        rows = [row for row in rows if not row.is_blank()] or [TransferRow()]
        narrative = form.get("narrative")
        return cls(
            channel=_text(form, "channel"), received_at=_text(form, "received_at"),
            external_ref=_text(form, "external_ref"),
            reporter_name=_text(form, "reporter_name"), reporter_phone=_text(form, "reporter_phone"),
            reporter_id_number=_text(form, "reporter_id_number"),
            victim_name=_text(form, "victim_name"), victim_phone=_text(form, "victim_phone"),
            victim_id_number=_text(form, "victim_id_number"),
            # The narrative keeps its inner line breaks and spacing: spans are offsets into it.
            narrative=narrative.strip() if isinstance(narrative, str) else "",
            fraud_type=_text(form, "fraud_type"), transfers=rows,
            suspect_phones=_text(form, "suspect_phones"), suspect_accounts=_text(form, "suspect_accounts"),
            suspect_urls=_text(form, "suspect_urls"),
        )

    def _person(self, prefix: str) -> dict[str, Any] | None:
        name, phone, id_number = (getattr(self, f"{prefix}_{part}") for part in ("name", "phone", "id_number"))
        if prefix == "reporter" and not (name or phone or id_number):
            return None
        return {"name": name, "phone": phone or None, "id_number": id_number or None}

    def _accounts(self) -> list[dict[str, Any]]:
        """One account per line, optionally followed by a comma and the bank (``6228...，农业银行``)."""
        out = []
        for line in self.suspect_accounts.splitlines():
            if line.strip():
                number, bank = _account_line(line)
                out.append({"number": number, "bank": bank or None})
        return out

    def report_data(self) -> dict[str, Any]:
        return {
            "channel": self.channel or None,
            "received_at": local_datetime(self.received_at),
            "external_ref": self.external_ref or None,
            "reporter": self._person("reporter"),
            "victim": self._person("victim"),
            "narrative": self.narrative,
            "fraud_type": self.fraud_type or None,
            "transfers": [row.to_input() for row in self.transfers if not row.is_blank()],
            "suspect_phones": split_list(self.suspect_phones),
            "suspect_accounts": self._accounts(),
            "suspect_urls": [u for line in self.suspect_urls.split() if (u := line.strip())],
        }

    def transfer_rows(self) -> list[int]:
        """Form row index of each transfer sent to the domain (blank rows are not sent)."""
        return [i for i, row in enumerate(self.transfers) if not row.is_blank()]

    def to_report(self) -> tuple[ReportIn | None, Errors]:
        try:
            return ReportIn.model_validate(self.report_data()), {}
        except ValidationError as exc:
            return None, validation_errors(exc, self.transfer_rows())


def _account_line(line: str) -> tuple[str, str]:
    number, _, bank = line.replace("，", ",").replace("\t", ",").partition(",")
    return number.strip(), bank.strip()


def form_key(path: tuple[Any, ...] | list[Any], transfer_rows: list[int] | None = None) -> str:
    """Where on the form an error belongs, from the domain's field path (``transfers.0.amount``)."""
    parts = [str(p) for p in path]
    if not parts:
        return "form"
    head = parts[0]
    if head == "transfers" and len(parts) >= 2 and parts[1].isdigit():
        index = int(parts[1])
        row = transfer_rows[index] if transfer_rows is not None and index < len(transfer_rows) else index
        return ".".join(["transfers", str(row), *parts[2:3]])
    if head in ("suspect_phones", "suspect_accounts", "suspect_urls", "suspect_devices"):
        return head
    if head in ("reporter", "victim"):
        return ".".join(parts[:2])
    return head


TYPE_CODES: tuple[tuple[str, str], ...] = (
    ("missing", "required"), ("string_too_short", "required"), ("too_short", "required"),
    ("decimal", "number"), ("literal", "choice"), ("enum", "choice"), ("too_long", "too_long"),
    ("datetime", "time"), ("date", "time"),
)
FIELD_CODES: dict[str, str] = {
    "phone": "phone", "suspect_phones": "phone", "id_number": "id_number", "to_account": "account",
    "from_account": "account", "number": "account", "suspect_accounts": "account", "currency": "currency",
    "suspect_urls": "url", "fraud_type": "choice", "received_at": "time", "occurred_at": "time",
}


def _code(error_type: str, path: list[str]) -> str:
    for fragment, code in TYPE_CODES:
        if fragment in error_type:
            return code
    for part in reversed(path):
        if part in FIELD_CODES:
            return FIELD_CODES[part]
    return "invalid"


# The services' refusals an officer meets while typing a report, each with a message of its own in both
# languages; anything else keeps the generic message with the service's words as the detail.
KNOWN_REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^received_at is in the future$"), "future_time"),
    (re.compile(r"^received_at is more than a year ago$"), "too_old"),
    (re.compile(r"^narrative is \d+ characters; the limit is (?P<limit>\d+)$"), "narrative_too_long"),
    (re.compile(r"^a transfer cannot happen after the report was received$"), "after_report"),
    (re.compile(r"^amount must be greater than zero$"), "amount_positive"),
    (re.compile(r"^[A-Z]{3} amounts have at most (?P<digits>\d+) decimal places$"), "amount_decimals"),
    (re.compile(r"^amount \S+ [A-Z]{3} is implausibly large \(limit (?P<limit>\d+)\)$"), "amount_too_large"),
    (re.compile(r"^unknown bank '(?P<bank>.*)': give a bank code"), "unknown_bank"),
)


def known_refusal(message: str) -> FieldError | None:
    """The message of its own for a refusal the console knows, in place of the service's English."""
    for pattern, code in KNOWN_REFUSALS:
        if match := pattern.search(message):
            return FieldError(code, params={k: v for k, v in match.groupdict().items() if v is not None})
    return None


def validation_errors(exc: ValidationError, transfer_rows: list[int] | None = None) -> Errors:
    errors: Errors = {}
    for err in exc.errors():
        path = [str(p) for p in err.get("loc", ())]
        key = form_key(path, transfer_rows)
        error_type = str(err.get("type", ""))
        detail = str(err.get("msg", "")).removeprefix("Value error, ") if error_type == "value_error" else ""
        errors.setdefault(key, known_refusal(detail) or FieldError(_code(error_type, path), detail))
    return errors


def domain_errors(exc: DomainError, transfer_rows: list[int] | None = None) -> Errors:
    path = exc.field.split(".") if exc.field else []
    return {form_key(path, transfer_rows): known_refusal(exc.message) or FieldError("domain", exc.message)}


# --- Adopting suggestions on a case page -----------------------------------------------------------

ADOPT_FIELDS: tuple[str, ...] = ("adopt_transfer", "adopt_account", "adopt_phone", "adopt_url", "adopt_fraud_type")


def _payloads(form: FormData, name: str) -> list[dict[str, str]]:
    out = []
    for raw in _texts(form, name):
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if isinstance(data, dict):
            out.append({str(k): str(v) for k, v in data.items()})
    return out


def facts_data(form: FormData) -> dict[str, Any]:
    """The ticked suggestions as FactsIn input."""
    transfers = [
        TransferRow(to_account=d.get("to_account", ""), to_bank=d.get("to_bank", ""), amount=d.get("amount", ""),
                    currency=d.get("currency", "CNY"), occurred_at=d.get("occurred_at", ""),
                    method=d.get("method", "bank_transfer")).to_input()
        for d in _payloads(form, "adopt_transfer")
    ]
    fraud_types = [d["fraud_type"] for d in _payloads(form, "adopt_fraud_type") if d.get("fraud_type")]
    return {
        "transfers": transfers,
        "suspect_accounts": [{"number": d.get("number", ""), "bank": d.get("bank") or None}
                             for d in _payloads(form, "adopt_account")],
        "suspect_phones": [d["phone"] for d in _payloads(form, "adopt_phone") if d.get("phone")],
        "suspect_urls": [d["url"] for d in _payloads(form, "adopt_url") if d.get("url")],
        "fraud_type": fraud_types[0] if fraud_types else None,
    }


def facts_from_form(form: FormData) -> tuple[FactsIn | None, Errors]:
    data = facts_data(form)
    if not any(data.values()):
        return None, {"adopt": FieldError("nothing_chosen")}
    try:
        return FactsIn.model_validate(data), {}
    except ValidationError as exc:
        return None, {"adopt": FieldError(_code(str(exc.errors()[0].get("type", "")), []),
                                          "; ".join(str(e.get("msg", "")) for e in exc.errors()[:3]))}
