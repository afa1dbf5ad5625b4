"""The shapes of reports coming in and cases going out (validated at the edge)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumValidationError

from fanzha.cases.fraud_types import FraudType
from fanzha.cases.models import Channel
from fanzha.cases.normalize import account_number, device_id, phone_e164, url_value
from fanzha.http import Moment
from fanzha.money import check_currency

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
PhoneStr = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32), AfterValidator(phone_e164)]
UrlStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
                   AfterValidator(url_value)]
DeviceStr = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32),
                      AfterValidator(lambda raw: device_id(raw)[0])]

TransferMethod = Literal[
    "bank_transfer", "mobile_banking", "online_banking", "atm", "counter", "alipay", "wechat", "pos", "other"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonIn(_Strict):
    name: Name
    phone: str | None = Field(default=None, max_length=32)
    id_number: str | None = Field(default=None, max_length=32, description="Chinese resident ID (18 characters)")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return phone_e164(value) if value else None

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return str(ric.validate(value))
        except StdnumValidationError as exc:
            raise ValueError(f"not a valid resident ID number: {exc}") from exc


class TransferIn(_Strict):
    from_account: str | None = Field(default=None, max_length=48)
    from_bank: str | None = Field(default=None, max_length=64)
    to_account: str = Field(max_length=48)
    to_bank: str | None = Field(default=None, max_length=64, description="bank code (ABC) or name (农业银行)")
    to_name: str | None = Field(default=None, max_length=64)
    amount: Decimal = Field(description="decimal string, e.g. \"70000\" or \"12000.50\"")
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    occurred_at: Moment | None = None
    method: TransferMethod = "bank_transfer"

    @field_validator("to_account")
    @classmethod
    def _to_account(cls, value: str) -> str:
        return account_number(value)  # required: an empty one is refused, not dropped

    @field_validator("from_account")
    @classmethod
    def _from_account(cls, value: str | None) -> str | None:
        return account_number(value) if value else None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)



class SuspectAccountIn(_Strict):
    number: str = Field(max_length=48)
    bank: str | None = Field(default=None, max_length=64)
    holder: str | None = Field(default=None, max_length=64)

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        return account_number(value)


class FactsIn(_Strict):
    """Suspect-side facts: given at intake, or confirmed later from the extraction suggestions."""

    fraud_type: str | None = Field(default=None, description="code or Chinese name; default: extracted")
    transfers: list[TransferIn] = Field(default_factory=list, max_length=200)
    suspect_phones: list[PhoneStr] = Field(default_factory=list, max_length=100)
    suspect_accounts: list[SuspectAccountIn] = Field(default_factory=list, max_length=100)
    suspect_urls: list[UrlStr] = Field(default_factory=list, max_length=100)
    suspect_devices: list[DeviceStr] = Field(default_factory=list, max_length=50)

    @field_validator("fraud_type")
    @classmethod
    def _fraud_type(cls, value: str | None) -> str | None:
        return FraudType.parse(value).value if value else None


class ReportIn(FactsIn):
    channel: Channel
    external_ref: str | None = Field(default=None, min_length=1, max_length=64,
                                     description="the sender's own reference; resending it returns the same case")
    received_at: Moment | None = Field(default=None, description="when the channel received it; default now")
    reporter: PersonIn | None = None
    victim: PersonIn
    narrative: str = Field(min_length=1, description="the report in the reporter's words")



class TransitionIn(_Strict):
    to: str = Field(description="received, accepted, in_progress, referred or closed")
    note: str = Field(default="", max_length=2000)


class ExtractIn(_Strict):
    text: str = Field(min_length=1)
    received_at: Moment | None = None


JsonDict = dict[str, Any]
