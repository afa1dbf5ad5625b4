"""Loading a ledger from an analyst's CSV: our columns or the IBM AML ones; bad rows by line, the rest loads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from fanzha.tracing.csv_ledger import RowError, load_csv
from fanzha.tracing.engine import Victim, trace

D = Decimal
HEADER = "timestamp,from_bank,from_account,to_bank,to_account,amount,currency,payment_format,txn_id\n"
IBM_HEADER = ("Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,"
              "Payment Currency,Payment Format,Is Laundering\n")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ledger.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_our_columns_load_and_trace(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + (
        "2024-03-01T08:00:00+08:00,ABC,6228480402564890018,,,1000,CNY,,own\n"  # no receiver: see below
        "2024-03-01T09:00:00+08:00,CMB,6214830000000001,ABC,6228480402564890018,5000.00,CNY,Transfer,credit\n"
        "2024-03-01 10:30:00Z,ABC,6228480402564890018,ICBC,6222020200112233445,4000,cny,wire,onward\n"
        "2024-03-01T03:00:00Z,ABC,6228480402564890018,,,500.5,CNY,ATM,cash\n"
    ))
    loaded = load_csv(path)
    assert loaded.rows_read == 4
    assert loaded.errors == [RowError(2, "to_account is empty but payment format '' is not a cash-out")]
    ledger = loaded.ledger
    assert len(ledger) == 3
    onward = ledger.row("onward")
    assert onward.at == datetime(2024, 3, 1, 10, 30, tzinfo=UTC)
    assert (onward.from_account, onward.to_account, onward.amount, onward.currency, onward.channel) == (
        ("ABC", "6228480402564890018"), ("ICBC", "6222020200112233445"), D("4000"), "CNY", "transfer")
    cash = ledger.row("cash")
    assert (cash.to_account, cash.channel, cash.amount) == (None, "atm", D("500.50"))
    # In time order: the credit (01:00Z), the cash (03:00Z), then the onward transfer (10:30Z).
    tr = trace(ledger, [Victim("case-1", "credit")])
    assert tr.held() == {("ABC", "6228480402564890018"): {"case-1": D("499.50")},
                         ("ICBC", "6222020200112233445"): {"case-1": D("4000")}}
    assert [(x.txn_id, x.amount) for x in tr.losses] == [("cash", D("500.50"))]


def test_ibm_aml_header_and_names(tmp_path: Path) -> None:
    path = write(tmp_path, IBM_HEADER + (
        "2022/09/01 00:20,10,8000EBD30,20,80012ACD0,3697.34,US Dollar,3697.34,US Dollar,Reinvestment,0\n"
        "2022/09/01 00:21,20,80012ACD0,,,100.00,Yuan,100.00,Yuan,Cash,0\n"
        "2022/09/01 00:22,20,80012ACD0,30,800ABCD10,20.00,Euro,20.00,Euro,Credit Card,0\n"
        "2022/09/01 00:23,20,80012ACD0,30,800ABCD10,0.5,Bitcoin,0.5,Bitcoin,Bitcoin,0\n"
    ))
    loaded = load_csv(path)
    assert loaded.errors == [RowError(5, "unknown currency 'Bitcoin'")]
    rows = list(loaded.ledger.rows())
    assert [r.txn_id for r in rows] == ["L2", "L3", "L4"]  # no txn_id column: ids from line numbers
    first = rows[0]
    assert (first.from_account, first.to_account, first.currency, first.at) == (
        ("10", "8000EBD30"), ("20", "80012ACD0"), "USD", datetime(2022, 9, 1, 0, 20, tzinfo=UTC))
    assert (rows[1].to_account, rows[1].channel, rows[1].currency) == (None, "counter", "CNY")
    assert (rows[2].channel, rows[2].currency) == ("pos", "EUR")


def test_naive_times_are_read_in_the_given_timezone(tmp_path: Path) -> None:
    path = write(tmp_path, IBM_HEADER + "2022/09/01 08:20,10,A1,20,A2,1.00,Yuan,1.00,Yuan,ACH,0\n")
    row = next(load_csv(path, timezone="Asia/Shanghai").ledger.rows())
    assert row.at == datetime(2022, 9, 1, 0, 20, tzinfo=UTC)


def test_pandas_style_duplicate_header(tmp_path: Path) -> None:
    path = write(tmp_path, "Timestamp,From Bank,Account,To Bank,Account.1,Amount Paid,Payment Currency,"
                           "Payment Format\n2022/09/01 00:20,10,A1,20,A2,5.00,US Dollar,Wire\n")
    row = next(load_csv(path).ledger.rows())
    assert (row.from_account, row.to_account, row.amount) == (("10", "A1"), ("20", "A2"), D("5"))


def test_bad_rows_are_reported_by_line_and_the_rest_loads(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + (
        "2024-03-01T09:00:00Z,B,1,B,2,10.00,CNY,,ok1\n"  # line 2
        "yesterday,B,1,B,2,10.00,CNY,,t3\n"  # line 3
        "2024-03-01T09:00:00Z,B,1,B,2,ten,CNY,,t4\n"
        "2024-03-01T09:00:00Z,B,1,B,2,0,CNY,,t5\n"
        "2024-03-01T09:00:00Z,B,1,B,2,-3,CNY,,t6\n"
        "2024-03-01T09:00:00Z,B,1,B,2,1.001,CNY,,t7\n"
        "2024-03-01T09:00:00Z,B,1,B,2,10,Doubloon,,t8\n"
        "2024-03-01T09:00:00Z,B,,B,,10,CNY,ATM,t9\n"
        "\n"  # line 10: blank, skipped
        "2024-03-01T09:00:00Z,B,1,B,2,10,CNY,Telepathy,t11\n"
        '2024-03-01T09:00:00Z,B,"multi\nline",B,2,10,CNY,,t12\n'  # lines 12-13
        "2024-03-01T09:00:00Z,B,1,B,2,10,CNY,,ok1\n"  # line 14: the id of line 2 again
        "2024-03-01T09:00:00Z,B,1,B,2,,CNY,,t15\n"
        "2024-03-01T09:00:00Z,B,1,B,2,12.5,JPY,,t16\n"
        "2024-03-01T09:00:00Z,B,1,B,2\n"  # line 17: a short row
        "2024-03-01T10:00:00Z,B,2,,,3.00,CNY,POS,ok2\n"  # line 18
    ))
    loaded = load_csv(path)
    assert [(e.line, e.reason) for e in loaded.errors] == [
        (3, "time 'yesterday' is not a time (use ISO 8601, e.g. 2024-03-31T08:20:00+08:00)"),
        (4, "amount 'ten' is not a number"),
        (5, "amount 0 is not greater than zero"),
        (6, "amount -3 is not greater than zero"),
        (7, "CNY amounts have at most 2 decimal places: 1.001"),
        (8, "unknown currency 'Doubloon'"),
        (9, "no account on either side"),
        (11, "unknown payment format 'Telepathy'"),
        (14, "txn_id 'ok1' is already used on line 2"),
        (15, "amount is missing"),
        (16, "JPY amounts have at most 0 decimal places: 12.5"),
        (17, "txn_id is missing"),
    ]
    assert loaded.rows_read == 15  # every data row but the blank line
    assert sorted(r.txn_id for r in loaded.ledger.rows()) == ["ok1", "ok2", "t12"]
    assert loaded.ledger.row("t12").from_account == ("B", "multi\nline")


def test_a_file_without_the_needed_columns_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lacks columns from_account, to_account"):
        load_csv(write(tmp_path, "timestamp,amount,currency\n2024-03-01T09:00:00Z,1,CNY\n"))
    with pytest.raises(ValueError, match="cannot read"):
        load_csv(tmp_path / "missing.csv")


def test_header_only_gives_an_empty_ledger(tmp_path: Path) -> None:
    loaded = load_csv(write(tmp_path, HEADER))
    assert (len(loaded.ledger), loaded.errors, loaded.rows_read) == (0, [], 0)
