"""The money-flow page: who may see it, the graph it draws from real statements, one account's panel; the layout.

The statements are stored the way a bank's TransactionQuery answer is (`store.save_legs`): the victim pays
70,000 into an ABC card (A); A sends 40,000 to an ICBC account (B) and 25,000 to a CCB account (C); B takes
all of it out at ATMs; C sends it on to a BOC account (D) whose bank has not answered yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise

import pytest
from sqlalchemy import select

from fanzha.auth.models import Role
from fanzha.banking import instructions
from fanzha.banking.models import BankInstruction
from fanzha.cases.models import Case
from fanzha.config import SHANGHAI
from fanzha.storage.db import Database
from fanzha.tracing import store
from fanzha.web.flow_svg import GAP_BARE, GAP_PAD, MARGIN, Credit, Layout, display_account, layout
from tests.conftest import MakePrincipal, Principal
from tests.helpers import report
from tests.web.pages import Element, parse

VICTIM_OWN = ("ICBC", "6222000011112222333")  # the victim's own account, which paid the fraudster
A = ("ABC", "6228480402564890018")
B = ("ICBC", "6222020200112233445")
C = ("CCB", "6217000010012345678")
D = ("BOC", "6216610100001234567")
DAY = (2026, 11, 25)


def _at(hour: int, minute: int) -> datetime:
    return datetime(*DAY, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def _leg(account: tuple[str, str], txn: str, at: datetime, direction: str, amount: str,
         other: tuple[str, str] | None, balance: str, channel: str = "transfer", currency: str = "CNY") -> store.Leg:
    return store.Leg(bank_code=account[0], account=account[1], txn_id=txn, at=at, direction=direction,
                     amount=Decimal(amount), currency=currency, counterparty_bank=other[0] if other else None,
                     counterparty_account=other[1] if other else None, channel=channel,
                     balance_after=Decimal(balance))


LEGS = [
    _leg(A, "A1", _at(9, 31), "in", "70000", VICTIM_OWN, "70000"),
    _leg(A, "A2", _at(9, 40), "out", "40000", B, "30000"),
    _leg(A, "A3", _at(9, 45), "out", "25000", C, "5000"),
    _leg(B, "B1", _at(9, 40), "in", "40000", A, "40000"),
    _leg(B, "B2", _at(10, 5), "out", "20000", None, "20000", channel="atm"),
    _leg(B, "B3", _at(10, 7), "out", "20000", None, "0", channel="atm"),
    _leg(C, "C1", _at(9, 45), "in", "25000", A, "25000"),
    _leg(C, "C2", _at(10, 20), "out", "25000", D, "0"),
]


@dataclass
class FiledCase:
    number: str
    case_id: int
    officer: Principal


FileTraced = Callable[..., FiledCase]


@pytest.fixture
def traced_case(db: Database, principal: MakePrincipal) -> FileTraced:
    """A report through the API naming A, then the banks' statements stored as the loop stores them."""

    def file(legs: list[store.Leg] = LEGS, **overrides: object) -> FiledCase:
        officer = principal(Role.DUTY_OFFICER)
        body = report(suspect_phones=["13812345678"], **overrides)
        res = officer.client.post("/api/v1/reports", json=body)
        assert res.status_code == 201, res.text
        number = res.json()["number"]
        with db.transaction() as session:
            case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
            store.save_legs(session, case_id=case_id, instruction_id=None, source="bank", legs=legs)
        return FiledCase(number, case_id, officer)

    return file


def _graph(page: Element, currency: str = "CNY") -> Element:
    return page.find("svg", cls="flow-svg", **{"data-currency": currency})


def _nodes(svg: Element) -> dict[str, Element]:
    return {a.attrs["data-flow-account"]: a for a in svg.find_all("a", cls="flow-node")
            if "data-flow-account" in a.attrs}


def _status(node: Element) -> str:
    return next(c for c in node.classes if c.startswith("fs-")).removeprefix("fs-")


def _texts(node: Element) -> list[str]:
    return [t.text() for t in node.find_all("text")]


# ---- who may see it ----------------------------------------------------------------------------------------


ALL_ROLES = list(Role)


@pytest.mark.parametrize("role", ALL_ROLES, ids=lambda r: r.value)
def test_only_the_centers_officers_see_the_flow_others_get_the_missing_case_page(
        role: Role, traced_case: FileTraced, principal: MakePrincipal) -> None:
    case = traced_case()
    caller = principal(role)
    want = 200 if role in (Role.DUTY_OFFICER, Role.SUPERVISOR) else 404
    page = caller.client.get(f"/cases/{case.number}/flow")
    panel = caller.client.get(f"/cases/{case.number}/flow/accounts/ABC/{A[1]}", headers={"HX-Request": "true"})
    assert page.status_code == want, page.text
    assert caller.client.get(f"/cases/{case.number}/flow/accounts/ABC/{A[1]}").status_code == want
    if want == 404:
        missing = caller.client.get("/cases/SH20200101-999999/flow")
        assert missing.status_code == 404
        assert parse(page.text).find("main").text() == parse(missing.text).find("main").text()
        assert case.number not in parse(page.text).find("main").text() and A[1] not in page.text
        assert A[1] not in panel.text  # the htmx answer says "failed" and nothing else
    else:
        assert panel.status_code == 200


def test_case_page_links_to_the_flow_for_officers_only(traced_case: FileTraced, principal: MakePrincipal) -> None:
    case = traced_case()
    link = f'href="/cases/{case.number}/flow"'
    assert link in case.officer.client.get(f"/cases/{case.number}").text
    assert link in principal(Role.SUPERVISOR).client.get(f"/cases/{case.number}").text
    bank = principal(Role.BANK_LIAISON).client.get(f"/cases/{case.number}")
    assert bank.status_code == 200 and link not in bank.text


# ---- the graph ---------------------------------------------------------------------------------------------


def test_graph_draws_each_account_with_its_status_bank_and_money_held(traced_case: FileTraced) -> None:
    case = traced_case()
    page = parse(case.officer.client.get(f"/cases/{case.number}/flow").text)
    svg = _graph(page)
    nodes = _nodes(svg)
    assert set(nodes) == {"/".join(k) for k in (A, B, C, D)}
    statuses = {k: _status(v) for k, v in nodes.items()}
    # A: the automatic stop-payment went out with the report and has no answer yet; D: nothing holds it.
    assert statuses == {"ABC/" + A[1]: "pending", "ICBC/" + B[1]: "cashed_out", "CCB/" + C[1]: "clean",
                        "BOC/" + D[1]: "holding"}
    assert _texts(nodes["ABC/" + A[1]])[:4] == ["中国农业银行", A[1], "止付待回复", "已获明细"]
    assert _texts(nodes["ABC/" + A[1]])[4] == "留存 5,000.00"
    assert _texts(nodes["BOC/" + D[1]]) == ["中国银行", D[1], "未止付", "待明细", "留存 25,000.00"]
    assert _texts(nodes["ICBC/" + B[1]])[2] == "已取现" and _texts(nodes["ICBC/" + B[1]])[4] == "留存 0.00"
    # The victim on the left, the ATM on the right, nothing else.
    victim = svg.find("a", cls="fs-victim")
    assert victim.attrs["href"] == f"/cases/{case.number}"
    assert _texts(victim) == ["受害人", case.number, "转入 70,000.00"]
    sink = svg.find("g", cls="fs-sink")
    assert _texts(sink) == ["ATM", "40,000.00"]
    captions = [t.text() for t in svg.find("g", cls="flow-columns").find_all("text")]
    assert captions == ["受害人转账", "第1层", "第2层", "第3层", "取现/流出"]


def test_graph_labels_each_transfer_with_its_shanghai_time_and_the_victim_money_it_carried(
        traced_case: FileTraced) -> None:
    case = traced_case()
    page = parse(case.officer.client.get(f"/cases/{case.number}/flow").text)
    svg = _graph(page)
    labels = {(g.attrs["data-source"], g.attrs["data-target"]): [t.text() for t in g.find_all("text")]
              for g in svg.find_all("g", cls="flow-label")}
    a, b, c, d = ("/".join(k) for k in (A, B, C, D))
    assert labels == {  # all on one day, which the graph's heading names
        (f"victim:{case.number}", a): ["09:31", "70,000.00"],
        (a, b): ["09:40", "40,000.00"],
        (a, c): ["09:45", "25,000.00"],
        (c, d): ["10:20", "25,000.00"],
        (b, "sink:atm"): ["10:05 ×2", "40,000.00"],
    }
    assert "时间：2026-11-25（北京时间）" in page.find("div", cls="flow-graph-head").text()
    # The full Shanghai time is in the edge's tooltip.
    edge = svg.find("path", cls="flow-edge", **{"data-source": a, "data-target": b})
    assert edge.find("title").text().startswith("2026-11-25 09:40:00")


def test_todo_lists_unstopped_accounts_first_then_the_victims_sums(traced_case: FileTraced) -> None:
    case = traced_case()
    page = parse(case.officer.client.get(f"/cases/{case.number}/flow").text)
    rows = [[td.text() for td in tr.find_all("td")] for tr in page.by_id("todo-CNY").find("tbody").find_all("tr")]
    assert [r[:5] for r in rows] == [
        ["未止付", "中国银行", D[1], "3", "25,000.00 CNY"],
        ["止付待回复", "中国农业银行", A[1], "1", "5,000.00 CNY"],
    ]
    assert rows[1][5] == "2026-11-25 09:31:00"  # one victim: no per-victim column
    victims = [[td.text() for td in tr.find_all("td")]
               for tr in page.by_id("victims-CNY").find("tbody").find_all("tr")]
    assert victims == [[case.number, "70,000.00 CNY", "30,000.00 CNY", "40,000.00 CNY", "0.00 CNY"]]
    assert "等待银行回复交易明细" not in page.text()


def test_a_bank_holding_the_money_turns_the_account_stopped_and_off_the_todo(
        db: Database, traced_case: FileTraced, principal: MakePrincipal) -> None:
    case = traced_case()
    liaison = principal(Role.BANK_LIAISON)  # bank:ABC answers by hand: 5,000 held
    with db.transaction() as session:
        stop = session.execute(select(BankInstruction).where(BankInstruction.case_id == case.case_id,
                                                             BankInstruction.kind == "stop_payment")).scalar_one()
        instructions.answer_by_hand(session, liaison.actor, stop, case_number=case.number, held=True,
                                    amount=Decimal("5000"), expires_at=None, reason="", now=datetime.now(UTC))
    page = parse(case.officer.client.get(f"/cases/{case.number}/flow").text)
    assert _status(_nodes(_graph(page))["ABC/" + A[1]]) == "stopped"
    rows = page.by_id("todo-CNY").find("tbody").find_all("tr")
    assert [tr.find_all("td")[2].text() for tr in rows] == [D[1]]


def test_one_graph_per_currency(db: Database, traced_case: FileTraced) -> None:
    usd = ("BOC", "6013820800012345678")
    legs = [*LEGS, _leg(usd, "U1", _at(11, 2), "in", "3000", None, "3000", currency="USD"),
            _leg(usd, "U2", _at(11, 30), "out", "1000", None, "2000", channel="abroad", currency="USD")]
    transfers = [report()["transfers"][0],
                 {"to_account": usd[1], "to_bank": "BOC", "amount": "3000", "currency": "USD",
                  "occurred_at": "2026-11-25T11:00:00+08:00", "method": "online_banking"}]
    case = traced_case(legs=legs, transfers=transfers)
    page = parse(case.officer.client.get(f"/cases/{case.number}/flow").text)
    assert [s.attrs["data-currency"] for s in page.find_all("svg", cls="flow-svg")] == ["CNY", "USD"]
    usd_svg = _graph(page, "USD")
    assert _texts(usd_svg.find("g", cls="fs-sink")) == ["境外", "1,000.00"]
    assert _texts(_nodes(usd_svg)["BOC/" + usd[1]])[4] == "留存 2,000.00"
    assert "/".join(usd) not in _nodes(_graph(page, "CNY"))
    assert page.by_id("flow-title-USD").text() == "资金流向（USD）"


def test_before_any_statement_the_page_says_it_waits_for_the_banks(traced_case: FileTraced) -> None:
    case = traced_case(legs=[])
    page = parse(case.officer.client.get(f"/cases/{case.number}/flow").text)
    assert "等待银行回复交易明细" in page.find("p", cls="flow-waiting").text()
    # What the report says is drawn: the victim's transfer into A, which the stop-payment is chasing.
    assert set(_nodes(_graph(page))) == {"ABC/" + A[1]}


def test_a_case_with_no_transfer_has_nothing_to_draw(traced_case: FileTraced) -> None:
    case = traced_case(legs=[], transfers=[])
    page = parse(case.officer.client.get(f"/cases/{case.number}/flow").text)
    assert not page.find_all("svg", cls="flow-svg")
    assert page.find("section", cls="flow-empty").find("h2").text() == "暂无资金流向：等待银行回复交易明细"


def test_english_labels(traced_case: FileTraced) -> None:
    case = traced_case()
    client = case.officer.client
    client.cookies.set("lang", "en")
    page = parse(client.get(f"/cases/{case.number}/flow").text)
    nodes = _nodes(_graph(page))
    assert _texts(nodes["BOC/" + D[1]]) == ["BOC", D[1], "Not stopped", "no stmt", "Held 25,000.00"]
    assert page.by_id("flow-title-CNY").text() == "Money flow (CNY)"
    assert "Accounts to stop" in page.by_id("todo-CNY").find("h2").text()


# ---- one account's panel -----------------------------------------------------------------------------------


def test_panel_lists_the_accounts_legs_instructions_and_evidence(traced_case: FileTraced) -> None:
    case = traced_case()
    res = case.officer.client.get(f"/cases/{case.number}/flow/accounts/ABC/{A[1]}", headers={"HX-Request": "true"})
    assert res.status_code == 200
    assert "<html" not in res.text  # a fragment for the side panel
    panel = parse(res.text)
    assert panel.find("h2").text() == f"中国农业银行 {A[1]}"
    legs = [[td.text() for td in tr.find_all("td")] for tr in panel.find("table", cls="flow-legs").find("tbody")
            .find_all("tr")]
    assert legs == [  # time, in/out, channel, counterparty | amount, balance after
        ["2026-11-25 09:31:00 收 转账 中国工商银行 6222000011112222333", "+70,000.00 70,000.00"],
        ["2026-11-25 09:40:00 付 转账 中国工商银行 6222020200112233445", "−40,000.00 30,000.00"],
        ["2026-11-25 09:45:00 付 转账 中国建设银行 6217000010012345678", "−25,000.00 5,000.00"],
    ]
    assert panel.find("p", cls="hint").text() == "金额单位：CNY"
    # What the report set off at once: a stop-payment for the reported amount and a query for the statement.
    sent = [li.text() for li in panel.find("ul", cls="flow-instructions").find_all("li")]
    assert [s.split(" · ")[0] for s in sent] == ["紧急止付", "交易明细查询"]
    assert "/ 70,000.00 CNY" in sent[0]
    standing = panel.find("div", cls="flow-standing").text()
    assert "止付待回复" in standing and "5,000.00 CNY" in standing
    path = [li.text() for li in panel.find("ol", cls="flow-path").find_all("li")]
    assert path == ["中国工商银行 6222000011112222333", "2026-11-25 09:31:00 70,000.00 CNY", f"中国农业银行 {A[1]}"]


def test_panel_of_a_cash_out_account_shows_the_atm_withdrawals(traced_case: FileTraced) -> None:
    case = traced_case()
    res = case.officer.client.get(f"/cases/{case.number}/flow/accounts/ICBC/{B[1]}", headers={"HX-Request": "true"})
    rows = parse(res.text).find("table", cls="flow-legs").find("tbody").find_all("tr")
    assert [[td.text() for td in tr.find_all("td")] for tr in rows][1:] == [
        ["2026-11-25 10:05:00 付 ATM —", "−20,000.00 20,000.00"],
        ["2026-11-25 10:07:00 付 ATM —", "−20,000.00 0.00"],
    ]
    # B's money came through A: the path has two hops.
    path = [li.text() for li in parse(res.text).find("ol", cls="flow-path").find_all("li")]
    assert path[2:] == [f"中国农业银行 {A[1]}", "2026-11-25 09:40:00 40,000.00 CNY", f"中国工商银行 {B[1]}"]


def test_panel_of_an_account_without_a_statement_says_it_waits(traced_case: FileTraced) -> None:
    case = traced_case()
    res = case.officer.client.get(f"/cases/{case.number}/flow/accounts/BOC/{D[1]}", headers={"HX-Request": "true"})
    panel = parse(res.text)
    assert "等待银行回复交易明细" in panel.text()
    assert not panel.find_all("table", cls="flow-legs")


def test_panel_opened_without_script_is_the_whole_page_with_the_account_shown(traced_case: FileTraced) -> None:
    case = traced_case()
    page = parse(case.officer.client.get(f"/cases/{case.number}/flow/accounts/CCB/{C[1]}").text)
    assert _graph(page)
    assert page.by_id("flow-panel").find("div", cls="flow-panel-body").attrs["data-account"] == "CCB/" + C[1]


def test_panel_of_an_account_the_case_never_touched_is_not_found(traced_case: FileTraced) -> None:
    case = traced_case()
    url = f"/cases/{case.number}/flow/accounts/ABC/6228480000000000000"
    assert case.officer.client.get(url).status_code == 404
    # In the panel (htmx swaps only 2xx answers) it says so where the officer is looking.
    res = case.officer.client.get(url, headers={"HX-Request": "true"})
    assert res.status_code == 200
    assert parse(res.text).find("p", cls="alert").text() == "找不到这个账户的资金信息：它不在本案的资金流向中。"


def test_an_account_at_a_bank_not_known_yet_opens_too(traced_case: FileTraced) -> None:
    unknown = "6666000011112222"  # no bank's BIN: the report names no bank either
    case = traced_case(legs=[], transfers=[{"to_account": unknown, "amount": "8000", "currency": "CNY",
                                            "occurred_at": "2026-11-25T09:30:00+08:00", "method": "mobile_banking"}])
    page = parse(case.officer.client.get(f"/cases/{case.number}/flow").text)
    node = _nodes(_graph(page))["/" + unknown]
    assert _texts(node)[:3] == ["未知银行", unknown, "未止付"]  # no bank to send a stop-payment to: act by hand
    assert node.attrs["hx-get"] == f"/cases/{case.number}/flow/accounts/-/{unknown}"
    res = case.officer.client.get(node.attrs["hx-get"], headers={"HX-Request": "true"})
    assert parse(res.text).find("h2").text() == f"未知银行 {unknown}"


# ---- the layout, on its own --------------------------------------------------------------------------------


def _account(key: tuple[str, str], depth: int, status: str = "clean", held: str = "0.00") -> dict[str, object]:
    return {"id": "/".join(key), "bank": key[0], "account": key[1], "depth": depth,
            "first_tainted_at": "2026-11-25T01:31:00+00:00", "held": {}, "held_total": held, "statement": True,
            "status": status, "instructions": []}


def _flow(txn: str, src: tuple[str, str] | None, dst: tuple[str, str] | None, amount: str, channel: str = "transfer",
          minute: int = 0) -> dict[str, object]:
    return {"txn_id": txn, "at": f"2026-11-25T02:{minute:02d}:00+00:00", "from": "/".join(src) if src else None,
            "to": "/".join(dst) if dst else None, "amount": amount, "channel": channel,
            "attributed": {"V1": amount}, "attributed_total": amount}


def _view(accounts: list[dict[str, object]], flows: list[dict[str, object]]) -> dict[str, object]:
    return {"currency": "CNY", "policy": "libr", "accounts": accounts, "flows": flows, "losses": [],
            "unfollowed": [], "victims": [{"victim": "V1", "case": "V1", "credit": "100.00", "held": "0.00",
                                            "lost": "0.00", "unfollowed": "0.00"}]}


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _fan_out() -> Layout:
    """One mule pays six others; two of them pay on, three withdraw cash, one goes abroad from layer 1."""
    mules = [("CCB", f"62170000100{i:08d}") for i in range(6)]
    accounts = [_account(A, 1, "holding", "10.00"), *(_account(m, 2) for m in mules),
                _account(("BOC", "6216610100000000001"), 3, "holding", "5.00")]
    flows = [_flow("cr", None, A, "100.00"), *(_flow(f"t{i}", A, m, "10.00", minute=i) for i, m in enumerate(mules)),
             _flow("x1", mules[0], ("BOC", "6216610100000000001"), "5.00"),
             *(_flow(f"w{i}", mules[i], None, "10.00", channel="atm") for i in (1, 2, 3)),
             _flow("ab", A, None, "20.00", channel="abroad")]
    return layout(_view(accounts, flows), [Credit("V1", "/".join(A), "100.00", "2026-11-25T01:31:00+00:00", "cr")])


def test_layout_puts_victims_left_layers_by_depth_and_cash_out_right() -> None:
    g = _fan_out()
    kinds = [c.kind for c in g.columns]
    assert kinds == ["victims", "depth", "depth", "depth", "sinks"]
    assert [c.depth for c in g.columns if c.kind == "depth"] == [1, 2, 3]
    by_kind = {n.id: n.column for n in g.nodes}
    assert by_kind["victim:V1"] == 0 and by_kind["/".join(A)] == 1 and by_kind["sink:atm"] == 4
    assert by_kind["sink:abroad"] == 4
    # Column order left to right, with room for the labels between columns.
    for left, right in pairwise(g.columns):
        gap = right.x - (left.x + left.w)
        widest = max((e.label_w for e in g.edges if g.node(e.source).column == left.index), default=0.0)
        assert gap >= GAP_BARE and gap >= widest + 2 * GAP_PAD - 0.1
    assert g.width == round(g.columns[-1].x + g.columns[-1].w + MARGIN, 1)


def test_layout_never_overlaps_boxes_or_labels_and_stays_inside_the_drawing() -> None:
    g = _fan_out()
    boxes = [(n.x, n.y, n.w, n.h) for n in g.nodes]
    labels = [(e.label_x - e.label_w / 2, e.label_y - 15.5, e.label_w, 31.0) for e in g.edges]
    for i, a in enumerate(boxes):
        assert a[0] >= 0 and a[1] >= 30 and a[0] + a[2] <= g.width and a[1] + a[3] <= g.height
        assert not any(_overlap(a, b) for b in boxes[i + 1:])
    for i, a in enumerate(labels):
        assert a[1] + a[3] <= g.height
        assert not any(_overlap(a, b) for b in labels[i + 1:]), (a, labels)
        assert not any(_overlap(a, b) for b in boxes), a


def test_layout_routes_long_edges_between_boxes_and_is_deterministic() -> None:
    first, second = _fan_out(), _fan_out()
    assert first == second
    # The abroad withdrawal from layer 1 crosses layers 2 and 3: its path passes them in straight runs.
    edge = next(e for e in first.edges if e.target == "sink:abroad")
    assert edge.path.count("L") == 2 and edge.kind == "cash_out"
    assert edge.time_text == "10:00" and edge.amount_text == "20.00"
    assert first.day == "2026-11-25"
    atm = first.node("sink:atm")
    assert atm.data["amount_text"] == "30.00"
    assert [e.count for e in first.edges if e.target == "sink:atm"] == [1, 1, 1]


def test_layout_of_money_sent_back_up_the_chain_loops_below() -> None:
    back = _flow("bk", B, A, "5.00", minute=30)
    g = layout(_view([_account(A, 1), _account(B, 2)], [_flow("cr", None, A, "100.00"), _flow("t", A, B, "50.00"),
                                                          back]),
               [Credit("V1", "/".join(A), "100.00", None, "cr")])
    edge = next(e for e in g.edges if e.source == "/".join(B))
    assert edge.back and edge.target == "/".join(A)
    assert edge.label_y > max(n.y + n.h for n in g.nodes)
    assert g.height >= edge.label_y + 15.5


def test_layout_of_unfollowed_money_shows_where_it_went_without_following_it() -> None:
    far = ("PSBC", "6210980000000000001")
    view = _view([_account(A, 1)], [_flow("cr", None, A, "100.00"), _flow("u", A, far, "40.00")])
    view["unfollowed"] = [{"victim": "V1", "from": "/".join(A), "to": "/".join(far), "amount": "40.00",
                           "reason": "window", "txn_id": "u", "at": "2026-11-25T05:00:00+00:00"}]
    g = layout(view, [Credit("V1", "/".join(A), "100.00", None, "cr")])
    ext = g.node("ext:" + "/".join(far))
    assert ext.kind == "external" and ext.column == 2 and ext.data["reasons"] == ["window"]
    assert [e.kind for e in g.edges if e.target == ext.id] == ["unfollowed"]


def test_layout_of_transfers_over_several_days_dates_each_label() -> None:
    late = _flow("t", A, B, "50.00")
    late["at"] = "2026-11-26T17:05:00+00:00"  # 01:05 on the 27th in Shanghai
    g = layout(_view([_account(A, 1), _account(B, 2)], [_flow("cr", None, A, "100.00"), late]),
               [Credit("V1", "/".join(A), "100.00", "2026-11-25T01:31:00+00:00", "cr")])
    assert g.day is None
    assert [e.time_text for e in g.edges] == ["11-27 01:05", "11-25 09:31"]


def test_long_account_numbers_are_shortened_in_the_box_only() -> None:
    assert display_account("6228480402564890018") == "6228480402564890018"
    assert display_account("GB29NWBK60161331926819123456") == "GB29NWBK…26819123456"
