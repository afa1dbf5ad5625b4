"""Expiry alarms: each term of an active hold alarms once before it ends, to the readers who must decide."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from tests.conftest import MakePrincipal, Principal
from tests.helpers import report

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.banking import alarms, instructions
from fanzha.banking.first_move import rules_for
from fanzha.banking.keys import SigningKey, kid_for
from fanzha.banking.lifecycle import HoldKind, HoldRules
from fanzha.banking.models import BankInstruction, OutboxMessage
from fanzha.cases.models import Case
from fanzha.config import Settings
from fanzha.storage.db import Database

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def center_key() -> SigningKey:
    key = Ed25519PrivateKey.generate()
    return SigningKey(org="center", kid=kid_for(key.public_key()), private_key=key)
HAND = instructions.ApprovalPolicy(hand_answered_banks=frozenset({"ABC", "CCB"}))


def _active_hold(db: Database, officer: Principal, liaison: Principal, kind: HoldKind, bank: str,
                 signer: SigningKey) -> tuple[int, str]:
    """A hold the bank's liaison answered by hand at T0 (stop-payment: 48 h; freeze: 180 days)."""
    number = officer.client.post("/api/v1/reports", json=report(transfers=[])).json()["number"]
    with db.transaction() as session:
        case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
        row = instructions.issue_hold(session, officer.actor, case_id=case_id, case_number=number, kind=kind,
                                      bank_code=bank, account="6228480012345678901", amount=Decimal("1000"),
                                      currency="CNY", reason="涉案账户", now=T0, signer=signer, policy=HAND)
        instructions.answer_by_hand(session, liaison.actor, row, case_number=number, held=True,
                                    amount=Decimal("1000"), expires_at=None, reason="", now=T0)
        return row.id, number


def _raise(db: Database, at: datetime) -> list[alarms.Alarm]:
    with db.transaction() as session:
        return alarms.raise_due(session, at)


def test_a_stop_payment_alarms_once_per_term_and_again_after_renewal(
        db: Database, principal: MakePrincipal, center_key: SigningKey) -> None:
    officer, liaison = principal(Role.DUTY_OFFICER), principal(Role.BANK_LIAISON, org="bank:ABC")
    hold_id, number = _active_hold(db, officer, liaison, HoldKind.STOP_PAYMENT, "ABC", center_key)
    assert _raise(db, T0 + timedelta(hours=41)) == []  # 7 h left: outside the 6 h window
    (alarm,) = _raise(db, T0 + timedelta(hours=43))
    assert (alarm.instruction_id, alarm.case_number, alarm.renewable) == (hold_id, number, True)
    assert alarm.expires_at == T0 + timedelta(hours=48)
    assert _raise(db, T0 + timedelta(hours=44)) == []  # raised once, not every sweep
    assert _raise(db, T0 + timedelta(hours=49)) == []  # expired holds do not alarm
    with db.transaction() as session:
        row = session.get(BankInstruction, hold_id)
        assert row is not None
        instructions.request_renewal(session, officer.actor, row, case_number=number,
                                     now=T0 + timedelta(hours=44), signer=center_key, by_hand=True)
        instructions.answer_by_hand(session, liaison.actor, row, case_number=number, held=True, amount=None,
                                    expires_at=None, reason="", now=T0 + timedelta(hours=44))
    (again,) = _raise(db, T0 + timedelta(hours=91))  # the new term: 96 h from T0
    assert again.expires_at == T0 + timedelta(hours=96) and again.renewals == 1
    with db.transaction() as session:
        raised = session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.object_id == number, AuditEntry.action == "bank.stop_payment_expiry_alarm")).scalar_one()
    assert raised == 2


def test_a_stop_payment_at_its_renewal_limit_says_freeze_instead(
        db: Database, principal: MakePrincipal, center_key: SigningKey) -> None:
    officer, liaison = principal(Role.DUTY_OFFICER), principal(Role.BANK_LIAISON, org="bank:ABC")
    hold_id, _ = _active_hold(db, officer, liaison, HoldKind.STOP_PAYMENT, "ABC", center_key)
    with db.transaction() as session:
        row = session.get(BankInstruction, hold_id)
        assert row is not None
        row.renewals = 2
    (alarm,) = _raise(db, T0 + timedelta(hours=47))
    assert alarm.renewable is False


def test_a_freeze_alarms_fifteen_days_ahead_and_the_window_is_configurable(
        db: Database, principal: MakePrincipal, center_key: SigningKey) -> None:
    officer, liaison = principal(Role.DUTY_OFFICER), principal(Role.BANK_LIAISON, org="bank:ABC")
    hold_id, _ = _active_hold(db, officer, liaison, HoldKind.FREEZE, "ABC", center_key)
    assert _raise(db, T0 + timedelta(days=164)) == []
    with db.transaction() as session:
        wide = alarms.raise_due(session, T0 + timedelta(days=150), HoldRules(freeze_alarm_before=timedelta(days=31)))
    assert [a.instruction_id for a in wide] == [hold_id]


def test_each_reader_sees_only_the_alarms_of_what_they_may_see(
        db: Database, principal: MakePrincipal, center_key: SigningKey) -> None:
    officer = principal(Role.DUTY_OFFICER)
    abc, ccb = principal(Role.BANK_LIAISON, org="bank:ABC"), principal(Role.BANK_LIAISON, org="bank:CCB")
    abc_hold, _ = _active_hold(db, officer, abc, HoldKind.STOP_PAYMENT, "ABC", center_key)
    ccb_hold, _ = _active_hold(db, officer, ccb, HoldKind.STOP_PAYMENT, "CCB", center_key)
    at = T0 + timedelta(hours=45)
    with db.read() as session:
        seen = {who: {a.instruction_id for a in alarms.open_alarms(session, p.actor, at)}
                for who, p in (("officer", officer), ("abc", abc), ("ccb", ccb))}
        agent = alarms.open_alarms(session, principal(Role.CALLBACK_AGENT).actor, at)
    assert {abc_hold, ccb_hold} <= seen["officer"]
    assert abc_hold in seen["abc"] and ccb_hold not in seen["abc"]
    assert ccb_hold in seen["ccb"] and abc_hold not in seen["ccb"]
    assert agent == []


def test_alarms_reach_the_api_and_the_console_badge(
        db: Database, principal: MakePrincipal, center_key: SigningKey) -> None:
    officer, liaison = principal(Role.DUTY_OFFICER), principal(Role.BANK_LIAISON, org="bank:ABC")
    # Answered now, so the real clock of the endpoints is inside a 6-hour window only with a 48-hour one.
    number = officer.client.post("/api/v1/reports", json=report(transfers=[])).json()["number"]
    now = datetime.now(UTC)
    with db.transaction() as session:
        case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
        row = instructions.issue_hold(session, officer.actor, case_id=case_id, case_number=number,
                                      kind=HoldKind.STOP_PAYMENT, bank_code="ABC", account="6228480012345678902",
                                      amount=Decimal("500"), currency="CNY", reason="涉案账户", now=now,
                                      signer=center_key, policy=HAND)
        instructions.answer_by_hand(session, liaison.actor, row, case_number=number, held=True,
                                    amount=Decimal("500"), expires_at=now + timedelta(hours=2), reason="", now=now)
    items = officer.client.get("/api/v1/alarms").json()["items"]
    mine = [i for i in items if i["case"] == number]
    assert mine and mine[0]["held_amount"] == "500.00" and mine[0]["renewable"] is True
    assert principal(Role.CALLBACK_AGENT).client.get("/api/v1/alarms").status_code == 403
    badge = officer.client.get("/alarms/badge")
    assert badge.status_code == 200 and "项即将到期" in badge.text
    page = officer.client.get("/alarms")
    assert number in page.text and "续期" in page.text
    assert liaison.client.get("/alarms/badge").text.strip() != ""
    assert principal(Role.CALLBACK_AGENT).client.get("/alarms/badge").text.strip() == ""


def test_configured_terms_reach_the_bank_and_the_hold_clock(
        db: Database, principal: MakePrincipal, center_key: SigningKey) -> None:
    rules = rules_for(Settings(stop_payment_hours=24, stop_payment_alarm_hours=2, freeze_days=90))
    assert (rules.stop_payment_hours, rules.freeze_days) == (24, 90)
    assert rules.stop_payment_alarm_before == timedelta(hours=2)
    policy = instructions.ApprovalPolicy(hand_answered_banks=frozenset({"ABC"}), rules=rules)
    officer, liaison = principal(Role.DUTY_OFFICER), principal(Role.BANK_LIAISON, org="bank:ABC")
    number = officer.client.post("/api/v1/reports", json=report(transfers=[])).json()["number"]
    with db.transaction() as session:
        case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
        row = instructions.issue_hold(session, officer.actor, case_id=case_id, case_number=number,
                                      kind=HoldKind.STOP_PAYMENT, bank_code="ABC", account="6228480012345678903",
                                      amount=Decimal("100"), currency="CNY", reason="涉案账户", now=T0,
                                      signer=center_key, policy=policy)
        (sent,) = session.execute(select(OutboxMessage).where(OutboxMessage.instruction_id == row.id)).scalars()
        assert json.loads(sent.envelope)["body"]["hold_hours"] == 24  # what the bank is asked for
        instructions.answer_by_hand(session, liaison.actor, row, case_number=number, held=True,
                                    amount=Decimal("100"), expires_at=None, reason="", now=T0, rules=rules)
        assert row.expires_at == T0 + timedelta(hours=24)
    with db.transaction() as session:
        assert alarms.raise_due(session, T0 + timedelta(hours=21), rules) == []
        assert [a.case_number for a in alarms.raise_due(session, T0 + timedelta(hours=23), rules)] == [number]


def test_every_console_page_of_an_alarmed_reader_polls_the_badge(principal: MakePrincipal) -> None:
    for role, polls in ((Role.DUTY_OFFICER, True), (Role.BANK_LIAISON, True), (Role.CALLBACK_AGENT, False)):
        page = principal(role).client.get("/callbacks" if role is Role.CALLBACK_AGENT else "/alarms")
        assert page.status_code == 200
        assert ('hx-get="/alarms/badge"' in page.text) is polls, role
