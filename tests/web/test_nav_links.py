"""The console's links lead only where the reader may go: every link on every page a person can open answers them
with the page, not a 403 or 404 (callback agents, who may not read cases, see no case list), and the duty officer
still has the case list in the navigation."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

import pytest

from fanzha.auth.models import Role
from fanzha.outreach import callbacks as cb
from fanzha.storage.db import Database
from tests.web.conftest import Console, FileCase, LoginAs, MakeUser
from tests.web.pages import Element, parse

R = Role
# Where each role starts: the first page the console has for it.
START = {R.CALLBACK_AGENT: "/callbacks", R.DUTY_OFFICER: "/cases", R.SUPERVISOR: "/cases",
         R.HOTLINE_OPERATOR: "/cases", R.BANK_LIAISON: "/bank/inbox", R.CARRIER_LIAISON: "/carrier/inbox"}
MAX_PAGES = 40


def links(page: Element) -> list[str]:
    """The site's own pages a person can follow from this one (the language switch only sets a cookie)."""
    out = []
    for anchor in page.find_all("a"):
        href = anchor.attrs.get("href", "")
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("/ui/lang/"):
            continue
        out.append(href)
    return out


def nav_links(page: Element) -> list[str]:
    return [a.attrs["href"] for a in page.find("nav", cls="mainnav").find_all("a")]


def crawl(console: Console, start: str) -> dict[str, list[str]]:
    """Open ``start`` and every page reachable by links from it; the links of each page, by page."""
    seen: dict[str, list[str]] = {}
    todo = deque([start])
    while todo and len(seen) < MAX_PAGES:
        url = todo.popleft()
        if url in seen:
            continue
        response = console.get(url)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        seen[url] = links(parse(response.text))
        todo.extend(link for link in seen[url] if link not in seen)
    return seen


def dead_links(console: Console, pages: dict[str, list[str]]) -> list[str]:
    """Links whose page does not open for this reader."""
    found = []
    for page, targets in pages.items():
        for target in targets:
            status = console.get(target).status_code
            if status != 200:
                found.append(f"{page} -> {target}: {status}")
    return found


def _work(web_db: Database, agent: Console) -> None:
    """Tasks in the queue and one in the agent's hand, so the page shows all it can."""
    now = datetime.now(UTC)
    with web_db.transaction() as session:
        grades: tuple[Literal["high", "medium", "low"], ...] = ("high", "medium", "low")
        for i, grade in enumerate(grades):
            cb.open_task(session, phone=f"+861390000{i:04d}", grade=grade, source="watcher",
                         reason="on a call with +85261234567", now=now, on_call_now=grade == "high",
                         fraud_type="impersonate_authority", dedupe_key=f"nav-{i}")
    assert agent.get("/callbacks").status_code == 200
    claimed = agent.post("/callbacks/claim-next", follow_redirects=False)
    assert claimed.status_code == 303, claimed.text


def test_a_callback_agent_sees_no_link_to_a_page_they_cannot_open(web_user: MakeUser, web_login: LoginAs,
                                                                   web_db: Database) -> None:
    agent = web_login(web_user(R.CALLBACK_AGENT))
    _work(web_db, agent)
    assert agent.get("/cases").status_code == 403  # the page the navigation used to offer them
    queue = parse(agent.get("/callbacks").text)
    assert "/cases" not in nav_links(queue) and "/callbacks" in nav_links(queue)
    assert queue.find("a", cls="brand").attrs["href"] == "/callbacks"
    pages = crawl(agent, "/callbacks")
    assert not [link for targets in pages.values() for link in targets if urlsplit(link).path == "/cases"]
    assert dead_links(agent, pages) == []


def test_the_duty_officer_still_has_the_case_list(web_user: MakeUser, web_login: LoginAs,
                                                  web_file_case: FileCase) -> None:
    officer = web_user(R.DUTY_OFFICER)
    number = web_file_case(officer, suspect_phones=["+8613812345678"])
    duty = web_login(officer)
    page = parse(duty.get("/cases").text)
    nav = nav_links(page)
    assert "/cases" in nav and "/callbacks" in nav and "/cases/new" in nav
    assert page.find("a", cls="brand").attrs["href"] == "/cases"
    pages = crawl(duty, "/cases")
    assert f"/cases/{number}" in pages  # the crawl reached the case through the list
    assert dead_links(duty, pages) == []


@pytest.mark.parametrize("role", [R.SUPERVISOR, R.HOTLINE_OPERATOR, R.BANK_LIAISON, R.CARRIER_LIAISON],
                         ids=lambda r: r.value)
def test_no_role_is_shown_a_link_it_cannot_follow(role: Role, web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(role))
    pages = crawl(console, START[role])
    assert dead_links(console, pages) == []
    assert "/cases" in nav_links(parse(console.get(START[role]).text))  # each of them reads cases


@pytest.mark.parametrize(("role", "start"), [(R.AUDITOR, "/audit"), (R.ADMIN, "/accounts")],
                         ids=lambda v: v.value if isinstance(v, Role) else v)
def test_roles_that_read_no_cases_land_on_their_own_page_and_are_offered_no_case_list(
        role: Role, start: str, web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(role))
    assert console.get("/").headers["location"] == start
    assert console.get("/cases").status_code == 403
    page = parse(console.get(start).text)
    assert nav_links(page) == [start] and page.find("a", cls="brand").attrs["href"] == start
    pages = crawl(console, start)
    assert dead_links(console, pages) == []
