"""Canonical forms of suspect-side values, so the same phone or account always links."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import phonenumbers
from phonenumbers import carrier as pn_carrier
from stdnum import imei as stdnum_imei

from fanzha.orgs.service import CARRIER_BY_LIBRARY_NAME

_NON_DIGITS = re.compile(r"\D")
# Service numbers (110, 96110, 95588, 12345...) that phonenumbers cannot turn into E.164.
_SHORT_NUMBER = re.compile(r"^(?:1\d{2}|9\d{4}|1\d{4}|9\d{5}|10\d{3,4})$")


def phone_e164(raw: str, default_region: str = "CN") -> str:
    """E.164 form of a phone number; raises ValueError naming what is wrong."""
    text = raw.strip()
    if not text:
        raise ValueError("empty phone number")
    digits = _NON_DIGITS.sub("", text)
    if not text.startswith("+") and _SHORT_NUMBER.match(digits):
        return digits  # short service numbers stay as dialled
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{raw!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def carrier_code(e164: str) -> str | None:
    """The carrier a Chinese mobile number was allocated to (numbers may since have moved)."""
    if not e164.startswith("+86"):
        return None
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    return CARRIER_BY_LIBRARY_NAME.get(pn_carrier.name_for_number(parsed, "en"))


def account_number(raw: str) -> str:
    """Digits (and letters, for foreign IBAN-like accounts) with separators removed, upper-case."""
    cleaned = re.sub(r"[\s\-]", "", raw).upper()
    if not re.fullmatch(r"[0-9A-Z]{6,40}", cleaned):
        raise ValueError(f"{raw!r} is not an account number (6-40 digits or letters)")
    return cleaned


def url_value(raw: str) -> str:
    text = raw.strip()
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        text = "http://" + text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    if not host or "." not in host:
        raise ValueError(f"{raw!r} is not a URL")
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    port = f":{parts.port}" if parts.port else ""
    # Scheme is dropped: http and https of the same address are the same lure.
    return f"{host}{port}{path}{query}"[:512]


def device_id(raw: str) -> tuple[str, bool]:
    """A handset identifier (IMEI or other); returns the value and whether it is a valid IMEI."""
    cleaned = re.sub(r"[\s\-/]", "", raw).upper()
    if not re.fullmatch(r"[0-9A-F]{8,20}", cleaned):
        raise ValueError(f"{raw!r} is not a device identifier (8-20 digits or hex characters)")
    return cleaned, bool(stdnum_imei.is_valid(cleaned))
