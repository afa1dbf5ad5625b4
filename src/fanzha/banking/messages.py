"""The center <-> bank message protocol, version 1: an ``Envelope`` around one typed body, as JSON over HTTP.

There is no public specification of China's national stop-payment platform (DOMAIN.md §3), so these shapes
are ours. Every message travels in an envelope::

    {"v": 1, "type": "StopPayment", "id": "<uuid4>", "idempotency_key": "SH20261125-000123:sp:1",
     "sent_at": "2026-11-25T10:15:00+08:00", "sender": "center", "recipient": "bank:ABC",
     "kid": "<16 hex>", "body": {...}, "sig": "<base64 Ed25519>"}

Instructions (StopPayment, Freeze, Renew, Release, TransactionQuery, AccountQuery, Return) go from ``center`` to
one ``bank:<CODE>``; each answer (``<Type>Result``, or ``Error``) goes back with ``body.request_id`` = the
instruction's envelope ``id``. A bank acts on an ``idempotency_key`` once: a resend with the same key gets the
first answer again, which is what lets the outbox retry after a crash without doubling a hold.

A bank that cannot decide at once (a person checks the holder, a return is executed within 3 working days)
answers ``Ack`` (HTTP 202): received, result to follow. The center resends the same envelope on a schedule;
the bank answers ``Ack`` again until it has its result, then the result. So "acknowledged" and "answered" are
two times on the case's timeline, and the bank never needs to reach the center.

Usage::

    unsigned = new_envelope(StopPayment(...), sender="center", recipient="bank:ABC", idempotency_key=key)
    wire = signing.sign(unsigned, private_key, kid)     # dict: POST it as JSON
    env = parse_envelope(request_bytes)                 # after signing.verify(raw_dict, keyring)
    body = env.typed_body()                             # -> StopPayment

``Envelope`` keeps ``sent_at`` and ``body`` exactly as received (strings and a plain dict) because the
signature covers the wire form: ``Envelope.model_validate(d).to_wire() == d`` for every valid ``d``, so an
envelope can be stored and re-verified later. ``typed_body()`` is the validated, typed view.

Rules on the wire: amounts are decimal strings (``"12000.50"``), never JSON floats, with at most the
currency's minor units; every time carries a UTC offset; accounts are 6-40 upper-case digits or letters,
already normalised (no spaces or dashes); unknown fields are refused.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from fanzha.channel.envelope import SignedEnvelope

# The channel's names, re-exported: bank code has always imported them from here.
from fanzha.channel.wire import CENTER as CENTER
from fanzha.channel.wire import KID_RE as KID_RE
from fanzha.channel.wire import PROTOCOL_VERSION as PROTOCOL_VERSION
from fanzha.channel.wire import SIG_RE as SIG_RE
from fanzha.channel.wire import InvalidMessage as InvalidMessage
from fanzha.channel.wire import MessageError as MessageError
from fanzha.channel.wire import Partner, lookup, require
from fanzha.channel.wire import UnknownMessageType as UnknownMessageType
from fanzha.channel.wire import UnsupportedVersion as UnsupportedVersion
from fanzha.channel.wire import Uuid4Str as Uuid4Str
from fanzha.channel.wire import decode_object as decode_object
from fanzha.money import CURRENCIES, minor_units

_MAX_AMOUNT = Decimal(10) ** 15
_AMOUNT_QUANTUM = Decimal("0.0001")  # storage keeps 4 decimals (fanzha.storage.types.MONEY_SCALE)
BANK_CODE_RE: Final = r"[A-Z0-9]{2,12}"


class MessageType(StrEnum):
    STOP_PAYMENT = "StopPayment"
    STOP_PAYMENT_RESULT = "StopPaymentResult"
    FREEZE = "Freeze"
    FREEZE_RESULT = "FreezeResult"
    RENEW = "Renew"
    RENEW_RESULT = "RenewResult"
    RELEASE = "Release"
    RELEASE_RESULT = "ReleaseResult"
    TRANSACTION_QUERY = "TransactionQuery"
    TRANSACTION_QUERY_RESULT = "TransactionQueryResult"
    ACCOUNT_QUERY = "AccountQuery"
    ACCOUNT_QUERY_RESULT = "AccountQueryResult"
    RETURN = "Return"
    RETURN_RESULT = "ReturnResult"
    ACK = "Ack"
    ERROR = "Error"


# Instruction -> the answer type that settles it (an Error answer settles any of them).
RESULT_TYPE: Final[dict[MessageType, MessageType]] = {
    MessageType.STOP_PAYMENT: MessageType.STOP_PAYMENT_RESULT,
    MessageType.FREEZE: MessageType.FREEZE_RESULT,
    MessageType.RENEW: MessageType.RENEW_RESULT,
    MessageType.RELEASE: MessageType.RELEASE_RESULT,
    MessageType.TRANSACTION_QUERY: MessageType.TRANSACTION_QUERY_RESULT,
    MessageType.ACCOUNT_QUERY: MessageType.ACCOUNT_QUERY_RESULT,
    MessageType.RETURN: MessageType.RETURN_RESULT,
}
INSTRUCTION_TYPES: Final = frozenset(RESULT_TYPE)
# An Ack says "received, answer to follow" to any instruction; the result comes on a later resend.
ANSWER_TYPES: Final = frozenset(RESULT_TYPE.values()) | {MessageType.ACK}


# ---- field types ---------------------------------------------------------------------------------------------

def _no_float(value: object) -> object:
    # A JSON float has already lost exactness by the time we see it; refuse rather than guess.
    if isinstance(value, float | bool):
        raise ValueError('amounts are decimal strings such as "12000.50", never floats')
    return value


def _amount_scale(value: Decimal) -> Decimal:
    if abs(value) >= _MAX_AMOUNT:
        raise ValueError(f"amount {value} is implausibly large")
    if value != value.quantize(_AMOUNT_QUANTUM):
        raise ValueError(f"amount {value} has more than 4 decimal places")
    return value


def _currency(value: str) -> str:
    # Exact code only: the wire is not the place to forgive "cny " (check_currency would).
    if value not in CURRENCIES:
        raise ValueError(f"unknown currency {value!r}: use an ISO 4217 code such as CNY, EUR, USD, HKD")
    return value


_Decimal = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    AfterValidator(_amount_scale),
    # Plain fixed-point text, never "1E+3".
    PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json"),
]
Amount = Annotated[_Decimal, Field(gt=0)]
NonNegativeAmount = Annotated[_Decimal, Field(ge=0)]
SignedAmount = _Decimal  # balances can be negative (overdraft, credit card)
Currency = Annotated[str, AfterValidator(_currency)]
Account = Annotated[str, Field(pattern=r"^[0-9A-Z]{6,40}$", description="normalised: 6-40 digits or letters")]
BankCode = Annotated[str, Field(pattern=rf"^{BANK_CODE_RE}$", description="bank code, e.g. ABC, ICBC")]
CaseNumber = Annotated[str, Field(pattern=r"^[A-Z]{1,6}\d{8}-\d{6}$", description="e.g. SH20261125-000123")]
Officer = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]{1,64}$",
                               description="the police officer giving the instruction (police number or user name)")]
Text = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")]
HoldKind = Literal["stop_payment", "freeze"]


class _Body(BaseModel):
    """A message body: unknown fields refused, values validated, nothing silently rewritten."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _minor_units(self) -> _Body:
        # Each amount field is checked against the currency given beside it (12000.505 CNY is not money).
        currency = getattr(self, "currency", None)
        if isinstance(currency, str):
            for name in type(self).model_fields:
                value = getattr(self, name)
                if isinstance(value, Decimal):
                    _check_minor_units(value, currency, name)
        return self


def _check_minor_units(value: Decimal, currency: str, field: str) -> None:
    digits = minor_units(currency)
    if value != value.quantize(Decimal(1).scaleb(-digits)):
        raise ValueError(f"{field}: {currency} amounts have at most {digits} decimal places, got {value}")


# ---- instructions (center -> bank) ---------------------------------------------------------------------------

class StopPayment(_Body):
    """Emergency stop-payment (紧急止付): hold the account, or up to ``amount`` of it, for ``hold_hours``.

    The bank checks name, account, amount and time. ISO 20022 has no hold order; the nearest relatives are
    camt.056 (recall request) and SWIFT gpi Stop and Recall, keyed like ``idempotency_key`` by one
    end-to-end reference (UETR).
    """

    case_number: CaseNumber
    officer: Officer
    account: Account
    bank_code: BankCode
    account_name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    amount: Amount | None = Field(default=None, description="None = the whole account")
    currency: Currency
    reason: Text
    victim_transfer_at: AwareDatetime | None = None
    hold_hours: int = Field(default=48, ge=1, le=24 * 31)


class Freeze(_Body):
    """Freeze (冻结) for ``days``; with ``amount`` it is a limited freeze (限额冻结) that never exceeds it."""

    case_number: CaseNumber
    officer: Officer
    account: Account
    bank_code: BankCode
    amount: Amount | None = Field(default=None, description="None = the whole account")
    currency: Currency
    days: int = Field(default=180, ge=1, le=3 * 366)
    major_case: bool = False


class Renew(_Body):
    """Extend an existing hold; ``hours_or_days`` is hours for a stop-payment, days for a freeze."""

    case_number: CaseNumber
    officer: Officer
    target_id: Uuid4Str = Field(description="envelope id of the original StopPayment or Freeze")
    kind: HoldKind
    hours_or_days: int = Field(ge=1, le=3 * 366)


class Release(_Body):
    case_number: CaseNumber
    officer: Officer
    target_id: Uuid4Str = Field(description="envelope id of the original StopPayment or Freeze")
    kind: HoldKind
    reason: Text


class TransactionQuery(_Body):
    """Transaction details from ``since`` (ISO 20022: camt.060 asking for a camt.052/053 report)."""

    case_number: CaseNumber
    officer: Officer
    account: Account
    bank_code: BankCode
    since: AwareDatetime
    until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _window(self) -> TransactionQuery:
        if self.until is not None and self.until < self.since:
            raise ValueError("until is before since")
        return self


class AccountQuery(_Body):
    """Holder, balances, status and holds of an account (ISO 20022 relative: acmt.023/acmt.024)."""

    case_number: CaseNumber
    officer: Officer
    account: Account
    bank_code: BankCode


class Return(_Body):
    """Return frozen money to a victim (资金返还, 原路返还; ISO 20022 relative: pacs.004 payment return).

    The money leaves the hold ``target_id`` placed on ``account`` and goes back the way it came, to the
    victim's ``payee_account``. ``basis`` records which rule of the 2016 regulation allows it (DOMAIN.md §3):
    one victim's money only, time order settles whose money is whose, or pro rata by loss after a 30-day
    public notice. The bank executes within 3 working days; what is not returned stays frozen.
    """

    case_number: CaseNumber
    officer: Officer
    target_id: Uuid4Str = Field(description="envelope id of the Freeze (or StopPayment) holding the money")
    account: Account
    bank_code: BankCode
    amount: Amount
    currency: Currency
    payee_account: Account
    payee_bank: Annotated[str, Field(min_length=1, max_length=64)]
    payee_name: Annotated[str, Field(min_length=1, max_length=64)]
    basis: Literal["single_victim", "time_order", "pro_rata"]


# ---- answers (bank -> center) --------------------------------------------------------------------------------

class StopPaymentResult(_Body):
    """The bank's answer to a StopPayment (ISO 20022 relative: camt.029 resolution of investigation).

    ``held`` = everything asked for (or the whole account) is held; ``partial`` = less was there to hold;
    ``rejected`` needs a ``reason`` and holds nothing. A hold always comes with its ``expires_at``.
    """

    request_id: Uuid4Str
    status: Literal["held", "partial", "rejected"]
    held_amount: NonNegativeAmount
    currency: Currency
    balance_at_hold: SignedAmount | None = None
    expires_at: AwareDatetime | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StopPaymentResult:
        if self.status == "rejected":
            require(self.held_amount == 0, "a rejected stop-payment holds nothing (held_amount must be 0)")
            require(self.reason is not None, "a rejected stop-payment needs a reason")
        else:
            require(self.expires_at is not None, f"a {self.status} stop-payment needs expires_at")
        return self


class FreezeResult(_Body):
    request_id: Uuid4Str
    status: Literal["frozen", "partial", "rejected"]
    frozen_amount: NonNegativeAmount
    currency: Currency
    expires_at: AwareDatetime | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FreezeResult:
        if self.status == "rejected":
            require(self.frozen_amount == 0, "a rejected freeze freezes nothing (frozen_amount must be 0)")
            require(self.reason is not None, "a rejected freeze needs a reason")
        else:
            require(self.expires_at is not None, f"a {self.status} freeze needs expires_at")
        return self


class RenewResult(_Body):
    request_id: Uuid4Str
    status: Literal["renewed", "rejected"]
    expires_at: AwareDatetime | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RenewResult:
        if self.status == "rejected":
            require(self.reason is not None, "a rejected renewal needs a reason")
        else:
            require(self.expires_at is not None, "a renewal needs the new expires_at")
        return self


class ReleaseResult(_Body):
    request_id: Uuid4Str
    status: Literal["released", "rejected"]
    reason: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ReleaseResult:
        require(self.status != "rejected" or self.reason is not None, "a rejected release needs a reason")
        return self


class Transaction(_Body):
    txn_id: Annotated[str, Field(min_length=1, max_length=64)]
    at: AwareDatetime
    direction: Literal["in", "out"]
    amount: Amount
    currency: Currency
    counterparty_account: Account | None = None
    counterparty_bank: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    # Cash-out channels (atm, counter, pos, abroad, platform) end a trace branch (DOMAIN.md §4).
    channel: Literal["transfer", "atm", "counter", "pos", "abroad", "platform"]
    balance_after: SignedAmount


class TransactionQueryResult(_Body):
    request_id: Uuid4Str
    account: Account
    transactions: list[Transaction] = Field(max_length=100_000)


class Balance(_Body):
    currency: Currency
    balance: SignedAmount
    available: SignedAmount


class Hold(_Body):
    hold_id: Annotated[str, Field(min_length=1, max_length=64)]
    kind: HoldKind
    amount: NonNegativeAmount
    currency: Currency
    expires_at: AwareDatetime


class AccountQueryResult(_Body):
    request_id: Uuid4Str
    account: Account
    holder_name: Annotated[str, Field(min_length=1, max_length=64)]
    holder_id_masked: Annotated[str, Field(min_length=1, max_length=32)]
    status: Literal["active", "closed", "dormant"]
    balances: list[Balance] = Field(max_length=200)
    holds: list[Hold] = Field(max_length=1000)


class ReturnResult(_Body):
    request_id: Uuid4Str
    status: Literal["returned", "rejected"]
    returned_amount: NonNegativeAmount
    currency: Currency
    executed_at: AwareDatetime | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ReturnResult:
        if self.status == "rejected":
            require(self.returned_amount == 0, "a rejected return moves nothing (returned_amount must be 0)")
            require(self.reason is not None, "a rejected return needs a reason")
        else:
            require(self.returned_amount > 0, "a return moves money (returned_amount must be above 0)")
            require(self.executed_at is not None, "a return needs executed_at")
        return self


class Ack(_Body):
    """Received and valid; the result follows on a later resend of the same instruction."""

    request_id: Uuid4Str
    received_at: AwareDatetime
    expected_by: AwareDatetime | None = None


class Error(_Body):
    """A refusal of a message as such (malformed, bad signature, unknown target), not a business answer.

    A business refusal (unknown account, nothing to hold) is a ``*Result`` with status ``rejected``.
    ``request_id`` is absent only when the refused message had no readable id.
    """

    request_id: Uuid4Str | None = None
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    message: Annotated[str, Field(max_length=2000)]


MessageBody = (StopPayment | StopPaymentResult | Freeze | FreezeResult | Renew | RenewResult | Release
               | ReleaseResult | TransactionQuery | TransactionQueryResult | AccountQuery | AccountQueryResult | Return
               | ReturnResult | Ack | Error)

_BODIES: Final[dict[MessageType, type[_Body]]] = {
    MessageType.STOP_PAYMENT: StopPayment,
    MessageType.STOP_PAYMENT_RESULT: StopPaymentResult,
    MessageType.FREEZE: Freeze,
    MessageType.FREEZE_RESULT: FreezeResult,
    MessageType.RENEW: Renew,
    MessageType.RENEW_RESULT: RenewResult,
    MessageType.RELEASE: Release,
    MessageType.RELEASE_RESULT: ReleaseResult,
    MessageType.TRANSACTION_QUERY: TransactionQuery,
    MessageType.TRANSACTION_QUERY_RESULT: TransactionQueryResult,
    MessageType.ACCOUNT_QUERY: AccountQuery,
    MessageType.ACCOUNT_QUERY_RESULT: AccountQueryResult,
    MessageType.RETURN: Return,
    MessageType.RETURN_RESULT: ReturnResult,
    MessageType.ACK: Ack,
    MessageType.ERROR: Error,
}


BANK: Final = Partner(name="bank", code_re=BANK_CODE_RE, code_field="bank_code", instructions=INSTRUCTION_TYPES,
                      answers=ANSWER_TYPES)
ORG_RE: Final = BANK.org_re


def message_type(value: str | MessageType) -> MessageType:
    """The MessageType named ``value``; ``UnknownMessageType`` names what was given otherwise."""
    return lookup(MessageType, value)


def body_model(kind: str | MessageType) -> type[BaseModel]:
    return _BODIES[message_type(kind)]


def bank_code_of(org: str) -> str | None:
    """``"bank:ABC"`` -> ``"ABC"``; ``"center"`` -> None."""
    return BANK.code_of(org)


class Envelope(SignedEnvelope[MessageType, MessageBody]):
    """One signed message between the center and a bank; see the module docstring for the wire rules."""

    PARTNER = BANK
    BODIES = _BODIES

    @property
    def bank_code(self) -> str:
        """The bank on the other side of this message, whichever direction it travels."""
        return self.partner_code


type_of = Envelope.kind_of
new_envelope = Envelope.build  # the unsigned wire dict; routing is checked before anything is signed
# Validates a received message; does not check the signature: call signing.verify on the same dict first.
parse_envelope = Envelope.parse
