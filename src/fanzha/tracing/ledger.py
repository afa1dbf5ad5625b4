"""The ledger a trace runs on: bank transactions as numpy columns, indexed once by account and time.

Rows are kept in global time order (ties keep input order), so a row's position is its rank and event keys
compare as integers. Accounts are interned to int ids; amounts are int64 counts of the currency's minor unit;
times are int64 microseconds since the epoch (UTC). The index is a CSR over (account, currency) buckets:
each bucket lists the account's ins and outs in that currency, oldest first, with a running sum of signed
amounts, so the balance between any two events of an account is one subtraction. A trace reads only the
buckets of the accounts victim money reaches, in the victims' currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import numpy as np
import numpy.typing as npt
import polars as pl

from fanzha.money import CURRENCIES, minor_units

AccountKey = tuple[str, str]  # (bank_code, account number), e.g. ("ICBC", "6222020200112233445")

CASH_OUT_CHANNELS = frozenset({"atm", "counter", "pos", "abroad", "platform"})
CHANNELS: tuple[str, ...] = ("transfer", "atm", "counter", "pos", "abroad", "platform")  # code = position

I64 = npt.NDArray[np.int64]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
# Bank and account are joined with a unit separator into one string key, so interning is one column.
_SEP = "\x1f"
_HASH_SEED = 20160901
_MAX_INT_DIGITS = 15  # 10^15 minor units and a running sum of millions of them stay inside int64
MINOR_DIGITS: dict[str, int] = {code: minor_units(code) for code in CURRENCIES}

# The normalized frame every constructor path produces (see Ledger.__init__).
COLUMNS: dict[str, pl.DataType] = {
    "txn_id": pl.String(), "ts": pl.Int64(), "from_key": pl.String(), "to_key": pl.String(),
    "amount": pl.Int64(), "currency": pl.String(), "channel": pl.String(),
}


@dataclass(frozen=True, slots=True)
class LedgerRow:
    txn_id: str  # unique within the ledger
    at: datetime  # timezone-aware
    from_account: AccountKey | None  # None: money from outside the ledger (cash deposit, an unknown payer)
    to_account: AccountKey | None  # None: money left the banking system (cash-out channels)
    amount: Decimal  # > 0
    currency: str  # ISO 4217
    channel: str = "transfer"  # transfer | atm | counter | pos | abroad | platform


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount as an exact count of the currency's minor unit; ValueError if it has finer digits."""
    try:
        scaled = amount.scaleb(MINOR_DIGITS.get(currency, 2))
        whole = scaled.to_integral_value()
    except InvalidOperation as exc:
        raise ValueError(f"amount {amount!r} is not a finite number") from exc
    if not amount.is_finite() or scaled != whole:
        raise ValueError(f"{currency} amounts have at most {MINOR_DIGITS.get(currency, 2)} decimal places: {amount}")
    return int(whole)


def from_minor(units: int, digits: int) -> Decimal:
    return Decimal(units).scaleb(-digits)


def to_us(at: datetime) -> int:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"time {at.isoformat()} has no timezone")
    return (at - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _key_str(account: AccountKey | None, side: str, txn_id: str) -> str | None:
    if account is None:
        return None
    bank, number = account
    if not number:
        raise ValueError(f"{txn_id}: {side} has an empty account number")
    if _SEP in bank or _SEP in number:
        raise ValueError(f"{txn_id}: {side} contains a control character")
    return f"{bank}{_SEP}{number}"


def split_key(key: str) -> AccountKey:
    bank, _, number = key.partition(_SEP)
    return bank, number


# -- vectorized checks shared by from_frame and the CSV loader -------------------------------------------------

# Problems found in a row, as small codes: the message is written only for the (few) bad rows, because
# formatting a string for every row of a large file costs more than every check put together.
PROBLEMS: dict[int, str] = {
    1: "txn_id is missing",
    2: "time is missing or not a time",
    3: "unknown currency '{currency}'",
    4: "amount is missing",
    5: "amount '{amount_text}' is not a number",
    6: "amount {amount_text} is implausibly large",
    7: "amount {amount_text} is not greater than zero",
    8: "{currency} amounts have at most {digits} decimal places: {amount_text}",
    9: "no account on either side",
    10: "account contains a control character",
    11: "unknown channel '{channel}'",
}


def account_key_expr(bank: pl.Expr, account: pl.Expr) -> pl.Expr:
    """The interned key string, null when there is no account number (money from or to outside)."""
    number = account.str.strip_chars()
    return (pl.when(number.is_null() | (number == "")).then(pl.lit(None, dtype=pl.String))
            .otherwise(pl.concat_str([bank.str.strip_chars().fill_null(""), pl.lit(_SEP), number])))


def check_rows(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add `amount` (Int64 minor units) and `problem` (code of each row's first problem, 0 if none).

    Expects: txn_id, ts (Int64, null when unparseable), from_key, to_key, amount_text, currency, channel.
    Amounts are parsed as text, never through float: thousandths first (no currency has more minor digits),
    then divided down to the currency's minor unit, which must be exact. Intermediate columns are
    materialized step by step so that each is computed once.
    """
    two_seps = _SEP + ".*" + _SEP
    parts = pl.col("_text").str.splitn(".", 2)
    staged = frame.with_columns(_text=pl.col("amount_text").str.strip_chars()).with_columns(
        _whole=parts.struct.field("field_0"), _frac=parts.struct.field("field_1").fill_null(""),
    ).with_columns(
        _magnitude=pl.col("_whole").str.strip_chars_start("+-").str.strip_chars_start("0"),
        _numeric=pl.col("_whole").str.contains(r"^[+-]?\d+$") & pl.col("_frac").str.contains(r"^\d*$"),
        _finer=pl.col("_frac").str.slice(3).str.contains("[1-9]"),
        _divisor=pl.lit(10, dtype=pl.Int64).pow(
            3 - pl.col("currency").replace_strict(MINOR_DIGITS, default=2, return_dtype=pl.Int64)),
    ).with_columns(
        _thousandths=pl.col("_magnitude").str.slice(0, _MAX_INT_DIGITS).cast(pl.Int64, strict=False).fill_null(0)
        * 1000 + (pl.col("_frac") + "000").str.slice(0, 3).cast(pl.Int64, strict=False),
    )
    problem = (
        pl.when(pl.col("txn_id").is_null() | (pl.col("txn_id") == "")).then(1)
        .when(pl.col("ts").is_null()).then(2)
        .when(~pl.col("currency").is_in(sorted(CURRENCIES)).fill_null(False)).then(3)
        .when(pl.col("_text").is_null() | (pl.col("_text") == "")).then(4)
        .when(~pl.col("_numeric")).then(5)
        .when(pl.col("_magnitude").str.len_chars() > _MAX_INT_DIGITS - 3).then(6)
        .when(pl.col("_whole").str.starts_with("-") | ((pl.col("_thousandths") == 0) & ~pl.col("_finer"))).then(7)
        .when(pl.col("_finer") | (pl.col("_thousandths") % pl.col("_divisor") != 0)).then(8)
        .when(pl.col("from_key").is_null() & pl.col("to_key").is_null()).then(9)
        .when(pl.col("from_key").str.contains(two_seps).fill_null(False)
              | pl.col("to_key").str.contains(two_seps).fill_null(False)).then(10)
        .when(~pl.col("channel").is_in(list(CHANNELS)).fill_null(False)).then(11)
        .otherwise(0)
    )
    return staged.with_columns(amount=pl.col("_thousandths") // pl.col("_divisor"), problem=problem.cast(pl.Int64)
                               ).drop("_text", "_whole", "_frac", "_magnitude", "_numeric", "_finer", "_divisor",
                                      "_thousandths")


def describe(row: dict[str, object], messages: dict[int, str] = PROBLEMS) -> str:
    """The message for one bad row of a checked frame (its columns fill the message's fields)."""
    fields = {k: "" if v is None else v for k, v in row.items()}
    fields["digits"] = MINOR_DIGITS.get(str(fields.get("currency", "")), 2)
    return messages[int(str(row["problem"]))].format_map(fields)


# -- exact string lookup in a large column ----------------------------------------------------------------------

def _hash(values: pl.Series) -> pl.Series:
    """64-bit hashes of strings (stable within a process, which is all the indexes need)."""
    return values.hash(_HASH_SEED)


class _StringIndex:
    """Position of a string in a large column: sorted 64-bit hashes, then a string compare (no Python dict)."""

    __slots__ = ("_hashes", "_order", "_values")

    def __init__(self, values: pl.Series) -> None:
        hashes = _hash(values)
        self._order: I64 = hashes.arg_sort().to_numpy().astype(np.int64)
        self._hashes = hashes.to_numpy()[self._order]
        self._values = values

    def find(self, values: list[str]) -> list[int | None]:
        """Positions of the values (None for a value not there). One hashing call for all of them."""
        targets = _hash(pl.Series(values, dtype=pl.String)).to_numpy()
        los = np.searchsorted(self._hashes, targets, side="left").tolist()
        his = np.searchsorted(self._hashes, targets, side="right").tolist()
        out: list[int | None] = []
        for value, lo, hi in zip(values, los, his, strict=True):
            # Series[i] is a cheap scalar read; gather() would cost a query plan per call.
            out.append(next((int(self._order[p]) for p in range(lo, hi)
                             if self._values[int(self._order[p])] == value), None))
        return out

    def duplicate(self) -> str | None:
        """One value that occurs twice, if any (only rows whose hashes collide are compared)."""
        same = np.flatnonzero(self._hashes[1:] == self._hashes[:-1])
        if same.size == 0:
            return None
        positions = np.unique(np.concatenate([same, same + 1]))
        seen: dict[tuple[int, str], None] = {}
        for pos in positions.tolist():
            value = str(self._values[int(self._order[pos])])
            key = (int(self._hashes[pos]), value)
            if key in seen:
                return value
            seen[key] = None
        return None


def _intern(keys: pl.Series) -> tuple[I64, pl.Series]:
    """Dense int ids for non-null keys (-1 for null) and the key of each id.

    Ids come from 64-bit hashes (fast on tens of millions of rows); every key is then compared with its id's
    representative, and on the (astronomically rare) hash collision the exact, slower string path is taken.
    """
    present = keys.is_not_null().to_numpy()
    ids = np.full(len(keys), -1, dtype=np.int64)
    if not present.any():
        return ids, pl.Series("key", [], dtype=pl.String)
    hashes = _hash(keys).to_numpy()[present]
    dense = (pl.Series(hashes).rank("dense") - 1).to_numpy().astype(np.int64)
    first = np.full(int(dense.max()) + 1, -1, dtype=np.int64)
    where = np.flatnonzero(present)
    first[dense[::-1]] = where[::-1]  # reversed so the first occurrence wins
    reps = keys.gather(first)
    if bool((keys.filter(pl.Series(present)) == reps.gather(dense)).all()):
        ids[present] = dense
        return ids, reps
    table = keys.filter(pl.Series(present)).unique().sort()  # exact path after a collision
    lookup = pl.DataFrame({"key": table, "id": np.arange(len(table), dtype=np.int64)})
    joined = keys.filter(pl.Series(present)).to_frame("key").join(lookup, on="key", how="left", maintain_order="left")
    ids[present] = joined["id"].to_numpy()
    return ids, table


class Ledger:
    """Immutable, columnar, indexed once; many traces run on it."""

    __slots__ = ("_accounts", "_amt", "_chan", "_cur", "_currencies", "_dst", "_ev_cum", "_ev_key",
                 "_key_index", "_n", "_offsets", "_src", "_ts", "_txn", "_txn_index")

    def __init__(self, frame: pl.DataFrame) -> None:
        """Index a normalized, checked frame (columns COLUMNS); use from_rows, from_frame or load_csv instead."""
        missing = set(COLUMNS) - set(frame.columns)
        if missing:
            raise ValueError(f"ledger frame lacks columns {sorted(missing)}")
        n = frame.height
        frame = frame.select(pl.col(name).cast(dtype) for name, dtype in COLUMNS.items())
        if not frame["ts"].is_sorted():  # statements and exports usually come in time order already
            order = frame.select(pl.arg_sort_by("ts", maintain_order=True)).to_series()
            frame = frame.select(pl.all().gather(order))
        self._n = n
        self._txn: pl.Series = frame["txn_id"]
        self._txn_index = _StringIndex(self._txn)
        duplicate = self._txn_index.duplicate()
        if duplicate is not None:
            raise ValueError(f"txn_id {duplicate!r} occurs more than once")
        self._ts: I64 = frame["ts"].to_numpy().astype(np.int64)
        self._amt: I64 = frame["amount"].to_numpy().astype(np.int64)
        ids, self._accounts = _intern(pl.concat([frame["from_key"], frame["to_key"]]))
        self._key_index = _StringIndex(self._accounts)
        self._src: I64 = ids[:n]
        self._dst: I64 = ids[n:]
        self._currencies: tuple[str, ...] = tuple(frame["currency"].unique().sort().to_list())
        self._cur: I64 = frame["currency"].replace_strict(
            {c: i for i, c in enumerate(self._currencies)}, return_dtype=pl.Int64).to_numpy()
        self._chan: I64 = frame["channel"].replace_strict(
            {c: i for i, c in enumerate(CHANNELS)}, return_dtype=pl.Int64).to_numpy()
        self._build_index()

    def _build_index(self) -> None:
        """CSR by (account, currency) bucket, events sorted by key = 2*rank + side (0 out, 1 in)."""
        n, ncur = self._n, max(1, len(self._currencies))
        src, dst, cur = self._src, self._dst, self._cur
        rows = np.arange(n, dtype=np.int64)
        has_out = src >= 0
        has_in = (dst >= 0) & (dst != src)  # a transfer to itself is listed once, as an out of no effect
        span = 2 * max(n, 1)
        packed = np.concatenate([
            (src[has_out] * ncur + cur[has_out]) * span + 2 * rows[has_out],
            (dst[has_in] * ncur + cur[has_in]) * span + 2 * rows[has_in] + 1,
        ])
        packed = pl.Series(packed, dtype=pl.Int64).sort().to_numpy()  # polars sorts ints faster than numpy
        bucket = packed // span
        self._ev_key: I64 = packed % span
        nbuckets = len(self._accounts) * ncur
        self._offsets: I64 = np.zeros(nbuckets + 1, dtype=np.int64)
        np.cumsum(np.bincount(bucket, minlength=nbuckets), out=self._offsets[1:])
        row = self._ev_key >> 1
        signed = np.where(self._ev_key & 1, self._amt[row], -self._amt[row])
        signed[src[row] == dst[row]] = 0
        self._ev_cum: I64 = np.zeros(len(packed) + 1, dtype=np.int64)
        np.cumsum(signed, out=self._ev_cum[1:])  # int64 wraps silently; differences stay exact

    # -- construction ---------------------------------------------------------------------------------------------

    @classmethod
    def from_rows(cls, rows: Iterable[LedgerRow]) -> Ledger:
        cols: dict[str, list[object]] = {name: [] for name in COLUMNS}
        for r in rows:
            if r.currency not in CURRENCIES:
                raise ValueError(f"{r.txn_id}: unknown currency {r.currency!r}")
            if r.channel not in CHANNELS:
                raise ValueError(f"{r.txn_id}: unknown channel {r.channel!r} (one of {', '.join(CHANNELS)})")
            if r.from_account is None and r.to_account is None:
                raise ValueError(f"{r.txn_id}: no account on either side")
            units = to_minor(r.amount, r.currency)
            if units <= 0:
                raise ValueError(f"{r.txn_id}: amount {r.amount} is not greater than zero")
            if not r.txn_id:
                raise ValueError("a row has an empty txn_id")
            cols["txn_id"].append(r.txn_id)
            cols["ts"].append(to_us(r.at))
            cols["from_key"].append(_key_str(r.from_account, "from_account", r.txn_id))
            cols["to_key"].append(_key_str(r.to_account, "to_account", r.txn_id))
            cols["amount"].append(units)
            cols["currency"].append(r.currency)
            cols["channel"].append(r.channel)
        return cls(pl.DataFrame(cols, schema=COLUMNS))

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> Ledger:
        """Columns txn_id, at (timezone-aware datetime), from_bank, from_account, to_bank, to_account (nullable),
        amount (string or Decimal, never float), currency, channel (optional, default transfer)."""
        required = {"txn_id", "at", "from_bank", "from_account", "to_bank", "to_account", "amount", "currency"}
        missing = required - set(frame.columns)
        if missing:
            raise ValueError(f"ledger frame lacks columns {sorted(missing)}")
        at = frame.schema["at"]
        if not isinstance(at, pl.Datetime) or at.time_zone is None:
            raise ValueError(f"column at must be a timezone-aware datetime, not {at}")
        if not isinstance(frame.schema["amount"], pl.String | pl.Decimal):
            raise ValueError(f"column amount must be strings or Decimal (money is never float), not "
                             f"{frame.schema['amount']}")
        channel = pl.col("channel") if "channel" in frame.columns else pl.lit("transfer")
        checked = check_rows(frame.lazy().select(
            txn_id=pl.col("txn_id").cast(pl.String),
            ts=pl.col("at").dt.convert_time_zone("UTC").dt.cast_time_unit("us").cast(pl.Int64),
            from_key=account_key_expr(pl.col("from_bank").cast(pl.String), pl.col("from_account").cast(pl.String)),
            to_key=account_key_expr(pl.col("to_bank").cast(pl.String), pl.col("to_account").cast(pl.String)),
            amount_text=pl.col("amount").cast(pl.String),
            currency=pl.col("currency").cast(pl.String),
            channel=channel.cast(pl.String),
        )).collect()
        bad = checked.with_row_index("row").filter(pl.col("problem") != 0)
        if bad.height:
            first = bad.row(0, named=True)
            raise ValueError(f"row {first['row']} ({first['txn_id']}): {describe(first)}"
                             + (f" (and {bad.height - 1} more bad rows)" if bad.height > 1 else ""))
        return cls(checked.select(list(COLUMNS)))

    # -- reading --------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    @property
    def currencies(self) -> tuple[str, ...]:
        return self._currencies

    def ranks(self, txn_ids: list[str]) -> list[int]:
        """Positions of transactions in time order; ValueError naming the first the ledger does not have."""
        found = self._txn_index.find(txn_ids)
        for txn_id, rank in zip(txn_ids, found, strict=True):
            if rank is None:
                raise ValueError(f"no transaction {txn_id!r} in the ledger")
        return [r for r in found if r is not None]

    def account_id(self, account: AccountKey) -> int | None:
        bank, number = account
        return self._key_index.find([f"{bank}{_SEP}{number}"])[0]

    def account_keys(self, ids: Iterable[int]) -> list[AccountKey]:
        wanted = list(ids)
        if len(wanted) > 1000:
            return [split_key(k) for k in self._accounts.gather(wanted).to_list()]
        accounts = self._accounts
        return [split_key(accounts[i]) for i in wanted]  # scalar reads: no query plan per call

    def txn_ids(self, ranks: list[int]) -> list[str]:
        if len(ranks) > 1000:
            return [str(t) for t in self._txn.gather(ranks).to_list()]
        txn = self._txn
        return [str(txn[r]) for r in ranks]

    def row(self, txn_id: str) -> LedgerRow:
        return self._rows(self.ranks([txn_id]))[0]

    def rows_of(self, account: AccountKey) -> list[LedgerRow]:
        """The account's ins and outs in every currency, oldest first."""
        acct = self.account_id(account)
        if acct is None:
            return []
        ncur = max(1, len(self._currencies))
        keys = np.concatenate([self._ev_key[self._offsets[acct * ncur + c]:self._offsets[acct * ncur + c + 1]]
                               for c in range(ncur)])
        return self._rows(np.unique(keys >> 1).tolist())

    def rows(self) -> Iterator[LedgerRow]:
        """Every row, oldest first."""
        step = 65536
        for start in range(0, self._n, step):
            yield from self._rows(list(range(start, min(start + step, self._n))))

    def _rows(self, ranks: list[int]) -> list[LedgerRow]:
        txn = self.txn_ids(ranks)
        ids = sorted({int(a) for r in ranks for a in (self._src[r], self._dst[r]) if a >= 0})
        keys = dict(zip(ids, self.account_keys(ids), strict=True))
        out = []
        for txn_id, r in zip(txn, ranks, strict=True):
            currency = self._currencies[int(self._cur[r])]
            src, dst = int(self._src[r]), int(self._dst[r])
            out.append(LedgerRow(
                txn_id=str(txn_id), at=from_us(int(self._ts[r])),
                from_account=keys[src] if src >= 0 else None, to_account=keys[dst] if dst >= 0 else None,
                amount=from_minor(int(self._amt[r]), MINOR_DIGITS[currency]), currency=currency,
                channel=CHANNELS[int(self._chan[r])]))
        return out
