"""Filing a report from the console: the form, its errors, its CSRF guard and the extraction preview."""

from __future__ import annotations

from typing import Any

from fanzha.auth.models import Role
from tests.helpers import VALID_ID
from tests.web.conftest import ABC_CARD, FENG_NARRATIVE, Console, LoginAs, MakeUser
from tests.web.pages import field_error, parse, value_of


def _report(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "channel": "110", "victim_name": "冯某", "victim_phone": "13812345678", "victim_id_number": VALID_ID,
        "narrative": FENG_NARRATIVE, "fraud_type": "",
        "t_to_account": ABC_CARD, "t_to_bank": "", "t_to_name": "", "t_amount": "70,000", "t_currency": "CNY",
        "t_occurred_at": "", "t_method": "mobile_banking", "suspect_phones": "+852 6123 4567",
    }
    form.update(overrides)
    return form


def _officer(web_user: MakeUser, web_login: LoginAs) -> Console:
    console = web_login(web_user(Role.DUTY_OFFICER))
    console.get("/cases/new")
    return console


def test_intake_form_offers_every_fraud_type_and_auto(web_user: MakeUser, web_login: LoginAs) -> None:
    page = parse(_officer(web_user, web_login).get("/cases/new").text)
    options = page.find("select", name="fraud_type").find_all("option")
    assert len(options) == 14
    assert options[0].attrs["value"] == "" and options[0].text() == "自动识别"
    assert "冒充公检法及政府机关" in [o.text() for o in options]


def test_hotline_operator_files_on_their_own_channel_by_default(web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.HOTLINE_OPERATOR, org="hotline:12345"))
    assert value_of(parse(console.get("/cases/new").text), "channel") == "12345"


def test_a_report_becomes_a_case_and_the_officer_lands_on_it(web_user: MakeUser, web_login: LoginAs) -> None:
    console = _officer(web_user, web_login)
    response = console.post("/cases/new", _report())
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/cases/SH")
    page = parse(console.get(location).text)
    assert page.find("h1", cls="case-number").text() == location.split("/")[2].split("?")[0]
    assert "报案已登记" in page.find("p", cls="alert").text()
    transfers = page.find("table", cls="transfers").text()
    assert ABC_CARD in transfers and "70,000.00 CNY" in transfers and "中国农业银行" in transfers
    assert "+85261234567" in page.find("ul", cls="entities").text()


def test_amounts_may_be_typed_the_way_they_are_said(web_user: MakeUser, web_login: LoginAs) -> None:
    console = _officer(web_user, web_login)
    response = console.post("/cases/new", _report(t_amount="三万五"))
    assert response.status_code == 303
    page = parse(console.get(response.headers["location"]).text)
    assert "35,000.00 CNY" in page.find("table", cls="transfers").text()


def test_errors_keep_everything_typed_and_sit_next_to_their_fields(web_user: MakeUser, web_login: LoginAs) -> None:
    console = _officer(web_user, web_login)
    sent = _report(channel="", victim_name="", victim_id_number="110105194912310021", t_amount="7O000",
                   suspect_phones="+85261234567\n12x", reporter_phone="13900001111")
    response = console.post("/cases/new", sent)
    assert response.status_code == 422
    page = parse(response.text)
    assert field_error(page, "channel") == "请从列表中选择"
    assert field_error(page, "victim.name") == "必填"
    assert field_error(page, "victim.id_number").startswith("身份证号无效")
    assert field_error(page, "transfers.0.amount").startswith("请填写数字金额")
    assert field_error(page, "suspect_phones").startswith("电话号码无效")
    assert "12x" in field_error(page, "suspect_phones")
    assert field_error(page, "reporter.name") == "必填"  # a reporter's phone without a name
    # Nothing typed is lost.
    assert value_of(page, "narrative") == FENG_NARRATIVE
    assert value_of(page, "t_amount") == "7O000"
    assert value_of(page, "t_to_account") == ABC_CARD
    assert value_of(page, "t_method") == "mobile_banking"
    assert value_of(page, "suspect_phones") == "+85261234567\n12x"
    assert value_of(page, "victim_id_number") == "110105194912310021"
    assert value_of(page, "reporter_phone") == "13900001111"
    assert page.find("textarea", name="suspect_phones").attrs.get("aria-invalid") == "true"
    # The preview is there at once for the narrative that came back.
    assert page.by_id("preview").find_all("mark", cls="hl-account")
    assert console.get("/cases").text.count('class="case-number"') == 0


def test_a_service_refusal_is_shown_by_the_transfer_row_it_concerns(web_user: MakeUser, web_login: LoginAs) -> None:
    console = _officer(web_user, web_login)
    response = console.post("/cases/new", _report(
        t_to_account=[ABC_CARD, "6222020200112345678"], t_to_bank=["", "火星银行"], t_to_name=["", ""],
        t_amount=["70000", "5000"], t_currency=["CNY", "CNY"], t_occurred_at=["", ""],
        t_method=["mobile_banking", "bank_transfer"]))
    assert response.status_code == 422
    page = parse(response.text)
    assert field_error(page, "transfers.1.to_bank") == (
        "未知银行“火星银行”：请填写银行代码（如 ABC）或名称（如 农业银行）")
    assert field_error(page, "transfers.0.to_bank") == ""
    assert [i.attrs["value"] for i in page.find_all("input", name="t_to_bank")] == ["", "火星银行", ""]


def test_blank_transfer_rows_are_skipped_and_errors_point_at_the_right_row(
        web_user: MakeUser, web_login: LoginAs) -> None:
    console = _officer(web_user, web_login)
    response = console.post("/cases/new", _report(
        t_to_account=["", ABC_CARD], t_to_bank=["", ""], t_to_name=["", ""], t_amount=["", "-5"],
        t_currency=["CNY", "CNY"], t_occurred_at=["", ""], t_method=["bank_transfer", "bank_transfer"]))
    assert response.status_code == 422
    page = parse(response.text)
    # The blank first row is dropped, so the bad amount is now the first row and is marked there.
    assert value_of(page, "t_amount") == "-5"
    assert field_error(page, "transfers.0.amount") == "金额须大于零"


def test_a_transfer_after_the_report_was_received_is_refused(web_user: MakeUser, web_login: LoginAs) -> None:
    console = _officer(web_user, web_login)
    response = console.post("/cases/new", _report(received_at="2026-01-01T10:00", t_occurred_at="2026-01-02T10:00"))
    assert response.status_code == 422
    assert field_error(parse(response.text), "transfers.0.occurred_at") == "转账时间不能晚于接报时间"


def test_the_services_refusals_are_said_in_the_readers_language(web_user: MakeUser, web_login: LoginAs) -> None:
    """Each refusal an officer meets while typing has a message of its own, not "please check" and English."""
    console = _officer(web_user, web_login)
    cases = [
        ({"received_at": "2099-01-01T10:00"}, "received_at", "接报时间不能晚于现在",
         "The time received cannot be in the future"),
        ({"received_at": "2020-01-01T10:00"}, "received_at", "接报时间不能早于一年前",
         "The time received cannot be more than a year ago"),
        ({"t_amount": "70000.005"}, "transfers.0.amount", "该币种金额最多 2 位小数",
         "At most 2 decimal places in this currency"),
        ({"t_amount": "1e30"}, "transfers.0.amount", "金额过大（上限 10000000000），请核对",
         "The amount is implausibly large (limit 10000000000); check it"),
        ({"narrative": "骗" * 20_001}, "narrative", "报案内容过长，最多 20000 字",
         "The narrative is too long: at most 20000 characters"),
    ]
    for lang in ("zh", "en"):
        console.client.cookies.set("lang", lang)
        for overrides, key, zh, en in cases:
            response = console.post("/cases/new", _report(**overrides))
            assert response.status_code == 422, overrides
            assert field_error(parse(response.text), key) == (zh if lang == "zh" else en), overrides


def test_intake_post_without_the_csrf_token_is_refused(web_user: MakeUser, web_login: LoginAs) -> None:
    console = _officer(web_user, web_login)
    for token in (None, "forged"):
        data = _report() if token is None else _report(csrf_token=token)
        response = console.post("/cases/new", data, csrf=False)
        assert response.status_code == 403
        assert parse(response.text).find("h1").text() == "页面已过期"
    assert "case-number" not in console.get("/cases").text


def test_bank_liaison_may_not_file_or_preview(web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.BANK_LIAISON, org="bank:ABC"))
    assert console.post("/cases/new", _report()).status_code == 403
    fragment = console.post("/ui/extract", {"narrative": FENG_NARRATIVE}, headers={"HX-Request": "true"})
    assert "您的岗位没有使用此功能的权限" in fragment.text
    assert "hl-account" not in fragment.text


def test_preview_marks_each_kind_and_offers_suggestions(web_user: MakeUser, web_login: LoginAs) -> None:
    console = _officer(web_user, web_login)
    response = console.post("/ui/extract", {"narrative": FENG_NARRATIVE}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    fragment = parse(response.text)
    marks = {m.text(): m.classes for m in fragment.find_all("mark")}
    assert "hl-amount" in marks["7万元"]
    assert "hl-account" in marks[ABC_CARD]
    assert "hl-phone" in marks["+85261234567"]
    assert "hl-bank" in marks["农业银行"]
    assert "hl-time" in marks["4月25日上午9时"]
    # The highlighted narrative reads exactly as typed.
    assert fragment.find("div", cls="narrative-hl").text() == FENG_NARRATIVE
    buttons = {b.attrs["data-adopt"]: b.attrs["data-payload"] for b in fragment.find_all("button", cls="use")}
    assert set(buttons) == {"transfer", "phone", "fraud_type"}
    assert '"to_account": "6228480402564890018"' in buttons["transfer"]
    assert '"amount": "70000"' in buttons["transfer"] and '"to_bank": "ABC"' in buttons["transfer"]
    assert '"method": "mobile_banking"' in buttons["transfer"]
    assert buttons["phone"] == '{"phone": "+85261234567"}'
    assert '"impersonate_authority"' in buttons["fraud_type"]


def test_preview_accepts_the_token_as_an_htmx_header(web_user: MakeUser, web_login: LoginAs) -> None:
    console = _officer(web_user, web_login)
    response = console.client.post("/ui/extract", data={"narrative": FENG_NARRATIVE},
                                    headers={"HX-Request": "true", "X-CSRF-Token": console.csrf})
    assert "hl-account" in response.text
    forged = console.client.post("/ui/extract", data={"narrative": FENG_NARRATIVE},
                                 headers={"HX-Request": "true", "X-CSRF-Token": "forged"})
    assert "hl-account" not in forged.text
    assert "页面已过期" in forged.text


def test_preview_after_the_session_expired_keeps_the_page(web_user: MakeUser, web_login: LoginAs) -> None:
    console = _officer(web_user, web_login)
    console.client.cookies.clear()
    response = console.client.post("/ui/extract", data={"narrative": FENG_NARRATIVE},
                                   headers={"HX-Request": "true"})
    # No redirect (htmx would swap the login page into the panel); a message in the panel instead.
    assert response.status_code == 200
    assert "登录已过期" in response.text


def test_preview_of_empty_text_says_what_to_do(web_user: MakeUser, web_login: LoginAs) -> None:
    console = _officer(web_user, web_login)
    response = console.post("/ui/extract", {"narrative": "  "}, headers={"HX-Request": "true"})
    assert "输入报案内容后" in response.text
