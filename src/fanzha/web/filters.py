"""The case list's filter form (query string) -> the domain's CaseFilter, with errors by field."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from fanzha.cases.fraud_types import FraudType
from fanzha.cases.models import CaseStatus, Channel
from fanzha.cases.queries import CaseFilter
from fanzha.config import SHANGHAI
from fanzha.web.forms import Errors, FieldError

PAGE_SIZE = 50
MAX_QUERY_CHARS = 128


@dataclass(frozen=True, slots=True)
class ListForm:
    status: str = ""
    channel: str = ""
    fraud_type: str = ""
    received_from: str = ""  # a Shanghai calendar day, YYYY-MM-DD, inclusive
    received_to: str = ""  # a Shanghai calendar day, inclusive
    q: str = ""
    before_id: str = ""

    @classmethod
    def from_query(cls, params: dict[str, str]) -> ListForm:
        return cls(**{name: params.get(name, "").strip() for name in cls.__dataclass_fields__})

    @property
    def active(self) -> bool:
        return any((self.status, self.channel, self.fraud_type, self.received_from, self.received_to, self.q))

    def query_string(self, **changes: str) -> str:
        """This form's values as a query string (empty ones left out), with some changed."""
        values = replace(self, **changes)
        pairs = [(name, getattr(values, name)) for name in self.__dataclass_fields__]
        return urlencode([(k, v) for k, v in pairs if v])


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def to_filter(form: ListForm) -> tuple[CaseFilter, Errors]:
    errors: Errors = {}
    if form.status and form.status not in {s.value for s in CaseStatus}:
        errors["status"] = FieldError("choice")
    if form.channel and form.channel not in {c.value for c in Channel}:
        errors["channel"] = FieldError("choice")
    fraud_type = None
    if form.fraud_type:
        try:
            fraud_type = FraudType.parse(form.fraud_type).value
        except ValueError:
            errors["fraud_type"] = FieldError("choice")
    start = _day(form.received_from) if form.received_from else None
    if form.received_from and start is None:
        errors["received_from"] = FieldError("date")
    end = _day(form.received_to) if form.received_to else None
    if form.received_to and end is None:
        errors["received_to"] = FieldError("date")
    if start and end and end < start:
        errors["received_to"] = FieldError("date_order")
    if len(form.q) > MAX_QUERY_CHARS:
        errors["q"] = FieldError("too_long")
    before_id = int(form.before_id) if form.before_id.isdigit() else None
    return CaseFilter(
        status=form.status or None, channel=form.channel or None, fraud_type=fraud_type,
        received_from=_start_of(start) if start else None,
        received_to=_start_of(end + timedelta(days=1)) if end else None,
        q=form.q or None, before_id=before_id, limit=PAGE_SIZE,
    ), errors
