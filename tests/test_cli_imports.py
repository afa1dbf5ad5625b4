"""`fanzha --help` and the light commands start fast: the data-science stack is imported only by the commands that
use it. Checked by what gets imported, not by timing, so the test holds on a busy machine."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fanzha.cli import LazyGroup, TelecomGroup, TraceGroup
from fanzha.cli import app as cli

HEAVY = ("polars", "lightgbm", "dask", "reportlab", "sklearn", "openpyxl", "scipy", "numpy", "duckdb", "pandas")
runner = CliRunner()


def heavy_modules_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter and list the heavy modules it left imported."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    loaded: list[str] = json.loads(out.stdout.splitlines()[-1])
    return loaded


def test_importing_the_cli_imports_no_heavy_module() -> None:
    assert heavy_modules_after("import fanzha.cli") == []


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"], ["users", "--help"], ["db", "upgrade", "--help"],
                                  ["report", "--help"], ["sim", "--help"]])
def test_light_commands_import_no_heavy_module(argv: list[str]) -> None:
    # Building the command tree and printing help must not load the lazy commands either.
    code = f"from fanzha.cli import app\ntry:\n    app({argv!r})\nexcept SystemExit:\n    pass"
    assert heavy_modules_after(code) == []


def test_running_a_lazy_command_loads_only_its_own_module() -> None:
    # `telecom ingest` needs polars, not LightGBM: it must not import the detector's command line.
    code = ("from fanzha.cli import app\ntry:\n    app(['telecom', 'ingest', '--help'])\nexcept SystemExit:\n"
            "    pass")
    loaded = heavy_modules_after(code)
    assert "polars" in loaded and "lightgbm" not in loaded and "sklearn" not in loaded


@pytest.mark.parametrize("group", [TelecomGroup, TraceGroup])
def test_lazy_names_are_the_commands_their_modules_define(group: type[LazyGroup]) -> None:
    # A command added to (or renamed in) cdr_cli, detector.cli or tracing.cli must be named here too.
    for target in set(group.lazy.values()):
        module, _, attribute = target.partition(":")
        defined = set(typer.main.get_group(getattr(importlib.import_module(module), attribute)).commands)
        assert defined == {name for name, t in group.lazy.items() if t == target}, target


def test_telecom_help_lists_every_command() -> None:
    res = runner.invoke(cli, ["telecom", "--help"])
    assert res.exit_code == 0, res.output
    for name in ("ingest", "features", "victims", "train", "evaluate", "score"):
        assert name in res.output


def test_unknown_lazy_command_is_refused_with_a_suggestion() -> None:
    res = runner.invoke(cli, ["telecom", "scor"])
    assert res.exit_code == 2 and "Did you mean 'score'" in res.output


def test_trace_runs_through_the_main_cli(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("timestamp,from_bank,from_account,to_bank,to_account,amount,currency,payment_format,txn_id\n"
                      "2024-03-01T09:00:00+08:00,CMB,6214830000000001,ABC,6228480402564890018,5000,CNY,,credit-a\n"
                      "2024-03-01T12:00:00+08:00,ABC,6228480402564890018,,,2000,CNY,ATM,cash\n", encoding="utf-8")
    res = runner.invoke(cli, ["trace", "csv", str(ledger), "--victim", "A=credit-a", "--json"])
    assert res.exit_code == 0, res.output
    victim = json.loads(res.stdout)["traces"][0]["victims"][0]
    assert (victim["credit"], victim["held"], victim["lost"]) == ("5000.00", "3000.00", "2000.00")
