"""``fanzha report --from DATE --to DATE [--out DIR]``: the period statement as a PDF and an Excel workbook.

The CLI wires ``report_command`` as ``fanzha report``; ``write_report`` is the same thing for code.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fanzha.config import get_settings
from fanzha.errors import InvalidInput
from fanzha.reports.period import Period

if TYPE_CHECKING:
    from fanzha.reports.figures import Filters
    from fanzha.storage.db import Database


def write_report(db: Database, period: Period, filters: Filters, out_dir: Path, *, lang: str = "zh",
                 csv: bool = False, now: datetime | None = None) -> list[Path]:
    """Compute the figures once and write the PDF, the workbook and (with ``csv``) one CSV per table."""
    # Imported here, not at the top: reportlab, openpyxl and SQLAlchemy would slow every `fanzha` command.
    from fanzha.reports.excel import write_xlsx
    from fanzha.reports.figures import compute, snapshot
    from fanzha.reports.labels import Labels
    from fanzha.reports.pdf import write_pdf
    from fanzha.reports.statement import Statement, center_name

    labels = Labels(lang)
    with snapshot(db) as session:
        figures = compute(session, period, filters, now=now)
        center = center_name(session, lang)
    statement = Statement(figures, center, labels)
    stem = "-".join(["fanzha-report", period.first.isoformat(), period.last.isoformat(),
                     *(v for v in (filters.channel, filters.fraud_type) if v)])
    written = [write_pdf(statement, out_dir / f"{stem}.pdf"), write_xlsx(statement, out_dir / f"{stem}.xlsx")]
    if csv:
        for name, table in statement.tables.items():
            path = out_dir / f"{stem}-{name}.csv"
            path.write_text("\ufeff" + table.csv(), encoding="utf-8", newline="")
            written.append(path)
    return written


def report_command(
    first: Annotated[str, typer.Option("--from", help="first day of the period (local date, e.g. 2016-03-21)")],
    last: Annotated[str, typer.Option("--to", help="last day of the period, included (e.g. 2016-04-20)")],
    out: Annotated[Path, typer.Option("--out", help="directory to write into")] = Path("."),
    channel: Annotated[str | None, typer.Option(help="only cases from this channel (110, 12345, ...)")] = None,
    fraud_type: Annotated[str | None, typer.Option("--fraud-type", help="only this fraud type (code)")] = None,
    lang: Annotated[str, typer.Option(help="zh (the statement's language) or en")] = "zh",
    csv: Annotated[bool, typer.Option("--csv", help="also write every table as CSV")] = False,
    url: Annotated[str | None, typer.Option("--url", help="database URL (default FANZHA_DATABASE_URL)")] = None,
) -> None:
    """Write the period statement (PDF with charts, and an Excel workbook with the same figures)."""
    if lang not in ("zh", "en"):
        raise typer.BadParameter("use zh or en", param_hint="--lang")
    from fanzha.reports.figures import Filters
    from fanzha.storage.db import Database

    try:
        period = Period.parse(first, last)
        filters = Filters.of(channel, fraud_type)
    except InvalidInput as exc:
        raise typer.BadParameter(exc.message, param_hint=f"--{(exc.field or 'from').replace('_', '-')}") from exc
    db = Database(url or get_settings().database_url)
    try:
        for path in write_report(db, period, filters, out, lang=lang, csv=csv):
            typer.echo(str(path))
    finally:
        db.dispose()
