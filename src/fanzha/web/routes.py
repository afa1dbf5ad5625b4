"""The console's routes in one router, and its static files (CSS, JS, vendored htmx)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from fanzha.web import (
    account_pages,
    alarm_pages,
    audit_pages,
    auth_pages,
    bank_pages,
    carrier_pages,
    case_pages,
    dashboard_pages,
    flow_pages,
    intake_pages,
)
from fanzha.web.callback_pages import router as callback_router
from fanzha.web.return_pages import router as return_router

STATIC_DIR = Path(str(resources.files("fanzha.web").joinpath("static")))

router = APIRouter(include_in_schema=False)
router.include_router(auth_pages.router)
# /cases/new before /cases/{number}, which would otherwise take "new" for a case number.
router.include_router(intake_pages.router)
router.include_router(case_pages.router)
router.include_router(flow_pages.router)
router.include_router(bank_pages.router)
router.include_router(alarm_pages.router)
router.include_router(return_router)
router.include_router(carrier_pages.router)
router.include_router(callback_router)
router.include_router(dashboard_pages.router)
router.include_router(audit_pages.router)
router.include_router(account_pages.router)

static_files = StaticFiles(directory=STATIC_DIR)
