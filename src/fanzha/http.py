"""HTTP plumbing shared by every router: error bodies that name the field, a request-size limit, and the
input types every router uses for row ids and times (so a bad one is a 422 naming it, never a crash below)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fanzha.errors import DomainError, InvalidInput

# Row ids are 32-bit integers in PostgreSQL (the audit log's are 64-bit); a larger one can name no row.
ID_MAX = 2**31 - 1
BIG_ID_MAX = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=ID_MAX, description="a record's id")]
BeforeId = Annotated[int | None, Query(ge=1, le=ID_MAX, description="page on: items older than this id")]

# Times come as ISO 8601 text with a UTC offset, within the years a record can be about.
MOMENT_MIN = datetime(1970, 1, 1, tzinfo=UTC)
MOMENT_MAX = datetime(2100, 1, 1, tzinfo=UTC)
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")
_MOMENT_HINT = "give a date and time in ISO 8601 with its UTC offset, e.g. 2026-11-25T10:00:00+08:00"


def _iso_text(value: Any) -> Any:
    """Numbers (and numeric strings) would pass as Unix timestamps: refuse them rather than guess."""
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError(f"{value!r} is not a time: {_MOMENT_HINT}")


def _plausible(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not MOMENT_MIN <= utc < MOMENT_MAX:
        raise ValueError(f"{value.isoformat()} is out of range: give a time from 1970 to 2099")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_plausible)]


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        body: dict[str, Any] = {"error": exc.code, "message": exc.message}
        if exc.field:
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                ctx = err.get("ctx") or {}
                return JSONResponse({"error": "invalid_json", "field": "body",
                                     "message": f"the body is not valid JSON: {ctx.get('error', 'parse error')}"},
                                    status_code=400)
            msg = str(err.get("msg", "invalid"))
            errors.append({"field": _field(err.get("loc", ())), "message": msg.removeprefix("Value error, ")})
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return JSONResponse({"error": "invalid_input", "message": summary, "errors": errors}, status_code=422)


_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def _nul_path(value: Any, path: str) -> str | None:
    """Where in a parsed JSON document a text holds NUL (keys included)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path != "body" else str(key)
            if "\x00" in str(key):
                return here
            if (found := _nul_path(item, here)) is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            if (found := _nul_path(item, f"{path}.{i}" if path != "body" else str(i))) is not None:
                return found
    return None


async def refuse_nul(request: Request) -> None:
    """No text may hold a NUL character (PostgreSQL cannot store one): a 422 naming the parameter or field.

    A router dependency; the body is the one FastAPI has already read (cached on the request).
    """
    for name, value in request.path_params.items():
        if "\x00" in str(value):
            raise InvalidInput(f"{name} holds a NUL character", field=name)
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise InvalidInput(f"query parameter {name!r} holds a NUL character", field=name.replace("\x00", ""))
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    body = await request.body()
    if b"\x00" in body:
        raise InvalidInput("the body holds a NUL byte", field="body")
    if _NUL_ESCAPE.search(body):
        try:
            field = _nul_path(json.loads(body), "body")
        except ValueError:  # not JSON (FastAPI has refused it already, or the route reads raw text)
            field = None
        if field is not None:
            raise InvalidInput(f"{field} holds a NUL character (\\u0000), which no text may hold", field=field)


class BodyLimit:
    """Refuse request bodies over a limit before they are read into memory (413, with the sizes)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, int(declared))
            return
        seen = 0
        refused = False

        async def limited() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send, seen)

    async def _refuse(self, send: Send, size: int) -> None:
        body = json.dumps({"error": "too_large", "field": "body",
                           "message": f"the request body is {size} bytes or more; the limit is {self.max_bytes}"})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body.encode()})


class _TooLarge(Exception):
    pass
