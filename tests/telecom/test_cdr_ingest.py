"""CDR ingestion: rules checked per row, bad rows quarantined with their line and reason while the rest goes on,
nothing lost, naive times read as Asia/Shanghai, streaming in blocks, appending runs."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim.cdr.generator import Options, write

from fanzha.telecom import cdr
from fanzha.telecom.cdr import Dataset, SchemaError, ingest, quarantine_path

HEADER = "caller,callee,start_time,duration_s,direction,carrier,city,county,cell,imei,trunk,displayed_number"
GOOD = ("+8613800138000,+8613900139000,2024-03-01 08:00:00,60,out,China Mobile,成都市,510104,460-00-1-2,"
        "861234567890123,local,+8613800138000")


def write_lines(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def quarantined(out: Path) -> dict[int, str]:
    with open(quarantine_path(out), encoding="utf-8", newline="") as fh:
        return {int(row["line"]): row["reason"] for row in csv.DictReader(fh)}


def kept(out: Path) -> pl.DataFrame:
    return Dataset.open(out).scan().collect()


def test_bad_rows_are_quarantined_with_line_and_reason_and_the_rest_is_kept(tmp_path: Path) -> None:
    lines = [
        HEADER,
        GOOD,  # 2
        GOOD.replace("+8613800138000,", "+86 138-0013,", 1),  # 3
        "",  # 4
        GOOD.replace("08:00:00", "25:61:00"),  # 5
        "+8613800138000,+8613900139000,2024-03-01",  # 6
        GOOD.replace(",60,", ",-3,"),  # 7
        GOOD.replace(",out,", ",sideways,"),  # 8
        GOOD.replace(",60,", ",,"),  # 9: still connected, a good row
        GOOD.replace(",local,", ",,").replace(",out,", ",up,"),  # 10
        GOOD + ",extra",  # 11
        GOOD.replace("861234567890123", "86AB"),  # 12
        GOOD.replace("+8613900139000", "13900139000"),  # 13: callee in national form, not E.164
        GOOD.replace(",out,", ",IN,"),  # 14: good, case does not matter
    ]
    src = write_lines(tmp_path / "cdr.csv", lines)
    out = tmp_path / "ds"
    report = ingest([src], out, progress=False)

    assert quarantined(out) == {
        3: "caller: not E.164",
        4: "empty line",
        5: "start_time: not an ISO 8601 time",
        6: "expected 12 fields, found 3",
        7: "duration_s: negative",
        8: "direction: must be out or in",
        10: "direction: must be out or in; trunk: missing",
        11: "expected 12 fields, found 13",
        12: "imei: not 14-16 digits",
        13: "callee: not E.164",
    }
    assert (report.rows, report.good, report.quarantined) == (13, 3, 10)
    rows = kept(out)
    assert rows.height == 3
    assert rows.get_column("duration_s").null_count() == 1  # the still-connected call is kept
    incoming = rows.filter(~pl.col("outgoing")).row(0, named=True)
    assert (incoming["number"], incoming["opposite"]) == (8613900139000, 8613800138000)  # the callee is served
    with open(quarantine_path(out), encoding="utf-8", newline="") as fh:
        raw = {int(r["line"]): r["raw"] for r in csv.DictReader(fh)}
    assert raw[3] == lines[2] and raw[6] == lines[5] and raw[11] == lines[10]  # as written in the file


def row(**changes: str) -> str:
    fields = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    fields.update(changes)
    return ",".join(fields.values())


def test_normalised_columns(tmp_path: Path) -> None:
    lines = [HEADER,
             row(imei="8612345678901234", displayed_number="028-8765 4110"),  # IMEISV of the same handset
             row(displayed_number=""),
             row(displayed_number="13800138000")]  # the caller's own number in national form
    out = tmp_path / "ds"
    ingest([write_lines(tmp_path / "c.csv", lines)], out, progress=False)
    rows = kept(out).sort("displayed_number", nulls_last=True)
    assert rows.get_column("imei").to_list() == [86123456789012] * 3
    assert rows.get_column("displayed_number").to_list() == ["028-8765 4110", "13800138000", None]
    assert rows.get_column("shown_other").to_list() == [True, False, False]
    assert rows.get_column("start_time").to_list()[0] == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert rows.get_column("city_code").n_unique() == 1


def test_naive_times_are_read_as_asia_shanghai_and_reported(tmp_path: Path) -> None:
    lines = [HEADER, GOOD, GOOD.replace("2024-03-01 08:00:00", "2024-03-01T08:00:00+00:00"),
             GOOD.replace("2024-03-01 08:00:00", "2024/03/01 08:00:00.250")]
    out = tmp_path / "ds"
    report = ingest([write_lines(tmp_path / "c.csv", lines)], out, progress=False)
    assert report.naive_times == 2
    assert any("2 start times had no UTC offset and were read as Asia/Shanghai" in line for line in report.summary())
    times = sorted(kept(out).get_column("start_time").to_list())
    assert times == [datetime(2024, 3, 1, 0, 0, tzinfo=UTC), datetime(2024, 3, 1, 0, 0, 0, 250000, tzinfo=UTC),
                     datetime(2024, 3, 1, 8, 0, tzinfo=UTC)]


def test_naive_times_before_1992_follow_china_summer_time(tmp_path: Path) -> None:
    lines = [HEADER, row(start_time="1990-07-01 12:00:00"), row(start_time="1990-12-01 12:00:00")]
    out = tmp_path / "ds"
    ingest([write_lines(tmp_path / "c.csv", lines)], out, progress=False)
    assert sorted(kept(out).get_column("start_time").to_list()) == [
        datetime(1990, 7, 1, 3, 0, tzinfo=UTC), datetime(1990, 12, 1, 4, 0, tzinfo=UTC)]  # UTC+9 in summer


def test_a_missing_column_refuses_the_file(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "c.csv", [HEADER.replace(",trunk", ""), GOOD.replace(",local", "")])
    with pytest.raises(SchemaError, match="missing column trunk"):
        ingest([src], tmp_path / "ds", progress=False)


def test_parquet_rows_are_checked_with_their_row_number(tmp_path: Path) -> None:
    frame = pl.DataFrame({
        "caller": ["+8613800138000", "bad", "+8613800138001"],
        "callee": ["+8613900139000"] * 3,
        "start_time": [datetime(2024, 3, 1, 8)] * 3,  # naive: Asia/Shanghai
        "duration_s": [10, 20, -1],
        "direction": ["out"] * 3, "carrier": ["China Mobile"] * 3, "city": ["成都市"] * 3, "cell": ["c"] * 3,
        "imei": [None, "861234567890123", "861234567890123"], "trunk": ["local"] * 3,
        "displayed_number": [None] * 3, "Extra": [1, 2, 3],
    }, schema_overrides={"imei": pl.String, "displayed_number": pl.String})
    frame.write_parquet(tmp_path / "c.parquet")
    out = tmp_path / "ds"
    report = ingest([tmp_path / "c.parquet"], out, progress=False)
    assert quarantined(out) == {2: "caller: not E.164", 3: "duration_s: negative"}
    assert report.files[0].ignored_columns == ["Extra"] and report.naive_times == 1
    assert kept(out).get_column("start_time").to_list() == [datetime(2024, 3, 1, 0, tzinfo=UTC)]


def test_lines_stay_exact_across_many_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cdr, "CSV_BLOCK_BYTES", 4096)  # about 30 rows a block
    lines = [HEADER]
    expected = {}
    for line in range(2, 3000):
        if line % 97 == 0:
            lines.append("+8613800138000,short")
            expected[line] = "expected 12 fields, found 2"
        elif line % 89 == 0:
            lines.append(GOOD.replace(",out,", ",x,"))
            expected[line] = "direction: must be out or in"
        else:
            lines.append(GOOD.replace("+8613900139000", f"+86139{line:08d}"))
    out = tmp_path / "ds"
    report = ingest([write_lines(tmp_path / "c.csv", lines)], out, progress=False, buckets=4)
    assert quarantined(out) == expected
    assert report.good + report.quarantined == report.rows == len(lines) - 1
    assert sorted(kept(out).get_column("opposite").to_list()) == sorted(
        int(line.split(",")[1][1:]) for i, line in enumerate(lines[1:], start=2) if i not in expected)


def test_text_that_is_not_utf8_is_quarantined_and_gbk_can_be_read(tmp_path: Path) -> None:
    raw = (HEADER + "\n" + GOOD + "\n").encode() + GOOD.replace("成都市", "X").encode().replace(b"X", b"\xb3\xc9") \
        + b"\n"
    (tmp_path / "u.csv").write_bytes(raw)
    out = tmp_path / "ds"
    report = ingest([tmp_path / "u.csv"], out, progress=False)
    assert quarantined(out) == {3: "not valid UTF-8 (try --encoding gbk)"}
    assert report.good == 1
    gbk = write_lines(tmp_path / "g.csv", [HEADER, GOOD], encoding="gbk")
    ingest([gbk], tmp_path / "ds2", progress=False, encoding="gbk")
    assert kept(tmp_path / "ds2").get_column("city").to_list() == ["成都市"]


def test_simulated_bad_rows_are_exactly_the_quarantined_lines(tmp_path: Path) -> None:
    opts = Options(rows=20_000, numbers=400, fraud=4, seed=11, bad_rows=40)
    written = write(tmp_path / "sim.csv", opts, progress=False)
    assert written.bad is not None
    with open(written.bad, encoding="utf-8") as fh:
        planted = {int(r["line"]) for r in csv.DictReader(fh)}
    out = tmp_path / "ds"
    report = ingest([tmp_path / "sim.csv"], out, progress=False)
    assert set(quarantined(out)) == planted
    assert (report.rows, report.good) == (20_000, 20_000 - 40)


def test_append_adds_a_run_and_a_second_ingest_is_refused(tmp_path: Path) -> None:
    a = write_lines(tmp_path / "a.csv", [HEADER, GOOD])
    b = write_lines(tmp_path / "b.csv", [HEADER, GOOD.replace("08:00:00", "09:00:00"), "bad"])
    out = tmp_path / "ds"
    ingest([a], out, progress=False)
    with pytest.raises(FileExistsError, match="--append"):
        ingest([b], out, progress=False)
    ingest([b], out, append=True, progress=False)
    assert kept(out).height == 2
    assert quarantined(out) == {3: "expected 12 fields, found 1"}
    assert len(cdr.read_manifest(out)["runs"]) == 2


def test_a_part_of_an_unfinished_run_is_never_read(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    ingest([write_lines(tmp_path / "a.csv", [HEADER, GOOD])], out, progress=False, buckets=1)
    orphan = out / "bucket=0000" / "part-crashed.parquet"
    kept(out).write_parquet(orphan)
    assert kept(out).height == 1


# -------------------------------------------------------------------------------------------- nothing is lost

DEFECTS = {
    "caller": ("+86 12", "caller: not E.164"),
    "start_time": ("yesterday", "start_time: not an ISO 8601 time"),
    "duration_s": ("1.5", "duration_s: not a whole number of seconds"),
    "direction": ("both", "direction: must be out or in"),
    "carrier": ("", "carrier: missing"),
    "trunk": ("a b", "trunk: not an identifier such as local"),
    "displayed_number": ("n/a", "displayed_number: not a phone number"),
}
FIELDS = HEADER.split(",")


@st.composite
def cdr_rows(draw: st.DrawFn) -> list[tuple[list[str] | str, str | None]]:
    rows: list[tuple[list[str] | str, str | None]] = []
    for _ in range(draw(st.integers(1, 60))):
        fields = GOOD.split(",")
        fields[1] = "+86139" + str(draw(st.integers(10**7, 10**8 - 1)))
        fields[3] = draw(st.sampled_from(["0", "17", "3600", ""]))
        fields[4] = draw(st.sampled_from(["out", "in", "Out"]))
        fields[2] = draw(st.sampled_from(["2024-03-01 08:00:00", "2024-03-01T00:00:00Z", "2023-12-31 23:59:59.5"]))
        kind = draw(st.sampled_from(["good", "good", "good", "ragged", *DEFECTS]))
        if kind == "ragged":
            rows.append((",".join(fields[: draw(st.integers(1, 11))]), "ragged"))
        elif kind == "good":
            rows.append((fields, None))
        else:
            value, reason = DEFECTS[kind]
            fields[FIELDS.index(kind)] = value
            rows.append((fields, reason))
    return rows


@settings(max_examples=25)
@given(rows=cdr_rows())
def test_ingestion_never_loses_a_row(tmp_path_factory: pytest.TempPathFactory,
                                     rows: list[tuple[list[str] | str, str | None]]) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    lines = [HEADER] + [f if isinstance(f, str) else ",".join(f) for f, _ in rows]
    out = tmp / "ds"
    report = ingest([write_lines(tmp / "c.csv", lines)], out, progress=False)
    bad = {i: reason for i, (_, reason) in enumerate(rows, start=2) if reason is not None}
    got = quarantined(out)
    assert set(got) == set(bad)
    assert all(got[i] == r or (r == "ragged" and got[i].startswith("expected 12 fields")) for i, r in bad.items())
    assert report.good + report.quarantined == report.rows == len(rows)
    assert kept(out).height == len(rows) - len(bad)
