"""Spoofed caller IDs: each rule fires on what it should and on nothing else; a call on a domestic trunk is
never flagged; one record and the vectorised DataFrame check always agree; the API reads the center's list."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanzha.auth.models import Role
from fanzha.telecom.official import OfficialEntry, OfficialList
from fanzha.telecom.spoofing import GATEWAY, RULES, CallRecord, check_call, check_calls, check_frame
from tests.conftest import MakePrincipal

DEFAULTS = OfficialList.defaults()
# Entries a supervisor might add: a police station's full number, a hotline on a mobile number.
EXTENDED = OfficialList([*DEFAULTS.entries, OfficialEntry("02124021110", "police", "某派出所", "A police station"),
                         OfficialEntry("13800138000", "other", "某热线", "A hotline")])


def _call(displayed: str | None, trunk: str = GATEWAY, caller: str = "+85261234567") -> dict[str, Any]:
    return {"caller": caller, "callee": "+8613812345678", "trunk": trunk, "displayed_number": displayed}


def _rule(displayed: str | None, trunk: str = GATEWAY, caller: str = "+85261234567",
          official: OfficialList = DEFAULTS) -> str | None:
    hit = check_call(_call(displayed, trunk, caller), official)
    return hit.rule if hit else None


@pytest.mark.parametrize(("shown", "rule", "official"), [
    ("021-96110", "gateway_area_96110", None),
    ("02196110", "gateway_area_96110", None),
    ("+86 21 96110", "gateway_area_96110", None),
    ("0571 96110", "gateway_area_96110", None),
    ("00862196110", "gateway_area_96110", None),
    ("110", "gateway_official", "110"),
    ("96110", "gateway_official", "96110"),
    ("12381", "gateway_official", "12381"),
    ("95588", "gateway_official", "95588"),
    ("95123", "gateway_official", "95xxx"),  # any 95 line, through the wildcard entry
    ("+86 95599", "gateway_official", "95599"),
    ("(021) 12368", "gateway_official", "12368"),  # the court line with an area code
    ("+86 10 12309", "gateway_official", "12309"),
    ("13812345678", "gateway_cn_mobile", None),
    ("+86 138 1234 5678", "gateway_cn_mobile", None),
    ("0086-19212345678", "gateway_cn_mobile", None),
    ("021-62345678", "gateway_cn_fixed", None),
    ("+86 755 8765 4321", "gateway_cn_fixed", None),
    ("62345678", "gateway_cn_local", None),
    ("+86 999", "gateway_plus86", None),
    ("+86 1234", "gateway_plus86", None),
])
def test_each_rule_fires_on_a_gateway_call(shown: str, rule: str, official: str | None) -> None:
    hit = check_call(_call(shown), DEFAULTS)
    assert hit is not None and hit.rule == rule
    assert (hit.official.pattern if hit.official else None) == official
    assert hit.reason_zh and hit.reason_en and "{" not in hit.reason_zh + hit.reason_en
    if official:
        assert official in hit.reason_zh and official in hit.reason_en


@pytest.mark.parametrize("shown", [
    "+85261234567",  # Hong Kong showing Hong Kong: what an international call should look like
    "+1 415 555 0100", "0044 20 7946 0958", "+886 2 2311 3731",
    "", None,  # nothing displayed: the caller (a foreign number) is what is looked at
    "abc", "+86", "00", "12", "9",  # not a number
])
def test_a_gateway_call_showing_a_foreign_number_or_nothing_is_not_flagged(shown: str | None) -> None:
    assert _rule(shown) is None


@pytest.mark.parametrize("trunk", ["local", "long_distance"])
@pytest.mark.parametrize("shown", ["021-96110", "110", "95588", "13812345678", "+86 21 62345678", "+86 999"])
def test_the_same_displays_on_a_domestic_trunk_are_not_flagged(trunk: str, shown: str) -> None:
    assert _rule(shown, trunk) is None  # genuine anti-fraud calls show area code + 96110 from domestic trunks


def test_the_caller_is_looked_at_when_nothing_was_displayed() -> None:
    assert _rule(None, caller="+8613812345678") == "gateway_cn_mobile"
    assert _rule("", caller="110") == "gateway_official"


def test_an_entry_with_its_own_area_code_fires_however_it_is_shown() -> None:
    for shown in ("021-2402 1110", "+86 21 2402 1110", "0086 021 24021110"):
        hit = check_call(_call(shown), EXTENDED)
        assert hit is not None and hit.official is not None and hit.official.pattern == "02124021110", shown
    assert _rule("+86 138 0013 8000", official=EXTENDED) == "gateway_official"
    assert _rule("0110") is None  # a stray trunk 0 does not make 110


def test_the_official_list_is_data_an_entry_fires_only_while_it_is_listed() -> None:
    assert _rule("12380") is None
    listed = OfficialList([*DEFAULTS.entries, OfficialEntry("12380", "other", "测试专线", "Test line")])
    assert _rule("12380", official=listed) == "gateway_official"
    without_banks = OfficialList([e for e in DEFAULTS.entries if e.kind != "bank" and "x" not in e.pattern])
    assert _rule("95588", official=without_banks) is None
    assert _rule("021-96110", official=OfficialList([])) == "gateway_area_96110"  # a fixed rule, not a list entry


def test_rules_have_distinct_ids_and_both_languages() -> None:
    assert len({r.id for r in RULES}) == len(RULES)
    assert all(r.zh and r.en for r in RULES)


# ---- vectorised ---------------------------------------------------------------------------------------------

def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"caller": pl.Utf8, "callee": pl.Utf8, "trunk": pl.Utf8,
                                      "displayed_number": pl.Utf8})


def test_the_frame_check_adds_the_rule_the_official_number_and_both_reasons() -> None:
    rows = [_call("021-96110"), _call("95588"), _call("95123"), _call("+85261234567"),
            _call("110", trunk="local"), _call("13812345678")]
    out = check_frame(_frame(rows), DEFAULTS)
    assert out.columns[-4:] == ["spoof_rule", "spoof_official", "spoof_reason_zh", "spoof_reason_en"]
    assert out.get_column("spoof_rule").to_list() == [
        "gateway_area_96110", "gateway_official", "gateway_official", None, None, "gateway_cn_mobile"]
    assert out.get_column("spoof_official").to_list() == [None, "95588", "95xxx", None, None, None]
    assert out.get_column("spoof_reason_zh")[1] == check_call(rows[1], DEFAULTS).reason_zh  # type: ignore[union-attr]
    assert out.get_column("spoof_reason_en")[3] is None


def test_the_frame_check_takes_lazy_frames_and_frames_without_a_display_column() -> None:
    lazy = pl.LazyFrame({"caller": ["+8613812345678", "+85261234567"], "trunk": [GATEWAY, GATEWAY]})
    assert check_frame(lazy, DEFAULTS).get_column("spoof_rule").to_list() == ["gateway_cn_mobile", None]
    with pytest.raises(ValueError, match="trunk"):
        check_frame(pl.DataFrame({"caller": ["110"]}), DEFAULTS)
    empty = check_frame(_frame([]), DEFAULTS)
    assert empty.height == 0 and "spoof_rule" in empty.columns


def test_a_large_api_batch_goes_through_the_frame_and_agrees_with_one_by_one() -> None:
    rows = [_call(shown) for shown in ("021-96110", "95588", "95123", "+85261234567", "62345678") * 30]
    calls = [CallRecord.model_validate(r) for r in rows]
    batched = check_calls(calls, DEFAULTS)  # >= 64 records: vectorised
    assert [h.to_json() if h else None for h in batched] == [
        h.to_json() if h else None for h in (check_call(c, DEFAULTS) for c in calls)]


_DIGITS = st.text(alphabet="0123456789", min_size=0, max_size=13)
_OFFICIAL = st.sampled_from([e.pattern.replace("x", "7") for e in EXTENDED.entries] + ["2124021110"])
_AREA = st.sampled_from(["10", "21", "22", "571", "755", "898", "11", "01", "0"])
_SEP = st.sampled_from(["", " ", "-", "(", ")", ".", "\t", "/", "\u3000"])
_PREFIX = st.sampled_from(["", "", "0", "+86", "0086", "+86 0", "+", "00", "+852", "+1", "86", "٣"])


@st.composite
def shown_numbers(draw: st.DrawFn) -> str:
    body = draw(st.one_of(_DIGITS, _OFFICIAL, st.builds(lambda a, o: a + o, _AREA, _OFFICIAL),
                          st.builds(lambda a, d: a + d, _AREA, _DIGITS),
                          st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.text(max_size=8)))
    sep = draw(_SEP)
    if body and draw(st.booleans()):
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + sep + body[cut:]
    return draw(_PREFIX) + body


_records = st.fixed_dictionaries({
    "caller": st.one_of(shown_numbers(), st.just("+85261234567")),
    "trunk": st.sampled_from(["local", "long_distance", GATEWAY]),
    "displayed_number": st.one_of(st.none(), st.just(""), shown_numbers()),
})


@given(st.lists(_records, min_size=1, max_size=40))
def test_one_record_and_the_frame_always_agree(records: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(records, schema={"caller": pl.Utf8, "trunk": pl.Utf8, "displayed_number": pl.Utf8})
    out = check_frame(frame, EXTENDED)
    for record, rule, official, zh, en in zip(records, out.get_column("spoof_rule").to_list(),
                                              out.get_column("spoof_official").to_list(),
                                              out.get_column("spoof_reason_zh").to_list(),
                                              out.get_column("spoof_reason_en").to_list(), strict=True):
        hit = check_call(record, EXTENDED)
        expected = (None, None, None, None) if hit is None else (
            hit.rule, hit.official.pattern if hit.official else None, hit.reason_zh, hit.reason_en)
        assert (rule, official, zh, en) == expected, record


@given(st.lists(st.fixed_dictionaries({
    "caller": st.one_of(shown_numbers(), st.text(max_size=20)),
    "trunk": st.sampled_from(["local", "long_distance"]),
    "displayed_number": st.one_of(st.none(), shown_numbers(), st.text(max_size=20)),
}), min_size=1, max_size=30))
def test_a_domestic_trunk_call_is_never_flagged_by_the_gateway_rules(records: list[dict[str, Any]]) -> None:
    assert all(check_call(r, EXTENDED) is None for r in records)
    frame = pl.DataFrame(records, schema={"caller": pl.Utf8, "trunk": pl.Utf8, "displayed_number": pl.Utf8})
    assert check_frame(frame, EXTENDED).get_column("spoof_rule").null_count() == len(records)


# ---- the API ------------------------------------------------------------------------------------------------

def test_the_api_checks_a_batch_against_the_centers_list(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    calls = [_call("021-96110"), _call("95588"), _call("+85261234567"), _call("110", trunk="local"),
             _call("12380")]
    response = officer.client.post("/api/v1/telecom/spoofing/check", json={"calls": calls})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["checked"], body["flagged"]) == (5, 2)
    first, second = body["items"][:2]
    assert first["rule"] == "gateway_area_96110" and first["reason"]["zh"] and first["reason"]["en"]
    assert second["official"] == {"pattern": "95588", "kind": "bank", "name_zh": "中国工商银行", "name_en": "ICBC"}
    assert [i["flagged"] for i in body["items"]] == [True, True, False, False, False]
    supervisor = principal(Role.SUPERVISOR)
    added = supervisor.client.post("/api/v1/telecom/official-numbers", json={
        "pattern": "12380", "kind": "other", "name_zh": "测试专线", "name_en": "Test line"})
    assert added.status_code == 201, added.text
    again = officer.client.post("/api/v1/telecom/spoofing/check", json={"calls": calls}).json()
    assert again["items"][4]["rule"] == "gateway_official" and again["flagged"] == 3


def test_the_api_says_what_is_wrong_and_who_may_ask(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    bad = officer.client.post("/api/v1/telecom/spoofing/check",
                              json={"calls": [{"caller": "110", "trunk": "satellite"}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "calls.0.trunk"
    empty = officer.client.post("/api/v1/telecom/spoofing/check", json={"calls": []})
    assert empty.status_code == 422 and "calls" in empty.json()["message"]
    # A record without a caller, or lasting forever (1e999 reads as infinity), was checked as if it made sense.
    no_caller = officer.client.post("/api/v1/telecom/spoofing/check", json={"calls": [_call("110", caller="")]})
    assert no_caller.status_code == 422 and no_caller.json()["errors"][0]["field"] == "calls.0.caller"
    forever = officer.client.post("/api/v1/telecom/spoofing/check", headers={"content-type": "application/json"},
                                  content=b'{"calls": [{"caller": "+85261234567", "trunk": "local", '
                                          b'"duration_s": 1e999}]}')
    assert forever.status_code == 422 and forever.json()["errors"][0]["field"] == "calls.0.duration_s"
    assert principal(Role.CARRIER_LIAISON).client.post(
        "/api/v1/telecom/spoofing/check", json={"calls": [_call("110")]}).status_code == 200
    for role in (Role.HOTLINE_OPERATOR, Role.BANK_LIAISON, Role.AUDITOR):
        refused = principal(role).client.post("/api/v1/telecom/spoofing/check", json={"calls": [_call("110")]})
        assert refused.status_code == 403 and "check call records" in refused.json()["message"]
