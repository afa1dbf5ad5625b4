"""Potential victims of a flagged number, graded high / medium / low with the reasons, on hand-made CDRs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from fanzha.telecom.cdr import ingest
from fanzha.telecom.victims import Grade, Transfer, potential_victims, read_numbers, read_transfers

CST = timezone(timedelta(hours=8))
HEADER = "caller,callee,start_time,duration_s,direction,carrier,city,county,cell,imei,trunk,displayed_number"
FLAGGED = "+8617000000001"
P = {i: f"+861390000000{i}" if i < 10 else f"+86139000000{i}" for i in range(1, 12)}


def call(caller: str, callee: str, when: str, duration: str, direction: str = "out") -> str:
    return f"{caller},{callee},{when},{duration},{direction},China Mobile,成都市,510104,c1,861234567890123,local,"


ROWS = [
    call(FLAGGED, P[1], "2024-02-01 10:00:00", "900"),  # before the window
    call(FLAGGED, P[1], "2024-03-01 10:00:00", "3"),
    call(FLAGGED, P[2], "2024-03-01 10:05:00", "0"),
    call(FLAGGED, P[3], "2024-03-01 10:10:00", "150"),
    *[call(FLAGGED, P[4], f"2024-03-02 1{i}:00:00", "20") for i in range(4)],
    call(FLAGGED, P[5], "2024-03-09 23:50:00", ""),  # still connected at extraction
    call(FLAGGED, P[6], "2024-03-03 11:00:00", "700"),
    call(FLAGGED, P[7], "2024-03-04 12:00:00", "20"),
    call(P[8], FLAGGED, "2024-03-04 13:00:00", "200", "in"),  # P8 called the flagged number, never the reverse
    call(FLAGGED, P[9], "2024-03-09 22:00:00", "30"),
    call(FLAGGED, P[10], "2024-03-05 09:00:00", "45", "in"),  # seen only in P10's own record
    call(FLAGGED, P[11], "2024-03-06 09:00:00", "60"),  # seen in both parties' records: one call
    call(FLAGGED, P[11], "2024-03-06 09:00:00", "60", "in"),
]
SINCE, UNTIL = datetime(2024, 3, 1, tzinfo=CST), datetime(2024, 3, 10, tzinfo=CST)
TRANSFERS = [
    Transfer(phone=P[7], at=datetime(2024, 3, 4, 4, 30, tzinfo=UTC), amount=Decimal("5000.00")),  # 30 min after
    Transfer(phone=P[1], at=datetime(2024, 2, 28, tzinfo=UTC), amount=Decimal("10")),  # before any call
    Transfer(phone=P[3], at=datetime(2024, 3, 5, 3, tzinfo=UTC), amount=Decimal("10")),  # 4 days later: too late
]


def hand_made_store(tmp: Path, buckets: int = 4) -> Path:
    """The hand-made CDRs above, ingested as a CDR store under `tmp` (what the API and the CLI read)."""
    (tmp / "cdr.csv").write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    ingest([tmp / "cdr.csv"], tmp / "store", progress=False, buckets=buckets)
    return tmp / "store"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hand_made_store(tmp_path_factory.mktemp("victims"))


def test_grades_order_and_reasons(dataset: Path) -> None:
    report = potential_victims(dataset, [FLAGGED], since=SINCE, until=UNTIL, transfers=TRANSFERS)
    (flagged,) = report.flagged
    victims = {v.number: v for v in flagged.victims}
    assert [v.number for v in flagged.victims] == [P[5], P[7], P[6], P[4], P[9], P[3], P[11], P[10], P[2], P[1]]
    assert {n: v.grade for n, v in victims.items()} == {
        P[5]: Grade.HIGH, P[7]: Grade.HIGH, P[6]: Grade.HIGH, P[4]: Grade.HIGH,
        P[9]: Grade.MEDIUM, P[3]: Grade.MEDIUM,
        P[11]: Grade.LOW, P[10]: Grade.LOW, P[2]: Grade.LOW, P[1]: Grade.LOW,
    }
    assert flagged.grades == {Grade.HIGH: 4, Grade.MEDIUM: 2, Grade.LOW: 4}
    assert victims[P[5]].still_connected and "still connected" in victims[P[5]].reasons[0]
    assert victims[P[7]].reasons == [f"bank transfer (5000.00 CNY) 30 min after an answered call from {FLAGGED}"]
    assert [t.amount for t in victims[P[7]].transfers] == [Decimal("5000.00")]
    assert victims[P[6]].reasons == ["a 12 min call"]
    assert victims[P[4]].reasons == ["4 calls", "answered 4 calls"] and victims[P[4]].talk_s == 80
    assert victims[P[9]].reasons == ["last call 120 min before 2024-03-09 16:00 UTC"]
    assert victims[P[3]].reasons == ["a 2 min call"] and victims[P[3]].transfers == []
    assert victims[P[2]].reasons == ["1 call, unanswered"]
    assert victims[P[1]].reasons == ["1 call, short calls only (longest 3 s)"] and victims[P[1]].calls == 1
    assert victims[P[11]].calls == 1  # the same call in both records counts once
    assert victims[P[10]].calls_from_flagged == 1  # found through the victim's own record
    assert P[8] not in victims
    assert victims[P[5]].action == "visit or call at once" and victims[P[1]].action == "SMS warning"


def test_every_reason_also_comes_as_a_code_with_its_parameters(dataset: Path) -> None:
    """The console says these in the reader's language with Shanghai times; the text above stays English/UTC."""
    report = potential_victims(dataset, [FLAGGED], since=SINCE, until=UNTIL, transfers=TRANSFERS)
    victims = {v.number: v for v in report.flagged[0].victims}

    def coded(number: str) -> list[tuple[str, dict[str, object]]]:
        return [(r.code.value, r.params) for r in victims[number].structured_reasons]

    for v in victims.values():
        assert len(v.structured_reasons) == len(v.reasons), v.number
        assert all(r.params["flagged"] == FLAGGED for r in v.structured_reasons)
    assert coded(P[5])[0] == ("still_connected", {"flagged": FLAGGED, "since_at": "2024-03-09T15:50:00+00:00"})
    assert coded(P[7]) == [("transfer_after_call", {"flagged": FLAGGED, "amount": "5000.00", "currency": "CNY",
                                                    "lag_s": 1800})]
    assert coded(P[6]) == [("long_call", {"flagged": FLAGGED, "longest_s": 700})]
    assert coded(P[4]) == [("repeated_calls", {"flagged": FLAGGED, "calls": 4}),
                           ("answered_calls", {"flagged": FLAGGED, "answered": 4})]
    assert coded(P[9]) == [("recent_call", {"flagged": FLAGGED, "ago_s": 7200, "now_at": "2024-03-09T16:00:00+00:00"})]
    assert coded(P[2]) == [("unanswered", {"flagged": FLAGGED, "calls": 1})]
    assert coded(P[1]) == [("short_calls", {"flagged": FLAGGED, "calls": 1, "longest_s": 3})]
    # the JSON output (`fanzha telecom victims --json`, the API) carries them as {"code", "params"}
    dumped = victims[P[4]].model_dump(mode="json")
    assert dumped["structured_reasons"][0] == {"code": "repeated_calls", "params": {"flagged": FLAGGED, "calls": 4}}


def test_calls_back_raise_the_grade_and_now_defaults_to_the_last_record(dataset: Path) -> None:
    report = potential_victims(dataset, [FLAGGED, P[8]])
    assert report.now == datetime(2024, 3, 9, 15, 50, tzinfo=UTC)  # the last call in the dataset
    by_number = {f.number: f for f in report.flagged}
    p1 = next(v for v in by_number[FLAGGED].victims if v.number == P[1])
    assert p1.calls == 2 and p1.grade == Grade.HIGH  # the 15-minute call of February now counts
    # P8's call is in the flagged number's record only: flag P8, and that record makes the other its victim
    assert [(v.number, v.calls, v.grade) for v in by_number[P[8]].victims] == [(FLAGGED, 1, Grade.MEDIUM)]


def test_numbers_must_be_e164(dataset: Path) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        potential_victims(dataset, ["13900000001"])


def test_numbers_and_transfers_files(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text(f"{FLAGGED}\n\n{P[1]}\n", encoding="utf-8")
    (tmp_path / "truth.csv").write_text(f"number,kind\n{FLAGGED},fraud\n{P[1]},courier\n", encoding="utf-8")
    assert read_numbers(tmp_path / "plain.txt") == [FLAGGED, P[1]]
    assert read_numbers(tmp_path / "truth.csv") == [FLAGGED]
    (tmp_path / "t.csv").write_text(f"phone,at,amount\n{P[7]},2024-03-04T12:30:00+08:00,5000\n", encoding="utf-8")
    (transfer,) = read_transfers(tmp_path / "t.csv")
    assert transfer.at == datetime(2024, 3, 4, 4, 30, tzinfo=UTC) and transfer.amount == Decimal(5000)
    (tmp_path / "t.json").write_text(f'[{{"phone": "{P[7]}", "at": "2024-03-04T04:30:00Z"}}]', encoding="utf-8")
    assert read_transfers(tmp_path / "t.json")[0].phone == P[7]
