"""Reference organisations: every bank of the BIN table, the 11 stationed banks, carriers, hotlines."""

from __future__ import annotations

from sqlalchemy import func, select

from fanzha.banking.bins import DEFAULT_STATIONED_BANKS, bank_names
from fanzha.orgs.models import Organisation, OrgKind
from fanzha.orgs.service import seed_reference_orgs
from fanzha.storage.db import Database


def test_every_bank_and_carrier_is_present(db: Database) -> None:
    with db.transaction() as session:
        banks = session.execute(select(Organisation).where(Organisation.kind == OrgKind.BANK.value)).scalars().all()
        carriers = {o.short_code for o in session.execute(
            select(Organisation).where(Organisation.kind == OrgKind.CARRIER.value)).scalars()}
        hotlines = {o.code for o in session.execute(
            select(Organisation).where(Organisation.kind == OrgKind.HOTLINE.value)).scalars()}
    assert len(banks) == len(bank_names()) == 275  # name.csv: 275 banks (its 298 lines include blanks)
    assert {b.short_code for b in banks if b.stationed} == set(DEFAULT_STATIONED_BANKS)
    assert len(DEFAULT_STATIONED_BANKS) == 11
    assert {"CMCC", "CUCC", "CTCC"} <= carriers
    assert {"hotline:110", "hotline:12345"} <= hotlines


def test_seeding_twice_adds_nothing(db: Database) -> None:
    with db.transaction() as session:
        before = session.execute(select(func.count()).select_from(Organisation)).scalar_one()
        assert seed_reference_orgs(session, DEFAULT_STATIONED_BANKS) == 0
        after = session.execute(select(func.count()).select_from(Organisation)).scalar_one()
    assert before == after
