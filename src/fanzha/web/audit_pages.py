"""The audit log in the console: auditors (and supervisors) read every recorded change and check the chain.

The log is tamper-evident (audit/service.py): each sealed entry's hash covers the one before it. The page lists
entries newest first, 100 at a time, filtered by what an auditor asks about (a case number or other object,
an action, a person); checking the whole chain is a separate action because it reads every entry.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fanzha.audit import service as audit
from fanzha.audit.models import AuditEntry
from fanzha.auth.dependencies import DbDep
from fanzha.auth.permissions import Permission
from fanzha.web.console import ConsoleRoute, PageActor, need
from fanzha.web.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 100
FILTERS = ("object_id", "action", "actor")
MAX_FILTER_LENGTH = 64  # the columns' width: a longer value cannot match


def _filters(request: Request) -> dict[str, str]:
    return {name: request.query_params.get(name, "").strip()[:MAX_FILTER_LENGTH] for name in FILTERS}


def _before(request: Request) -> int | None:
    value = request.query_params.get("before", "")
    return int(value) if value.isdigit() else None


def row(entry: AuditEntry) -> dict[str, Any]:
    """One entry as the page shows it; details pretty-printed (they are canonical JSON, possibly Chinese)."""
    try:
        details = json.dumps(json.loads(entry.details), ensure_ascii=False, indent=1, sort_keys=True)
    except ValueError:
        details = entry.details
    return {"id": entry.id, "seq": entry.seq, "at": entry.at, "actor": entry.actor, "actor_org": entry.actor_org,
            "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
            "details": "" if details in ("{}", "") else details, "hash": entry.hash or ""}


@router.get("/audit")
def audit_log(request: Request, actor: PageActor, db: DbDep) -> Response:
    need(actor, Permission.AUDIT_READ)
    chosen = _filters(request)
    before = _before(request)
    check = request.query_params.get("verify") == "1"
    with db.read() as session:
        entries = audit.recent(session, before_id=before, limit=PAGE_SIZE + 1,
                               **{k: v for k, v in chosen.items() if v})
        result = audit.verify(session) if check else None
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    base = {k: v for k, v in chosen.items() if v}
    older = urlencode({**base, "before": entries[-1].id}) if more and entries else ""
    return render(request, "audit_log.html", actor, items=[row(e) for e in entries], chosen=chosen,
                  older=older, newest=urlencode(base), paged=before is not None, verify=result,
                  verify_query=urlencode({**base, "verify": "1"}))
