"""HTTP API of potential victims (/api/v1/telecom/victims): the people a flagged number called, graded from the
center's CDR store (`Settings.cdr_dir`, the dataset `fanzha telecom ingest --out` writes).

    GET  /telecom/victims?number=&since=&until=&limit=   the graded list (officers, supervisors, callback agents)
    POST /telecom/victims                                the same with bank transfers known to the center, and
                                                         optionally callback tasks opened from it (officers)

The window is [since, until); until defaults to now, since to `victims_window_days` before until; "recent" is
measured from the earlier of until and now. Bank and carrier liaisons get 404 (as for the callback queue),
other roles 403. Every read is audited (``telecom.victims_read``); opened tasks are audited by the callback
service.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import ActorDep, DbDep, SettingsDep
from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.errors import DomainError, Forbidden, InvalidInput, NotFound
from fanzha.http import Moment, refuse_nul
from fanzha.outreach import callbacks as callback_service
from fanzha.outreach.callback_models import CallbackTask
from fanzha.telecom.cdr import Dataset, SchemaError, parse_e164, to_e164
from fanzha.telecom.victims import FlaggedNumber, Transfer, potential_victims

router = APIRouter(prefix="/api/v1/telecom", tags=["telecom"], dependencies=[Depends(refuse_nul)])

READERS = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR, Role.CALLBACK_AGENT})
OPENERS = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR})
HIDDEN_FROM = frozenset({Role.BANK_LIAISON, Role.CARRIER_LIAISON})
CASE_NUMBER_RE = r"^[A-Z]{1,6}\d{8}-\d{6}$"
MAX_LIMIT = 10_000


class NoCdrStore(DomainError):
    """The server has no CDR dataset to read (not configured or not ingested yet)."""

    status_code = 503
    code = "no_cdr_store"


def _require(actor: Actor, roles: frozenset[Role]) -> None:
    if actor.role in HIDDEN_FROM:
        raise NotFound("not found")
    if actor.role not in roles:
        raise Forbidden("only duty officers, supervisors and callback agents read potential victims"
                        if roles is READERS else "only duty officers and supervisors open callback tasks")


def flagged_number(raw: str, where: str = "number") -> str:
    """The flagged number as E.164 text, or a 422 saying what is wrong with it."""
    text = "".join(raw.split()).replace("-", "")
    if not text.startswith("+"):
        raise InvalidInput(f"{raw!r} is not E.164: give + and the country code, e.g. +8613812345678", field=where)
    try:
        return to_e164(parse_e164(text))
    except ValueError:
        raise InvalidInput(f"{raw!r} is not E.164: + then 3 to 15 digits, the first not 0", field=where) from None


def _window(settings: Settings, since: datetime | None, until: datetime | None,
            now: datetime) -> tuple[datetime, datetime, datetime]:
    until = (until or now).astimezone(UTC)
    since = (since or until - timedelta(days=settings.victims_window_days)).astimezone(UTC)
    if since >= until:
        raise InvalidInput(f"since ({since.isoformat()}) must be before until ({until.isoformat()})", field="since")
    return since, until, min(until, now)


def _dataset(settings: Settings) -> Dataset:
    try:
        return Dataset.open(settings.cdr_dir)
    except (FileNotFoundError, SchemaError) as exc:
        raise NoCdrStore(f"no CDR store to read: {exc} (FANZHA_CDR_DIR; `fanzha telecom ingest FILE --out DIR`)") \
            from None


def _graded(settings: Settings, number: str, since: datetime | None, until: datetime | None,
            transfers: list[Transfer]) -> tuple[FlaggedNumber, tuple[datetime, datetime, datetime]]:
    """Grade the number's potential victims (a scan of the CDR store: done outside any database transaction)."""
    start, end, recent_from = _window(settings, since, until, datetime.now(UTC))
    report = potential_victims(_dataset(settings), [number], since=start, until=end, now=recent_from,
                               transfers=transfers)
    (item,) = report.flagged
    return item, (start, end, recent_from)


def _read(session: Session, actor: Actor, item: FlaggedNumber, window: tuple[datetime, datetime, datetime],
          transfers: int, limit: int) -> dict[str, Any]:
    """Audit the read and the response body."""
    since, until, now = window
    grades = {g.value: n for g, n in item.grades.items()}
    audit.append(session, actor, "telecom.victims_read", "number", item.number, {
        "since": since.isoformat(), "until": until.isoformat(), "victims": len(item.victims), "grades": grades,
        "transfers": transfers})
    return {"number": item.number, "since": since, "until": until, "now": now, "calls_out": item.calls_out,
            "grades": grades, "total": len(item.victims),
            "victims": [v.model_dump(mode="json") for v in item.victims[:limit]]}


@router.get("/victims")
def victims(actor: ActorDep, db: DbDep, settings: SettingsDep,
            number: Annotated[str, Query(min_length=3, max_length=32, description="the flagged number, E.164")],
            since: Annotated[Moment | None, Query(description="window start (inclusive)")] = None,
            until: Annotated[Moment | None, Query(description="window end (exclusive); default now")] = None,
            limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000) -> dict[str, Any]:
    """The people `number` called in the window, graded high / medium / low with the reasons."""
    _require(actor, READERS)
    item, window = _graded(settings, flagged_number(number), since, until, [])
    with db.transaction() as session:
        return _read(session, actor, item, window, 0, limit)


class VictimsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: Annotated[str, Field(min_length=3, max_length=32, description="the flagged number, E.164")]
    since: Moment | None = None
    until: Moment | None = None
    transfers: Annotated[list[Transfer], Field(max_length=10_000, description="bank transfers by the people "
                                                                              "called; one after a call raises "
                                                                              "the grade")] = []
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 1000
    open_callbacks: bool = Field(default=False, description="also open a callback task per potential victim")
    min_grade: Literal["high", "medium", "low"] = Field(default="low", description="open tasks down to this grade")
    fraud_type: str | None = Field(default=None, max_length=64)
    case_number: Annotated[str, Field(pattern=CASE_NUMBER_RE)] | None = None


@router.post("/victims")
def victims_with_transfers(body: VictimsQuery, actor: ActorDep, db: DbDep, settings: SettingsDep) -> dict[str, Any]:
    """The graded list, with transfers; with `open_callbacks`, callback tasks in the same transaction."""
    _require(actor, OPENERS if body.open_callbacks else READERS)
    item, window = _graded(settings, flagged_number(body.number), body.since, body.until, body.transfers)
    with db.transaction() as session:
        out = _read(session, actor, item, window, len(body.transfers), body.limit)
        if body.open_callbacks:
            result = callback_service.open_from_victims(session, actor, [item], now=datetime.now(UTC),
                                                        fraud_type=body.fraud_type, case_number=body.case_number,
                                                        min_grade=body.min_grade)

            def brief(tasks: list[CallbackTask]) -> list[dict[str, Any]]:
                return [{"id": t.id, "phone": t.phone, "grade": t.grade, "on_call": t.on_call} for t in tasks]

            out["callbacks"] = {"opened": brief(result.opened), "merged": brief(result.merged),
                                "existing": brief(result.existing), "skipped": result.skipped}
        return out
