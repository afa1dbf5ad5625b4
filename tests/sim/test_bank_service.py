"""The simulated banks as the center meets them: a separate process, signed messages over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from simbanks import CASE, OFFICER, Sim, freeze, running, stop_payment

from fanzha.banking import messages as m
from fanzha.banking.bins import bank_names
from fanzha.banking.keys import KeyRing, generate_key, load_private_key
from fanzha.banking.signing import sign

D = Decimal


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with running(tmp_path_factory.mktemp("keys"), "--seed", "7") as sim:
        yield sim


def _near(value: datetime | None, expected: datetime) -> bool:
    return value is not None and abs(value - expected) < timedelta(seconds=30)


def test_every_bank_is_served_with_its_own_published_key(sim: Sim) -> None:
    health = sim.http.get("/healthz").json()
    assert health["ok"] and health["banks"] == len(bank_names()) and health["center_keyring"] == "loaded"
    orgs = {entry.org for entry in sim.banks_ring}
    assert orgs == {f"bank:{code}" for code in bank_names()}
    assert oct(next(sim.keys_dir.glob("bank_ABC.*.pem")).stat().st_mode & 0o777) == "0o600"


def test_seeded_demo_account_of_the_test_reports_exists(sim: Sim) -> None:
    account = sim.account("ABC", "6228480402564890018")
    assert account["holder_name"] == "李某某" and D(account["balances"]["CNY"]) > 0


def test_whole_account_stop_payment_holds_everything(sim: Sim) -> None:
    number = sim.new_account(balance="10000")
    answer = sim.send(stop_payment(number))
    assert isinstance(answer, m.StopPaymentResult)
    assert (answer.status, answer.held_amount, answer.balance_at_hold) == ("held", D("10000"), D("10000"))
    assert _near(answer.expires_at, datetime.now(UTC) + timedelta(hours=48))
    refused = sim.move(**{"from": {"bank": "ABC", "account": number}, "amount": "0.01", "channel": "atm"})
    assert refused.status_code == 409 and refused.json()["error"] == "insufficient_funds"


def test_limited_stop_payment_blocks_a_withdrawal_beyond_what_is_free(sim: Sim) -> None:
    number = sim.new_account(balance="10000")
    answer = sim.send(stop_payment(number, "7000"))
    assert (answer.status, answer.held_amount) == ("held", D("7000"))
    source = {"bank": "ABC", "account": number}
    refused = sim.move(**{"from": source, "amount": "3000.01", "channel": "atm"})
    assert refused.status_code == 409 and "7000 CNY held" in refused.json()["message"]
    assert sim.move(**{"from": source, "amount": "3000", "channel": "atm"}).status_code == 201
    account = sim.account("ABC", number)
    assert (account["balances"]["CNY"], account["available"]["CNY"], account["held"]["CNY"]) == ("7000", "0", "7000")


def test_stop_payment_beyond_the_balance_is_partial(sim: Sim) -> None:
    number = sim.new_account(balance="4000")
    answer = sim.send(stop_payment(number, "70000"))
    assert (answer.status, answer.held_amount) == ("partial", D("4000"))
    again = sim.send(stop_payment(number, "1"))
    assert again.status == "rejected" and again.held_amount == 0 and "no_funds" in again.reason


def test_stop_payment_refused_for_unknown_account_wrong_bank_or_wrong_name(sim: Sim) -> None:
    number = sim.new_account(bank="ICBC", holder="钱某")
    unknown = sim.send(stop_payment("6228480400000000001"))
    assert unknown.status == "rejected" and unknown.reason.startswith("no_such_account")
    elsewhere = sim.send(stop_payment(number, bank="ABC"))  # an ICBC account asked of ABC
    assert elsewhere.status == "rejected" and elsewhere.reason.startswith("no_such_account")
    wrong_name = sim.send(stop_payment(number, bank="ICBC", name="孙某"))
    assert wrong_name.status == "rejected" and wrong_name.reason.startswith("name_mismatch")
    assert sim.send(stop_payment(number, bank="ICBC", name="钱某")).status == "held"


def test_renew_twice_then_third_refused(sim: Sim) -> None:
    number = sim.new_account()
    placed = sim.envelope(stop_payment(number, "100"))
    first = sim.answer(sim.post(placed)).typed_body()
    assert isinstance(first, m.StopPaymentResult) and first.expires_at is not None
    renew = m.Renew(case_number=CASE, officer=OFFICER, target_id=placed.id, kind="stop_payment", hours_or_days=48)
    for n in (1, 2):
        answer = sim.send(renew)
        assert answer.status == "renewed" and answer.expires_at == first.expires_at + timedelta(hours=48 * n)
    third = sim.send(renew)
    assert third.status == "rejected" and third.reason.startswith("renewals_exhausted")
    wrong_kind = sim.send(renew.model_copy(update={"kind": "freeze"}))
    assert wrong_kind.status == "rejected" and wrong_kind.reason.startswith("wrong_kind")


def test_freeze_is_limited_to_its_amount_and_major_cases_run_a_year(sim: Sim) -> None:
    number = sim.new_account(balance="8000")
    answer = sim.send(freeze(number, "5000"))
    assert isinstance(answer, m.FreezeResult)
    assert (answer.status, answer.frozen_amount) == ("frozen", D("5000"))
    assert _near(answer.expires_at, datetime.now(UTC) + timedelta(days=180))
    assert sim.account("ABC", number)["available"]["CNY"] == "3000"
    major = sim.send(freeze(number, "9000", major=True, days=365))
    assert (major.status, major.frozen_amount) == ("partial", D("3000"))
    assert _near(major.expires_at, datetime.now(UTC) + timedelta(days=365))
    asked_too_long = sim.send(freeze(sim.new_account(), "1", days=365))  # not major: the rule caps it at 180
    assert _near(asked_too_long.expires_at, datetime.now(UTC) + timedelta(days=180))


def test_freeze_takes_over_the_money_a_stop_payment_held(sim: Sim) -> None:
    number = sim.new_account(balance="10000")
    sim.send(stop_payment(number, "10000"))
    answer = sim.send(freeze(number, "6000"))
    assert (answer.status, answer.frozen_amount) == ("frozen", D("6000"))
    assert sim.account("ABC", number)["held"]["CNY"] == "10000"


def test_release_frees_the_money_once(sim: Sim) -> None:
    number = sim.new_account(balance="8000")
    placed = sim.envelope(freeze(number, "8000"))
    assert sim.answer(sim.post(placed)).typed_body().status == "frozen"
    release = m.Release(case_number=CASE, officer=OFFICER, target_id=placed.id, kind="freeze", reason="资金已返还")
    assert sim.send(release).status == "released"
    assert sim.account("ABC", number)["available"]["CNY"] == "8000"
    again = sim.send(release)
    assert again.status == "rejected" and again.reason.startswith("hold_released")
    other_case = sim.send(release.model_copy(update={"case_number": "SH20261125-000999"}))
    assert other_case.status == "rejected" and other_case.reason.startswith("wrong_case")


def test_transaction_query_returns_what_happened_since(sim: Sim) -> None:
    mule, victim = sim.new_account(balance="1000"), sim.new_account(bank="ICBC", balance="50000", holder="冯某")
    moved = sim.move(**{"from": {"bank": "ICBC", "account": victim}, "to": {"bank": "ABC", "account": mule},
                        "amount": "20000"})
    assert moved.status_code == 201
    before = datetime.fromisoformat(moved.json()["transactions"][1]["at"])  # the in leg; at or after it
    sim.move(**{"from": {"bank": "ABC", "account": mule}, "amount": "5000", "channel": "atm"})
    answer = sim.send(m.TransactionQuery(case_number=CASE, officer=OFFICER, account=mule, bank_code="ABC",
                                         since=before))
    assert isinstance(answer, m.TransactionQueryResult)
    rows = [(t.direction, t.amount, t.channel, t.counterparty_account, t.balance_after) for t in answer.transactions]
    assert rows == [("in", D("20000"), "transfer", victim, D("21000")), ("out", D("5000"), "atm", None, D("16000"))]
    everything = sim.send(m.TransactionQuery(case_number=CASE, officer=OFFICER, account=mule, bank_code="ABC",
                                             since=before - timedelta(days=1)))
    assert len(everything.transactions) == 3  # with the opening balance


def test_account_query_gives_holder_status_balances_and_holds(sim: Sim) -> None:
    number = sim.new_account(balance="2500.50", holder="周某")
    held = sim.send(stop_payment(number, "1000"))
    answer = sim.send(m.AccountQuery(case_number=CASE, officer=OFFICER, account=number, bank_code="ABC"))
    assert isinstance(answer, m.AccountQueryResult)
    assert (answer.holder_name, answer.status, answer.holder_id_masked) == ("周某", "active", "310***********123X")
    assert [(b.currency, b.balance, b.available) for b in answer.balances] == [("CNY", D("2500.50"), D("1500.50"))]
    [hold] = answer.holds
    assert (hold.kind, hold.amount, hold.expires_at) == ("stop_payment", D("1000"), held.expires_at)
    unknown = sim.post(sim.envelope(m.AccountQuery(case_number=CASE, officer=OFFICER, account="6228480400000000002",
                                                   bank_code="ABC")))
    error = sim.answer(unknown).typed_body()
    assert unknown.status_code == 200 and isinstance(error, m.Error) and error.code == "no_such_account"


def test_answers_are_signed_by_the_bank_for_the_request(sim: Sim) -> None:
    number = sim.new_account()
    envelope = sim.envelope(stop_payment(number, "1"))
    answer = sim.answer(sim.post(envelope))
    assert (answer.sender, answer.recipient, answer.type) == ("bank:ABC", "center", m.MessageType.STOP_PAYMENT_RESULT)
    assert answer.typed_body().request_id == envelope.id  # type: ignore[union-attr]
    assert sim.banks_ring.get(answer.kid) is not None


def test_bad_signature_is_refused_with_a_signed_error(sim: Sim) -> None:
    number = sim.new_account(balance="5000")
    before = sim.stats("ABC").get("bad_signature", 0)
    wire = sim.envelope(stop_payment(number, "100")).to_wire()
    wire["body"]["amount"] = "5000"  # altered after signing
    response = sim.post(json.dumps(wire).encode())
    assert response.status_code == 401
    error = sim.answer(response)
    assert error.sender == "bank:ABC" and isinstance(error.typed_body(), m.Error)
    assert error.typed_body().code == "bad_signature" and error.typed_body().request_id == wire["id"]
    # Signed by a key the center never published: refused as well.
    kid, path = generate_key("center", sim.keys_dir / "rogue")
    rogue = sign({k: v for k, v in wire.items() if k not in ("kid", "sig")}, load_private_key(path), kid)
    assert sim.post(json.dumps(rogue).encode()).status_code == 401
    assert sim.stats("ABC")["bad_signature"] == before + 2
    assert sim.account("ABC", number)["holds"] == []


def test_malformed_unknown_bank_and_misrouted_messages_are_refused(sim: Sim) -> None:
    garbage = sim.post(b"{not json")
    assert garbage.status_code == 422 and sim.answer(garbage).typed_body().code == "invalid_message"
    envelope = sim.envelope(stop_payment(sim.new_account(bank="ICBC"), bank="ICBC"), bank="ICBC")
    assert sim.post(envelope, bank="NOSUCHBANK").status_code == 404
    misrouted = sim.post(envelope, bank="ABC")
    assert misrouted.status_code == 422 and sim.answer(misrouted).typed_body().code == "misrouted"


def test_a_repeated_idempotency_key_gets_the_same_answer_and_acts_once(sim: Sim) -> None:
    number = sim.new_account(bank="CMB", balance="9000")
    before = sim.stats("CMB")
    envelope = sim.envelope(stop_payment(number, "4000", bank="CMB"), bank="CMB")
    first, second = sim.post(envelope, bank="CMB"), sim.post(envelope, bank="CMB")
    assert first.status_code == second.status_code == 200 and first.content == second.content
    after = sim.stats("CMB")
    assert after["applied"] - before.get("applied", 0) == 1
    assert after["duplicates_suppressed"] - before.get("duplicates_suppressed", 0) == 1
    assert len(sim.account("CMB", number)["holds"]) == 1 and sim.account("CMB", number)["held"]["CNY"] == "4000"
    # The same key for a different instruction is a client bug, refused without acting.
    reused = sim.envelope(stop_payment(number, "5000", bank="CMB"), bank="CMB", key=envelope.idempotency_key)
    conflict = sim.post(reused, bank="CMB")
    assert conflict.status_code == 409 and sim.answer(conflict).typed_body().code == "idempotency_conflict"
    assert len(sim.account("CMB", number)["holds"]) == 1


def test_admin_refuses_bad_requests(sim: Sim) -> None:
    assert sim.http.get("/admin/accounts/ABC/6228480400000000003").status_code == 404
    assert sim.http.get("/admin/accounts/NOSUCHBANK/6228480400000000003").status_code == 404
    exists = sim.http.post("/admin/accounts", json={"bank": "ABC", "account": "6228480402564890018",
                                                    "holder_name": "x"})
    assert exists.status_code == 409
    floaty = sim.move(**{"to": {"bank": "ABC", "account": "6228480402564890018"}, "amount": 1.5})
    assert floaty.status_code == 422
    assert sim.http.post("/admin/faults", json={"bank": "ABC", "mode": "explode"}).status_code == 422


def test_keys_are_reused_across_restarts(sim: Sim, tmp_path: Path) -> None:
    ring = KeyRing.load(sim.keys_dir / "banks.keyring.json")
    assert len(ring) == len(bank_names())  # one key per bank, not a new one per start
