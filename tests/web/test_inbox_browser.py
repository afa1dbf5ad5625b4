"""The liaisons' inboxes and a case's instructions at the console's 1366x768: every answer button is on screen
without scrolling sideways, and a case's instruction table stays inside its card."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from fanzha.auth import service as auth_service
from fanzha.auth.models import Role
from fanzha.banking.first_move import build_first_move, center_signer
from fanzha.banking.runtime import ensure_auto_account
from fanzha.cases import intake
from fanzha.cases.models import Case
from fanzha.cases.schemas import ReportIn
from fanzha.config import Settings
from fanzha.storage.db import Database
from fanzha.telecom.carriers import actions
from tests.helpers import report
from tests.web.chromium import VIEWPORT
from tests.web.live_server import Live, Person, StartLive, log_in

pytestmark = pytest.mark.browser


def _instructions(db: Database, settings: Settings) -> None:
    """A stop-payment waiting in ABC's liaison inbox and a shut-down waiting in China Mobile's."""
    hand = settings.model_copy(update={"hand_answered_banks": ("ABC",)})
    with db.transaction() as session:
        auto = auth_service.actor_for(ensure_auto_account(session))
    filed = intake.create_case(db, hand, auto, ReportIn.model_validate(report()), build_first_move(hand, auto))
    number = filed.case.number
    with db.transaction() as session:
        case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
        actions.request_actions(session, auto, case_id=case_id, case_number=number, numbers=["+8613812345678"],
                                action="auto", intercept_at=None, reason="涉诈号码，请停机", now=datetime.now(UTC),
                                signer=center_signer(settings),
                                policy=actions.CarrierPolicy(hand_answered=frozenset({"CMCC"})))


@pytest.fixture(scope="module")
def live(live_server: StartLive) -> Live:
    return live_server(Person("duty", Role.DUTY_OFFICER, "值班民警 王警官"),
                       Person("abc", Role.BANK_LIAISON, "农行驻点 张", org="bank:ABC"),
                       Person("cmcc", Role.CARRIER_LIAISON, "移动驻点 赵", org="carrier:CMCC"),
                       seed=_instructions)


def _on_screen(page: Page, button_name: str) -> None:
    button = page.get_by_role("button", name=button_name).first
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= VIEWPORT["width"], f"{button_name} is off screen: {box}"
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]


def test_the_bank_liaison_sees_every_answer_button(page: Page) -> None:
    log_in(page, "abc", "/bank/inbox")
    for name in ("收到", "已止付", "拒绝"):
        _on_screen(page, name)


def test_the_carrier_liaison_sees_every_answer_button(page: Page) -> None:
    log_in(page, "cmcc", "/carrier/inbox")
    for name in ("已执行", "非本网号码", "拒绝"):
        _on_screen(page, name)


def test_a_cases_instructions_stay_inside_their_card(page: Page) -> None:
    log_in(page, "duty", "/cases")
    page.locator("a.case-number").first.click()
    card = page.locator("#instructions")
    expect(card.locator("table.instructions")).to_be_visible()
    # Anything wider than the column scrolls inside the card: just right of the card is the gap between the
    # columns, never a cell of the table drawn over it.
    beside = card.evaluate("""c => {
        const box = c.getBoundingClientRect(), row = c.querySelector('tbody tr').getBoundingClientRect();
        const hit = document.elementFromPoint(box.right + 4, row.top + row.height / 2);
        return hit ? hit.tagName : '';
    }""")
    assert beside not in ("TD", "TR", "TABLE", "SPAN", "BR"), beside
