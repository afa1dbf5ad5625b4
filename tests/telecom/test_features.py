"""Per-number features: checked by hand on a tiny file, against a slow reference on simulated CDRs, the same from
CSV and Parquet and from appended runs, and telling planted fraud numbers from couriers."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sim.cdr.generator import Options, write

from fanzha.telecom import features
from fanzha.telecom.cdr import Dataset, ingest

CST = timezone(timedelta(hours=8))
HEADER = "caller,callee,start_time,duration_s,direction,carrier,city,county,cell,imei,trunk,displayed_number"
A, B, C, D, E, F = (f"+861380000000{i}" for i in range(1, 7))
TINY = [
    f"{A},{B},2024-03-01 09:10:00,30,out,China Mobile,成都市,510104,c1,861234567890123,local,{A}",
    f"{A},{B},2024-03-01 09:50:00,90,out,China Mobile,成都市,510104,c1,861234567890123,local,{A}",
    f"{A},{C},2024-03-02 23:30:00,5,out,China Mobile,绵阳市,510703,c2,869999999999995,international_gateway,110",
    f"{D},{A},2024-04-01 10:00:00,,in,China Mobile,成都市,510104,c1,861234567890123,local,{D}",
    f"{F},{E},2024-03-01 00:30:00,0,in,China Unicom,成都市,,c9,,long_distance,",
]


def ingest_lines(tmp: Path, lines: list[str]) -> Path:
    src = tmp / "tiny.csv"
    src.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    ingest([src], tmp / "ds", progress=False)
    return tmp / "ds"


def test_features_of_a_tiny_file_by_hand(tmp_path: Path) -> None:
    table = features.compute(ingest_lines(tmp_path, TINY))
    assert table.get_column("number").to_list() == [A, E]  # served numbers only, in number order
    a, e = table.to_dicts()
    expected_a = {
        "opposite_count": 4, "opposite_unique": 3, "voccalltype1": 3, "voc_calltype1": 0.75, "calltype_2": 1,
        "calltype_id_unique": 2,
        "phone2opposite_mean": 4 / 3, "phone2opposite_median": 1.0, "phone2opposite_max": 2,  # B 2, C 1, D 1
        "phone2oppo_sum_mean": 125 / 3, "phone2oppo_sum_median": 5.0, "phone2oppo_sum_max": 120,  # 120, 5, 0
        "one_call_share": 2 / 3,
        "call_dur_mean": 125 / 3, "call_dur_median": 30.0, "call_dur_max": 90, "call_dur_min": 5,
        "call_dur_sum": 125, "short_call_share": 0.25, "connected_calls": 1,
        "imeis": 2, "city_name_nunique": 2, "county_name_nunique": 2, "cell_nunique": 2,
        "voc_hour_mode": 9, "voc_hour_mode_count": 2, "voc_hour_nunique": 3,  # 9, 9, 23, 10
        "voc_day_mode": 1, "voc_day_mode_count": 3, "voc_day_nunique": 2,  # 1, 1, 2, 1
        "active_days": 3, "month_ids": 2, "span_days": 31 + 50 / 1440, "calls_per_active_day": 4 / 3,
        "night_share": 0.25, "gateway_share": 0.25, "long_distance_share": 0.0, "shown_other_share": 1 / 3,
    }
    expected_e = {
        "opposite_count": 1, "opposite_unique": 1, "voccalltype1": 0, "voc_calltype1": 0.0, "calltype_2": 1,
        "calltype_id_unique": 1, "phone2opposite_mean": 1.0, "phone2opposite_median": 1.0, "phone2opposite_max": 1,
        "phone2oppo_sum_mean": 0.0, "phone2oppo_sum_median": 0.0, "phone2oppo_sum_max": 0, "one_call_share": 1.0,
        "call_dur_mean": 0.0, "call_dur_median": 0.0, "call_dur_max": 0, "call_dur_min": 0, "call_dur_sum": 0,
        "short_call_share": 1.0, "connected_calls": 0, "imeis": 0, "city_name_nunique": 1, "county_name_nunique": 0,
        "cell_nunique": 1, "voc_hour_mode": 0, "voc_hour_mode_count": 1, "voc_hour_nunique": 1, "voc_day_mode": 1,
        "voc_day_mode_count": 1, "voc_day_nunique": 1, "active_days": 1, "month_ids": 1, "span_days": 0.0,
        "calls_per_active_day": 1.0, "night_share": 1.0, "gateway_share": 0.0, "long_distance_share": 1.0,
        "shown_other_share": 0.0,
    }
    for row, expected in ((a, expected_a), (e, expected_e)):
        assert set(expected) == set(features.FEATURES)
        for name, value in expected.items():
            assert row[name] == pytest.approx(value), name


def test_the_window_keeps_only_calls_in_it(tmp_path: Path) -> None:
    ds = ingest_lines(tmp_path, TINY)
    table = features.compute(ds, since=datetime(2024, 3, 1, 9, 0, tzinfo=CST), until=datetime(2024, 3, 2, tzinfo=CST))
    assert table.select("number", "opposite_count", "call_dur_sum").rows() == [(A, 2, 120)]
    assert features.compute(ds, since=datetime(2025, 1, 1, tzinfo=UTC)).height == 0


# ------------------------------------------------------------------------------------------- slow reference

def reference(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Each feature as its docstring defines it, one number at a time in plain Python."""
    by_number: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_number[r["number"]].append(r)
    out = {}
    for number, calls in by_number.items():
        n = len(calls)
        outs = sum(c["outgoing"] for c in calls)
        per = Counter(c["opposite"] for c in calls)
        talk: dict[int, int] = defaultdict(int)
        for c in calls:
            talk[c["opposite"]] += c["duration_s"] or 0
        durations = [c["duration_s"] for c in calls if c["duration_s"] is not None]
        local = [c["start_time"].astimezone(CST) for c in calls]
        hours, days = Counter(t.hour for t in local), Counter(t.day for t in local)
        times = [c["start_time"] for c in calls]
        f: dict[str, float | None] = {
            "opposite_count": n, "opposite_unique": len(per), "voccalltype1": outs, "voc_calltype1": outs / n,
            "calltype_2": n - outs, "calltype_id_unique": int(outs > 0) + int(outs < n),
            "phone2opposite_mean": statistics.fmean(per.values()),
            "phone2opposite_median": statistics.median(per.values()), "phone2opposite_max": max(per.values()),
            "phone2oppo_sum_mean": statistics.fmean(talk.values()),
            "phone2oppo_sum_median": statistics.median(talk.values()), "phone2oppo_sum_max": max(talk.values()),
            "one_call_share": sum(v == 1 for v in per.values()) / len(per),
            "call_dur_mean": statistics.fmean(durations) if durations else None,
            "call_dur_median": statistics.median(durations) if durations else None,
            "call_dur_max": max(durations, default=None), "call_dur_min": min(durations, default=None),
            "call_dur_sum": sum(durations),
            "short_call_share": sum(d < 10 for d in durations) / n, "connected_calls": n - len(durations),
            "voc_hour_mode": min(h for h, v in hours.items() if v == max(hours.values())),
            "voc_hour_mode_count": max(hours.values()), "voc_hour_nunique": len(hours),
            "voc_day_mode": min(d for d, v in days.items() if v == max(days.values())),
            "voc_day_mode_count": max(days.values()), "voc_day_nunique": len(days),
            "active_days": len({t.date() for t in local}), "month_ids": len({(t.year, t.month) for t in local}),
            "span_days": (max(times) - min(times)).total_seconds() / 86400,
            "night_share": sum(t.hour >= 22 or t.hour < 6 for t in local) / n,
            "gateway_share": sum(c["trunk"] == "international_gateway" for c in calls) / n,
            "long_distance_share": sum(c["trunk"] == "long_distance" for c in calls) / n,
            "shown_other_share": sum(c["shown_other"] and c["outgoing"] for c in calls) / outs if outs else 0.0,
        }
        for name, column in (("imeis", "imei"), ("city_name_nunique", "city"), ("county_name_nunique", "county"),
                             ("cell_nunique", "cell")):
            f[name] = len({c[column] for c in calls if c[column] is not None})
        f["calls_per_active_day"] = n / float(f["active_days"] or 1)
        out[f"+{number}"] = f
    return out


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("sim")
    opts = Options(rows=40_000, numbers=600, fraud=12, heavy=12, seed=21, days=40)
    write(tmp / "cdr.csv", opts, progress=False)
    write(tmp / "cdr.parquet", opts, progress=False)
    for name in ("csv", "parquet"):
        ingest([tmp / f"cdr.{name}"], tmp / f"ds-{name}", progress=False, buckets=8)
    return {"csv": tmp / "ds-csv", "parquet": tmp / "ds-parquet", "truth": tmp / "cdr.truth.csv", "dir": tmp}


def test_features_match_the_slow_reference(simulated: dict[str, Path]) -> None:
    ds = Dataset.open(simulated["parquet"])
    expected = reference(ds.scan().collect().to_dicts())
    table = features.compute(ds)
    assert table.height == len(expected)
    for row in table.to_dicts():
        want = expected[row["number"]]
        for name in features.FEATURES:
            got, exp = row[name], want[name]
            assert (got is None and exp is None) or math.isclose(got, exp, rel_tol=1e-12, abs_tol=1e-12), \
                (row["number"], name, got, exp)


def test_csv_and_parquet_give_the_same_features(simulated: dict[str, Path]) -> None:
    assert_frame_equal(features.compute(simulated["csv"]), features.compute(simulated["parquet"]))


def test_appended_runs_give_the_same_features_as_one_run(simulated: dict[str, Path], tmp_path: Path) -> None:
    rows = pl.read_csv(simulated["dir"] / "cdr.csv", infer_schema=False)
    rows.head(15_000).write_csv(tmp_path / "a.csv")
    rows.slice(15_000).write_csv(tmp_path / "b.csv")
    ingest([tmp_path / "a.csv"], tmp_path / "ds", progress=False, buckets=8)
    ingest([tmp_path / "b.csv"], tmp_path / "ds", progress=False, append=True)
    assert_frame_equal(features.compute(tmp_path / "ds"), features.compute(simulated["csv"]))


def test_planted_fraud_numbers_differ_from_couriers(simulated: dict[str, Path]) -> None:
    table = features.compute(simulated["parquet"]).join(pl.read_csv(simulated["truth"]), on="number")
    median = table.group_by("kind").agg(pl.all().exclude("number").median()).sort("kind")
    fraud = median.filter(pl.col("kind") == "fraud").row(0, named=True)
    heavy = median.filter(pl.col("kind").is_in(["courier", "rider"])).to_dicts()
    for benign in heavy:
        # alike on what fools a naive rule: many distinct callees, called once, mostly outgoing ...
        assert fraud["one_call_share"] > 0.8 and benign["one_call_share"] > 0.8
        assert fraud["voc_calltype1"] > 0.7 and benign["voc_calltype1"] > 0.7
        # ... apart on tenure, handsets and places (DOMAIN.md §5)
        assert fraud["active_days"] <= 7 < benign["active_days"]
        assert fraud["span_days"] < 7 < benign["span_days"]
        assert fraud["imeis"] >= 2 > benign["imeis"] - 1
        assert fraud["city_name_nunique"] >= 3 > benign["city_name_nunique"]
    assert table.filter(pl.col("kind") == "fraud").get_column("shown_other_share").max() > 0.3
    assert table.filter(pl.col("kind") != "fraud").get_column("gateway_share").max() == 0


def test_features_are_written_as_csv_or_parquet(simulated: dict[str, Path], tmp_path: Path) -> None:
    table = features.compute(simulated["parquet"])
    features.write(table, tmp_path / "f.parquet")
    features.write(table, tmp_path / "f.csv")
    assert_frame_equal(pl.read_parquet(tmp_path / "f.parquet"), table)
    assert pl.read_csv(tmp_path / "f.csv").columns == table.columns
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        features.write(table, tmp_path / "f.json")
