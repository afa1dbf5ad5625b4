"""The figures as plain tables: what CSV export, the Excel workbook and the PDF all print.

Each table has machine column names (CSV headers, JSON keys) and the same columns' headings in the reader's
language; money cells are ``Decimal`` and travel with their currency column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fanzha.reports.figures import Figures
from fanzha.reports.labels import Labels, amount_text


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]  # machine names
    headings: tuple[str, ...]  # in the reader's language
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, (_plain(v) for v in row), strict=True)) for row in self.rows]

    def csv(self) -> str:
        """RFC 4180 CSV with a header of machine names; money exact, times in seconds."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([_cell(v) for v in row])
        return out.getvalue()


TABLES = ("cases_by_channel", "cases_by_fraud_type", "cases_by_day", "money", "accounts", "numbers_shut",
          "stop_time", "stop_time_by_day", "outreach")


def tables(figures: Figures, lang: str = "zh") -> dict[str, Table]:
    t = Labels(lang)
    c = figures.cases
    st = figures.stop_time
    built = [
        Table("cases_by_channel", ("channel", "name", "cases"), (t("col.channel"), t("col.channel"), t("col.cases")),
              [(x.key, t.channel(x.key), x.count) for x in c.by_channel]),
        Table("cases_by_fraud_type", ("fraud_type", "name", "cases"),
              (t("col.fraud_type"), t("col.fraud_type"), t("col.cases")),
              [(x.key, t.fraud_type(x.key), x.count) for x in c.by_fraud_type]),
        Table("cases_by_day", ("day", "cases"), (t("col.day"), t("col.cases")),
              [(x.day.isoformat(), x.count) for x in c.by_day]),
        Table("money", ("currency", "reported_lost", "stopped", "frozen", "returned"),
              (t("col.currency"), t("col.reported_lost"), t("col.stopped"), t("col.frozen"), t("col.returned")),
              [(m.currency, _Money(m.reported_lost, m.currency), _Money(m.stopped, m.currency),
                _Money(m.frozen, m.currency), _Money(m.returned, m.currency)) for m in figures.money]),
        Table("accounts", ("measure", "name", "accounts"), (t("col.measure"), t("col.measure"), t("col.accounts")),
              [("stopped", t("stopped"), figures.accounts.stopped), ("frozen", t("frozen"), figures.accounts.frozen)]),
        Table("numbers_shut", ("action", "name", "numbers"), (t("col.action"), t("col.action"), t("col.numbers")),
              [(x.key, t.action(x.key), x.count) for x in figures.numbers_shut.by_action]
              + [("all", t("total"), figures.numbers_shut.total)]),
        Table("stop_time", ("cases", "median_seconds", "p90_seconds"),
              (t("col.stop_cases"), t("col.median"), t("col.p90")),
              [(st.overall.cases, st.overall.median_s, st.overall.p90_s)]),
        Table("stop_time_by_day", ("day", "cases", "median_seconds", "p90_seconds"),
              (t("col.day"), t("col.stop_cases"), t("col.median"), t("col.p90")),
              [(d.day.isoformat(), d.cases, d.median_s, d.p90_s) for d in st.by_day]),
        Table("outreach", ("measure", "name", "count"), (t("col.measure"), t("col.measure"), t("col.count")),
              ([] if figures.flash is None else [(f"flash_{k}", t(f"flash.{k}"), getattr(figures.flash, k))
                                                 for k in ("warnings", "sent", "delivered")])
              + ([] if figures.dissuaded is None else [("people_dissuaded", t("dissuaded"), figures.dissuaded)])),
    ]
    return {table.name: table for table in built}


@dataclass(frozen=True, slots=True)
class _Money:
    """An amount that knows its currency, so it prints with the currency's decimals and stays exact."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return amount_text(self.amount, self.currency)


def money_of(value: Any) -> Decimal | None:
    """The Decimal of a money cell (``None`` for any other cell)."""
    return value.amount if isinstance(value, _Money) else None


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, _Money) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def figures_json(figures: Figures) -> dict[str, Any]:
    """Every figure as JSON: money as exact decimal strings per currency, times in seconds, days ISO."""
    c, st = figures.cases, figures.stop_time
    return {
        "period": {"from": figures.period.first.isoformat(), "to": figures.period.last.isoformat(),
                   "start": figures.period.start.isoformat(), "end": figures.period.end.isoformat()},
        "filters": {"channel": figures.filters.channel, "fraud_type": figures.filters.fraud_type},
        "computed_at": figures.computed_at.isoformat(),
        "cases": {"total": c.total, "by_channel": {x.key: x.count for x in c.by_channel},
                  "by_fraud_type": {x.key: x.count for x in c.by_fraud_type},
                  "by_day": [{"day": x.day.isoformat(), "cases": x.count} for x in c.by_day]},
        "money": [{"currency": m.currency, "reported_lost": amount_text(m.reported_lost, m.currency),
                   "stopped": amount_text(m.stopped, m.currency), "frozen": amount_text(m.frozen, m.currency),
                   "returned": amount_text(m.returned, m.currency)}
                  for m in figures.money],
        "accounts": {"stopped": figures.accounts.stopped, "frozen": figures.accounts.frozen},
        "numbers_shut": {"total": figures.numbers_shut.total,
                         "by_action": {x.key: x.count for x in figures.numbers_shut.by_action}},
        "stop_time": {"cases": st.overall.cases, "median_seconds": st.overall.median_s,
                      "p90_seconds": st.overall.p90_s,
                      "by_day": [{"day": d.day.isoformat(), "cases": d.cases, "median_seconds": d.median_s,
                                  "p90_seconds": d.p90_s} for d in st.by_day]},
        "flash_sms": None if figures.flash is None else {"warnings": figures.flash.warnings,
                                                        "sent": figures.flash.sent,
                                                        "delivered": figures.flash.delivered},
        "people_dissuaded": figures.dissuaded,
    }
