"""Currencies (ISO 4217) and amount rules shared by every domain that handles money."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# Active ISO 4217 codes. Amounts always travel with one of these; they are never summed across codes.
CURRENCIES: frozenset[str] = frozenset({
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC",
    "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD",
    "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SYP", "SZL",
    "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES", "VND",
    "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWL",
})

# Minor-unit digits where they differ from 2.
_MINOR_UNITS = {
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
    "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def check_currency(code: str) -> str:
    code = code.strip().upper()
    if code not in CURRENCIES:
        raise ValueError(f"unknown currency {code!r}: use an ISO 4217 code such as CNY, EUR, USD, HKD")
    return code


def check_amount(value: Decimal, currency: str, maximum: Decimal) -> Decimal:
    """A positive amount with no more decimals than the currency has, not absurdly large."""
    try:
        if not value.is_finite():
            raise ValueError("amount must be a finite number")
    except InvalidOperation as exc:  # pragma: no cover - Decimal signals only on signalling NaN
        raise ValueError("amount must be a number") from exc
    if value <= 0:
        raise ValueError("amount must be greater than zero")
    if value > maximum:
        raise ValueError(f"amount {value} {currency} is implausibly large (limit {maximum})")
    digits = minor_units(currency)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > digits and value != value.quantize(Decimal(1).scaleb(-digits)):
        raise ValueError(f"{currency} amounts have at most {digits} decimal places")
    return value


def format_amount(value: Decimal, currency: str) -> str:
    digits = minor_units(currency)
    return f"{value.quantize(Decimal(1).scaleb(-digits)):,} {currency}"


def amount_str(value: Decimal, currency: str) -> str:
    """Plain decimal string with the currency's minor units: 12000.50 CNY -> "12000.50", JPY -> "500"."""
    return str(value.quantize(Decimal(1).scaleb(-minor_units(currency))))
