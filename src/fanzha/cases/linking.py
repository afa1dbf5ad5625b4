"""Case linking (串并案): cases that share a phone, account, URL or device are linked at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, insert, or_, select
from sqlalchemy.orm import Session

from fanzha.cases.models import Case, CaseEntity, CaseLink

# A value shared by very many cases (a hub number) still links, but only to its most recent cases.
MAX_LINKS_PER_ENTITY = 200


@dataclass(frozen=True, slots=True)
class Link:
    other_case_id: int
    other_number: str
    kind: str
    value: str


@lru_cache(maxsize=64)
def _find_statement(count: int) -> Select[int, str, str, str]:
    """OR of (kind = ? AND value = ?) pairs, one statement per entity count (cached).

    Both SQLite and PostgreSQL answer this with one index probe per pair on (kind, value); a row-value
    IN list made SQLite scan the whole table instead.
    """
    pairs = [
        and_(CaseEntity.kind == bindparam(f"k{i}"), CaseEntity.value == bindparam(f"v{i}")) for i in range(count)
    ]
    return (
        select(CaseEntity.case_id, Case.number, CaseEntity.kind, CaseEntity.value)
        .join(Case, Case.id == CaseEntity.case_id)
        .where(or_(*pairs), CaseEntity.case_id != bindparam("case_id"))
        .order_by(CaseEntity.case_id.desc())
        .limit(bindparam("limit"))
    )


def find_links(conn: Connection, case_id: int, entities: list[tuple[str, str]]) -> list[Link]:
    """Other cases holding any of these (kind, value) pairs; one indexed query."""
    if not entities:
        return []
    params: dict[str, object] = {"case_id": case_id, "limit": MAX_LINKS_PER_ENTITY * len(entities)}
    for i, (kind, value) in enumerate(entities):
        params[f"k{i}"], params[f"v{i}"] = kind, value
    rows = conn.execute(_find_statement(len(entities)), params).all()
    return cap_per_entity([Link(other_id, number, kind, value) for other_id, number, kind, value in rows])


def cap_per_entity(links: list[Link]) -> list[Link]:
    """At most MAX_LINKS_PER_ENTITY links per shared value, newest cases first."""
    per_entity: dict[tuple[str, str], int] = {}
    kept: list[Link] = []
    for link in links:
        key = (link.kind, link.value)
        if per_entity.get(key, 0) < MAX_LINKS_PER_ENTITY:
            per_entity[key] = per_entity.get(key, 0) + 1
            kept.append(link)
    return kept


def store_links(session: Session, case_id: int, links: list[Link], *, new_case: bool = False) -> None:
    """Both directions, so each case lists the other without a second query shape."""
    existing: set[tuple[int, str, str]] = set()
    if not new_case:
        rows = session.execute(
            select(CaseLink.other_case_id, CaseLink.kind, CaseLink.value).where(CaseLink.case_id == case_id)
        )
        existing = {(other, kind, value) for other, kind, value in rows}
    now = datetime.now(UTC)
    rows_to_add = []
    for link in links:
        if (link.other_case_id, link.kind, link.value) in existing:
            continue
        rows_to_add.append({"case_id": case_id, "other_case_id": link.other_case_id, "kind": link.kind,
                            "value": link.value, "created_at": now})
        rows_to_add.append({"case_id": link.other_case_id, "other_case_id": case_id, "kind": link.kind,
                            "value": link.value, "created_at": now})
    if rows_to_add:
        session.connection().execute(insert(CaseLink), rows_to_add)


def links_of(session: Session, case_id: int, visible: ColumnElement[bool]) -> list[tuple[CaseLink, str]]:
    """Links of a case to the other cases the reader may see (others' case numbers are not revealed)."""
    rows = session.execute(
        select(CaseLink, Case.number).join(Case, Case.id == CaseLink.other_case_id)
        .where(CaseLink.case_id == case_id, visible).order_by(CaseLink.id)
    ).all()
    return [(link, number) for link, number in rows]
