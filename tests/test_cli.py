"""The command line a duty officer or administrator uses: extract, create accounts, migrate."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fanzha.auth import service
from fanzha.cli import app as cli
from fanzha.storage.db import Database

runner = CliRunner()
SEED = ("今年3月31日8时许，中心接到一家公司报警，称其德国总公司财务于凌晨5时许收到一封电子邮件，"
        "被骗向指定的农业银行上海分行一离岸账户转账299万欧元。")


def test_extract_json_from_stdin() -> None:
    res = runner.invoke(cli, ["cases", "extract", "-", "--json", "--received-at", "2016-03-31T08:20:00+08:00"],
                        input=SEED)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [(a["value"], a["currency"]) for a in data["amounts"]] == [("2990000", "EUR")]
    assert data["banks"][0]["code"] == "ABC" and data["banks"][0]["branch"] == "上海分行"
    assert data["fraud_type"]["name"] == "冒充领导、熟人"
    start, end = data["amounts"][0]["span"]
    assert SEED[start:end] == data["amounts"][0]["text"]


def test_extract_refuses_naive_receipt_time() -> None:
    res = runner.invoke(cli, ["cases", "extract", "-", "--received-at", "2016-03-31T08:20:00"], input=SEED)
    assert res.exit_code != 0 and "offset" in res.output


def test_users_create_with_token_and_password(db: Database) -> None:
    res = runner.invoke(cli, ["users", "create", "feed110", "--role", "hotline_operator", "--org", "hotline:110",
                              "--token", "110 platform", "--url", db.url])
    assert res.exit_code == 0, res.output
    token = res.output.strip().rsplit(" ", 1)[-1]
    assert token.startswith("fz_")
    actor = service.actor_from_token(db, token)
    assert actor is not None and actor.org_code == "hotline:110"
    person = runner.invoke(cli, ["users", "create", "wang", "--role", "duty_officer", "--org", "center",
                                 "--password-stdin", "--url", db.url], input="a long enough secret\n")
    assert person.exit_code == 0, person.output
    assert "a long enough secret" not in person.output
    with db.transaction() as session:
        assert service.login(session, "wang", "a long enough secret", 1) is not None


def test_users_create_rejects_wrong_org_for_role(db: Database) -> None:
    res = runner.invoke(cli, ["users", "create", "x", "--role", "bank_liaison", "--org", "center", "--token", "t",
                              "--url", db.url])
    assert res.exit_code == 2 and "bank" in res.output


def test_db_upgrade_is_idempotent(db: Database) -> None:
    first = runner.invoke(cli, ["db", "upgrade", "--url", db.url])
    again = runner.invoke(cli, ["db", "upgrade", "--url", db.url])
    assert first.exit_code == 0 and again.exit_code == 0 and "up to date" in again.output


def test_demo_accounts_write_passwords_only_to_an_owner_only_file(db: Database, tmp_path: Path) -> None:
    target = tmp_path / "creds.txt"
    res = runner.invoke(cli, ["users", "demo", "--credentials", str(target), "--url", db.url])
    assert res.exit_code == 0, res.output
    lines = [line.split("\t") for line in target.read_text(encoding="utf-8").splitlines()]
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert {row[0] for row in lines} >= {"duty", "abc", "auditor"}
    for _, password, *_ in lines:
        assert password not in res.output
    duty_password = next(row[1] for row in lines if row[0] == "duty")
    with db.transaction() as session:
        result = service.login(session, "duty", duty_password, 1)
    assert result is not None and result.actor.role.value == "duty_officer"
