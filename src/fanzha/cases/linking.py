"""Case linking (串并案): cases that share a phone, account, URL or device are linked at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, insert, select, tuple_
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


# One expanding IN over (kind, value) pairs, built once: a cached statement whatever the entity count.
_FIND = (
    select(CaseEntity.case_id, Case.number, CaseEntity.kind, CaseEntity.value)
    .join(Case, Case.id == CaseEntity.case_id)
    .where(tuple_(CaseEntity.kind, CaseEntity.value).in_(bindparam("pairs", expanding=True)),
           CaseEntity.case_id != bindparam("case_id"))
    .order_by(CaseEntity.case_id.desc())
    .limit(bindparam("limit"))
)


def find_links(session: Session, case_id: int, entities: list[tuple[str, str]]) -> list[Link]:
    """Other cases holding any of these (kind, value) pairs; one indexed query."""
    if not entities:
        return []
    rows = session.connection().execute(_FIND, {
        "pairs": entities, "case_id": case_id, "limit": MAX_LINKS_PER_ENTITY * len(entities),
    }).all()
    per_entity: dict[tuple[str, str], int] = {}
    links: list[Link] = []
    for other_id, number, kind, value in rows:
        key = (kind, value)
        if per_entity.get(key, 0) >= MAX_LINKS_PER_ENTITY:
            continue
        per_entity[key] = per_entity.get(key, 0) + 1
        links.append(Link(other_id, number, kind, value))
    return links


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


def links_of(session: Session, case_id: int) -> list[tuple[CaseLink, str]]:
    rows = session.execute(
        select(CaseLink, Case.number).join(Case, Case.id == CaseLink.other_case_id)
        .where(CaseLink.case_id == case_id).order_by(CaseLink.id)
    ).all()
    return [(link, number) for link, number in rows]
