"""``fanzha report``: the PDF and the workbook are opened again and must carry the hand-computed figures."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from openpyxl import load_workbook
from pypdf import PdfReader
from typer.testing import CliRunner

from fanzha.config import Settings
from fanzha.reports.cli import report_command
from fanzha.reports.labels import Labels
from fanzha.storage.db import Database
from tests.reports.dataset import DataSet, build

cli = typer.Typer()
cli.command("report")(report_command)


@pytest.fixture
def data(db: Database, settings: Settings) -> DataSet:
    return build(db, settings)


def _run(settings: Settings, data: DataSet, out: Path, *extra: str) -> list[Path]:
    result = CliRunner().invoke(cli, ["--from", data.period.first.isoformat(), "--to", data.period.last.isoformat(),
                                      "--out", str(out), "--url", settings.database_url, *extra])
    assert result.exit_code == 0, result.output
    return [Path(line) for line in result.output.split()]


def _pdf_text(path: Path) -> str:
    return "".join(page.extract_text() for page in PdfReader(path).pages)


def test_the_pdf_reads_like_the_2016_statement_with_the_figures(settings: Settings, data: DataSet,
                                                                tmp_path: Path) -> None:
    pdf, xlsx = _run(settings, data, tmp_path)
    assert pdf.suffix == ".pdf" and xlsx.suffix == ".xlsx"
    assert pdf.name == f"fanzha-report-{data.period.first.isoformat()}-{data.period.last.isoformat()}.pdf"
    text = re.sub(r"\s+", "", _pdf_text(pdf))  # extraction breaks lines where the page did
    d = data.period
    assert "上海市反电信网络诈骗中心运行情况统计" in text
    assert (f"{d.first.year}年{d.first.month}月{d.first.day}日至{d.last.year}年{d.last.month}月{d.last.day}日，"
            "中心共接报电信网络诈骗案件6起") in text
    assert "紧急止付涉案资金人民币9.60万元、欧元29.90万元" in text
    assert "成功冻结涉案资金人民币7.00万元、欧元29.90万元，返还被害人资金人民币5.80万元、欧元29.90万元" in text
    assert "止付账户4个、冻结账户2个，关停涉案号码2个，发送闪信2条、送达1条，劝阻被害人2人" in text
    assert "报案至首次止付用时中位数20分钟，90%的案件在36分钟以内" in text
    for figure in ("111,000.49", "96,000.00", "58,000.00", "299,000.00", "1,500.00", "返还资金（人民币）",
                   "返还金额", "110报警", "刷单返利", "冒充公检法及政府机关",
                   "21分钟", "28分钟", "图1接报渠道", "图2诈骗类型", "图3每日接报案件与首次止付用时"):
        assert figure in text, figure
    reader = PdfReader(pdf)
    fonts = {str(font["/BaseFont"]) for page in reader.pages
             for font in page["/Resources"]["/Font"].get_object().values()}
    assert "/STSong-Light" in fonts  # a CID font every reader has: nothing embedded, no font file shipped
    assert len(reader.pages) >= 2


def test_the_workbook_holds_the_same_figures(settings: Settings, data: DataSet, tmp_path: Path) -> None:
    _, xlsx = _run(settings, data, tmp_path)
    book = load_workbook(xlsx)
    assert book.sheetnames == ["统计表", "接报渠道", "诈骗类型", "每日", "涉案资金", "止付冻结关停", "止付用时",
                               "闪信与劝阻"]
    summary = book["统计表"]
    assert summary["A1"].value == "上海市反电信网络诈骗中心运行情况统计"
    assert "中心共接报电信网络诈骗案件6起" in str(summary["A6"].value)
    lines = {row[0]: (row[1], row[2]) for row in summary.iter_rows(min_row=10, values_only=True) if row[0]}
    assert lines["接报案件（起）"][0] == 6
    assert (Decimal(str(lines["止付金额（人民币）"][0])), lines["止付金额（人民币）"][1]) == (Decimal(96000), "CNY")
    assert (Decimal(str(lines["冻结金额（欧元）"][0])), lines["冻结金额（欧元）"][1]) == (Decimal(299000), "EUR")
    assert (Decimal(str(lines["返还资金（人民币）"][0])), lines["返还资金（人民币）"][1]) == (Decimal(58000), "CNY")
    assert (Decimal(str(lines["返还资金（欧元）"][0])), lines["返还资金（欧元）"][1]) == (Decimal(299000), "EUR")
    assert "返还资金（美元）" not in lines  # nothing returned in USD
    assert Decimal(str(lines["报称被骗金额（人民币）"][0])) == Decimal("111000.49")
    assert lines["止付账户（个）"][0] == 4 and lines["冻结账户（个）"][0] == 2 and lines["关停号码（个）"][0] == 2
    assert lines["劝阻被害人（人）"][0] == 2
    assert lines["发送闪信（条）"][0] == 2 and lines["闪信送达（条）"][0] == 1
    assert lines["报案至首次止付用时中位数"] == (20.0, "分钟")
    assert lines["报案至首次止付用时90百分位"] == (36.0, "分钟")
    assert summary["B11"].number_format == "#,##0.00"

    channels = list(book["接报渠道"].iter_rows(values_only=True))
    assert channels[0] == ("渠道", "渠道", "案件数")
    assert channels[1] == ("110", "110报警", 3)
    money = list(book["涉案资金"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], *(Decimal(str(v)) for v in r[1:])) for r in money] == [
        ("CNY", Decimal("111000.49"), Decimal(96000), Decimal(70000), Decimal(58000)),
        ("EUR", Decimal(299000), Decimal(299000), Decimal(299000), Decimal(299000)),
        ("USD", Decimal(1500), Decimal(0), Decimal(0), Decimal(0)),
    ]
    assert next(book["涉案资金"].iter_rows(max_row=1, values_only=True))[4] == "返还金额"
    blocking = [r for r in book["止付冻结关停"].iter_rows(values_only=True) if r[0]]
    assert ("stopped", "止付", 4) in blocking and ("all", "合计", 2) in blocking
    per_day = [r for r in book["止付用时"].iter_rows(values_only=True) if r[0] and str(r[0]).startswith("20")]
    assert [(r[1], r[2], r[3]) for r in per_day] == [(2, 21.0, 28.2), (2, 12.5, 18.5), (1, 40.0, 40.0)]


def test_csv_files_and_an_english_statement_on_request(settings: Settings, data: DataSet, tmp_path: Path) -> None:
    paths = _run(settings, data, tmp_path, "--csv", "--lang", "en", "--channel", "110")
    assert len(paths) == 2 + 9
    assert all("-110" in p.name for p in paths)
    text = re.sub(r"\s+", " ", _pdf_text(paths[0]))
    assert "the center received 3 telecom and online fraud cases" in text
    assert "froze CNY 70,000.00, EUR 299,000.00; returned CNY 58,000.00, EUR 299,000.00 to victims" in text
    money = next(p for p in paths if p.name.endswith("-money.csv"))
    rows = list(csv.DictReader(money.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == {"currency": "CNY", "reported_lost": "90000.00", "stopped": "90000.00", "frozen": "70000.00",
                       "returned": "58000.00"}
    book = load_workbook(paths[1])
    assert book.sheetnames[0] == "Summary" and "Outreach" not in book.sheetnames  # filtered: calls have no channel
    assert "dissuaded" not in text


def test_an_empty_period_still_writes_both_files(settings: Settings, db: Database, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--from", "2026-01-01", "--to", "2026-01-31", "--out", str(tmp_path),
                                      "--url", settings.database_url])
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "fanzha-report-2026-01-01-2026-01-31.pdf"
    assert "期间内没有银行止付回执" in re.sub(r"\s+", "", _pdf_text(pdf))
    assert load_workbook(tmp_path / "fanzha-report-2026-01-01-2026-01-31.xlsx")["统计表"]["B10"].value == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2016-04-20", "--to", "2016-03-21"], "before it starts"),
    (["--from", "2016-03-21", "--to", "soon"], "must be a date"),
    (["--from", "2016-03-21", "--to", "2016-04-20", "--channel", "fax"], "unknown channel"),
    (["--from", "2016-03-21", "--to", "2016-04-20", "--lang", "fr"], "zh or en"),
])
def test_bad_arguments_are_refused(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path), "--url", "sqlite:///" + str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert message in re.sub(r"\s+", " ", result.output)


def test_amounts_read_as_the_2016_report_wrote_them() -> None:
    zh = Labels("zh")
    assert zh.headline_amount(Decimal("4040000"), "CNY") == "人民币404.00万元"
    assert zh.headline_amount(Decimal("4646000"), "EUR") == "欧元464.60万元"
    assert zh.duration(15 * 60) == "15分钟" and zh.duration(5.5 * 3600) == "5小时30分"
    assert Labels("en").headline_amount(Decimal("4646000"), "EUR") == "EUR 4,646,000.00"
