"""Why a person is in the callback queue, said in the reader's language with Shanghai times: the queue, the call in
hand and the live part; a person's words and tasks from before reasons had codes are shown as stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from fanzha.auth.models import Role
from fanzha.outreach import callbacks as cb
from fanzha.outreach import reasons as why
from fanzha.outreach.callback_models import CallbackTask
from fanzha.outreach.reasons import ReasonCode
from fanzha.storage.db import Database
from fanzha.telecom.victims import FlaggedNumber, Grade, PotentialVictim
from fanzha.web import callback_pages as cp
from fanzha.web.i18n import Translator, catalogue
from tests.web.conftest import Console, LoginAs, MakeUser
from tests.web.pages import parse

CALLER = "+85261234567"
PERSON = "+8613900000021"
# 17:30 UTC is half past one the next morning in Shanghai: the hour an agent on the night shift reads it.
CONNECTED_SINCE = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)
SHANGHAI_TIME = "2026-11-26 01:30:00"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def agent(web_user: MakeUser, web_login: LoginAs) -> Console:
    return web_login(web_user(Role.CALLBACK_AGENT, username="agent.wang"))


def open_potential_victim(db: Database) -> int:
    """A person the analysis found still on a call with CALLER, called 3 times, answered twice."""
    now = datetime.now(UTC)
    victim = PotentialVictim(
        number=PERSON, grade=Grade.HIGH, action="visit or call at once",
        reasons=[f"a call with {CALLER} is still connected (since 2026-11-25 17:30 UTC)", "3 calls",
                 "answered 2 calls"],
        structured_reasons=[why.reason(ReasonCode.STILL_CONNECTED, flagged=CALLER, since_at=CONNECTED_SINCE),
                            why.reason(ReasonCode.REPEATED_CALLS, flagged=CALLER, calls=3),
                            why.reason(ReasonCode.ANSWERED_CALLS, flagged=CALLER, answered=2)],
        calls=3, calls_from_flagged=3, calls_to_flagged=0, answered=2, talk_s=400, longest_s=300,
        first_call=now - timedelta(hours=3), last_call=CONNECTED_SINCE, still_connected=True)
    with db.transaction() as session:
        result = cb.open_from_victims(session, None, [FlaggedNumber(number=CALLER, calls_out=3, victims=[victim],
                                                                    grades={})], now=now - timedelta(minutes=2))
    return result.opened[0].id


def test_the_chinese_queue_says_the_reasons_in_chinese_with_shanghai_times(agent: Console, web_db: Database) -> None:
    task_id = open_potential_victim(web_db)
    row = parse(agent.get("/callbacks").text).by_id(f"task-{task_id}").text()
    assert f"涉诈号码{CALLER}来电：通话仍在进行（{SHANGHAI_TIME}起）；通话3次；接听2次" in row
    assert "UTC" not in row and "calls" not in row and "17:30" not in row
    live = parse(agent.get("/callbacks/queue").text).by_id(f"task-{task_id}").text()
    assert "通话3次" in live and SHANGHAI_TIME in live


def test_the_english_queue_says_them_in_english(agent: Console, web_db: Database) -> None:
    task_id = open_potential_victim(web_db)
    agent.get("/ui/lang/en?next=/callbacks")
    for path in ("/callbacks", "/callbacks/queue"):
        row = parse(agent.get(path).text).by_id(f"task-{task_id}").text()
        assert (f"called by {CALLER}: a call is still connected (since {SHANGHAI_TIME}); 3 calls; answered 2 calls"
                in row), path
        assert not CJK.search(row.split("called by")[1]), path


def test_the_call_in_hand_lists_every_reason_merged_from_each_source(agent: Console, web_db: Database) -> None:
    task_id = open_potential_victim(web_db)
    with web_db.transaction() as session:  # the live watch then warns the same person
        cb.open_task(session, phone=PERSON, grade="high", source="watcher", now=datetime.now(UTC), on_call_now=True,
                     reason=f"与涉诈号码{CALLER}的通话已通话3分钟触发闪信预警（仍在通话，通话编号c9）",
                     reasons=[why.reason(ReasonCode.WATCH_CONNECTED, flagged=CALLER, call_id="c9", on_call=True,
                                         connected_s=180)], dedupe_key="watch:c9")
    agent.post(f"/callbacks/{task_id}/claim")
    lines = [li.text() for li in parse(agent.get("/callbacks").text).by_id("current-reasons").find_all("li")]
    assert lines == [f"涉诈号码{CALLER}来电：通话仍在进行（{SHANGHAI_TIME}起）；通话3次；接听2次",
                     f"与涉诈号码{CALLER}已通话3分钟，触发闪信预警（仍在通话，通话编号c9）"]
    agent.get("/ui/lang/en?next=/callbacks")
    lines = [li.text() for li in parse(agent.get("/callbacks").text).by_id("current-reasons").find_all("li")]
    assert lines[1] == f"flash warning after 3 min on a call with {CALLER} (still on the call, call c9)"


def test_typed_reasons_and_tasks_from_before_codes_show_their_text(agent: Console, web_db: Database) -> None:
    old_id = open_potential_victim(web_db)
    with web_db.transaction() as session:
        session.execute(update(CallbackTask).where(CallbackTask.id == old_id).values(reasons=None))
        typed = cb.open_task(session, phone="+8613900000022", grade="medium", source="manual",
                             reason="市民来电求助：对方自称客服", now=datetime.now(UTC)).id
    agent.get("/ui/lang/en?next=/callbacks")
    page = parse(agent.get("/callbacks").text)
    assert f"called by {CALLER}: a call with {CALLER} is still connected" in page.by_id(f"task-{old_id}").text()
    assert "市民来电求助：对方自称客服" in page.by_id(f"task-{typed}").text()


def test_reasons_that_cannot_be_said_fall_back_to_the_stored_text() -> None:
    task = {"reason": "as stored", "reasons": [{"code": "long_call", "params": {"flagged": CALLER}}]}
    assert cp.reason_lines(Translator("zh"), task) == ["as stored"]  # longest_s is missing


def test_one_call_reads_as_one_call_in_english() -> None:
    task = {"reason": "", "reasons": [why.reason(ReasonCode.UNANSWERED, flagged=CALLER, calls=1).as_dict()]}
    assert cp.reason_lines(Translator("en"), task) == [f"called by {CALLER}: 1 call, unanswered"]
    assert cp.reason_lines(Translator("zh"), task) == [f"涉诈号码{CALLER}来电：通话1次，未接通"]


def test_every_reason_code_has_a_message_in_both_languages() -> None:
    for lang in ("zh", "en"):
        messages = catalogue(lang)
        missing = [code.value for code in ReasonCode
                   if code is not ReasonCode.TEXT and f"callback.reason.{code.value}" not in messages]
        assert not missing, lang
        assert {"callback.reason.on_call.true", "callback.reason.on_call.false", "callback.reason.called_by",
                "callback.reason.sep", "callback.reason.minutes", "callback.reason.seconds"} <= set(messages)
