"""``python -m sim.cdr``: deterministic per seed, the rows and planted numbers asked for, bad rows on request."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sim.cdr.__main__ import main
from sim.cdr.generator import Options, write

COLUMNS = ["caller", "callee", "start_time", "duration_s", "direction", "carrier", "city", "county", "cell", "imei",
           "trunk", "displayed_number"]


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    opts = Options(rows=5_000, numbers=200, fraud=5, seed=7, bad_rows=3)
    for suffix in ("csv", "parquet"):
        write(tmp_path / f"a.{suffix}", opts, progress=False)
        write(tmp_path / f"b.{suffix}", opts, progress=False)
        write(tmp_path / f"c.{suffix}", Options(rows=5_000, numbers=200, fraud=5, seed=8, bad_rows=3), progress=False)
        assert (tmp_path / f"a.{suffix}").read_bytes() == (tmp_path / f"b.{suffix}").read_bytes()
        assert (tmp_path / f"a.{suffix}").read_bytes() != (tmp_path / f"c.{suffix}").read_bytes()
        assert (tmp_path / "a.truth.csv").read_bytes() == (tmp_path / "b.truth.csv").read_bytes()


def test_rows_columns_and_planted_numbers(tmp_path: Path) -> None:
    opts = Options(rows=20_000, numbers=1_000, fraud=10, heavy=20, seed=3, days=10, start=date(2024, 5, 1))
    written = write(tmp_path / "cdr.parquet", opts, progress=False)
    rows = pl.read_parquet(tmp_path / "cdr.parquet")
    assert rows.height == 20_000 and rows.columns == COLUMNS
    truth = pl.read_csv(written.truth)
    kinds = dict(truth.group_by("kind").len().iter_rows())
    assert kinds == {"fraud": 10, "courier": 8, "rider": 8, "call_centre": 4}
    assert truth.get_column("number").str.contains(r"^\+86[0-9]{11}$").all()
    served = pl.concat([rows.filter(pl.col("direction") == "out").get_column("caller"),
                        rows.filter(pl.col("direction") == "in").get_column("callee")])
    assert set(truth.get_column("number")) <= set(served)  # every planted number made or took calls
    local_days = rows.get_column("start_time").dt.convert_time_zone("Asia/Shanghai").dt.date()
    assert local_days.min() == date(2024, 5, 1) and local_days.max() == date(2024, 5, 10)
    fraud = truth.filter(pl.col("kind") == "fraud").get_column("number").to_list()
    spoofed = rows.filter((pl.col("trunk") == "international_gateway") & pl.col("caller").is_in(fraud))
    assert spoofed.get_column("displayed_number").is_in(["110", "96110", "12381", "95588"]).any()


def test_bad_rows_are_listed(tmp_path: Path) -> None:
    written = write(tmp_path / "cdr.csv", Options(rows=3_000, numbers=100, fraud=2, seed=1, bad_rows=9),
                    progress=False)
    assert written.bad is not None
    bad = pl.read_csv(written.bad)
    assert bad.height == 9 and bad.get_column("line").is_between(2, 3_001).all()
    assert len((tmp_path / "cdr.csv").read_text(encoding="utf-8").splitlines()) == 3_001


def test_command_line(tmp_path: Path) -> None:
    out = tmp_path / "cdr.csv"
    done = subprocess.run([sys.executable, "-m", "sim.cdr", "--rows", "1000", "--numbers", "50", "--fraud", "2",
                           "--seed", "5", "--out", str(out), "--quiet"], capture_output=True, text=True, check=True)
    assert "1000 CDR rows" in done.stderr and out.exists() and (tmp_path / "cdr.truth.csv").exists()
    for bad_args in (["--fraud", "30", "--heavy", "30"], ["--out", str(tmp_path / "x.json")], ["--rows", "0"]):
        args = ["--rows", "10", "--numbers", "50", "--fraud", "2", "--out", str(out), *bad_args]
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
