"""The period statement as a PDF (reportlab): text, tables and charts drawn with reportlab's own graphics.

Chinese is set in STSong-Light, one of the CID fonts every PDF reader carries (Adobe's Asian font packs), so
no font file ships with fanzha and none is embedded.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, TableStyle
from reportlab.platypus import Table as PdfTable

from fanzha.reports.labels import Labels, amount_text
from fanzha.reports.statement import Statement
from fanzha.reports.tables import Table, money_of

FONT = "STSong-Light"
INK = colors.HexColor("#1b2128")
MUTED = colors.HexColor("#56606b")
PRIMARY = colors.HexColor("#1f4e8c")
PALETTE = [colors.HexColor(c) for c in ("#1f4e8c", "#1d6b3a", "#a8201a", "#c98a00", "#55308f", "#0b7a75",
                                        "#7a4b00", "#46505a", "#9cc3ee", "#f0b8b3", "#b5dcc3", "#cdb7ee", "#e4d3ff")]
WIDTH = A4[0] - 36 * mm  # the text column


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=18, leading=24, alignment=1, textColor=INK,
                                spaceAfter=4),
        "sub": ParagraphStyle("sub", fontName=font, fontSize=10, leading=14, alignment=1, textColor=MUTED),
        "h2": ParagraphStyle("h2", fontName=font, fontSize=13, leading=18, textColor=PRIMARY, spaceBefore=10,
                             spaceAfter=5),
        "body": ParagraphStyle("body", fontName=font, fontSize=11, leading=18, textColor=INK, firstLineIndent=22,
                               wordWrap="CJK"),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=9.5, leading=12, textColor=INK, wordWrap="CJK"),
        "note": ParagraphStyle("note", fontName=font, fontSize=8.5, leading=12, textColor=MUTED, wordWrap="CJK"),
        "caption": ParagraphStyle("caption", fontName=font, fontSize=9, leading=12, alignment=1, textColor=MUTED),
    }


def write_pdf(statement: Statement, path: Path) -> Path:
    t = statement.labels
    s = _styles()
    f = statement.figures
    tabs = statement.tables
    sections: list[tuple[str, list[Flowable]]] = [
        ("section.summary", [_grid([[t("col.item"), t("col.value")]]
                                   + [[line.label, line.text(t)] for line in statement.key_figures()],
                                   [0.62, 0.38], s, right=(1,))]),
        ("section.channel", [_counts_table(tabs["cases_by_channel"], f.cases.total, t, s), Spacer(1, 3 * mm),
                             _channel_chart(tabs["cases_by_channel"], t),
                             Paragraph(escape(t("chart.channel")), s["caption"])]),
        ("section.fraud_type", [_counts_table(tabs["cases_by_fraud_type"], f.cases.total, t, s),
                                KeepTogether([Spacer(1, 3 * mm), _fraud_chart(tabs["cases_by_fraud_type"], t),
                                              Paragraph(escape(t("chart.fraud_type")), s["caption"])])]),
        ("section.money", [_money_table(tabs["money"], t, s)]),
        ("section.blocking", [_grid([[t("col.measure"), t("col.value")]]
                                    + [[line.label, line.text(t)] for line in statement.blocking()],
                                    [0.62, 0.38], s, right=(1,))]),
    ]
    if tabs["outreach"].rows:
        sections.append(("section.outreach", [_grid([[t("col.measure"), t("col.count")]]
                                                    + [[str(r[1]), f"{r[2]:,}"] for r in tabs["outreach"].rows],
                                                    [0.62, 0.38], s, right=(1,))]))
    sections.append(("section.stop_time", [_stop_table(tabs["stop_time_by_day"], statement, s),
                                           KeepTogether([Spacer(1, 3 * mm), _trend_chart(statement),
                                                         Paragraph(escape(t("chart.trend")), s["caption"])])]))
    story: list[Flowable] = [
        Paragraph(escape(statement.title()), s["title"]),
        Paragraph(escape(t("gap").join(f"{k}{t('colon')}{v}" for k, v in statement.subtitle())), s["sub"]),
        Spacer(1, 6 * mm),
        Paragraph(escape(statement.headline()), s["body"]),
    ]
    for number, (key, parts) in enumerate(sections, start=1):
        # A heading never stays alone at the foot of a page: it keeps to its first table.
        story += [KeepTogether([Paragraph(escape(t.section(number, key)), s["h2"]), parts[0]]), *parts[1:]]
    story.append(KeepTogether([Paragraph(escape(t("section.definitions")), s["h2"]),
                               *[Paragraph(escape(text), s["note"]) for text in statement.definitions()]]))
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=f"{statement.center} {t('title')} {f.period.label()}",
                            author=statement.center, creator="fanzha")
    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return path


# ---- tables ----------------------------------------------------------------------------------------------------

def _grid(rows: list[list[str]], widths: list[float], s: dict[str, ParagraphStyle], *,
          right: tuple[int, ...] = ()) -> PdfTable:
    cells: list[list[Any]] = [[Paragraph(escape(str(v)), s["cell"]) if i not in right else str(v)
                               for i, v in enumerate(row)] for row in rows]
    table = PdfTable(cells, colWidths=[w * WIDTH for w in widths], repeatRows=1, hAlign="LEFT")
    style: list[Any] = [
        ("FONTNAME", (0, 0), (-1, -1), _font()), ("FONTSIZE", (0, 0), (-1, -1), 9.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, PRIMARY), ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#d3d8dd")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    style += [("ALIGN", (i, 0), (i, -1), "RIGHT") for i in right]
    table.setStyle(TableStyle(style))
    return table


def _counts_table(table: Table, total: int, t: Labels, s: dict[str, ParagraphStyle]) -> PdfTable:
    rows = [[table.headings[1], table.headings[2], t("col.share")]]
    rows += [[str(r[1]), f"{r[2]:,}", _share(r[2], total)] for r in table.rows]
    rows.append([t("total"), f"{total:,}", _share(total, total)])
    return _grid(rows, [0.52, 0.24, 0.24], s, right=(1, 2))


def _money_table(table: Table, t: Labels, s: dict[str, ParagraphStyle]) -> PdfTable:
    rows = [list(table.headings)]
    for row in table.rows:
        currency = str(row[0])
        rows.append([f"{t.currency(currency)} {currency}" if t.lang == "zh" else currency]
                    + [amount_text(_decimal(v), currency, grouped=True) for v in row[1:]])
    if len(rows) == 1:
        rows.append([t("none"), "0", "0", "0", "0"])
    return _grid(rows, [0.2, 0.2, 0.2, 0.2, 0.2], s, right=(1, 2, 3, 4))


def _stop_table(table: Table, statement: Statement, s: dict[str, ParagraphStyle]) -> PdfTable:
    t = statement.labels
    overall = statement.figures.stop_time.overall
    rows = [list(table.headings)]
    rows += [[str(r[0]), f"{r[1]:,}", t.duration(r[2]), t.duration(r[3])] for r in table.rows]
    rows.append([t("total"), f"{overall.cases:,}", t.duration(overall.median_s), t.duration(overall.p90_s)])
    return _grid(rows, [0.28, 0.24, 0.24, 0.24], s, right=(1, 2, 3))


def _decimal(cell: object) -> Decimal:
    amount = money_of(cell)
    assert amount is not None, f"not a money cell: {cell!r}"
    return amount


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "—"


# ---- charts ----------------------------------------------------------------------------------------------------

def _empty(drawing: Drawing, t: Labels) -> Drawing:
    drawing.add(String(drawing.width / 2, drawing.height / 2, t("none"), fontName=_font(), fontSize=12,
                       fillColor=MUTED, textAnchor="middle"))
    return drawing


def _channel_chart(table: Table, t: Labels) -> Drawing:
    drawing = Drawing(WIDTH, 150)
    rows = [(str(r[1]), int(r[2])) for r in table.rows if r[2]]
    if not rows:
        return _empty(drawing, t)
    pie = Pie()
    pie.x, pie.y, pie.width, pie.height = 40, 10, 130, 130
    pie.data = [n for _, n in rows]
    pie.labels = [f"{n:,}" for _, n in rows]
    pie.simpleLabels = True
    pie.slices.strokeColor = colors.white
    pie.slices.fontName = _font()
    for i in range(len(rows)):
        pie.slices[i].fillColor = PALETTE[i % len(PALETTE)]
    drawing.add(pie)
    legend = Legend()
    legend.x, legend.y = 230, 120
    legend.fontName, legend.fontSize = _font(), 9
    legend.alignment = "right"
    legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], f"{name}  {n:,}") for i, (name, n) in enumerate(rows)]
    drawing.add(legend)
    return drawing


def _fraud_chart(table: Table, t: Labels) -> Drawing:
    rows = sorted(((str(r[1]), int(r[2])) for r in table.rows if r[2]), key=lambda x: x[1])
    drawing = Drawing(WIDTH, max(60, 18 * len(rows) + 30))
    if not rows:
        return _empty(drawing, t)
    chart = HorizontalBarChart()
    chart.x, chart.y = 130, 15
    chart.width, chart.height = round(WIDTH) - 170, round(drawing.height) - 25
    chart.data = [[n for _, n in rows]]
    chart.categoryAxis.categoryNames = [name for name, _ in rows]
    chart.categoryAxis.labels.fontName = _font()
    chart.categoryAxis.labels.fontSize = 8.5
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueStep = _step(max(n for _, n in rows))
    chart.valueAxis.labels.fontName = _font()
    chart.valueAxis.labels.fontSize = 8
    chart.bars[0].fillColor = PRIMARY
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = _font()
    chart.barLabels.fontSize = 8
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    drawing.add(chart)
    return drawing


def _trend_chart(statement: Statement) -> Drawing:
    """Cases per day (bars, left) and median and 90th-percentile minutes to first stop (lines, right)."""
    t = statement.labels
    figures = statement.figures
    days = [d.day for d in figures.cases.by_day]
    drawing = Drawing(WIDTH, 200)
    step = max(1, len(days) // 16)
    names = [d.strftime("%m-%d") if i % step == 0 else "" for i, d in enumerate(days)]
    bars = VerticalBarChart()
    bars.x, bars.y, bars.width, bars.height = 40, 45, round(WIDTH) - 90, 130
    bars.data = [[d.count for d in figures.cases.by_day]]
    bars.categoryAxis.categoryNames = names
    bars.categoryAxis.labels.fontName = _font()
    bars.categoryAxis.labels.fontSize = 7
    bars.categoryAxis.labels.angle = 45 if len(days) > 8 else 0
    bars.categoryAxis.labels.boxAnchor = "ne" if len(days) > 8 else "n"
    bars.valueAxis.valueMin = 0
    bars.valueAxis.valueStep = _step(max((d.count for d in figures.cases.by_day), default=0))
    bars.valueAxis.labels.fontName = _font()
    bars.valueAxis.labels.fontSize = 7
    bars.bars[0].fillColor = colors.HexColor("#9cc3ee")
    bars.bars[0].strokeColor = None
    drawing.add(bars)
    minutes = [[None if d.median_s is None else d.median_s / 60 for d in figures.stop_time.by_day],
               [None if d.p90_s is None else d.p90_s / 60 for d in figures.stop_time.by_day]]
    known = [v for series in minutes for v in series if v is not None]
    lines = HorizontalLineChart()
    lines.x, lines.y, lines.width, lines.height = bars.x, bars.y, bars.width, bars.height
    lines.data = minutes if known else [[0.0] * len(days)]
    lines.categoryAxis.visible = False
    lines.valueAxis.valueMin = 0
    lines.valueAxis.valueMax = max(known) * 1.15 if known else 1
    lines.valueAxis.joinAxisMode = "right"
    lines.valueAxis.labels.fontName = _font()
    lines.valueAxis.labels.fontSize = 7
    lines.valueAxis.labels.boxAnchor = "w"
    lines.valueAxis.labels.dx = 4
    lines.valueAxis.visibleGrid = False
    for i, color in enumerate((colors.HexColor("#1d6b3a"), colors.HexColor("#a8201a"))):
        lines.lines[i].strokeColor = color
        lines.lines[i].strokeWidth = 1.5
    lines.lines[1].strokeDashArray = [3, 2]
    if known:
        drawing.add(lines)
    legend = Legend()
    legend.x, legend.y = 40, 198
    legend.fontName, legend.fontSize = _font(), 8
    legend.columnMaximum = 1
    legend.deltax = 110
    legend.alignment = "right"
    legend.colorNamePairs = [(colors.HexColor("#9cc3ee"), t("chart.cases")),
                             (colors.HexColor("#1d6b3a"), f"{t('col.median')} ({t('unit.minutes')})"),
                             (colors.HexColor("#a8201a"), f"{t('col.p90')} ({t('unit.minutes')})")]
    drawing.add(legend)
    return drawing


def _step(largest: int) -> int:
    """A whole-number tick step giving about five ticks: counts have no halves."""
    return max(1, math.ceil(largest / 5))


def _footer(canvas: Canvas, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont(_font(), 8)
    canvas.setFillColor(MUTED)
    canvas.drawCentredString(A4[0] / 2, 9 * mm, f"- {doc.page} -")
    canvas.restoreState()

