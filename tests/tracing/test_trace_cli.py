"""`fanzha trace csv`: an analyst traces victims through a CSV and reads where the money is, what was lost."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fanzha.tracing.cli import trace_app

runner = CliRunner()

# DOMAIN.md §4's worked example as an analyst's CSV, with one bad row (line 7) and a USD victim.
CSV = """timestamp,from_bank,from_account,to_bank,to_account,amount,currency,payment_format,txn_id
2024-03-01T08:00:00+08:00,,,ABC,6228480402564890018,1000,CNY,Cash,own
2024-03-01T09:00:00+08:00,CMB,6214830000000001,ABC,6228480402564890018,5000,CNY,,credit-a
2024-03-01T10:00:00+08:00,BOC,6216610000000002,ABC,6228480402564890018,3000,CNY,,credit-b
2024-03-01T11:00:00+08:00,ABC,6228480402564890018,ICBC,6222020200112233445,4000,CNY,,onward
2024-03-01T12:00:00+08:00,ABC,6228480402564890018,,,2000,CNY,ATM,cash
2024-03-01T12:30:00+08:00,ABC,6228480402564890018,ICBC,6222020200112233445,lots,CNY,,broken
2024-03-02T09:00:00+08:00,HSBC,400001,HSBC,400002,700,USD,,credit-usd
2024-03-06T09:00:00+08:00,HSBC,400002,HSBC,400003,700,USD,,late-usd
"""


def ledger_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def test_text_report_per_account_and_victim(tmp_path: Path) -> None:
    path = ledger_file(tmp_path)
    res = runner.invoke(trace_app, ["csv", str(path), "--victim", "A=credit-a", "--victim", "B=credit-b"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    mule = next(line for line in lines if line.strip().startswith("ABC/6228480402564890018"))
    assert "depth 1" in mule and "3000.00" in mule and "A 1875.00" in mule and "B 1125.00" in mule
    assert any("A" in line and "1250.00" in line and "atm" in line for line in lines)  # the loss
    victim_a = next(line for line in lines if line.strip().startswith("A "))
    assert victim_a.split() == ["A", "credit", "5000.00", "held", "3750.00", "lost", "1250.00", "unfollowed",
                                "0.00"]
    assert f"{path}:7: amount 'lots' is not a number" in res.stderr


def test_json_report_and_policy(tmp_path: Path) -> None:
    res = runner.invoke(trace_app, ["csv", str(ledger_file(tmp_path)), "--victim", "A=credit-a",
                                    "--victim", "B=credit-b", "--policy", "fifo", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["rows_read"] == 8 and data["bad_rows"] == [{"line": 7, "reason": "amount 'lots' is not a number"}]
    (cny,) = data["traces"]
    assert cny["policy"] == "fifo" and cny["currency"] == "CNY"
    held = {(a["bank"], a["account"]): a["held"] for a in cny["accounts"]}
    assert held[("ABC", "6228480402564890018")] == {"B": "3000.00"}  # FIFO: the frozen 3,000 is all B's
    assert [(x["victim"], x["amount"], x["channel"]) for x in cny["losses"]] == [("A", "2000.00", "atm")]


def test_victims_in_two_currencies_get_a_trace_each_and_window_applies(tmp_path: Path) -> None:
    res = runner.invoke(trace_app, ["csv", str(ledger_file(tmp_path)), "--victim", "A=credit-a",
                                    "--victim", "credit-usd", "--window-hours", "24", "--json"])
    assert res.exit_code == 0, res.output
    traces = {t["currency"]: t for t in json.loads(res.stdout)["traces"]}
    assert sorted(traces) == ["CNY", "USD"]
    usd = traces["USD"]
    assert usd["victims"][0]["victim"] == "credit-usd"  # without VICTIM_ID= the txn_id names the victim
    assert [(u["txn_id"], u["reason"], u["amount"]) for u in usd["unfollowed"]] == [("late-usd", "window", "700.00")]


def test_max_depth(tmp_path: Path) -> None:
    res = runner.invoke(trace_app, ["csv", str(ledger_file(tmp_path)), "--victim", "A=credit-a",
                                    "--victim", "B=credit-b", "--max-depth", "1"])
    assert res.exit_code == 0, res.output
    unfollowed = res.stdout.split("unfollowed (beyond the window or the depth):\n", 1)[1].splitlines()
    assert [line.split()[:3] for line in unfollowed] == [["A", "1875.00", "depth"], ["B", "1125.00", "depth"]]
    assert "ICBC/6222020200112233445" not in res.stdout.split("losses", 1)[0]  # not followed, so not held


def test_unknown_transaction_is_an_error(tmp_path: Path) -> None:
    res = runner.invoke(trace_app, ["csv", str(ledger_file(tmp_path)), "--victim", "A=nope"])
    assert res.exit_code == 1
    assert "no transaction 'nope'" in res.stderr


def test_unusable_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    res = runner.invoke(trace_app, ["csv", str(path), "--victim", "t1"])
    assert res.exit_code == 1 and "lacks columns" in res.stderr
