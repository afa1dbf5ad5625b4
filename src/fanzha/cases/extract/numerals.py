"""Numbers written with Arabic digits, Chinese numerals (lower-case and 大写) or a mix ("1万2千", "3.5万").

Everything is Decimal: money must never pass through float.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# Full-width digits map one-to-one onto ASCII, so offsets into the original text stay valid.
FULLWIDTH = str.maketrans("０１２３４５６７８９，．", "0123456789,.")

CN_DIGITS: dict[str, int] = {
    "〇": 0, "一": 1, "壹": 1, "二": 2, "两": 2, "贰": 2, "貳": 2, "三": 3, "叁": 3, "參": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "陸": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
CN_ZERO = "零"
SMALL_UNITS: dict[str, int] = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
BIG_UNITS: dict[str, int] = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}

# Character class (without brackets) of every Chinese numeral character, for building regexes.
CN_NUMERAL_CHARS = "".join(CN_DIGITS) + CN_ZERO + "".join(SMALL_UNITS) + "".join(BIG_UNITS)
CN_DIGIT_CHARS = "".join(CN_DIGITS)


def _tokens(text: str) -> list[tuple[str, Decimal]] | None:
    """Split into ("n", value) numbers, ("z", 0) zeros, ("u", mult) small and ("b", mult) big units."""
    out: list[tuple[str, Decimal]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isascii() and ch.isdigit():
            j = i
            while j < n and ((text[j].isascii() and text[j].isdigit()) or text[j] in ",."):
                j += 1
            raw = text[i:j].replace(",", "")
            if raw.endswith("."):
                return None
            try:
                out.append(("n", Decimal(raw)))
            except InvalidOperation:
                return None
            i = j
            continue
        if ch in CN_DIGITS:
            out.append(("n", Decimal(CN_DIGITS[ch])))
        elif ch == CN_ZERO:
            out.append(("z", Decimal(0)))
        elif ch in SMALL_UNITS:
            out.append(("u", Decimal(SMALL_UNITS[ch])))
        elif ch in BIG_UNITS:
            out.append(("b", Decimal(BIG_UNITS[ch])))
        else:
            return None
        i += 1
    return out


def parse_number(text: str) -> Decimal | None:
    """Value of a numeral such as "7万", "一万二千", "壹佰贰拾万", "1.2亿", "12,000.50"; None if malformed.

    Colloquial trailing digits follow the unit before them: "一万二" is 12000 and "三千五" is 3500.
    """
    tokens = _tokens(text.translate(FULLWIDTH))
    if not tokens:
        return None
    # Needs a digit, except a leading ten ("十万" = 100000); "百万" / "万" alone are not numbers here.
    if not any(kind == "n" for kind, _ in tokens) and tokens[0] != ("u", Decimal(10)):
        return None
    total = Decimal(0)
    section = Decimal(0)  # the part below the current big unit
    current: Decimal | None = None
    last_unit: Decimal | None = None  # small unit most recently applied in this section
    last_big: Decimal | None = None
    after_zero = False  # "一千零五": a digit after 零 is units, not the colloquial next-lower unit
    prev_kind = ""
    for kind, value in tokens:
        if kind == "n":
            if current is not None:
                return None  # "一二": digit-by-digit reading is not an amount
            current = value
        elif kind == "z":
            if current is not None:
                return None
            after_zero = True
        elif kind == "u":
            if last_unit is not None and value >= last_unit:
                return None  # units must fall within a section: "二十三百" is malformed
            section += (current if current is not None else Decimal(1)) * value
            current, last_unit, after_zero = None, value, False
        else:  # big unit
            if prev_kind == "b" and current is None and section == 0:
                total *= value  # "万亿"
            else:
                part = section + (current if current is not None else Decimal(0))
                if part == 0:
                    return None
                if last_big is not None and value == last_big:
                    return None  # "一万一万": the same big unit twice
                if last_big is not None and value > last_big:
                    total = (total + part) * value  # "三万五千亿" = 3.5 trillion
                else:
                    total += part * value
            section, current, last_unit, last_big, after_zero = Decimal(0), None, None, value, False
        prev_kind = kind
    if current is not None:
        colloquial = current < 10 and current == current.to_integral_value() and not after_zero
        if colloquial and last_unit is not None and last_unit > 10:
            section += current * last_unit / 10
        elif colloquial and last_unit is None and last_big is not None and section == 0:
            section += current * last_big / 10
        else:
            section += current
    return total + section


def decimal_str(value: Decimal) -> str:
    """"70000", "12000.5": plain notation, no exponent, no trailing zeros after the point."""
    return format(value.normalize(), "f")
