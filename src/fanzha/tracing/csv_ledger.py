"""Load a ledger from a CSV of transactions, in the columns of the public AML data sets.

Columns (case and spaces do not matter): timestamp, from_bank, from_account, to_bank, to_account, amount,
currency, payment_format, and optionally txn_id (without it a row's id is `L{line}`). The IBM AML header
(`Timestamp, From Bank, Account, To Bank, Account, Amount Paid, Payment Currency, Payment Format`, …) is
accepted as is: polars names the second `Account` column `Account_duplicated_0` (pandas writes `Account.1`);
both mean the receiving account. IBM's `Amount Received`/`Receiving Currency` are ignored: the paid side is
the one the sender's bank books.

Times: ISO 8601 with or without an offset, or `YYYY/MM/DD HH:MM[:SS]` (IBM). A time without an offset is
read in `timezone` (default UTC). Currencies: ISO 4217 codes, or the names below ("US Dollar", "Yuan", …).
Bitcoin is not an ISO 4217 currency: such rows are reported, not guessed at.

Payment formats map to channels (PAYMENT_FORMATS): Cash → counter, ATM → atm, Credit/Debit Card and POS →
pos, Bitcoin and payment platforms (Alipay, WeChat Pay) → platform, SWIFT / cross-border → abroad, and
ACH, Wire, Cheque, Reinvestment, Transfer (or empty) → transfer. The channel matters only when to_account
is empty: then the row is a cash-out through that channel, and a row with no to_account whose format is
not a cash-out is reported as bad. An empty from_account is money from outside the ledger (a deposit).

A bad row is reported with its 1-based line in the file (the header is line 1; line breaks inside quoted
fields are counted) and a reason; every other row loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from fanzha.money import CURRENCIES
from fanzha.tracing.ledger import CASH_OUT_CHANNELS, COLUMNS, PROBLEMS, Ledger, account_key_expr, check_rows, describe

# Lower-case header -> our column. First match wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "at", "time"),
    "from_bank": ("from_bank", "from bank"),
    "from_account": ("from_account", "from account", "account"),
    "to_bank": ("to_bank", "to bank"),
    "to_account": ("to_account", "to account", "account.1", "account_duplicated_0"),
    "amount": ("amount", "amount_paid", "amount paid"),
    "currency": ("currency", "payment_currency", "payment currency"),
    "payment_format": ("payment_format", "payment format", "channel"),
    "txn_id": ("txn_id", "transaction_id", "transaction id"),
}
REQUIRED = ("timestamp", "from_account", "to_account", "amount", "currency")

CURRENCY_NAMES: dict[str, str] = {
    "us dollar": "USD", "euro": "EUR", "yuan": "CNY", "renminbi": "CNY", "rmb": "CNY", "人民币": "CNY",
    "yen": "JPY", "uk pound": "GBP", "pound sterling": "GBP", "rupee": "INR", "ruble": "RUB",
    "australian dollar": "AUD", "canadian dollar": "CAD", "swiss franc": "CHF", "mexican peso": "MXN",
    "brazil real": "BRL", "saudi riyal": "SAR", "shekel": "ILS", "hong kong dollar": "HKD", "港币": "HKD",
}

PAYMENT_FORMATS: dict[str, str] = {
    "": "transfer", "transfer": "transfer", "ach": "transfer", "wire": "transfer", "cheque": "transfer",
    "check": "transfer", "reinvestment": "transfer",
    "cash": "counter", "counter": "counter",
    "atm": "atm",
    "credit card": "pos", "debit card": "pos", "card": "pos", "pos": "pos",
    "bitcoin": "platform", "platform": "platform", "alipay": "platform", "wechat pay": "platform",
    "abroad": "abroad", "swift": "abroad", "cross-border": "abroad",
}

# The loader's own problems, on top of the ledger's (PROBLEMS).
MESSAGES: dict[int, str] = {
    **PROBLEMS,
    20: "time '{time_text}' is not a time (use ISO 8601, e.g. 2024-03-31T08:20:00+08:00)",
    21: "unknown payment format '{format_text}'",
    22: "to_account is empty but payment format '{format_text}' is not a cash-out",
}

# Offset-aware first (an offset in the text wins), then naive ones read in the given timezone.
_AWARE_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M%z")
_NAIVE_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # 1-based line in the file; the header is line 1
    reason: str


@dataclass(frozen=True)
class LoadResult:
    ledger: Ledger
    errors: list[RowError]
    rows_read: int  # data rows read, good and bad (blank lines not counted)


def _resolve(header: list[str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name in header:
        lowered.setdefault(name.strip().lower(), name)
    found = {}
    for ours, names in ALIASES.items():
        match = next((lowered[n] for n in names if n in lowered), None)
        if match is not None:
            found[ours] = match
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise ValueError(f"CSV lacks columns {', '.join(missing)}; expected timestamp, from_bank, from_account, "
                         "to_bank, to_account, amount, currency, payment_format (IBM AML headers work too)")
    return found


def _time_expr(text: pl.Expr, timezone: str) -> pl.Expr:
    cleaned = (text.str.strip_chars().str.replace(r"^(\d{4}-\d{2}-\d{2})T", "$1 ")
               .str.replace(r"Z$", "+00:00"))
    parsed = [cleaned.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False) for f in _AWARE_FORMATS]
    parsed += [cleaned.str.to_datetime(f, time_unit="us", strict=False)
               .dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
               .dt.convert_time_zone("UTC") for f in _NAIVE_FORMATS]
    return pl.coalesce(parsed).dt.epoch("us")


def load_csv(path: str | Path, *, timezone: str = "UTC") -> LoadResult:
    """Read, check and index a CSV ledger; ValueError if the file itself is unusable (no header, columns)."""
    try:
        scan = pl.scan_csv(path, infer_schema=False, truncate_ragged_lines=True, encoding="utf8-lossy")
        header = scan.collect_schema().names()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ValueError(f"cannot read {path} as CSV: {exc}") from exc
    cols = _resolve(header)

    def col(name: str) -> pl.Expr:
        return pl.col(cols[name]) if name in cols else pl.lit(None, dtype=pl.String)

    raw_currency = col("currency").str.strip_chars()
    upper = raw_currency.str.to_uppercase()
    currency = (pl.when(upper.is_in(sorted(CURRENCIES))).then(upper)
                .otherwise(raw_currency.str.to_lowercase().replace_strict(CURRENCY_NAMES, default=raw_currency)))
    raw_format = col("payment_format").str.strip_chars().fill_null("")
    channel = raw_format.str.to_lowercase().replace_strict(PAYMENT_FORMATS, default=None)
    # Line of each row: header, then one line per row plus the line breaks inside its quoted fields.
    breaks = pl.sum_horizontal(pl.col(c).str.count_matches("\n").fill_null(0) for c in header)
    blank = pl.all_horizontal(pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in header)
    staged = scan.with_row_index("index").with_columns(
        line=(pl.col("index").cast(pl.Int64) + 2 + breaks.cum_sum() - breaks),
        blank=blank,
    ).filter(~pl.col("blank")).select(
        "line",
        txn_id=col("txn_id").str.strip_chars() if "txn_id" in cols else pl.format("L{}", pl.col("line")),
        ts=_time_expr(col("timestamp"), timezone),
        time_text=col("timestamp"),
        from_key=account_key_expr(col("from_bank"), col("from_account")),
        to_key=account_key_expr(col("to_bank"), col("to_account")),
        amount_text=col("amount"),
        currency=currency,
        channel=channel.fill_null("transfer"),
        format_text=raw_format,
        known_format=channel.is_not_null(),
    )
    checked = check_rows(staged).with_columns(problem=(
        pl.when(pl.col("ts").is_null() & pl.col("time_text").is_not_null() & (pl.col("time_text") != "")).then(20)
        .when(~pl.col("known_format")).then(21)
        .when((pl.col("problem") == 0) & pl.col("to_key").is_null()
              & ~pl.col("channel").is_in(sorted(CASH_OUT_CHANNELS))).then(22)
        .otherwise(pl.col("problem"))
    ))
    try:
        frame = checked.collect(engine="streaming")
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"cannot read {path} as CSV: {exc}") from exc
    good = frame.filter(pl.col("problem") == 0)
    errors = [RowError(line=int(str(row["line"])), reason=describe(row, MESSAGES))
              for row in frame.filter(pl.col("problem") != 0).iter_rows(named=True)]
    # The first row with an id wins; later rows reusing it are reported.
    first_line = good.group_by("txn_id").agg(first=pl.col("line").min())
    good = good.join(first_line, on="txn_id", how="left", maintain_order="left")
    errors += [RowError(line=int(line), reason=f"txn_id '{txn_id}' is already used on line {first}")
               for line, txn_id, first in good.filter(pl.col("line") != pl.col("first"))
               .select("line", "txn_id", "first").iter_rows()]
    errors.sort(key=lambda e: e.line)
    good = good.filter(pl.col("line") == pl.col("first"))
    return LoadResult(ledger=Ledger(good.select(list(COLUMNS))), errors=errors, rows_read=frame.height)
