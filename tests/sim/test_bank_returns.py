"""A simulated bank executing a Return (资金返还): frozen money goes back to the victim's account, only from an
active freeze and never beyond what it holds; the rest stays frozen; a resent Return moves the money once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sim.banks import handlers
from sim.banks.ledger import AccountStatus, HoldKind, Ledger
from simbanks import CASE, OFFICER, Sim, freeze, running, stop_payment

from fanzha.banking import messages as m
from fanzha.banking.keys import SigningKey, kid_for
from fanzha.banking.signing import sign_envelope

D = Decimal
T0 = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)
MULE = ("ABC", "6228480402564890018")
VICTIM = ("ICBC", "6222021001116245702")
ELSEWHERE = ("CMB", "6214830000000001")  # a bank these books do not hold

_key = Ed25519PrivateKey.generate()
CENTER = SigningKey(org="center", kid=kid_for(_key.public_key()), private_key=_key)


def books(balance: str = "6000") -> Ledger:
    ledger = Ledger(lambda: T0)
    ledger.open_account(*MULE, "李某某", "310***********123X", {"CNY": D(balance)})
    ledger.open_account(*VICTIM, "冯某", "310***********0012", {"CNY": D("100")})
    return ledger


def deliver(ledger: Ledger, body: m.MessageBody, bank: str = "ABC") -> tuple[m.Envelope, m.MessageBody]:
    envelope = sign_envelope(body, CENTER, recipient=f"bank:{bank}", idempotency_key=f"k-{uuid.uuid4()}")
    return envelope, handlers.answer(ledger, envelope)


def hold_by(ledger: Ledger, body: m.MessageBody) -> str:
    """Place a hold by instruction; returns the instruction's envelope id (a Return's target_id)."""
    envelope, result = deliver(ledger, body)
    assert getattr(result, "status", None) in ("held", "frozen"), result
    return envelope.id


def ret(target: str, amount: str, payee: tuple[str, str] = VICTIM, case: str = CASE,
        account: str = MULE[1]) -> m.Return:
    return m.Return(case_number=case, officer=OFFICER, target_id=target, account=account, bank_code="ABC",
                    amount=D(amount), currency="CNY", payee_account=payee[1], payee_bank=payee[0],
                    payee_name="冯某", basis="pro_rata")


def conserved(ledger: Ledger) -> Decimal:
    return ledger.total("CNY") - ledger.external_in["CNY"] + ledger.external_out["CNY"]


def test_a_return_moves_frozen_money_to_the_victim_and_the_rest_stays_frozen() -> None:
    ledger = books()
    target = hold_by(ledger, freeze(MULE[1], "3000"))
    _, result = deliver(ledger, ret(target, "1875"))
    assert isinstance(result, m.ReturnResult)
    assert (result.status, result.returned_amount, result.executed_at) == ("returned", D("1875"), T0)
    assert ledger.account(*VICTIM).balance("CNY") == D("1975")
    assert ledger.account(*MULE).balance("CNY") == D("4125")
    (hold,) = ledger.account(*MULE).active_holds()
    assert (hold.kind, hold.amount) == (HoldKind.FREEZE, D("1125"))
    assert ledger.available(*MULE, "CNY") == D("3000")  # the holder's own 3,000 was never frozen
    out = ledger.transactions(*MULE)[-1]
    into = ledger.transactions(*VICTIM)[-1]
    assert (out.direction, out.counterparty_bank, out.counterparty_account) == ("out", *VICTIM)
    assert (into.direction, into.amount, into.counterparty_account) == ("in", D("1875"), MULE[1])
    assert conserved(ledger) == 0


def test_a_victim_at_a_bank_not_simulated_is_paid_out_of_the_books() -> None:
    ledger = books()
    target = hold_by(ledger, freeze(MULE[1], "3000"))
    _, result = deliver(ledger, ret(target, "3000", payee=ELSEWHERE))
    assert isinstance(result, m.ReturnResult) and result.status == "returned"
    assert ledger.external_out["CNY"] == D("3000") and conserved(ledger) == 0
    out = ledger.transactions(*MULE)[-1]
    assert (out.amount, out.counterparty_bank, out.counterparty_account) == (D("3000"), *ELSEWHERE)
    assert ledger.account(*MULE).active_holds()[0].amount == 0


@pytest.mark.parametrize(("setup", "code"), [
    ("more_than_held", "exceeds_hold"),
    ("stop_payment", "wrong_kind"),
    ("released", "hold_released"),
    ("other_case", "wrong_case"),
    ("other_account", "wrong_account"),
    ("no_hold", "no_such_hold"),
])
def test_a_return_is_refused_unless_from_an_active_freeze_within_what_it_holds(setup: str, code: str) -> None:
    ledger = books()
    before = (ledger.account(*MULE).balance("CNY"), ledger.account(*VICTIM).balance("CNY"))
    if setup == "stop_payment":
        target = hold_by(ledger, stop_payment(MULE[1], "3000"))
    else:
        target = hold_by(ledger, freeze(MULE[1], "3000"))
    body = ret(target, "1000")
    if setup == "more_than_held":
        body = ret(target, "3000.01")
    elif setup == "released":
        deliver(ledger, m.Release(case_number=CASE, officer=OFFICER, target_id=target, kind="freeze", reason="解除"))
    elif setup == "other_case":
        body = ret(target, "1000", case="SH20261125-000999")
    elif setup == "other_account":
        body = ret(target, "1000", account="6228480402564890019")
    elif setup == "no_hold":
        body = ret(str(uuid.uuid4()), "1000")
    _, result = deliver(ledger, body)
    assert isinstance(result, m.ReturnResult)
    assert (result.status, result.returned_amount) == ("rejected", D(0))
    assert (result.reason or "").startswith(code + ":")
    assert (ledger.account(*MULE).balance("CNY"), ledger.account(*VICTIM).balance("CNY")) == before


def test_a_whole_account_freeze_returns_only_what_other_holds_do_not_keep() -> None:
    ledger = books("5000")
    hold_by(ledger, stop_payment(MULE[1], "1000"))  # another order keeps 1,000
    target = hold_by(ledger, freeze(MULE[1]))  # the whole account
    _, refused = deliver(ledger, ret(target, "4500"))
    assert isinstance(refused, m.ReturnResult) and refused.status == "rejected"
    assert "exceeds_hold" in (refused.reason or "")
    _, result = deliver(ledger, ret(target, "4000"))
    assert isinstance(result, m.ReturnResult) and result.status == "returned"
    assert ledger.account(*MULE).balance("CNY") == D("1000")
    assert ledger.available(*MULE, "CNY") == 0  # the whole-account freeze still holds the rest
    assert conserved(ledger) == 0


def test_a_closed_payee_account_is_refused() -> None:
    ledger = books()
    target = hold_by(ledger, freeze(MULE[1], "3000"))
    ledger.account(*VICTIM).status = AccountStatus.CLOSED
    _, result = deliver(ledger, ret(target, "1000"))
    assert isinstance(result, m.ReturnResult) and result.status == "rejected"
    assert (result.reason or "").startswith("account_closed:")


# ---- over HTTP, against the real process ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with running(tmp_path_factory.mktemp("keys")) as simulator:
        yield simulator


def test_the_bank_process_executes_a_return_once_however_often_it_is_sent(sim: Sim) -> None:
    mule = sim.new_account("ABC", balance="6000")
    victim = sim.new_account("ICBC", balance="0", holder="冯某")
    frozen = sim.envelope(freeze(mule, "3000"))
    assert sim.post(frozen).status_code == 200
    before = sim.stats("ABC").get("applied", 0)
    envelope = sim.envelope(ret(frozen.id, "1875", payee=("ICBC", victim), account=mule))
    first = sim.post(envelope)
    again = sim.post(envelope)
    assert first.status_code == again.status_code == 200 and first.content == again.content
    answer = sim.answer(first).typed_body()
    assert isinstance(answer, m.ReturnResult) and answer.request_id == envelope.id
    assert (answer.status, answer.returned_amount) == ("returned", D("1875"))
    assert answer.executed_at is not None and abs(answer.executed_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert sim.stats("ABC").get("applied", 0) == before + 1
    assert D(sim.account("ICBC", victim)["balances"]["CNY"]) == D("1875")
    books_view = sim.account("ABC", mule)
    assert D(books_view["balances"]["CNY"]) == D("4125")
    assert [D(h["amount"]) for h in books_view["holds"]] == [D("1125")]
