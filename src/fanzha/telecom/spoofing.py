"""Spoofed caller IDs (改号): a call that came in through the international gateway but shows a domestic number.

DOMAIN.md §5: a call arriving through the international gateway that shows a domestic or official number
(110, 96110, 12381, 95xxx bank lines, police or court numbers, any +86 number) is spoofed. Genuine anti-fraud
calls show "area code + 96110" - but only from domestic trunks, so the same display on a gateway call is the
clearest spoof of all.

Every rule needs ``trunk == "international_gateway"``: a call on a local or long-distance trunk is never
flagged here. The first rule that fires (in ``RULES`` order) is reported with its id and a reason in Chinese
and English. The number looked at is ``displayed_number`` (what the callee's handset showed), or ``caller``
when no display was recorded.

The same rules run on one record (``check_call``) and vectorised on a polars DataFrame of CDRs
(``check_frame``); the regular expressions are shared, written for both engines (only ``[0-9]``, never
``\\d``, whose Unicode meaning differs between them), and a property test holds the two to the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from fanzha.telecom.official import (
    AREA_CODE_RE,
    SEPARATORS_RE,
    OfficialEntry,
    OfficialList,
    domestic_form,
    split_number,
)

GATEWAY: Final = "international_gateway"
TRUNKS: Final = ("local", "long_distance", GATEWAY)
CDR_COLUMNS: Final = ("caller", "callee", "start_time", "duration_s", "direction", "carrier", "city", "cell",
                      "imei", "trunk", "displayed_number")
Trunk = Literal["local", "long_distance", "international_gateway"]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    zh: str
    en: str


RULES: Final[tuple[Rule, ...]] = (
    Rule("gateway_area_96110", "国际关口局来话显示“区号+96110”：真实的反诈劝阻来电只经境内中继呼出",
         "International gateway call shows area code + 96110: genuine anti-fraud calls come only from domestic "
         "trunks"),
    Rule("gateway_official", "国际关口局来话显示官方号码 {number}（{name_zh}）",
         "International gateway call shows the official number {number} ({name_en})"),
    Rule("gateway_cn_mobile", "国际关口局来话显示境内手机号码",
         "International gateway call shows a mainland mobile number"),
    Rule("gateway_cn_fixed", "国际关口局来话显示境内固定电话号码（区号+号码）",
         "International gateway call shows a mainland fixed-line number (area code + number)"),
    Rule("gateway_cn_local", "国际关口局来话显示不带区号的境内本地号码",
         "International gateway call shows a local mainland number without an area code"),
    Rule("gateway_plus86", "国际关口局来话显示+86号码", "International gateway call shows a +86 number"),
)
RULES_BY_ID: Final = {rule.id: rule for rule in RULES}

# On the national number (no +86, no trunk 0 added):
_MOBILE = r"^1[3-9][0-9]{9}$"
_LOCAL = r"^[2-8][0-9]{6,7}$"
# On the domestic form (the trunk 0 back in front of an area code given after +86):
_AREA_96110 = f"^0{AREA_CODE_RE}96110$"
_FIXED = f"^0{AREA_CODE_RE}[0-9]{{7,8}}$"


class CallRecord(BaseModel):
    """One call detail record, as the spoofing check reads it (other CDR fields are accepted and ignored)."""

    model_config = ConfigDict(extra="forbid")

    caller: str = Field(min_length=1, max_length=64)
    callee: str = Field(default="", max_length=64)
    start_time: datetime | None = None
    duration_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    direction: str | None = Field(default=None, max_length=16)
    carrier: str | None = Field(default=None, max_length=32)
    city: str | None = Field(default=None, max_length=64)
    cell: str | None = Field(default=None, max_length=64)
    imei: str | None = Field(default=None, max_length=32)
    trunk: Trunk
    displayed_number: str | None = Field(default=None, max_length=64)


@dataclass(frozen=True, slots=True)
class SpoofHit:
    rule: str
    reason_zh: str
    reason_en: str
    official: OfficialEntry | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "reason": {"zh": self.reason_zh, "en": self.reason_en},
                "official": None if self.official is None else {
                    "pattern": self.official.pattern, "kind": self.official.kind,
                    "name_zh": self.official.name_zh, "name_en": self.official.name_en}}


def _hit(rule_id: str, official: OfficialEntry | None = None) -> SpoofHit:
    rule = RULES_BY_ID[rule_id]
    if official is None:
        return SpoofHit(rule.id, rule.zh, rule.en)
    fill = {"number": official.pattern, "name_zh": official.name_zh, "name_en": official.name_en}
    return SpoofHit(rule.id, rule.zh.format(**fill), rule.en.format(**fill), official)


def shown_number(displayed: str | None, caller: str | None) -> str:
    return displayed if displayed else (caller or "")


def check_call(call: CallRecord | Mapping[str, Any], official: OfficialList) -> SpoofHit | None:
    """The first rule that fires on one call, or None."""
    get = call.get if isinstance(call, Mapping) else lambda name: getattr(call, name, None)
    if get("trunk") != GATEWAY:
        return None
    split = split_number(shown_number(get("displayed_number"), get("caller")))
    if split is None:
        return None  # a foreign number on an international call is what it should be
    national, cn = split
    domestic = domestic_form(national, cn)
    if re.match(_AREA_96110, domestic):
        return _hit("gateway_area_96110")
    entry = official.match(national, cn)
    if entry is not None:
        return _hit("gateway_official", entry)
    if re.match(_MOBILE, national):
        return _hit("gateway_cn_mobile")
    if re.match(_FIXED, domestic):
        return _hit("gateway_cn_fixed")
    if not cn and re.match(_LOCAL, national):
        return _hit("gateway_cn_local")
    if cn:
        return _hit("gateway_plus86")
    return None


# ---- vectorised ---------------------------------------------------------------------------------------------

_KEY = "_spoof_shown"
OUTPUT_COLUMNS: Final = ("spoof_rule", "spoof_official", "spoof_reason_zh", "spoof_reason_en")


def check_frame(frame: pl.DataFrame | pl.LazyFrame, official: OfficialList) -> pl.DataFrame:
    """``frame`` with four columns added: spoof_rule, spoof_official, spoof_reason_zh, spoof_reason_en (null
    where no rule fired). Needs the columns trunk and caller; displayed_number is used when present.

    The rules run once per distinct number shown on a gateway call (few, next to the rows of a day's CDRs) and
    are joined back, so domestic traffic costs one comparison per row and the row order is kept.
    """
    lazy = frame.lazy()
    names = lazy.collect_schema().names()
    missing = [c for c in ("trunk", "caller") if c not in names]
    if missing:
        raise ValueError(f"CDR frame lacks column(s) {', '.join(missing)}")
    clash = [c for c in (*OUTPUT_COLUMNS, _KEY) if c in names]
    if clash:
        raise ValueError(f"CDR frame already has column(s) {', '.join(clash)}")
    caller = pl.col("caller").cast(pl.Utf8)
    if "displayed_number" in names:
        display = pl.col("displayed_number").cast(pl.Utf8)
        shown = pl.when(display.is_not_null() & (display != "")).then(display).otherwise(caller)
    else:
        shown = caller
    keyed = lazy.with_columns(
        pl.when(pl.col("trunk").cast(pl.Utf8) == GATEWAY).then(shown.fill_null("")).otherwise(None).alias(_KEY))
    table = _rule_table(keyed.select(pl.col(_KEY).drop_nulls().unique()), official)
    return keyed.join(table, on=_KEY, how="left", maintain_order="left").drop(_KEY).collect()


def _rule_table(keys: pl.LazyFrame, official: OfficialList) -> pl.LazyFrame:
    """For each distinct number shown on a gateway call: the rule that fires, the official entry, the reasons."""
    # In stages, so that no intermediate is computed twice inside the rule's branches.
    text = pl.col(_KEY).str.replace_all(SEPARATORS_RE, "")
    text = pl.when(text.str.starts_with("00")).then(pl.lit("+") + text.str.slice(2)).otherwise(text)
    cn, national, domestic, core = pl.col("_cn"), pl.col("_national"), pl.col("_domestic"), pl.col("_spoof_core")
    regex = official.official_regex()
    rule = (
        pl.when(~((cn | ~pl.col("_text").str.starts_with("+")) & national.str.contains(r"^[0-9]+$")))
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(domestic.str.contains(_AREA_96110)).then(pl.lit("gateway_area_96110"))
        .when(core.is_not_null()).then(pl.lit("gateway_official"))
        .when(national.str.contains(_MOBILE)).then(pl.lit("gateway_cn_mobile"))
        .when(domestic.str.contains(_FIXED)).then(pl.lit("gateway_cn_fixed"))
        .when(~cn & national.str.contains(_LOCAL)).then(pl.lit("gateway_cn_local"))
        .when(cn).then(pl.lit("gateway_plus86"))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
    )
    staged = (
        keys.with_columns(text.alias("_text"))
        .with_columns(pl.col("_text").str.starts_with("+86").alias("_cn"))
        .with_columns(pl.when(cn).then(pl.col("_text").str.slice(3)).otherwise(pl.col("_text")).alias("_national"))
        .with_columns(pl.when(cn & ~national.str.starts_with("0")).then(pl.lit("0") + national).otherwise(national)
                      .alias("_domestic"))
        .with_columns(pl.coalesce(domestic.str.extract(regex, 1), pl.when(cn).then(national.str.extract(regex, 1)))
                      .alias("_spoof_core"))
        .with_columns(rule.alias("spoof_rule"))
        .filter(pl.col("spoof_rule").is_not_null())
        .with_columns(pl.when(pl.col("spoof_rule") == "gateway_official").then(core).otherwise(None)
                      .alias("_spoof_core"))
        .collect()
    )
    # Few distinct official numbers appear: resolve each once in Python, then map the column.
    cores = [c for c in staged.get_column("_spoof_core").unique().to_list() if c is not None]
    resolved = {c: official.resolve(c) for c in cores}
    patterns = {c: e.pattern for c, e in resolved.items() if e is not None}
    reasons = {c: _hit("gateway_official", e) for c, e in resolved.items() if e is not None}
    fixed_zh = {r.id: r.zh for r in RULES if r.id != "gateway_official"}
    fixed_en = {r.id: r.en for r in RULES if r.id != "gateway_official"}
    core_col = pl.col("_spoof_core")

    def mapped(mapping: Mapping[str, str], column: pl.Expr) -> pl.Expr:
        return column.replace_strict(dict(mapping), default=None, return_dtype=pl.Utf8)

    return staged.lazy().select(
        pl.col(_KEY), pl.col("spoof_rule"),
        mapped(patterns, core_col).alias("spoof_official"),
        pl.when(core_col.is_not_null()).then(mapped({c: h.reason_zh for c, h in reasons.items()}, core_col))
        .otherwise(mapped(fixed_zh, pl.col("spoof_rule"))).alias("spoof_reason_zh"),
        pl.when(core_col.is_not_null()).then(mapped({c: h.reason_en for c, h in reasons.items()}, core_col))
        .otherwise(mapped(fixed_en, pl.col("spoof_rule"))).alias("spoof_reason_en"),
    )


def check_calls(calls: list[CallRecord], official: OfficialList) -> list[SpoofHit | None]:
    """A batch of records (as the API receives them), vectorised when it is large enough to pay."""
    if len(calls) < 64:
        return [check_call(c, official) for c in calls]
    frame = pl.DataFrame({"caller": [c.caller for c in calls], "trunk": [c.trunk for c in calls],
                          "displayed_number": [c.displayed_number for c in calls]},
                         schema={"caller": pl.Utf8, "trunk": pl.Utf8, "displayed_number": pl.Utf8})
    checked = check_frame(frame, official)
    by_pattern = {e.pattern: e for e in official.entries}
    hits: list[SpoofHit | None] = []
    for rule_id, pattern in zip(checked.get_column("spoof_rule").to_list(),
                                checked.get_column("spoof_official").to_list(), strict=True):
        if rule_id is None:
            hits.append(None)
        else:
            hits.append(_hit(rule_id, by_pattern[pattern] if pattern is not None else None))
    return hits
