"""The supervisor's dashboard: the center's figures as live tiles and ECharts charts.

The page polls one partial (``/dashboard/panel``) with htmx; the partial carries the tiles and, in a data
attribute, the numbers the charts draw (``static/dashboard.js``), so one query set feeds both and nothing
reloads. Figures come from reports/figures.py. Supervisors and duty officers only: anyone else gets the same
404 as for a page that does not exist.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fanzha.auth.dependencies import DbDep
from fanzha.errors import InvalidInput
from fanzha.reports import figures as fig
from fanzha.reports.api import load, may_read, period_of
from fanzha.reports.labels import amount_text
from fanzha.reports.period import MAX_DAYS, PRESETS, Period
from fanzha.storage.db import Database
from fanzha.web.console import ConsoleRoute, PageActor
from fanzha.web.i18n import Translator, language_of
from fanzha.web.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

DEFAULT_PRESET = "7d"
DEFAULT_REFRESH_S = 15
REFRESH_RANGE = (2, 300)


def _choice(request: Request) -> dict[str, str]:
    """The reader's choice from the query string, as the form and the polling URL carry it."""
    q = request.query_params
    preset = q.get("period") or DEFAULT_PRESET
    return {"period": preset if preset in PRESETS else DEFAULT_PRESET, "from": q.get("from", "").strip(),
            "to": q.get("to", "").strip(), "channel": q.get("channel", ""), "fraud_type": q.get("fraud_type", "")}


def _period(choice: dict[str, str]) -> Period:
    return period_of(choice["from"] or None, choice["to"] or None, choice["period"])


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def choice_error(choice: dict[str, str]) -> str:
    """What is wrong with the reader's choice, as a ``dashboard.error.*`` key ("" when the figures can be shown)."""
    try:
        _period(choice)
        fig.Filters.of(choice["channel"], choice["fraud_type"])
    except InvalidInput as exc:
        if exc.field not in ("from", "to"):
            return "filter"
        if not all(_is_date(choice[name]) for name in ("from", "to") if choice[name]):
            return "date"
        return "too_long" if choice["from"] and choice["to"] >= choice["from"] else "order"
    return ""


def _refresh(request: Request) -> int:
    try:
        seconds = int(request.query_params.get("refresh", DEFAULT_REFRESH_S))
    except ValueError:
        seconds = DEFAULT_REFRESH_S
    return max(REFRESH_RANGE[0], min(REFRESH_RANGE[1], seconds))


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def chart_data(figures: fig.Figures, t: Translator) -> dict[str, Any]:
    """What the charts draw, labelled in the reader's language."""
    c, st = figures.cases, figures.stop_time
    types = sorted((x for x in c.by_fraud_type if x.count), key=lambda x: -x.count)
    return {
        "computed_at": figures.computed_at.isoformat(),
        "channel": [{"name": t(f"channel.{x.key}"), "value": x.count} for x in c.by_channel],
        "fraud_type": {"names": [t.fraud_type(x.key) for x in types], "values": [x.count for x in types]},
        "days": [d.day.strftime("%m-%d") for d in c.by_day],
        "cases_per_day": [d.count for d in c.by_day],
        "median_min": [_minutes(d.median_s) for d in st.by_day],
        "p90_min": [_minutes(d.p90_s) for d in st.by_day],
        "words": {"cases": t("dashboard.chart.cases"), "median": t("dashboard.stop.median"),
                  "p90": t("dashboard.stop.p90"), "minutes": t("dashboard.unit.minutes"),
                  "empty": t("dashboard.empty")},
    }


def _context(request: Request, db: Database) -> dict[str, Any]:
    typed = _choice(request)
    # A period that ends before it starts (or a date that is not one) is said above the form, which keeps what
    # was typed; the figures meanwhile are the default ones rather than an error page in place of the dashboard.
    error = choice_error(typed)
    choice = {"period": DEFAULT_PRESET, "from": "", "to": "", "channel": "", "fraud_type": ""} if error else typed
    period = _period(choice)
    filters = fig.Filters.of(choice["channel"], choice["fraud_type"])
    figures = load(db, period, filters)
    t = Translator(language_of(request, request.app.state.settings))
    query = urlencode({k: v for k, v in {**choice, "refresh": str(_refresh(request))}.items() if v})
    # CSV links name the dates themselves: a download made tomorrow is still of the period on screen.
    csv_query = urlencode({k: v for k, v in {"from": period.first.isoformat(), "to": period.last.isoformat(),
                                              "channel": choice["channel"], "fraud_type": choice["fraud_type"],
                                              "format": "csv", "lang": t.lang}.items() if v})
    return {"figures": figures, "choice": typed, "period": period, "query": query, "csv_query": csv_query,
            "refresh": _refresh(request), "charts": chart_data(figures, t), "presets": PRESETS,
            "amount_text": amount_text, "error": error, "max_days": MAX_DAYS}


@router.get("/dashboard")
def dashboard(request: Request, actor: PageActor, db: DbDep) -> Response:
    may_read(actor)
    context = _context(request, db)
    return render(request, "dashboard.html", actor, status_code=422 if context["error"] else 200, **context)


@router.get("/dashboard/panel")
def panel(request: Request, actor: PageActor, db: DbDep) -> Response:
    """The live part of the page: tiles, the money table and the charts' numbers."""
    may_read(actor)
    return render(request, "dashboard_panel.html", actor, **_context(request, db))
