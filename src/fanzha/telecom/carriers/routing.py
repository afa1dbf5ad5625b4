"""Which carrier to instruct about a number: the allocation data first, corrected by what carriers answer.

By default a mainland mobile number's carrier is the one its number block was allocated to, from the
``phonenumbers`` carrier data (138... China Mobile, 186... China Unicom, 189... China Telecom, 192... China
Broadnet). Numbers move between carriers (携号转网), so a carrier may answer "not ours, it is CUCC's": that
answer is remembered here (``carrier_routes``) and wins over the allocation data from then on, for every
later instruction about the same number.

Virtual operators (虚拟运营商: JD, Alibaba, Xiaomi...) resell numbers from the 170/171/162/165/167 blocks
on a host carrier's network. Their numbers are blocked (封堵) by the host network, which the block segment
names (1703/1705/1706 and 165 ride on China Mobile, 1704/1707-1709, 171 and 167 on China Unicom,
1700-1702 and 162 on China Telecom).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import phonenumbers
from phonenumbers import carrier as pn_carrier
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.orgs.service import CARRIER_BY_LIBRARY_NAME, CARRIERS, VIRTUAL_OPERATORS
from fanzha.telecom.carriers.models import CarrierRoute

BASE_CARRIERS: Final = tuple(spec.short_code or "" for spec in CARRIERS)  # CMCC, CUCC, CTCC, CBN
# The carriers with staff in the room: where an other-network number is intercepted unless the officer says.
INTERCEPT_CARRIERS: Final = tuple(spec.short_code or "" for spec in CARRIERS if spec.stationed)
VIRTUAL_OPERATOR_CODES: Final = tuple(spec.short_code or "" for spec in VIRTUAL_OPERATORS)
# National-number prefix of a virtual-operator block -> the host network.
MVNO_BLOCKS: Final[dict[str, str]] = {
    "1700": "CTCC", "1701": "CTCC", "1702": "CTCC", "162": "CTCC",
    "1703": "CMCC", "1705": "CMCC", "1706": "CMCC", "165": "CMCC",
    "1704": "CUCC", "1707": "CUCC", "1708": "CUCC", "1709": "CUCC", "171": "CUCC", "167": "CUCC",
}

RouteSource = Literal["learned", "library", "none"]


@dataclass(frozen=True, slots=True)
class Route:
    number: str
    carrier: str | None  # the network that must act; None: no domestic carrier is known for the number
    virtual: bool  # a virtual operator's number (blocked on the host network, not shut down)
    virtual_operator: str | None
    source: RouteSource

    def to_json(self) -> dict[str, object]:
        return {"number": self.number, "carrier": self.carrier, "virtual": self.virtual,
                "virtual_operator": self.virtual_operator, "source": self.source}


def mvno_host(national: str) -> str | None:
    for length in (4, 3):
        host = MVNO_BLOCKS.get(national[:length])
        if host is not None:
            return host
    return None


def library_route(number: str) -> Route:
    """The allocation data's answer for an E.164 number (no database)."""
    none = Route(number, None, False, None, "none")
    if not number.startswith("+86"):
        return none
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return none
    national = str(parsed.national_number)
    host = mvno_host(national) if len(national) == 11 and national.startswith("1") else None
    carrier = CARRIER_BY_LIBRARY_NAME.get(pn_carrier.name_for_number(parsed, "en")) or host
    if carrier is None:
        return none
    return Route(number, carrier, host is not None, None, "library")


def learned_route(session: Session, number: str) -> Route | None:
    row = session.execute(select(CarrierRoute).where(CarrierRoute.number == number)).scalar_one_or_none()
    if row is None:
        return None
    return Route(number, row.carrier, row.virtual_operator is not None, row.virtual_operator, "learned")


def route(session: Session, number: str) -> Route:
    """What a carrier last told us about the number, else the allocation data."""
    return learned_route(session, number) or library_route(number)


def learn(session: Session, actor: Actor | None, *, number: str, carrier: str, virtual_operator: str | None,
          source: Literal["answer", "hand"], instruction_id: int | None, case_number: str, now: datetime) -> bool:
    """Remember who holds ``number`` now; True (and an audit entry) if that changes what we believed."""
    believed = route(session, number)
    values = {"number": number, "carrier": carrier, "virtual_operator": virtual_operator, "source": source,
              "instruction_id": instruction_id, "updated_at": now}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(CarrierRoute).values(values)
    # Two answers about one number may land at once (intercepts at several carriers): the later one wins.
    session.execute(statement.on_conflict_do_update(
        index_elements=["number"], set_={k: v for k, v in values.items() if k != "number"}))
    changed = (believed.carrier, believed.virtual_operator) != (carrier, virtual_operator)
    if changed:
        audit.append(session, actor, "carrier.route_corrected", "case", case_number, {
            "number": number, "was": {"carrier": believed.carrier, "source": believed.source,
                                      "virtual_operator": believed.virtual_operator},
            "now": {"carrier": carrier, "virtual_operator": virtual_operator}, "instruction": instruction_id,
            "by": source,
        }, at=now)
    return changed
