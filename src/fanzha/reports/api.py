"""HTTP API of the center's figures: every figure at once (JSON), any one table (JSON or CSV), definitions.

Parameters: ``from`` and ``to`` (local dates, both included; default today) or ``period`` (today, 7d, 30d),
``channel``, ``fraud_type``; tables also take ``format=csv`` and ``lang`` (zh, en) for their name columns.
The figures are for the center's supervisors and duty officers; anyone else gets a 404, as for a page
that does not exist.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import ActorDep, DbDep
from fanzha.auth.models import Role
from fanzha.errors import NotFound
from fanzha.http import refuse_nul
from fanzha.reports import figures as fig
from fanzha.reports.period import Period
from fanzha.reports.tables import TABLES, figures_json, tables
from fanzha.storage.db import Database

router = APIRouter(prefix="/api/v1/figures", tags=["figures"], dependencies=[Depends(refuse_nul)])

READERS = frozenset({Role.SUPERVISOR, Role.DUTY_OFFICER})

FromQ = Annotated[str | None, Query(alias="from", description="first local day, e.g. 2016-03-21 (default today)")]
ToQ = Annotated[str | None, Query(description="last local day, included (default: the first day)")]
PeriodQ = Annotated[str | None, Query(description="instead of from/to: today, 7d or 30d")]
ChannelQ = Annotated[str | None, Query(description="only cases from this channel (110, 12345, station, web, app)")]
FraudQ = Annotated[str | None, Query(description="only cases of this fraud type (code, e.g. task_rebate)")]


def may_read(actor: Actor) -> None:
    """Supervisors and duty officers read the figures; everyone else is told there is nothing here."""
    if actor.role not in READERS:
        raise NotFound("no such resource")


def period_of(first: str | None, last: str | None, preset: str | None) -> Period:
    """Dates win over a preset (as on the dashboard); neither means today."""
    if preset and not first:
        return Period.preset(preset)
    return Period.parse(first, last)


def load(db: Database, period: Period, filters: fig.Filters) -> fig.Figures:
    with fig.snapshot(db) as session:
        return fig.compute(session, period, filters)


@router.get("")
def all_figures(actor: ActorDep, db: DbDep, first: FromQ = None, to: ToQ = None, period: PeriodQ = None,
                channel: ChannelQ = None, fraud_type: FraudQ = None) -> dict[str, Any]:
    """Every figure for the period and filters (see ``/api/v1/figures/definitions``)."""
    may_read(actor)
    return figures_json(load(db, period_of(first, to, period), fig.Filters.of(channel, fraud_type)))


@router.get("/definitions")
def definitions(actor: ActorDep) -> dict[str, str]:
    """What each figure counts, word for word from the code that computes it."""
    may_read(actor)
    return {name: inspect.cleandoc(function.__doc__ or "") for name, function in fig.DEFINITIONS.items()}


@router.get("/{table}", response_model=None)
def one_table(table: str, actor: ActorDep, db: DbDep, first: FromQ = None, to: ToQ = None, period: PeriodQ = None,
              channel: ChannelQ = None, fraud_type: FraudQ = None, format: Literal["json", "csv"] = "json",
              lang: Literal["zh", "en"] = "zh") -> Response | dict[str, Any]:
    """One table of figures; ``format=csv`` downloads it (UTF-8 with a byte-order mark, for spreadsheets)."""
    may_read(actor)
    if table not in TABLES:
        raise NotFound(f"no table {table!r}; tables: {', '.join(TABLES)}")
    chosen = period_of(first, to, period)
    result = tables(load(db, chosen, fig.Filters.of(channel, fraud_type)), lang)[table]
    if format == "csv":
        name = f"{table}_{chosen.first.isoformat()}_{chosen.last.isoformat()}.csv"
        return Response("\ufeff" + result.csv(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return {"table": table, "period": {"from": chosen.first.isoformat(), "to": chosen.last.isoformat()},
            "columns": list(result.columns), "rows": result.records()}
