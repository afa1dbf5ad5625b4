"""Write a new case's rows and find the cases it links to, in as few round trips as the backend allows.

Intake is the hottest write path. On PostgreSQL one statement takes the case number from the day's
sequence, inserts the case, its parties, transfers, entities and first status event, and returns the
other cases sharing any entity (the statement's snapshot cannot see the new entities, so the case never
links to itself). SQLite runs in-process with no round trips to save, so it uses plain statements.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, TextClause, insert, text

from fanzha.cases.linking import MAX_LINKS_PER_ENTITY, Link, cap_per_entity, find_links
from fanzha.cases.models import Case, CaseEntity, CaseParty, CaseStatusEvent, Transfer
from fanzha.cases.numbering import ensure_day_sequence, next_case_number, number_parts
from fanzha.storage.types import money_to_storage

CASE_COLUMNS = ("channel", "external_ref", "status", "fraud_type", "narrative", "extraction", "warnings",
                "received_at", "first_action_at", "created_by_id", "created_by_org_id")


@dataclass(frozen=True, slots=True)
class NewCase:
    case: dict[str, Any]  # CASE_COLUMNS
    parties: list[dict[str, Any]]
    transfers: list[dict[str, Any]]  # amount as Decimal, occurred_at aware or None
    entities: list[dict[str, Any]]  # kind, value, org_hint
    username: str


def insert_new_case(conn: Connection, new: NewCase, prefix: str, received_at: datetime) -> tuple[int, str, list[Link]]:
    if conn.dialect.name == "postgresql":
        return _insert_postgres(conn, new, prefix, received_at)
    return _insert_plain(conn, new, prefix, received_at)


_INSERT_CASE = insert(Case).returning(Case.id)


def _insert_plain(conn: Connection, new: NewCase, prefix: str, received_at: datetime) -> tuple[int, str, list[Link]]:
    number = next_case_number(conn, prefix, received_at)
    case_id = conn.execute(_INSERT_CASE, {**new.case, "number": number}).scalar_one()
    conn.execute(insert(CaseParty), [{**p, "case_id": case_id} for p in new.parties])
    if new.transfers:
        conn.execute(insert(Transfer), [{**t, "case_id": case_id} for t in new.transfers])
    if new.entities:
        conn.execute(insert(CaseEntity), [{**e, "case_id": case_id} for e in new.entities])
    conn.execute(insert(CaseStatusEvent), {
        "case_id": case_id, "from_status": None, "to_status": new.case["status"], "at": new.case["received_at"],
        "by_user_id": new.case["created_by_id"], "by_username": new.username, "note": "",
    })
    return case_id, number, find_links(conn, case_id, [(e["kind"], e["value"]) for e in new.entities])


@lru_cache(maxsize=64)
def _postgres_statement(entity_count: int) -> TextClause:
    # One (kind = ? AND value = ?) probe per entity on the (kind, value) index, as in linking.find_links.
    probes = " OR ".join(f"(ce.kind = :k{i} AND ce.value = :v{i})" for i in range(entity_count)) or "false"
    return text(f"""
WITH c AS (
    INSERT INTO cases (number, channel, external_ref, status, fraud_type, narrative, extraction, warnings,
                       received_at, first_action_at, created_by_id, created_by_org_id)
    VALUES (:prefix || lpad(nextval(:seq)::text, 6, '0'), :channel, :external_ref, :status, :fraud_type,
            :narrative, :extraction, :warnings, :received_at, NULL, :created_by_id, :created_by_org_id)
    RETURNING id, number, received_at, status, created_by_id
), parties AS (
    INSERT INTO case_parties (case_id, role, name, phone, id_number)
    SELECT c.id, x.role, x.name, x.phone, x.id_number
    FROM c, jsonb_to_recordset(CAST(:parties AS jsonb)) AS x(role text, name text, phone text, id_number text)
), transfers AS (
    INSERT INTO case_transfers (case_id, from_account, from_bank, to_account, to_bank, to_name, amount, currency,
                                occurred_at, method)
    SELECT c.id, x.from_account, x.from_bank, x.to_account, x.to_bank, x.to_name, x.amount, x.currency,
           x.occurred_at, x.method
    FROM c, jsonb_to_recordset(CAST(:transfers AS jsonb)) AS x(from_account text, from_bank text, to_account text,
        to_bank text, to_name text, amount bigint, currency text, occurred_at timestamptz, method text)
), entities AS (
    INSERT INTO case_entities (case_id, kind, value, org_hint)
    SELECT c.id, x.kind, x.value, x.org_hint
    FROM c, jsonb_to_recordset(CAST(:entities AS jsonb)) AS x(kind text, value text, org_hint text)
), history AS (
    INSERT INTO case_status_events (case_id, from_status, to_status, at, by_user_id, by_username, note)
    SELECT c.id, NULL, c.status, c.received_at, c.created_by_id, :username, '' FROM c
), links AS (
    SELECT ce.case_id AS other_id, oc.number AS other_number, ce.kind, ce.value
    FROM case_entities ce JOIN cases oc ON oc.id = ce.case_id
    WHERE {probes}
    ORDER BY ce.case_id DESC
    LIMIT {MAX_LINKS_PER_ENTITY * max(entity_count, 1)}
)
SELECT c.id, c.number, links.other_id, links.other_number, links.kind, links.value
FROM c LEFT JOIN links ON true
""")


def _insert_postgres(conn: Connection, new: NewCase, prefix: str, received_at: datetime) -> tuple[int, str, list[Link]]:
    day_prefix, sequence = number_parts(prefix, received_at)
    ensure_day_sequence(conn, sequence)
    params: dict[str, Any] = {
        **new.case, "prefix": day_prefix, "seq": sequence, "username": new.username,
        "parties": json.dumps(new.parties, ensure_ascii=False),
        "transfers": json.dumps([
            {**t, "amount": money_to_storage(t["amount"]),
             "occurred_at": t["occurred_at"].isoformat() if t["occurred_at"] else None}
            for t in new.transfers
        ], ensure_ascii=False),
        "entities": json.dumps(new.entities, ensure_ascii=False),
    }
    for i, e in enumerate(new.entities):
        params[f"k{i}"], params[f"v{i}"] = e["kind"], e["value"]
    rows = conn.execute(_postgres_statement(len(new.entities)), params).all()
    case_id, number = rows[0][0], rows[0][1]
    found = [Link(other_id, other_number, kind, value)
             for _, _, other_id, other_number, kind, value in rows if other_id is not None]
    return case_id, number, cap_per_entity(found)
