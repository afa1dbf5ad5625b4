"""The v1 message schemas: every type survives JSON exactly; floats, naive times and strangers are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from fanzha.banking import messages as m
from fanzha.banking.messages import (
    Envelope,
    InvalidMessage,
    MessageType,
    UnknownMessageType,
    UnsupportedVersion,
    body_model,
    new_envelope,
    parse_envelope,
)

CST = timezone(timedelta(hours=8))
AT = datetime(2026, 11, 25, 10, 15, 30, tzinfo=CST)
REQ = "0b0f5a4e-8c0e-4d3b-9a53-5b8f0a0f6e11"
CASE = "SH20261125-000123"
# Signing is tested in test_signing.py; a well-formed placeholder keeps these tests about the schema.
FAKE_KID = "0123456789abcdef"
FAKE_SIG = "A" * 86 + "=="


def sample_bodies() -> dict[MessageType, m.MessageBody]:
    return {
        MessageType.STOP_PAYMENT: m.StopPayment(
            case_number=CASE, officer="警号 012345 张伟", account="6228480012345678901", bank_code="ABC",
            account_name="李四", amount=Decimal("70000.00"), currency="CNY", reason="电信诈骗涉案账户",
            victim_transfer_at=AT - timedelta(minutes=20)),
        MessageType.STOP_PAYMENT_RESULT: m.StopPaymentResult(
            request_id=REQ, status="partial", held_amount=Decimal("41234.56"), currency="CNY",
            balance_at_hold=Decimal("41234.56"), expires_at=AT + timedelta(hours=48), reason="余额不足"),
        MessageType.FREEZE: m.Freeze(case_number=CASE, officer="012345", account="6228480012345678901",
                                     bank_code="ABC", amount=Decimal("3000"), currency="EUR", major_case=True,
                                     days=365),
        MessageType.FREEZE_RESULT: m.FreezeResult(request_id=REQ, status="frozen", frozen_amount=Decimal("3000"),
                                                  currency="EUR", expires_at=AT + timedelta(days=365)),
        MessageType.RENEW: m.Renew(case_number=CASE, officer="012345", target_id=REQ, kind="stop_payment",
                                   hours_or_days=48),
        MessageType.RENEW_RESULT: m.RenewResult(request_id=REQ, status="renewed", expires_at=AT + timedelta(hours=96)),
        MessageType.RELEASE: m.Release(case_number=CASE, officer="012345", target_id=REQ, kind="freeze",
                                       reason="funds returned to victim"),
        MessageType.RELEASE_RESULT: m.ReleaseResult(request_id=REQ, status="rejected", reason="no such hold"),
        MessageType.TRANSACTION_QUERY: m.TransactionQuery(case_number=CASE, officer="012345",
                                                          account="6228480012345678901", bank_code="ABC",
                                                          since=AT - timedelta(hours=2)),
        MessageType.TRANSACTION_QUERY_RESULT: m.TransactionQueryResult(
            request_id=REQ, account="6228480012345678901", transactions=[
                m.Transaction(txn_id="T1", at=AT, direction="in", amount=Decimal("5000"), currency="CNY",
                              counterparty_account="6217001234567890123", counterparty_bank="CCB",
                              channel="transfer", balance_after=Decimal("6000.00")),
                m.Transaction(txn_id="T2", at=AT + timedelta(minutes=3), direction="out", amount=Decimal("2000"),
                              currency="CNY", channel="atm", balance_after=Decimal("-0.01")),
            ]),
        MessageType.ACCOUNT_QUERY: m.AccountQuery(case_number=CASE, officer="012345", account="6228480012345678901",
                                                  bank_code="ABC"),
        MessageType.ACCOUNT_QUERY_RESULT: m.AccountQueryResult(
            request_id=REQ, account="6228480012345678901", holder_name="李四", holder_id_masked="3101**********1234",
            status="active", balances=[m.Balance(currency="CNY", balance=Decimal("6000.00"),
                                                 available=Decimal("0.00"))],
            holds=[m.Hold(hold_id="H1", kind="stop_payment", amount=Decimal("6000.00"), currency="CNY",
                          expires_at=AT + timedelta(hours=48))]),
        MessageType.RETURN: m.Return(case_number=CASE, officer="012345", target_id=REQ, account="6228480012345678901",
                                     bank_code="ABC", amount=Decimal("1875.00"), currency="CNY",
                                     payee_account="6217001234567890123", payee_bank="CCB", payee_name="王五",
                                     basis="pro_rata"),
        MessageType.RETURN_RESULT: m.ReturnResult(request_id=REQ, status="returned", returned_amount=Decimal("1875.00"),
                                                  currency="CNY", executed_at=AT + timedelta(days=2)),
        MessageType.ACK: m.Ack(request_id=REQ, received_at=AT, expected_by=AT + timedelta(days=3)),
        MessageType.ERROR: m.Error(request_id=REQ, code="bad_signature", message="key retired"),
    }


def route(kind: MessageType) -> tuple[str, str]:
    return ("center", "bank:ABC") if kind in m.INSTRUCTION_TYPES else ("bank:ABC", "center")


def wire(body: Any, **changes: Any) -> dict[str, Any]:
    sender, recipient = route(m.type_of(body))
    data = new_envelope(body, sender=sender, recipient=recipient, idempotency_key="SH20261125-000123:sp:1",
                        sent_at=AT)
    data.update(kid=FAKE_KID, sig=FAKE_SIG)
    data.update(changes)
    return data


def test_every_message_type_has_a_sample() -> None:
    assert set(sample_bodies()) == set(MessageType)


@pytest.mark.parametrize("kind", list(MessageType), ids=str)
def test_every_type_round_trips_through_json_bytes(kind: MessageType) -> None:
    body = sample_bodies()[kind]
    sent = wire(body)
    text = json.dumps(sent, ensure_ascii=False).encode("utf-8")
    received = parse_envelope(text)
    assert received.type is kind
    assert isinstance(received.typed_body(), body_model(kind))
    assert received.typed_body() == body
    assert received.to_wire() == sent  # the signed form survives untouched
    assert json.loads(received.to_json_bytes()) == sent


def test_amounts_travel_as_exact_decimal_strings() -> None:
    body = m.StopPayment(case_number=CASE, officer="o", account="6228480012345678901", bank_code="ABC",
                         amount=Decimal("123456789012345.67"[1:]), currency="CNY", reason="r")
    sent = wire(body)
    assert sent["body"]["amount"] == "23456789012345.67"
    received = parse_envelope(json.dumps(sent))
    assert received.typed_body() == body
    amount = received.typed_body().amount  # type: ignore[union-attr]
    assert amount == Decimal("23456789012345.67") and str(amount) == "23456789012345.67"


def test_large_round_amounts_are_written_in_plain_digits_not_exponents() -> None:
    body = m.FreezeResult(request_id=REQ, status="frozen", frozen_amount=Decimal("1E+6"), currency="CNY",
                          expires_at=AT)
    assert body.model_dump(mode="json")["frozen_amount"] == "1000000"


def test_json_float_amounts_are_refused() -> None:
    sent = wire(sample_bodies()[MessageType.STOP_PAYMENT])
    sent["body"]["amount"] = 70000.1
    with pytest.raises(InvalidMessage, match="never floats"):
        parse_envelope(sent)


@pytest.mark.parametrize(("amount", "currency", "ok"), [
    ("12000.50", "CNY", True), ("12000.505", "CNY", False), ("500", "JPY", True), ("500.5", "JPY", False),
    ("1.234", "KWD", True), ("0", "CNY", False), ("-5", "CNY", False), ("NaN", "CNY", False),
    ("Infinity", "CNY", False), ("1000000000000000", "CNY", False),
])
def test_amount_rules_follow_the_currency(amount: str, currency: str, ok: bool) -> None:
    sent = wire(sample_bodies()[MessageType.STOP_PAYMENT])
    sent["body"].update(amount=amount, currency=currency)
    if ok:
        assert parse_envelope(sent).typed_body().amount == Decimal(amount)  # type: ignore[union-attr]
    else:
        with pytest.raises(InvalidMessage):
            parse_envelope(sent)


def test_unknown_currency_and_lower_case_code_refused() -> None:
    for code in ("XXX", "cny", " CNY"):
        sent = wire(sample_bodies()[MessageType.STOP_PAYMENT])
        sent["body"]["currency"] = code
        with pytest.raises(InvalidMessage, match="currency"):
            parse_envelope(sent)


def test_naive_datetimes_are_refused_everywhere() -> None:
    naive = "2026-11-25T10:15:30"
    with pytest.raises(InvalidMessage, match="sent_at"):
        parse_envelope(wire(sample_bodies()[MessageType.STOP_PAYMENT], sent_at=naive))
    sent = wire(sample_bodies()[MessageType.STOP_PAYMENT])
    sent["body"]["victim_transfer_at"] = naive
    with pytest.raises(InvalidMessage, match="victim_transfer_at"):
        parse_envelope(sent)
    with pytest.raises(ValidationError):
        m.TransactionQuery(case_number=CASE, officer="o", account="6228480012345678901", bank_code="ABC",
                           since=datetime(2026, 11, 25, 10, 0))
    with pytest.raises(InvalidMessage, match="naive"):
        new_envelope(sample_bodies()[MessageType.STOP_PAYMENT], sender="center", recipient="bank:ABC",
                     idempotency_key="k", sent_at=datetime(2026, 11, 25, 10, 0))


def test_sent_at_is_kept_as_written_so_the_signed_text_survives() -> None:
    for spelling in ("2026-11-25T02:15:30Z", "2026-11-25T02:15:30+00:00", "2026-11-25T10:15:30.5+08:00"):
        sent = wire(sample_bodies()[MessageType.STOP_PAYMENT], sent_at=spelling)
        envelope = parse_envelope(sent)
        assert envelope.to_wire()["sent_at"] == spelling
        assert envelope.sent_time.utcoffset() is not None


@pytest.mark.parametrize("version", [2, 0, "1", True, 1.0, None])
def test_unknown_version_is_refused_by_name(version: object) -> None:
    with pytest.raises(UnsupportedVersion, match=f"version {version!r}"):
        parse_envelope(wire(sample_bodies()[MessageType.ERROR], v=version))


def test_unknown_type_is_refused_by_name() -> None:
    with pytest.raises(UnknownMessageType, match="'Refund'"):
        parse_envelope(wire(sample_bodies()[MessageType.ERROR], type="Refund"))
    with pytest.raises(UnknownMessageType):
        parse_envelope(wire(sample_bodies()[MessageType.ERROR], type=None))
    with pytest.raises(UnknownMessageType, match="'Nope'"):
        body_model("Nope")
    assert issubclass(UnknownMessageType, ValueError) and issubclass(UnsupportedVersion, ValueError)


def test_body_of_another_type_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="body"):
        parse_envelope(wire(sample_bodies()[MessageType.FREEZE], type="StopPayment"))


def test_unknown_fields_are_refused_in_envelope_and_body() -> None:
    with pytest.raises(InvalidMessage, match="priority: Extra inputs"):
        parse_envelope(wire(sample_bodies()[MessageType.ERROR], priority="urgent"))
    sent = wire(sample_bodies()[MessageType.STOP_PAYMENT])
    sent["body"]["amount_usd"] = "1"
    with pytest.raises(InvalidMessage, match=r"body\.amount_usd"):
        parse_envelope(sent)


@pytest.mark.parametrize(("field", "value"), [
    ("id", "not-a-uuid"), ("id", "c232ab00-9414-11ec-b3c8-9f6bdeced846"), ("id", REQ.upper()), ("kid", "XYZ"),
    ("sig", "short"), ("idempotency_key", ""), ("idempotency_key", "has space"), ("sender", "bank:abc"),
    ("recipient", "carrier:CMCC"),
])
def test_malformed_envelope_fields_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidMessage, match=field):
        parse_envelope(wire(sample_bodies()[MessageType.STOP_PAYMENT], **{field: value}))


def test_not_json_or_not_an_object_refused() -> None:
    with pytest.raises(InvalidMessage, match="not JSON"):
        parse_envelope(b"\xff{")
    with pytest.raises(InvalidMessage, match="JSON object"):
        parse_envelope(b"[1, 2]")


def test_instructions_go_from_center_to_a_bank_and_answers_come_back() -> None:
    with pytest.raises(InvalidMessage, match="from center to a bank"):
        parse_envelope(wire(sample_bodies()[MessageType.STOP_PAYMENT], sender="bank:ABC", recipient="center"))
    with pytest.raises(InvalidMessage, match="from a bank to center"):
        parse_envelope(wire(sample_bodies()[MessageType.STOP_PAYMENT_RESULT], sender="center",
                            recipient="bank:ABC"))
    with pytest.raises(InvalidMessage):
        parse_envelope(wire(sample_bodies()[MessageType.ERROR], sender="bank:ABC", recipient="bank:ICBC"))
    assert parse_envelope(wire(sample_bodies()[MessageType.ERROR], sender="center", recipient="bank:ABC"))


def test_instruction_naming_another_bank_is_refused_before_signing() -> None:
    with pytest.raises(InvalidMessage, match="bank_code ABC but recipient is bank:ICBC"):
        new_envelope(sample_bodies()[MessageType.STOP_PAYMENT], sender="center", recipient="bank:ICBC",
                     idempotency_key="k")
    with pytest.raises(InvalidMessage):
        parse_envelope(wire(sample_bodies()[MessageType.FREEZE], recipient="bank:ICBC"))


def test_results_must_be_self_consistent() -> None:
    with pytest.raises(ValidationError, match="needs a reason"):
        m.StopPaymentResult(request_id=REQ, status="rejected", held_amount=Decimal(0), currency="CNY")
    with pytest.raises(ValidationError, match="holds nothing"):
        m.StopPaymentResult(request_id=REQ, status="rejected", held_amount=Decimal(1), currency="CNY", reason="x")
    with pytest.raises(ValidationError, match="expires_at"):
        m.StopPaymentResult(request_id=REQ, status="held", held_amount=Decimal(1), currency="CNY")
    with pytest.raises(ValidationError, match="expires_at"):
        m.FreezeResult(request_id=REQ, status="partial", frozen_amount=Decimal(1), currency="CNY")
    with pytest.raises(ValidationError, match="expires_at"):
        m.RenewResult(request_id=REQ, status="renewed")
    with pytest.raises(ValidationError, match="reason"):
        m.ReleaseResult(request_id=REQ, status="rejected")
    with pytest.raises(ValidationError, match="until is before since"):
        m.TransactionQuery(case_number=CASE, officer="o", account="6228480012345678901", bank_code="ABC",
                           since=AT, until=AT - timedelta(seconds=1))


def test_accounts_must_arrive_normalised() -> None:
    for account in ("6228 4800 1234 5678", "6228-4800-1234-5678", "abc12345", "12345"):
        sent = wire(sample_bodies()[MessageType.STOP_PAYMENT])
        sent["body"]["account"] = account
        with pytest.raises(InvalidMessage, match="account"):
            parse_envelope(sent)


def test_defaults_are_written_out_so_the_bank_never_guesses() -> None:
    body = m.StopPayment(case_number=CASE, officer="o", account="6228480012345678901", bank_code="ABC",
                         currency="CNY", reason="r")
    sent = wire(body)["body"]
    assert sent["hold_hours"] == 48 and sent["amount"] is None  # None = whole account
    freeze = m.Freeze(case_number=CASE, officer="o", account="6228480012345678901", bank_code="ABC", currency="CNY")
    assert freeze.model_dump(mode="json")["days"] == 180 and freeze.major_case is False


def test_answer_type_for_each_instruction() -> None:
    assert m.RESULT_TYPE[MessageType.STOP_PAYMENT] is MessageType.STOP_PAYMENT_RESULT
    assert m.INSTRUCTION_TYPES | m.ANSWER_TYPES | {MessageType.ERROR} == set(MessageType)
    for instruction, answer in m.RESULT_TYPE.items():
        assert answer.value == f"{instruction.value}Result"
    assert MessageType.ACK in m.ANSWER_TYPES and MessageType.ACK not in m.RESULT_TYPE.values()


def test_a_return_result_says_how_much_moved_and_when() -> None:
    with pytest.raises(ValidationError, match="moves money"):
        m.ReturnResult(request_id=REQ, status="returned", returned_amount=Decimal(0), currency="CNY", executed_at=AT)
    with pytest.raises(ValidationError, match="needs executed_at"):
        m.ReturnResult(request_id=REQ, status="returned", returned_amount=Decimal(1), currency="CNY")
    with pytest.raises(ValidationError, match="needs a reason"):
        m.ReturnResult(request_id=REQ, status="rejected", returned_amount=Decimal(0), currency="CNY")
    with pytest.raises(ValidationError, match="at most 2 decimal places"):
        m.Return(case_number=CASE, officer="o", target_id=REQ, account="6228480012345678901", bank_code="ABC",
                 amount=Decimal("1.005"), currency="CNY", payee_account="6217001234567890123", payee_bank="CCB",
                 payee_name="王五", basis="single_victim")


def test_an_ack_comes_only_from_a_bank() -> None:
    ack = sample_bodies()[MessageType.ACK]
    with pytest.raises(InvalidMessage, match="goes from a bank to center"):
        new_envelope(ack, sender="center", recipient="bank:ABC", idempotency_key="k")


def test_envelope_reports_its_bank_either_way() -> None:
    assert parse_envelope(wire(sample_bodies()[MessageType.STOP_PAYMENT])).bank_code == "ABC"
    assert parse_envelope(wire(sample_bodies()[MessageType.STOP_PAYMENT_RESULT])).bank_code == "ABC"


def test_envelope_is_immutable() -> None:
    envelope = parse_envelope(wire(sample_bodies()[MessageType.ERROR]))
    with pytest.raises(ValidationError):
        envelope.recipient = "bank:ICBC"  # type: ignore[misc]


_CURRENCY_DIGITS = st.sampled_from([("CNY", 2), ("EUR", 2), ("HKD", 2), ("JPY", 0), ("KWD", 3)])


@given(_CURRENCY_DIGITS, st.integers(min_value=1, max_value=10**14 - 1),
       st.sampled_from(["+00:00", "+08:00", "-05:30", "Z"]))
def test_property_amounts_and_times_survive_json_exactly(currency_digits: tuple[str, int], units: int,
                                                         offset: str) -> None:
    currency, digits = currency_digits
    amount = Decimal(units).scaleb(-digits)
    expires = datetime.fromisoformat(f"2026-11-27T10:00:00{offset}")
    body = m.StopPaymentResult(request_id=REQ, status="held", held_amount=amount, currency=currency,
                               balance_at_hold=-amount, expires_at=expires)
    received = parse_envelope(json.dumps(wire(body)).encode())
    typed = received.typed_body()
    assert typed == body
    assert isinstance(typed, m.StopPaymentResult)
    assert typed.held_amount.as_tuple() == amount.as_tuple()  # same digits, same exponent
    assert typed.expires_at is not None and typed.expires_at.utcoffset() == expires.utcoffset()
    assert typed.expires_at.astimezone(UTC) == expires.astimezone(UTC)


def test_envelope_constructed_from_its_own_dump_is_equal() -> None:
    envelope: Envelope = parse_envelope(wire(sample_bodies()[MessageType.ACCOUNT_QUERY_RESULT]))
    assert Envelope.model_validate(envelope.to_wire()) == envelope
