"""Chinese bank-card BIN table: which bank issued a card number.

The table (``data/bin.csv`` and ``data/name.csv``) comes from github.com/hexindai/bcbc under the MIT
licence kept beside it in ``data/LICENSE``. A card is matched by the longest BIN prefix whose card length
equals the number's length, because the same prefix can belong to different banks at different lengths.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# The banks stationed on site in Shanghai's 2016 center (11 largest commercial banks); configurable in
# ``fanzha.config.Settings.stationed_banks``.
DEFAULT_STATIONED_BANKS: tuple[str, ...] = (
    "ICBC", "ABC", "BOC", "CCB", "COMM", "PSBC", "CMB", "SPDB", "CITIC", "CIB", "CMBC",
)

CARD_TYPES = {"DC": "debit", "CC": "credit", "SCC": "semi-credit", "PC": "prepaid"}


@dataclass(frozen=True, slots=True)
class CardIssuer:
    bin: str
    bank_code: str
    bank_name: str
    card_type: str  # DC, CC, SCC or PC
    length: int


@dataclass(frozen=True, slots=True)
class _BinTable:
    # (prefix, length) -> (bank_code, card_type)
    entries: dict[tuple[str, int], tuple[str, str]]
    prefix_lengths: tuple[int, ...]  # longest first


def _data_file(name: str) -> str:
    return resources.files("fanzha.banking").joinpath("data", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def bank_names() -> dict[str, str]:
    """Bank code -> Chinese bank name, e.g. ``ABC`` -> ``中国农业银行``."""
    rows = csv.DictReader(_data_file("name.csv").splitlines())
    return {row["bank"].strip(): row["name"].strip() for row in rows}


@lru_cache(maxsize=1)
def _table() -> _BinTable:
    entries: dict[tuple[str, int], tuple[str, str]] = {}
    for row in csv.DictReader(_data_file("bin.csv").splitlines()):
        entries[(row["bin"].strip(), int(row["length"]))] = (row["bank"].strip(), row["type"].strip())
    lengths = sorted({len(prefix) for prefix, _ in entries}, reverse=True)
    return _BinTable(entries=entries, prefix_lengths=tuple(lengths))


def lookup_card(number: str) -> CardIssuer | None:
    """Issuer of a card number by longest BIN prefix and card length, or None if unknown."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if not digits:
        return None
    table = _table()
    length = len(digits)
    for size in table.prefix_lengths:
        if size > length:
            continue
        hit = table.entries.get((digits[:size], length))
        if hit is not None:
            code, card_type = hit
            return CardIssuer(
                bin=digits[:size], bank_code=code, bank_name=bank_names().get(code, code),
                card_type=card_type, length=length,
            )
    return None


def luhn_valid(number: str) -> bool:
    """Luhn checksum; failure is only a warning (corporate and payment accounts fail legitimately)."""
    digits = [int(ch) for ch in number if ch.isdigit()]
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# Short names people say and write (农行, 工行...) -> BIN-table bank code.
BANK_SHORT_NAMES: dict[str, str] = {
    "工行": "ICBC", "工商银行": "ICBC", "农行": "ABC", "农业银行": "ABC", "中行": "BOC",
    "建行": "CCB", "建设银行": "CCB", "交行": "COMM", "交通银行": "COMM", "邮储": "PSBC", "邮储银行": "PSBC",
    "邮政储蓄银行": "PSBC", "招行": "CMB", "招商银行": "CMB", "浦发": "SPDB", "浦发银行": "SPDB",
    "中信": "CITIC", "中信银行": "CITIC", "兴业": "CIB", "兴业银行": "CIB", "民生": "CMBC", "民生银行": "CMBC",
    "光大": "CEB", "光大银行": "CEB", "华夏": "HXBANK", "华夏银行": "HXBANK", "广发": "GDB", "广发银行": "GDB",
    "平安": "SPABANK", "平安银行": "SPABANK", "上海银行": "SHBANK", "北京银行": "BJBANK",
}


def resolve_bank(text: str) -> str | None:
    """Bank code from a code (ABC), a full name (中国农业银行), a short name (农行) or a name with a branch."""
    value = text.strip()
    if not value:
        return None
    names = bank_names()
    if value.upper() in names:
        return value.upper()
    by_name = {name: code for code, name in names.items()}
    if value in by_name:
        return by_name[value]
    # Longest known name contained in the text wins: "中国农业银行上海分行" -> ABC.
    candidates = [(name, code) for name, code in (*by_name.items(), *BANK_SHORT_NAMES.items()) if name in value]
    if candidates:
        return max(candidates, key=lambda pair: len(pair[0]))[1]
    return None
