"""The FastAPI application: API routers of every domain, the console, and shared HTTP rules."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fanzha.audit.api import router as audit_router
from fanzha.audit.service import Sealer
from fanzha.auth import service as auth_service
from fanzha.auth.api import router as auth_router
from fanzha.banking.api import router as banking_router
from fanzha.banking.returns_api import router as returns_router
from fanzha.banking.runtime import BankDelivery
from fanzha.cases.api import router as cases_router
from fanzha.config import Settings, get_settings
from fanzha.http import BodyLimit, install_error_handlers
from fanzha.orgs.api import router as orgs_router
from fanzha.outreach.api import router as outreach_router
from fanzha.outreach.callbacks_api import router as callbacks_router
from fanzha.outreach.watcher import LiveWatch
from fanzha.reports.api import router as figures_router
from fanzha.storage.db import Database
from fanzha.telecom.carriers.api import router as telecom_router
from fanzha.telecom.carriers.runtime import CarrierDelivery
from fanzha.telecom.victims_api import router as victims_router
from fanzha.tracing.api import router as tracing_router
from fanzha.tracing.runtime import answer_hook
from fanzha.web import routes as web_routes
from fanzha.web.console import not_found_page

HTTP_ERROR_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
                    415: "unsupported_media_type"}


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = db or Database(settings.database_url)
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        # A thread that holds the audit-chain lock must get the GIL back quickly to commit; the default
        # 5 ms switch interval lets busy threads stall it and every other intake queues behind it.
        sys.setswitchinterval(settings.gil_switch_interval_s)
        auth_service.actors.ttl_s = settings.auth_cache_seconds
        sealer = Sealer(db, settings.audit_seal_interval_s) if db.dialect == "postgresql" else None
        if sealer:
            sealer.start()
        delivery = BankDelivery.start(db, settings, answer_hook(_app)) if settings.bank_gateway_url else None
        carriers = CarrierDelivery.start(db, settings) if settings.carrier_gateway_url else None
        # The live call watch: due-call sweep always; the Redis consumer and the SMSC sender when configured.
        live = LiveWatch.build(db, settings).start(settings.watch_sweep_s) if settings.live_watch else None
        _app.state.live_watch = live
        yield
        if live:
            live.stop()
        if carriers:
            carriers.stop()
        if delivery:
            delivery.stop()
        if sealer:
            sealer.stop()

    app = FastAPI(title="fanzha", version="0.1.0", description="Anti-telecom-fraud center operations platform",
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.db = db
    install_error_handlers(app)

    @app.exception_handler(StarletteHTTPException)
    async def _framework_refusal(request: Request, exc: StarletteHTTPException) -> Response:
        """Refusals made before any route of ours runs (no such address, wrong method, a body that is not
        text): the API answers with its usual error body; an unknown address in the browser gets the console's
        page in the reader's language."""
        if request.url.path.startswith("/api/"):
            code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
            message = {404: f"no API route {request.url.path}",
                       405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code,
                                                                                           str(exc.detail))
            return JSONResponse({"error": code, "message": message, "detail": exc.detail},
                                status_code=exc.status_code, headers=getattr(exc, "headers", None))
        if exc.status_code == 404 and (page := await not_found_page(request)) is not None:
            return page
        return await http_exception_handler(request, exc)

    for router in (cases_router, audit_router, auth_router, orgs_router, banking_router, tracing_router,
                   telecom_router, callbacks_router, figures_router, outreach_router, web_routes.router):
        app.include_router(router)
    app.include_router(victims_router)
    app.include_router(returns_router)

    app.mount("/static", web_routes.static_files, name="static")

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    return app
