"""The period statement as an Excel workbook (openpyxl): the statement sheet first, then one sheet per table.

Numbers are numbers (counts as integers, money as exact decimals in the currency's format beside their
currency, times in minutes), so the workbook can be summed and charted further - within one currency.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from fanzha.money import minor_units
from fanzha.reports.statement import Statement
from fanzha.reports.tables import Table, money_of

HEAD_FILL = PatternFill("solid", fgColor="EEF2F7")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
# Which sheet holds which table, and the columns that hold seconds (shown as minutes).
SHEETS = (("sheet.channel", "cases_by_channel"), ("sheet.fraud_type", "cases_by_fraud_type"),
          ("sheet.by_day", "cases_by_day"), ("sheet.money", "money"), ("sheet.blocking", "accounts"),
          ("sheet.blocking", "numbers_shut"), ("sheet.stop_time", "stop_time"),
          ("sheet.stop_time", "stop_time_by_day"), ("sheet.outreach", "outreach"))
SECONDS = frozenset({"median_seconds", "p90_seconds"})


def write_xlsx(statement: Statement, path: Path) -> Path:
    t = statement.labels
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = t("sheet.summary")
    summary["A1"] = statement.title()
    summary["A1"].font = TITLE
    for row, (name, text) in enumerate(statement.subtitle(), start=2):
        summary.cell(row, 1, f"{name}{t('colon')}{text}")
    summary["A6"] = statement.headline()
    summary["A6"].alignment = Alignment(wrap_text=True, vertical="top")
    summary.merge_cells("A6:C6")
    summary.row_dimensions[6].height = 96
    summary["A8"] = t("section.summary")
    summary["A8"].font = BOLD
    _header(summary, 9, [t("col.item"), t("col.value"), t("col.currency")])
    row = 10
    for line in statement.key_figures():
        summary.cell(row, 1, line.label)
        value: Any = line.value
        cell = summary.cell(row, 2)
        if line.unit == "s":
            cell.value = None if value is None else float(value) / 60
            cell.number_format = "0.0"
            summary.cell(row, 3, t("unit.minutes"))
        elif line.currency is not None:
            cell.value = value
            cell.number_format = _money_format(line.currency)
            summary.cell(row, 3, line.currency)
        else:
            cell.value = value
            cell.number_format = "#,##0"
        row += 1
    row += 1
    summary.cell(row, 1, t("section.definitions")).font = BOLD
    for text in statement.definitions():
        row += 1
        summary.cell(row, 1, text)
    _widths(summary, [44, 22, 12])

    tables = statement.tables
    sheets: dict[str, Worksheet] = {}
    for sheet_key, table_name in SHEETS:
        if table_name == "outreach" and not tables[table_name].rows:
            continue  # filtered figures: outreach counts calls and people, not reports
        title = t(sheet_key)
        if title not in sheets:
            sheets[title] = book.create_sheet(title)
            sheets[title].freeze_panes = "A2"
        sheet = sheets[title]
        start = 1 if sheet.max_row == 1 and sheet["A1"].value is None else sheet.max_row + 2
        _table(sheet, start, tables[table_name], t("unit.minutes"))
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _table(sheet: Worksheet, start: int, table: Table, minutes: str) -> None:
    headings = [f"{h} ({minutes})" if c in SECONDS else h for c, h in zip(table.columns, table.headings, strict=True)]
    _header(sheet, start, headings)
    currency_at = table.columns.index("currency") if "currency" in table.columns else None
    for r, values in enumerate(table.rows, start=start + 1):
        for c, (column, value) in enumerate(zip(table.columns, values, strict=True), start=1):
            cell = sheet.cell(r, c)
            amount = money_of(value)
            if amount is not None and currency_at is not None:
                cell.value = amount
                cell.number_format = _money_format(str(values[currency_at]))
            elif column in SECONDS:
                cell.value = None if value is None else float(value) / 60
                cell.number_format = "0.0"
            else:
                cell.value = value
    _widths(sheet, [max(12, min(40, 2 * len(str(h)) + 4)) for h in headings])


def _header(sheet: Worksheet, row: int, headings: list[str]) -> None:
    for c, heading in enumerate(headings, start=1):
        cell = sheet.cell(row, c, heading)
        cell.font = BOLD
        cell.fill = HEAD_FILL


def _widths(sheet: Worksheet, widths: list[int]) -> None:
    for i, width in enumerate(widths, start=1):
        letter = get_column_letter(i)
        sheet.column_dimensions[letter].width = max(sheet.column_dimensions[letter].width or 0, width)


def _money_format(currency: str) -> str:
    digits = minor_units(currency)
    return "#,##0" + ("." + "0" * digits if digits else "")
