"""Jinja2 environment and page rendering: every page gets the translator, the actor and the CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from importlib import metadata
from typing import Any, get_args
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from fanzha.auth.actor import Actor
from fanzha.auth.permissions import ROLE_PERMISSIONS
from fanzha.banking.bins import bank_names
from fanzha.cases.fraud_types import FraudType
from fanzha.cases.models import CaseStatus, Channel
from fanzha.cases.schemas import TransferMethod
from fanzha.config import SHANGHAI, Settings
from fanzha.money import format_amount
from fanzha.web.forms import TransferRow
from fanzha.web.i18n import Translator, language_of

_EMPTY = "—"
# Offered first in currency inputs (any ISO 4217 code may be typed); the 2016 figures were RMB and EUR.
CURRENCY_CHOICES: tuple[str, ...] = ("CNY", "HKD", "MOP", "TWD", "USD", "EUR", "GBP", "JPY", "KRW", "SGD", "AUD")


def _parse(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def local_time(value: str | datetime | None) -> str:
    """A stored UTC instant as Shanghai wall time, e.g. ``2026-11-25 21:05:03``."""
    moment = _parse(value)
    if moment is None:
        return _EMPTY
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def local_input(value: str | datetime | None) -> str:
    """The value a ``datetime-local`` input takes, in Shanghai time (``2026-04-25T09:00``)."""
    moment = _parse(value)
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(SHANGHAI)
    return moment.strftime("%Y-%m-%dT%H:%M")


def duration(seconds: float | int | None) -> str:
    """Elapsed time as ``m:ss`` or ``h:mm:ss``, the way the clocks on the wall show it."""
    if seconds is None:
        return _EMPTY
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def money(value: str | Decimal | None, currency: str | None) -> str:
    if value is None or value == "":
        return _EMPTY
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return format_amount(amount, currency or "CNY")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("fanzha.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(local_time=local_time, local_input=local_input, duration=duration, money=money)
    env.globals.update(
        CHANNELS=[c.value for c in Channel], STATUSES=[s.value for s in CaseStatus],
        FRAUD_TYPES=[f.value for f in FraudType], METHODS=list(get_args(TransferMethod)),
        CURRENCY_CHOICES=CURRENCY_CHOICES, BANK_NAMES=bank_names(), EMPTY_TRANSFER=TransferRow(),
    )
    return env


ENV = _environment()


def _static_version() -> str:
    try:
        return metadata.version("fanzha")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "dev"


# Appended to static URLs so a deployment's new CSS/JS is fetched, not an old cached copy.
STATIC_VERSION = _static_version()


def static_url(name: str) -> str:
    return f"/static/{name}?v={STATIC_VERSION}"


def page_context(request: Request, actor: Actor | None) -> dict[str, Any]:
    """What the layout needs on every page."""
    settings: Settings = request.app.state.settings
    t = Translator(language_of(request, settings))
    permissions = {p.value for p in ROLE_PERMISSIONS[actor.role]} if actor else set()
    # Where the language switch comes back to; a one-off banner (?notice=) is not shown twice.
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "notice"])
    here = request.url.path + (f"?{query}" if query else "")
    return {
        "t": t, "lang": t.lang, "actor": actor, "can": permissions,
        "csrf_token": actor.csrf_token if actor and actor.csrf_token else "",
        "here": here, "server_now": datetime.now(UTC).isoformat(), "static_url": static_url,
        "sla_target_seconds": settings.sla_first_action_minutes * 60,
    }


def render(request: Request, name: str, actor: Actor | None, *, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    data = page_context(request, actor)
    data.update(context)
    return HTMLResponse(ENV.get_template(name).render(data), status_code=status_code)


def render_fragment(request: Request, name: str, actor: Actor | None, **context: Any) -> str:
    data = page_context(request, actor)
    data.update(context)
    return ENV.get_template(name).render(data)
