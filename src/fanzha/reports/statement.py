"""The period statement: what the PDF and the workbook both say, in the form of the center's 2016 monthly figures.

The 2016 report read: "3月21日至4月20日，中心共接报电信网络诈骗案件4738起，成功冻结涉案资金人民币404万元、
欧元464.6万元，劝阻被害人1535人" and set the freeze time (15-20 minutes) against the old 5-6 hours.
The statement opens with that sentence built from the figures, then the key figures, then a table per
breakdown. Both writers take every number from here, so the PDF and the workbook cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.config import SHANGHAI
from fanzha.orgs.models import Organisation
from fanzha.reports.figures import Figures
from fanzha.reports.labels import Labels
from fanzha.reports.tables import Table, tables


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the key figures: a machine key, its label, the value and (for money) its currency."""

    key: str
    label: str
    value: int | Decimal | float | None
    currency: str | None = None
    unit: str = ""  # "s" for durations (shown as minutes)

    def text(self, t: Labels) -> str:
        if self.value is None:
            return t("none")
        if self.unit == "s":
            return t.duration(float(self.value))
        if self.currency is not None and isinstance(self.value, Decimal):
            return t.money(self.value, self.currency)
        return f"{self.value:,}"


@dataclass(frozen=True, slots=True)
class Statement:
    figures: Figures
    center: str
    labels: Labels

    @property
    def tables(self) -> dict[str, Table]:
        return tables(self.figures, self.labels.lang)

    def title(self) -> str:
        t = self.labels
        center = self.center or t("center")
        return f"{center}{t('title')}" if t.lang == "zh" else f"{center}: {t('title')}"

    def scope(self) -> str:
        t, f = self.labels, self.figures.filters
        parts = [t.channel(f.channel) if f.channel else "", t.fraud_type(f.fraud_type) if f.fraud_type else ""]
        return t("and").join(p for p in parts if p) or t("all")

    def subtitle(self) -> list[tuple[str, str]]:
        t, f = self.labels, self.figures
        return [(t("period"), t("period_value", first=f.period.first.isoformat(), last=f.period.last.isoformat())),
                (t("filters"), self.scope()),
                (t("generated"), f.computed_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"))]

    def blocking(self) -> list[Line]:
        """Accounts stopped and frozen, numbers shut and how."""
        t, f = self.labels, self.figures
        return ([Line("accounts_stopped", t("item.accounts_stopped"), f.accounts.stopped),
                 Line("accounts_frozen", t("item.accounts_frozen"), f.accounts.frozen),
                 Line("numbers_shut", t("item.numbers_shut"), f.numbers_shut.total)]
                + [Line(f"numbers_{a.key}", t(f"item.numbers.{a.key}"), a.count) for a in f.numbers_shut.by_action])

    def headline(self) -> str:
        """The 2016 sentence: period, cases received, money stopped, frozen and returned per currency, and so on."""
        t, f = self.labels, self.figures
        first, last = f.period.first, f.period.last
        if t.lang == "zh":
            when = {"first": f"{first.year}年{first.month}月{first.day}日",
                    "last": f"{last.year}年{last.month}月{last.day}日"}
        else:
            when = {"first": first.isoformat(), "last": last.isoformat()}
        parts = [t("headline", cases=f"{f.cases.total:,}", **when)]
        stopped = [t.headline_amount(m.stopped, m.currency) for m in f.money if m.stopped]
        frozen = [t.headline_amount(m.frozen, m.currency) for m in f.money if m.frozen]
        returned = [t.headline_amount(m.returned, m.currency) for m in f.money if m.returned]
        if stopped:
            parts.append(t("headline.stopped", amounts=t("and").join(stopped)))
        parts.append(t("headline.frozen", amounts=t("and").join(frozen)) if frozen else t("headline.nothing_frozen"))
        if returned:
            parts.append(t("headline.returned", amounts=t("and").join(returned)))
        parts.append(t("headline.accounts", stopped=f.accounts.stopped, frozen=f.accounts.frozen))
        parts.append(t("headline.numbers", numbers=f"{f.numbers_shut.total:,}"))
        if f.flash is not None:
            parts.append(t("headline.flash", sent=f"{f.flash.sent:,}", delivered=f"{f.flash.delivered:,}"))
        if f.dissuaded is not None:
            parts.append(t("headline.dissuaded", people=f"{f.dissuaded:,}"))
        st = f.stop_time.overall
        parts.append(t("headline.stop_time", median=t.duration(st.median_s), p90=t.duration(st.p90_s))
                     if st.cases else t("headline.no_stop"))
        return t("sep").join(parts) + t("end")

    def key_figures(self) -> list[Line]:
        t, f = self.labels, self.figures
        st = f.stop_time.overall
        lines = [Line("cases", t("item.cases"), f.cases.total)]
        lines += [Line(f"stopped_{m.currency}", t("item.stopped", currency=t.currency(m.currency)), m.stopped,
                       m.currency) for m in f.money if m.stopped]
        lines += [Line(f"frozen_{m.currency}", t("item.frozen", currency=t.currency(m.currency)), m.frozen, m.currency)
                  for m in f.money if m.frozen]
        lines += [Line(f"returned_{m.currency}", t("item.returned", currency=t.currency(m.currency)), m.returned,
                       m.currency) for m in f.money if m.returned]
        lines += [
            Line("accounts_stopped", t("item.accounts_stopped"), f.accounts.stopped),
            Line("accounts_frozen", t("item.accounts_frozen"), f.accounts.frozen),
            Line("numbers_shut", t("item.numbers_shut"), f.numbers_shut.total),
        ]
        if f.dissuaded is not None:
            lines.append(Line("people_dissuaded", t("item.dissuaded"), f.dissuaded))
        if f.flash is not None:
            lines += [Line("flash_sent", t("item.flash_sent"), f.flash.sent),
                      Line("flash_delivered", t("item.flash_delivered"), f.flash.delivered)]
        lines += [
            Line("stop_cases", t("item.stop_cases"), st.cases),
            Line("stop_median", t("item.stop_median"), st.median_s, unit="s"),
            Line("stop_p90", t("item.stop_p90"), st.p90_s, unit="s"),
        ]
        lines += [Line(f"reported_lost_{m.currency}", t("item.reported_lost", currency=t.currency(m.currency)),
                       m.reported_lost, m.currency) for m in f.money]
        return lines

    def definitions(self) -> list[str]:
        t = self.labels
        keys = ["def.cases", "def.money", "def.accounts", "def.numbers", "def.stop_time"]
        keys += ["def.flash"] if self.figures.flash is not None else []
        keys += ["def.dissuaded"] if self.figures.dissuaded is not None else []
        return [t(k) for k in keys]


def center_name(session: Session, lang: str) -> str:
    row = session.execute(select(Organisation.name_zh, Organisation.name_en)
                          .where(Organisation.code == "center")).first()
    if row is None:
        return ""
    return str(row[0] if lang == "zh" or not row[1] else row[1])
