"""`fanzha telecom ingest | features | victims` as a user runs them (the typer commands on `cdr_app`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from fanzha.telecom.cdr_cli import cdr_app

runner = CliRunner()


def test_ingest_features_victims(tmp_path: Path) -> None:
    sim = [sys.executable, "-m", "sim.cdr", "--rows", "30000", "--numbers", "500", "--fraud", "6", "--seed", "4",
           "--bad-rows", "5", "--out", str(tmp_path / "cdr.csv"), "--quiet"]
    subprocess.run(sim, check=True, capture_output=True)

    result = runner.invoke(cdr_app, ["ingest", str(tmp_path / "cdr.csv"), "--out", str(tmp_path / "ds"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "30,000 rows read" in result.output and "5 quarantined" in result.output
    assert "read as Asia/Shanghai" in result.output

    result = runner.invoke(cdr_app, ["features", "--cdr", str(tmp_path / "ds"), "--out", str(tmp_path / "f.csv"),
                                     "--since", "2024-03-01", "--until", "2024-03-16", "--quiet"])
    assert result.exit_code == 0, result.output
    table = pl.read_csv(tmp_path / "f.csv")
    assert "numbers from" in result.output and table.height > 400 and "voc_hour_mode" in table.columns

    result = runner.invoke(cdr_app, ["victims", "--cdr", str(tmp_path / "ds"), "--numbers",
                                     str(tmp_path / "cdr.truth.csv"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert len(report["flagged"]) == 6  # the truth file's fraud rows
    victims = [v for f in report["flagged"] for v in f["victims"]]
    assert victims and {v["grade"] for v in victims} <= {"high", "medium", "low"}
    assert all(v["number"].startswith("+") and v["reasons"] for v in victims)

    number = report["flagged"][0]["number"]
    result = runner.invoke(cdr_app, ["victims", "--cdr", str(tmp_path / "ds"), "--number", number])
    assert result.exit_code == 0 and result.output.startswith(f"{number}: ")


def test_errors_are_plain(tmp_path: Path) -> None:
    result = runner.invoke(cdr_app, ["features", "--cdr", str(tmp_path), "--out", str(tmp_path / "f.csv")])
    assert result.exit_code == 2 and "holds no CDR dataset" in result.output
    (tmp_path / "c.csv").write_text("caller,callee\n+8613800138000,+8613900139000\n", encoding="utf-8")
    result = runner.invoke(cdr_app, ["ingest", str(tmp_path / "c.csv"), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 2 and "missing columns start_time" in result.output
    result = runner.invoke(cdr_app, ["features", "--cdr", str(tmp_path), "--out", str(tmp_path / "f.txt")])
    assert result.exit_code == 2 and ".csv or .parquet" in result.output
    result = runner.invoke(cdr_app, ["victims", "--cdr", str(tmp_path)])
    assert result.exit_code == 2 and "--numbers FILE or --number N" in result.output
