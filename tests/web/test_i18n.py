"""Both catalogues carry every message the console shows, and the reader's language choice sticks."""

from __future__ import annotations

import re
from importlib import resources
from typing import get_args

from fastapi.testclient import TestClient

from fanzha.auth.models import Role
from fanzha.cases.models import CaseStatus, Channel, EntityKind
from fanzha.cases.schemas import TransferMethod
from fanzha.web.forms import FIELD_CODES, KNOWN_REFUSALS, TYPE_CODES
from fanzha.web.highlight import KINDS
from fanzha.web.i18n import catalogue
from tests.web.conftest import FileCase, LoginAs, MakeUser
from tests.web.pages import parse

WEB = resources.files("fanzha.web")
_LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")


def _sources() -> list[str]:
    texts = []
    templates = WEB.joinpath("templates")
    for entry in (*templates.iterdir(), *templates.joinpath("partials").iterdir()):
        if entry.name.endswith(".html"):
            texts.append(entry.read_text(encoding="utf-8"))
    return texts


def test_both_catalogues_have_the_same_keys_and_no_empty_message() -> None:
    zh, en = catalogue("zh"), catalogue("en")
    assert sorted(zh) == sorted(en), f"only in zh: {set(zh) - set(en)}; only in en: {set(en) - set(zh)}"
    assert not [k for k, v in {**zh, **en}.items() if not v.strip()]


def test_placeholders_match_between_languages() -> None:
    zh, en = catalogue("zh"), catalogue("en")
    for key in zh:
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def test_every_literal_key_in_the_templates_exists() -> None:
    used = {key for text in _sources() for key in _LITERAL_KEY.findall(text) if not key.endswith(".")}
    assert used, "the pattern found no keys; the test would prove nothing"
    missing = sorted(used - set(catalogue("zh")))
    assert not missing


def test_every_value_shown_through_a_key_prefix_has_a_message() -> None:
    zh = catalogue("zh")
    needed = (
        [f"status.{s.value}" for s in CaseStatus] + [f"transition.{s.value}" for s in CaseStatus]
        + [f"channel.{c.value}" for c in Channel] + [f"role.{r.value}" for r in Role]
        + [f"entity.{k.value}" for k in EntityKind] + [f"kind.{k}" for k in KINDS]
        + [f"method.{m}" for m in get_args(TransferMethod)]
        + [f"error.{code}" for _, code in TYPE_CODES] + [f"error.{code}" for code in FIELD_CODES.values()]
        + [f"error.{code}" for _, code in KNOWN_REFUSALS]
        + [f"error.{code}" for code in ("invalid", "domain", "note_required", "stale_status", "nothing_chosen",
                                        "date", "date_order")]
        + [f"suggest.{k}" for k in ("transfer", "amount", "account", "phone", "url", "fraud_type")]
        + [f"party.{p}" for p in ("victim", "reporter")]
        + [f"notice.{n}" for n in ("created", "duplicate", "facts_added", "status_changed")]
        + [f"errorpage.{kind}.{part}" for kind in ("404", "403", "csrf", "form") for part in ("title", "body")]
        + ["errorpage.other.title", "login.failed", "login.expired"]
    )
    assert not [key for key in needed if key not in zh]


def test_pages_are_chinese_by_default(web_anonymous: TestClient) -> None:
    page = web_anonymous.get("/login")
    assert '<html lang="zh-CN">' in page.text
    assert parse(page.text).find("h1").text() == "登录"


def test_language_switch_sets_a_cookie_and_returns_to_the_page(web_anonymous: TestClient) -> None:
    switched = web_anonymous.get("/ui/lang/en?next=/login")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/login"
    assert "lang=en" in switched.headers["set-cookie"]
    page = web_anonymous.get("/login")
    assert '<html lang="en">' in page.text
    assert parse(page.text).find("h1").text() == "Log in"
    web_anonymous.get("/ui/lang/zh?next=/login")
    assert parse(web_anonymous.get("/login").text).find("h1").text() == "登录"


def test_language_switch_never_redirects_off_site(web_anonymous: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = web_anonymous.get("/ui/lang/en", params={"next": target})
        assert response.headers["location"] == "/"


def test_unknown_language_is_ignored(web_anonymous: TestClient) -> None:
    response = web_anonymous.get("/ui/lang/fr?next=/login")
    assert "set-cookie" not in response.headers
    assert '<html lang="zh-CN">' in web_anonymous.get("/login").text


def test_english_console_names_fraud_types_and_statuses_in_english(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    number = web_file_case(officer, narrative="对方自称公安局民警，称其涉嫌洗钱，要求转账到安全账户。",
                           fraud_type="impersonate_authority")
    console = web_login(officer)
    console.get("/ui/lang/en?next=/cases")
    table = parse(console.get("/cases").text).find("table", cls="cases").text()
    assert number in table
    assert "Impersonating police, procuratorate, courts or government" in table
    assert "Received" in table
    assert "冒充公检法" not in table


def test_an_address_of_the_wrong_shape_is_explained_in_the_readers_language(
        web_user: MakeUser, web_login: LoginAs) -> None:
    """An old link or an edited address (an instruction id that is not a number) gets the error page in the
    reader's language, not the service's English."""
    console = web_login(web_user(Role.BANK_LIAISON))
    for lang, title, words, english in (("zh", "无法完成", "过期的链接", "the request"),
                                        ("en", "Could not complete the request", "an old link", "请求")):
        console.client.cookies.set("lang", lang)
        console.get("/bank/inbox")
        response = console.post("/bank/inbox/not-a-number/answer", {"held": "yes", "amount": "100"})
        assert response.status_code == 400
        main = parse(response.text).find("main")
        assert main.find("h1").text() == title
        assert words in main.text() and english not in main.text()


def test_a_form_with_a_nul_character_gets_the_form_page_and_files_nothing(
        web_user: MakeUser, web_login: LoginAs) -> None:
    """A crafted form (no keyboard types NUL; PostgreSQL could not store it) is refused before any service runs."""
    console = web_login(web_user(Role.DUTY_OFFICER))
    console.get("/cases/new")
    response = console.post("/cases/new", {"channel": "110", "victim_name": "王\x00某", "narrative": "被骗。"})
    assert response.status_code == 400
    main = parse(response.text).find("main")
    assert main.find("h1").text() == "无法完成" and "过期的链接" in main.text()
    assert "SH" not in parse(console.get("/cases").text).find("main").text()  # no case was filed
