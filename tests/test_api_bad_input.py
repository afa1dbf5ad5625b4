"""Bad input on every /api/v1 route: never a server error, and every refusal says what was wrong.

The sweep reads the routes from the OpenAPI schema, so a route added later is swept too: path ids and query
parameters get wrong types and out-of-range values, and every field of a JSON body (and of the first item of its
lists) gets wrong types, empty and huge strings, NUL characters, impossible numbers and times. It runs on SQLite
and PostgreSQL (which refuses NUL characters and 32-bit overflows that SQLite would store).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fanzha.app import create_app
from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.storage.db import Database
from tests.conftest import MakePrincipal
from tests.helpers import report
from tests.telecom.test_victims import hand_made_store

PHONE = "+8613812345678"

# Who may use a route (its permission checks run after validation, but some refuse before reading a record).
ROLE_FOR = [
    ("/api/v1/audit", Role.AUDITOR), ("/api/v1/users", Role.ADMIN), ("/api/v1/bank/", Role.BANK_LIAISON),
    ("/api/v1/instructions/{instruction_id}/acknowledge", Role.BANK_LIAISON),
    ("/api/v1/instructions/{instruction_id}/answer", Role.BANK_LIAISON),
    ("/api/v1/telecom/actions/{instruction_id}/answer", Role.CARRIER_LIAISON),
    ("/api/v1/telecom/carrier/", Role.CARRIER_LIAISON), ("/api/v1/telecom/official-numbers", Role.SUPERVISOR),
    ("/api/v1/telecom/batches", Role.SUPERVISOR), ("/api/v1/returns/", Role.SUPERVISOR),
    ("/api/v1/figures", Role.SUPERVISOR), ("/api/v1/callbacks/claim-next", Role.CALLBACK_AGENT),
    ("/api/v1/callbacks/{task_id}/", Role.CALLBACK_AGENT),
]

HUGE = "x" * 100_000
BAD_VALUES: list[Any] = [
    None, True, -1, 0, 1.5, 10**30, "", " ", "\x00", "a\x00b", "zzz", HUGE, [], {}, [1], {"a": 1},
    "NaN", "Infinity", "1e309", "-5", "1.123456789", "2026-13-45", "2026-11-25T10:00:00",
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "+0",
]
BAD_IDS = ["abc", "0", "-1", "1.5", "2147483648", "99999999999999999999", "%00"]
BAD_QUERY = ["abc", "-1", "", "99999999999999999999", "\x00", "NaN", "1e309", "2026-11-25T10:00:00",
             "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", HUGE[:5000]]
RAW_BODIES = [b"", b"not json", b"null", b"[]", b'"text"', b'{"a":', b'{"x": NaN}',
              b'{"x": 1e999}', b"\x00", b'{"z\\u0000": 1}']


def valid_bodies(case: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        ("POST", "/api/v1/reports"): report(external_ref="sweep-1"),
        ("POST", "/api/v1/cases/{number}/transitions"): {"to": "accepted", "note": "ok"},
        ("POST", "/api/v1/cases/{number}/facts"): {"suspect_phones": ["+85261234568"], "transfers": [
            {"to_account": "6228480402564890026", "amount": "100", "currency": "CNY",
             "occurred_at": "2026-11-25T09:30:00+08:00"}]},
        ("POST", "/api/v1/extract"): {"text": "转账7万元", "received_at": "2026-11-25T10:00:00+08:00"},
        ("POST", "/api/v1/users"): {"username": "someone", "display_name": "N", "role": "duty_officer",
                                    "org": "center"},
        ("POST", "/api/v1/users/{username}/tokens"): {"name": "tok"},
        ("POST", "/api/v1/instructions/{instruction_id}/release"): {"reason": "released"},
        ("POST", "/api/v1/instructions/{instruction_id}/answer"): {
            "held": True, "amount": "100.00", "expires_at": "2026-12-01T00:00:00+08:00", "reason": ""},
        ("POST", "/api/v1/cases/{number}/queries"): {
            "kind": "transaction_query", "bank_code": "ABC", "account": "6228480402564890018", "currency": "CNY",
            "since": "2026-11-01T00:00:00+08:00"},
        ("POST", "/api/v1/telecom/actions"): {"case_number": case, "numbers": ["+8613912345678"],
                                              "action": "auto", "reason": "fraud number"},
        ("POST", "/api/v1/telecom/actions/{instruction_id}/answer"): {"status": "done", "reason": "ok"},
        ("POST", "/api/v1/telecom/batches/{batch}/decline"): {"reason": "no thanks"},
        ("POST", "/api/v1/telecom/spoofing/check"): {"calls": [{
            "caller": PHONE, "callee": "+8613912345678", "start_time": "2026-11-25T10:00:00+08:00",
            "duration_s": 30, "trunk": "international_gateway", "displayed_number": "110"}]},
        ("POST", "/api/v1/telecom/official-numbers"): {"pattern": "95123", "kind": "police", "name_zh": "测试",
                                                       "name_en": "test"},
        ("PATCH", "/api/v1/telecom/official-numbers/{entry_id}"): {"name_en": "changed", "active": True},
        ("POST", "/api/v1/callbacks"): {"phone": PHONE, "grade": "high", "reason": "called by fraud",
                                        "case_number": case, "dedupe_key": "k"},
        ("POST", "/api/v1/callbacks/from-victims"): {"flagged": [
            {"number": "+8613900000000", "calls_out": 1, "victims": [], "grades": {}}], "case_number": case},
        ("POST", "/api/v1/callbacks/{task_id}/outcome"): {"outcome": "dissuaded", "note": "ok"},
        ("POST", "/api/v1/outreach/call-events"): {"events": [{
            "kind": "setup", "call_id": "c1", "at": "2026-11-25T10:00:00+08:00", "caller": PHONE,
            "callee": "+8613912345678"}]},
        ("PUT", "/api/v1/outreach/flagged-numbers/{number}"): {"reason": "fraud number"},
        ("POST", "/api/v1/telecom/victims"): {"number": "+8613800000000", "transfers": [
            {"phone": "+8613912345678", "at": "2026-11-25T10:00:00+08:00", "amount": "100", "currency": "CNY"}]},
        ("POST", "/api/v1/returns/{return_id}/object"): {"text": "objection"},
        ("POST", "/api/v1/returns/{return_id}/cancel"): {"reason": "dropped"},
    }


@pytest.fixture(scope="module")
def cdr_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hand_made_store(tmp_path_factory.mktemp("sweep-cdr"), buckets=2)


@pytest.fixture
def settings(db_url: str, cdr_store: Path) -> Settings:
    return Settings(database_url=db_url, cdr_dir=cdr_store)


def _role(path: str) -> Role:
    return next((role for prefix, role in ROLE_FOR if path.startswith(prefix)), Role.DUTY_OFFICER)


def _requests(schema: dict[str, Any], case: str) -> Iterator[tuple[Role, str, str, dict[str, Any], str | None]]:
    """(role, method, url, request keywords, the field or parameter made bad) for every route."""
    bodies = valid_bodies(case)
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method_lower, operation in operations.items():
            method = method_lower.upper()
            params = operation.get("parameters", [])
            good = {p["name"]: {"number": case, "username": "nobody", "batch": "b1",
                                "table": "by_channel"}.get(p["name"], "1") for p in params if p["in"] == "path"}
            if path.startswith(("/api/v1/telecom/routes", "/api/v1/outreach/flagged-numbers")):
                good["number"] = PHONE
            url = path.format(**good)
            has_body = "application/json" in operation.get("requestBody", {}).get("content", {})
            body = bodies.get((method, path))
            assert not has_body or body is not None, f"give the sweep a valid body for {method} {path}"
            plain: dict[str, Any] = {} if body is None else {"json": body}
            role = _role(path)
            for p in params:
                if p["in"] == "path":
                    for bad in BAD_IDS if p.get("schema", {}).get("type") == "integer" else ["%00", "x" * 300]:
                        yield role, method, path.format(**{**good, p["name"]: bad}), plain, p["name"]
                elif p["in"] == "query":
                    for bad in BAD_QUERY:
                        yield role, method, url, {**plain, "params": {p["name"]: bad}}, p["name"]
            if body is None:
                continue
            for raw in RAW_BODIES:
                yield role, method, url, {"content": raw, "headers": {"content-type": "application/json"}}, None
            yield role, method, url, {"json": {**body, "zz_extra": 1}}, "zz_extra"
            for name in body:
                yield role, method, url, {"json": {k: v for k, v in body.items() if k != name}}, None
                for bad in BAD_VALUES:
                    yield role, method, url, {"json": {**body, name: bad}}, name
                first = body[name][0] if isinstance(body[name], list) and body[name] else None
                if isinstance(first, dict):
                    for sub in first:
                        for bad in BAD_VALUES:
                            changed = copy.deepcopy(body)
                            changed[name][0][sub] = bad
                            yield role, method, url, {"json": changed}, sub


def test_no_route_fails_on_bad_input_and_every_refusal_says_what_was_wrong(
        principal: MakePrincipal, settings: Settings, db: Database) -> None:
    clients = {role: principal(role).client for role in Role}
    case = clients[Role.DUTY_OFFICER].post("/api/v1/reports", json=report()).json()["number"]
    app = create_app(settings, db)
    problems: list[str] = []
    count = 0
    for role, method, url, kwargs, field in _requests(app.openapi(), case):
        client: TestClient = clients[role]
        if "json" in kwargs:  # json= cannot send NaN or a lone NUL as-is; send the text we mean
            kwargs = {"content": json.dumps(kwargs["json"]).encode(),
                      "headers": {"content-type": "application/json"}, **{k: v for k, v in kwargs.items()
                                                                          if k != "json"}}
        answer = client.request(method, url, **kwargs)
        count += 1
        label = f"{role.value} {method} {url[:80]} {field} {str(kwargs)[:120]}"
        if answer.status_code >= 500:
            problems.append(f"{answer.status_code} {label}: {answer.text[:200]}")
        elif answer.status_code >= 400:
            body = answer.json()
            message = body.get("message") if isinstance(body, dict) else None
            if not isinstance(message, str) or not message.strip() or not body.get("error"):
                problems.append(f"{answer.status_code} without a message {label}: {answer.text[:200]}")
            elif (answer.status_code == 422 and field and "errors" in body and field not in message
                  and not any(field in e["field"] for e in body["errors"])):
                # (a domain check may refuse another field first, e.g. a username that is taken: it names that)
                problems.append(f"422 not naming {field} {label}: {message[:200]}")
    assert count > 3000
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


# ---- what the sweep found, one by one ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/instructions/2147483648/approve", "/api/v1/returns/99999999999999999999/"
                                  "approve", "/api/v1/telecom/actions/9223372036854775808"])
def test_an_id_no_row_can_have_is_refused_naming_it(principal: MakePrincipal, path: str) -> None:
    # It reached the database: SQLite cannot bind a 64-bit overflow, PostgreSQL compares int4 with it (500).
    role = Role.SUPERVISOR
    method = "GET" if path.startswith("/api/v1/telecom/actions") else "POST"
    answer = principal(role).client.request(method, path)
    assert answer.status_code == 422, answer.text
    assert "less than or equal to 2147483647" in answer.json()["message"]


def test_a_page_cursor_out_of_range_is_refused(principal: MakePrincipal) -> None:
    answer = principal(Role.DUTY_OFFICER).client.get("/api/v1/cases", params={"before_id": "99999999999999999999"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "before_id"
    audit = principal(Role.AUDITOR).client.get("/api/v1/audit", params={"before_id": str(2**63)})
    assert audit.status_code == 422 and audit.json()["errors"][0]["field"] == "before_id"


def test_a_nul_character_is_refused_naming_where_it_is(principal: MakePrincipal) -> None:
    # PostgreSQL cannot store NUL in text: these were 500s there (and stored as-is on SQLite).
    duty = principal(Role.DUTY_OFFICER).client
    body = report(victim={"name": "冯\x00某"})
    answer = duty.post("/api/v1/reports", content=json.dumps(body), headers={"content-type": "application/json"})
    assert answer.status_code == 422 and answer.json()["field"] == "victim.name", answer.text
    listed = duty.get("/api/v1/cases", params={"q": "a\x00"})
    assert listed.status_code == 422 and listed.json()["field"] == "q"
    case = duty.get("/api/v1/cases/SH%00")
    assert case.status_code == 422 and case.json()["field"] == "number"
    # An escaped backslash before u0000 is the text "\u0000", which is fine.
    fine = duty.post("/api/v1/extract", json={"text": "\\u0000 转账7万元"})
    assert fine.status_code == 200


@pytest.mark.parametrize(("method", "path", "content"), [
    ("POST", "/api/v1/reports", b"\xff\xfe\xfa"), ("GET", "/api/v1/no-such-thing", None),
    ("DELETE", "/api/v1/reports", None)])
def test_refusals_by_the_framework_get_the_error_body(principal: MakePrincipal, method: str, path: str,
                                                      content: bytes | None) -> None:
    answer = principal(Role.DUTY_OFFICER).client.request(method, path, content=content,
                                                         headers={"content-type": "application/json"})
    assert 400 <= answer.status_code < 500
    assert answer.json().get("message") and answer.json().get("error")


@pytest.mark.parametrize(("value", "says"), [
    ("9999-12-31T23:59:59-12:00", "out of range"), ("0001-01-01T00:00:00+14:00", "out of range"),
    ("0", "is not a time"), ("1700000000", "is not a time"), ("2026-11-25T10:00:00", "timezone"),
])
def test_times_are_iso_with_an_offset_and_within_range(principal: MakePrincipal, value: str, says: str) -> None:
    # The first two overflowed converting to UTC (500); numbers passed as Unix timestamps (1970...).
    duty = principal(Role.DUTY_OFFICER).client
    for answer in (duty.get("/api/v1/cases", params={"received_from": value}),
                   duty.get("/api/v1/callbacks/stats", params={"since": value}),
                   duty.post("/api/v1/extract", json={"text": "转账", "received_at": value})):
        assert answer.status_code == 422, answer.text
        assert says in answer.json()["message"]
