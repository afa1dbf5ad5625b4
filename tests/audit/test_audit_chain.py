"""The audit log is a hash chain: any edit, removal or reordering is found and named."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from typer.testing import CliRunner

from fanzha.audit import service as audit
from fanzha.cli import app as cli
from fanzha.storage.db import Database


def _fill(db: Database, n: int) -> None:
    with db.transaction() as session:
        for i in range(n):
            audit.append(session, None, "test.event", "case", f"SH-{i}", {"i": i, "note": "冻结"})


def test_intact_chain_verifies(db: Database) -> None:
    _fill(db, 5)
    with db.transaction() as session:
        result = audit.verify(session)
    assert result.ok and result.checked == 5


def test_edited_entry_is_named(db: Database) -> None:
    _fill(db, 6)
    with db.transaction() as session:
        session.execute(text("UPDATE audit_log SET details = :d WHERE seq = 4"), {"d": '{"i":99}'})
    with db.transaction() as session:
        result = audit.verify(session)
    assert not result.ok and result.first_bad_seq == 4 and "edited" in result.problem


def test_removed_entry_is_named(db: Database) -> None:
    _fill(db, 6)
    with db.transaction() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    with db.transaction() as session:
        result = audit.verify(session)
    assert not result.ok and result.first_bad_seq == 3


def test_reordered_entries_are_named(db: Database) -> None:
    _fill(db, 6)
    with db.transaction() as session:
        # Swap the contents of entries 2 and 5 while keeping their positions.
        session.execute(text("UPDATE audit_log SET seq = -1 WHERE seq = 2"))
        session.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 5"))
        session.execute(text("UPDATE audit_log SET seq = 5 WHERE seq = -1"))
    with db.transaction() as session:
        result = audit.verify(session)
    assert not result.ok and result.first_bad_seq == 2


def test_cut_tail_is_found(db: Database) -> None:
    _fill(db, 6)
    with db.transaction() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq >= 5"))
    with db.transaction() as session:
        result = audit.verify(session)
    assert not result.ok and result.first_bad_seq == 5 and "removed" in result.problem


def test_cli_verify_exit_codes(db: Database) -> None:
    _fill(db, 3)
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", "--url", db.url])
    assert ok.exit_code == 0, ok.output
    assert "3 entries" in ok.output
    with db.transaction() as session:
        session.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    bad = runner.invoke(cli, ["audit", "verify", "--url", db.url])
    assert bad.exit_code == 1
    assert "entry 2" in bad.output


@given(count=st.integers(min_value=1, max_value=12), data=st.data())
def test_any_single_edit_is_found_at_its_entry(db: Database, count: int, data: st.DataObject) -> None:
    with db.transaction() as session:
        session.execute(text("DELETE FROM audit_log"))
        session.execute(text("UPDATE audit_head SET last_seq = 0, last_hash = :h"), {"h": "0" * 64})
    _fill(db, count)
    victim = data.draw(st.integers(min_value=1, max_value=count))
    column = data.draw(st.sampled_from(["actor", "action", "object_id", "details", "hash", "prev_hash"]))
    with db.transaction() as session:
        session.execute(text(f"UPDATE audit_log SET {column} = 'x' WHERE seq = :s"), {"s": victim})
    with db.transaction() as session:
        result = audit.verify(session)
    assert not result.ok
    assert result.first_bad_seq == victim
