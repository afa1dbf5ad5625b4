"""A bank liaison's inbox in the console: a hand-typed answer that is not an amount is refused on the page, in the
liaison's language, and leaves the hold waiting (never a server error)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fanzha.auth import service as auth_service
from fanzha.auth.models import Role
from fanzha.banking.first_move import build_first_move
from fanzha.banking.models import BankInstruction
from fanzha.banking.runtime import ensure_auto_account
from fanzha.cases import intake
from fanzha.cases.schemas import ReportIn
from fanzha.config import Settings
from fanzha.storage.db import Database
from tests.helpers import report
from tests.web.conftest import LoginAs, MakeUser
from tests.web.pages import parse


@pytest.fixture
def waiting_stop(web_db: Database, web_settings: Settings, web_user: MakeUser) -> int:
    """A 70,000 CNY stop-payment at ABC, a bank answered by hand: it waits in the ABC liaison's inbox."""
    hand = web_settings.model_copy(update={"hand_answered_banks": ("ABC",)})
    with web_db.transaction() as session:
        auto = auth_service.actor_for(ensure_auto_account(session))
    officer = web_user(Role.DUTY_OFFICER)
    intake.create_case(web_db, hand, officer.actor, ReportIn.model_validate(report()), build_first_move(hand, auto))
    with web_db.read() as session:
        return session.execute(select(BankInstruction.id).where(BankInstruction.kind == "stop_payment")).scalar_one()


def _status(db: Database, instruction_id: int) -> str:
    with db.read() as session:
        row = session.get(BankInstruction, instruction_id)
        assert row is not None
        return row.status


@pytest.mark.parametrize("typed", ["NaN", "sNaN", "Infinity", "1.005", "1e30", "七万"])
def test_an_answer_that_is_not_an_amount_is_refused_on_the_page(
        typed: str, waiting_stop: int, web_user: MakeUser, web_login: LoginAs, web_db: Database) -> None:
    console = web_login(web_user(Role.BANK_LIAISON, "bank:ABC"))
    console.get("/bank/inbox")
    response = console.post(f"/bank/inbox/{waiting_stop}/answer", {"held": "yes", "amount": typed})
    assert response.status_code == 422
    assert parse(response.text).find(role="alert").text() == (
        "金额格式不正确：请填写数字，小数位数不超过该币种的最小单位。")
    assert _status(web_db, waiting_stop) == "sent"  # still waiting for a real answer


def test_the_refusal_is_in_english_for_an_english_reader(
        waiting_stop: int, web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.BANK_LIAISON, "bank:ABC"))
    console.client.cookies.set("lang", "en")
    console.get("/bank/inbox")
    response = console.post(f"/bank/inbox/{waiting_stop}/answer", {"held": "yes", "amount": "70000.001"})
    assert response.status_code == 422
    assert "at most" in parse(response.text).find(role="alert").text()


def test_a_whole_amount_with_separators_is_recorded(
        waiting_stop: int, web_user: MakeUser, web_login: LoginAs, web_db: Database) -> None:
    console = web_login(web_user(Role.BANK_LIAISON, "bank:ABC"))
    console.get("/bank/inbox")
    response = console.post(f"/bank/inbox/{waiting_stop}/answer", {"held": "yes", "amount": "70,000.00"})
    assert response.status_code == 303
    assert _status(web_db, waiting_stop) == "active"
