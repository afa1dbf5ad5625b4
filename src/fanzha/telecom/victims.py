"""Potential victims: the people a flagged number called in a window, graded for the callback queue (劝阻).

DOMAIN.md §5: long or repeated calls, calls still in progress and a transfer after the call raise the grade; the
action escalates with it (high: a visit or an immediate call, medium: a call, low: an SMS).

Calls between a flagged number F and a person P are read from both sides of the dataset: F's own records
(``number = F``) and P's records (``opposite = F``), so a victim served by the carrier is found even when F is
another carrier's number. A call seen from both sides (same caller, callee and start time) counts once. P is a
potential victim when F called P at least once in the window; P's calls back to F count toward P's grade.

Grade (`Rules` holds the thresholds):

- **high**: a call is still connected (no duration yet); P made a bank transfer within `transfer_within_h` hours
  after an answered call from F; one call of `long_call_s` or more; `total_talk_s` or more in all; or two or more
  of the medium signs;
- **medium**: one answered call of `medium_call_s` or more; `repeated_calls` or more calls either way;
  `answered_calls` or more answered calls; an answered call in the `recent_h` hours before `now`;
- **low**: otherwise (unanswered or short calls).

Every potential victim carries the reasons for its grade, in English (`reasons`) and as codes with parameters
(`structured_reasons`, times in UTC) that the console says in the reader's language with Shanghai times. `now`
defaults to `until`, else to the last call in the dataset (the time the records were extracted).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from fanzha.http import Moment
from fanzha.money import check_amount, check_currency
from fanzha.outreach.reasons import ParamValue, Reason, ReasonCode, reason
from fanzha.telecom.cdr import Dataset, parse_e164, to_e164, window_filter


class Grade(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


GRADE_ORDER = {Grade.HIGH: 0, Grade.MEDIUM: 1, Grade.LOW: 2}
ACTION = {Grade.HIGH: "visit or call at once", Grade.MEDIUM: "call back", Grade.LOW: "SMS warning"}


@dataclass(frozen=True, slots=True)
class Rules:
    long_call_s: int = 600
    total_talk_s: int = 1200
    medium_call_s: int = 120
    repeated_calls: int = 3
    answered_calls: int = 2
    recent_h: float = 24.0
    transfer_within_h: float = 72.0


# The same ceiling as a report's transfers (Settings.max_transfer_amount's default).
MAX_TRANSFER_AMOUNT = Decimal(10_000_000_000)


class Transfer(BaseModel):
    """A bank transfer made by the holder of `phone` (from a report or a bank's statement)."""

    model_config = ConfigDict(extra="forbid")

    phone: str = Field(description="E.164 phone of the payer")
    at: Moment
    currency: str = "CNY"
    amount: Decimal | None = Field(default=None, description="positive, at most the currency's decimals")
    payee: str | None = Field(default=None, max_length=64)

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        return to_e164(parse_e164(value))

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        currency = info.data.get("currency")
        if value is None or currency is None:  # a bad currency is reported on its own
            return value
        return check_amount(value, currency, MAX_TRANSFER_AMOUNT)


class PotentialVictim(BaseModel):
    number: str
    grade: Grade
    action: str
    reasons: list[str]  # in English with UTC times, as before reasons had codes
    # The same reasons as codes and parameters (`fanzha.outreach.reasons`), for saying them in any language; empty
    # in output from before they existed.
    structured_reasons: list[Reason] = []
    calls: int
    calls_from_flagged: int
    calls_to_flagged: int
    answered: int
    talk_s: int
    longest_s: int | None
    first_call: datetime
    last_call: datetime
    still_connected: bool
    transfers: list[Transfer] = []


class FlaggedNumber(BaseModel):
    number: str
    calls_out: int
    victims: list[PotentialVictim]
    grades: dict[Grade, int]


class VictimsReport(BaseModel):
    since: datetime | None
    until: datetime | None
    now: datetime | None
    flagged: list[FlaggedNumber]


def _calls(ds: Dataset, flagged: list[int], since: datetime | None, until: datetime | None) -> pl.DataFrame:
    """Calls between flagged numbers and anyone, from both sides: flagged, person, from_flagged, start, duration."""
    window = window_filter(since, until)
    buckets = sorted({ds.bucket_of(n) for n in flagged})
    own_files = [p for b in buckets for p in ds.parts[b]]
    frames = []
    if own_files:
        frames.append(pl.scan_parquet(own_files).filter(pl.col("number").is_in(flagged) & window)
                      .select(pl.col("number").alias("flagged"), pl.col("opposite").alias("person"),
                              pl.col("outgoing").alias("from_flagged"), "start_time", "duration_s"))
    if ds.files():
        frames.append(ds.scan().filter(pl.col("opposite").is_in(flagged) & window)
                      .select(pl.col("opposite").alias("flagged"), pl.col("number").alias("person"),
                              (~pl.col("outgoing")).alias("from_flagged"), "start_time", "duration_s"))
    if not frames:
        return pl.DataFrame(schema={"flagged": pl.Int64, "person": pl.Int64, "from_flagged": pl.Boolean,
                                    "start_time": pl.Datetime("us", "UTC"), "duration_s": pl.Int32})
    calls = pl.concat(frames).collect()
    # the same call in both parties' records counts once (a still-connected copy yields to a finished one)
    return (calls.sort("duration_s", nulls_last=True)
            .unique(["flagged", "person", "from_flagged", "start_time"], keep="first", maintain_order=True))


def _summaries(calls: pl.DataFrame) -> pl.DataFrame:
    answered = pl.col("duration_s").is_null() | (pl.col("duration_s") > 0)
    return (calls.group_by("flagged", "person")
            .agg(pl.len().alias("calls"),
                 pl.col("from_flagged").sum().alias("calls_from_flagged"),
                 answered.sum().alias("answered"),
                 pl.col("duration_s").sum().alias("talk_s"),
                 pl.col("duration_s").max().alias("longest_s"),
                 pl.col("start_time").min().alias("first_call"),
                 pl.col("start_time").max().alias("last_call"),
                 pl.col("duration_s").is_null().any().alias("still_connected"),
                 pl.col("start_time").filter(pl.col("from_flagged") & answered).alias("answered_from_flagged"),
                 pl.col("start_time").filter(pl.col("duration_s").is_null()).min().alias("connected_since"))
            .filter(pl.col("calls_from_flagged") > 0))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


@dataclass(frozen=True, slots=True)
class Graded:
    grade: Grade
    reasons: list[str]  # in English, UTC times (the API's and the CLI's words)
    structured: list[Reason]  # the same reasons as codes and parameters (the console says them in its language)
    transfers: list[Transfer]  # the transfers that raised the grade


class _Reasons:
    """Reasons of one grade level: each an English sentence and the same as a code with its parameters."""

    def __init__(self, flagged: str) -> None:
        self.flagged = flagged
        self.texts: list[str] = []
        self.codes: list[Reason] = []

    def add(self, sentence: str, code: ReasonCode, **params: ParamValue | datetime) -> None:
        self.texts.append(sentence)
        self.codes.append(reason(code, flagged=self.flagged, **params))

    def __len__(self) -> int:
        return len(self.texts)


def grade(row: dict[str, Any], *, flagged: str, now: datetime | None, transfers: Sequence[Transfer],
          rules: Rules) -> Graded:
    """The grade of one potential victim, its reasons and the transfers that raised it."""
    high = _Reasons(flagged)
    medium = _Reasons(flagged)
    if row["still_connected"]:
        since = row["connected_since"].astimezone(UTC)
        high.add(f"a call with {flagged} is still connected (since {since:%Y-%m-%d %H:%M} UTC)",
                 ReasonCode.STILL_CONNECTED, since_at=since)
    answered_calls: list[datetime] = row["answered_from_flagged"] or []
    window = timedelta(hours=rules.transfer_within_h)
    after = [t for t in transfers if any(c <= t.at <= c + window for c in answered_calls)]
    for t in after:
        lag = min((t.at - c).total_seconds() for c in answered_calls if c <= t.at)
        amount = f"{t.amount} {t.currency}" if t.amount is not None else "a transfer"
        high.add(f"bank transfer ({amount}) {_minutes(lag)} after an answered call from {flagged}",
                 ReasonCode.TRANSFER_AFTER_CALL, amount=None if t.amount is None else str(t.amount),
                 currency=t.currency, lag_s=round(lag))
    longest = row["longest_s"] or 0
    talk = row["talk_s"] or 0
    if longest >= rules.long_call_s:
        high.add(f"a {_minutes(longest)} call", ReasonCode.LONG_CALL, longest_s=int(longest))
    elif longest >= rules.medium_call_s:
        medium.add(f"a {_minutes(longest)} call", ReasonCode.LONG_CALL, longest_s=int(longest))
    if talk >= rules.total_talk_s and row["calls"] > 1:
        high.add(f"talked {_minutes(talk)} in all", ReasonCode.TOTAL_TALK, talk_s=int(talk))
    if row["calls"] >= rules.repeated_calls:
        calls_back = row["calls"] - row["calls_from_flagged"]
        if calls_back:
            medium.add(f"{row['calls']} calls, {calls_back} of them back to {flagged}",
                       ReasonCode.REPEATED_CALLS_BACK, calls=row["calls"], calls_back=calls_back)
        else:
            medium.add(f"{row['calls']} calls", ReasonCode.REPEATED_CALLS, calls=row["calls"])
    if row["answered"] >= rules.answered_calls:
        medium.add(f"answered {row['answered']} calls", ReasonCode.ANSWERED_CALLS, answered=row["answered"])
    if now is not None and row["answered"] and now - row["last_call"] <= timedelta(hours=rules.recent_h):
        ago = (now - row["last_call"]).total_seconds()
        medium.add(f"last call {_minutes(ago)} before {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
                   ReasonCode.RECENT_CALL, ago_s=round(ago), now_at=now)
    if len(high) or len(medium) >= 2:
        return Graded(Grade.HIGH, high.texts + medium.texts, high.codes + medium.codes, after)
    if len(medium):
        return Graded(Grade.MEDIUM, medium.texts, medium.codes, after)
    low = _Reasons(flagged)
    calls = f"{row['calls']} call{'s' if row['calls'] > 1 else ''}"
    if not row["answered"]:
        low.add(f"{calls}, unanswered", ReasonCode.UNANSWERED, calls=row["calls"])
    else:
        low.add(f"{calls}, short calls only (longest {_minutes(longest)})", ReasonCode.SHORT_CALLS,
                calls=row["calls"], longest_s=int(longest))
    return Graded(Grade.LOW, low.texts, low.codes, after)


def potential_victims(dataset: Dataset | Path, numbers: Iterable[str], *, since: datetime | None = None,
                      until: datetime | None = None, now: datetime | None = None,
                      transfers: Sequence[Transfer] = (), rules: Rules | None = None) -> VictimsReport:
    """For each flagged number (E.164), the people it called in [since, until), graded high / medium / low."""
    rules = rules or Rules()
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    flagged = sorted({parse_e164(n) for n in numbers})
    for bound in (since, until, now):
        if bound is not None and bound.tzinfo is None:
            raise ValueError("since, until and now must be aware datetimes")
    if now is None:
        now = until
    if now is None and ds.files():
        last = ds.scan().select(pl.col("start_time").max()).collect().item()
        now = last if isinstance(last, datetime) else None
    by_phone: dict[str, list[Transfer]] = {}
    for t in transfers:
        by_phone.setdefault(t.phone, []).append(t)
    summaries = _summaries(_calls(ds, flagged, since, until)) if flagged else pl.DataFrame()
    by_flagged = {int(key[0]): part.to_dicts()
                  for key, part in summaries.partition_by("flagged", as_dict=True).items()} if summaries.height else {}
    out: list[FlaggedNumber] = []
    for number in flagged:
        rows = by_flagged.get(number, [])
        e164 = to_e164(number)
        victims = []
        for row in rows:
            person = to_e164(row["person"])
            graded = grade(row, flagged=e164, now=now, transfers=by_phone.get(person, []), rules=rules)
            victims.append(PotentialVictim(
                number=person, grade=graded.grade, action=ACTION[graded.grade], reasons=graded.reasons,
                structured_reasons=graded.structured, calls=row["calls"],
                calls_from_flagged=row["calls_from_flagged"], calls_to_flagged=row["calls"] - row["calls_from_flagged"],
                answered=row["answered"], talk_s=row["talk_s"] or 0, longest_s=row["longest_s"],
                first_call=row["first_call"], last_call=row["last_call"], still_connected=row["still_connected"],
                transfers=graded.transfers))
        victims.sort(key=lambda v: (GRADE_ORDER[v.grade], not v.still_connected, -v.last_call.timestamp(), v.number))
        out.append(FlaggedNumber(number=e164, calls_out=sum(v.calls_from_flagged for v in victims), victims=victims,
                                 grades={g: sum(1 for v in victims if v.grade == g) for g in Grade}))
    return VictimsReport(since=since, until=until, now=now, flagged=out)


def read_numbers(path: Path) -> list[str]:
    """Flagged numbers from a file: one E.164 number a line, or a CSV with a ``number`` column (such as the
    simulator's truth file or a score table; a ``kind``/``label`` column keeps only fraud rows)."""
    text = path.read_text(encoding="utf-8-sig").splitlines()
    if not text:
        return []
    header = [h.strip().lower() for h in text[0].split(",")]
    if "number" not in header:
        return [line.strip() for line in text if line.strip()]
    table = pl.read_csv(path, infer_schema=False)
    table = table.rename({c: c.strip().lower() for c in table.columns})
    if "kind" in table.columns:
        table = table.filter(pl.col("kind") == "fraud")
    elif "label" in table.columns:
        table = table.filter(pl.col("label").is_in(["1", "true", "fraud"]))
    return [n.strip() for n in table.get_column("number").drop_nulls().to_list()]


def read_transfers(path: Path) -> list[Transfer]:
    """Transfers from CSV (``phone,at,amount,currency,payee``; `at` ISO 8601 with offset) or JSON (a list)."""
    if path.suffix.lower() == ".json":
        import json

        return [Transfer.model_validate(item) for item in json.loads(path.read_text(encoding="utf-8"))]
    table = pl.read_csv(path, infer_schema=False)
    return [Transfer.model_validate({k: v for k, v in row.items() if v not in (None, "")})
            for row in table.to_dicts()]
