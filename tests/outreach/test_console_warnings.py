"""The duty officer's flash-warning view tells an unconfirmed warning (written to the SMSC by a sender that stopped
before the answer: never sent again) from one that was not delivered, with what it means and what to do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fanzha.auth.models import Role
from fanzha.outreach import warnings as flash_warnings
from fanzha.outreach.models import WarningStatus
from fanzha.outreach.warnings import FlashDispatcher
from fanzha.storage.db import Database
from tests.conftest import MakePrincipal
from tests.web.pages import Element, parse


class NoSender:
    """The dispatcher's sender is not used by claim and recover."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the sender was used: {name}")


def _record(db: Database, call_id: str, number: str, now: datetime) -> int:
    with db.transaction() as session:
        warning_id = flash_warnings.record(session, call_id=call_id, number=number, flagged="+8617000000001",
                                           fraud_type="impersonate_authority", text="【反诈中心】警方提示", now=now,
                                           sendable=True, callback_task_id=None)
    assert warning_id is not None
    return warning_id


def _view(client: Any) -> Element:
    response = client.get("/callbacks/queue")
    assert response.status_code == 200, response.text
    return parse(response.text)


def test_an_unconfirmed_warning_stands_out_and_is_not_counted_as_undelivered(db: Database,
                                                                            principal: MakePrincipal) -> None:
    now = datetime.now(UTC)
    lost = _record(db, "u1", "+8613800000001", now)
    undelivered = _record(db, "u2", "+8613800000002", now)
    duty = principal(Role.DUTY_OFFICER).client
    page = _view(duty)
    assert page.by_id("warnings-unconfirmed").text() == "0" and not page.find_all(id="warnings-unconfirmed-alert")
    # A sender claims the warning, writes it and stops before the SMSC answers; the next one to start finds it.
    stopped = FlashDispatcher(db, NoSender(), lease_s=30, clock=lambda: now)
    assert stopped.claim([lost]) == {lost}
    later = FlashDispatcher(db, NoSender(), lease_s=30, clock=lambda: now + timedelta(minutes=1))
    assert later.recover() == 1
    with db.transaction() as session:  # the other one reached the SMSC and came back undelivered
        warning = flash_warnings.get_warning(session, undelivered)
        warning.status = WarningStatus.UNDELIVERED.value
        warning.delivery_status = "UNDELIV"
    page = _view(duty)
    assert page.by_id("warnings-unconfirmed").find("span", cls="badge").text() == "1"
    assert page.by_id("warnings-failed").text() == "1"  # the undelivered one only
    alert = page.by_id("warnings-unconfirmed-alert").text()
    assert "1条闪信发送未确认" in alert and "不会重发" in alert and "回访" in alert
    row = page.by_id(f"warning-{lost}")
    assert row.find("span", cls="badge").text() == "发送未确认" and "不会重发" in row.text()
    other = page.by_id(f"warning-{undelivered}")
    assert "未送达" in other.text() and not other.find_all("span", cls="badge")
