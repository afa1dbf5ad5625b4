"""The audit log is a hash chain: any edit, removal or reordering is found and named."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from typer.testing import CliRunner

from fanzha.audit import service as audit
from fanzha.cli import app as cli
from fanzha.storage.db import Database


@pytest.fixture(autouse=True)
def empty_log(db: Database) -> None:
    """These tests are about the chain itself: start from an empty log (install-time entries removed)."""
    with db.transaction() as session:
        session.execute(text("DELETE FROM audit_log"))
        session.execute(text("UPDATE audit_head SET last_seq = 0, last_hash = :h"), {"h": "0" * 64})


def _fill(db: Database, n: int) -> None:
    with db.transaction() as session:
        for i in range(n):
            audit.append(session, None, "test.event", "case", f"SH-{i}", {"i": i, "note": "冻结"})
    audit.seal_pending(db)


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


def test_entries_are_recorded_at_once_and_sealed_in_insertion_order(db: Database) -> None:
    with db.transaction() as session:
        first = audit.append(session, None, "case.read", "case", "SH-1")
        second = audit.append(session, None, "case.read", "case", "SH-2")
    with db.transaction() as session:
        before = audit.verify(session)
    # PostgreSQL leaves sealing to the sealer; SQLite seals in the writer's transaction.
    assert before.ok and before.pending + before.checked == 2
    audit.seal_pending(db)
    with db.transaction() as session:
        after = audit.verify(session)
        rows = {e.id: e.seq for e in audit.recent(session)}
    assert after.ok and after.pending == 0 and after.checked == 2
    assert rows[first.id] is not None and rows[second.id] == rows[first.id] + 1


def test_rolled_back_change_leaves_no_entry(db: Database) -> None:
    with db.transaction() as session:
        audit.append(session, None, "kept", "case", "SH-1")
    try:
        with db.transaction() as session:
            audit.append(session, None, "lost", "case", "SH-2")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    audit.seal_pending(db)
    with db.transaction() as session:
        assert [e.action for e in audit.recent(session)] == ["kept"]
        assert audit.verify(session).ok


def test_background_sealer_seals_new_entries(db: Database) -> None:
    import time

    sealer = audit.Sealer(db, interval_s=0.01)
    sealer.start()
    try:
        with db.transaction() as session:
            audit.append(session, None, "case.read", "case", "SH-1")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with db.transaction() as session:
                if audit.verify(session).pending == 0:
                    break
            time.sleep(0.01)
    finally:
        sealer.stop()
    with db.transaction() as session:
        result = audit.verify(session)
    assert result.ok and result.pending == 0 and result.checked == 1


def test_unsealing_an_entry_to_edit_it_is_found(db: Database) -> None:
    _fill(db, 4)
    with db.transaction() as session:
        session.execute(text("UPDATE audit_log SET seq = NULL, actor = 'mallory' WHERE seq = 2"))
    with db.transaction() as session:
        result = audit.verify(session)
    assert not result.ok and result.first_bad_seq == 2
