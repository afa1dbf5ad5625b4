"""The feature job on a Dask cluster of 2 worker processes on loopback gives the polars engine's results."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from distributed import Client, LocalCluster, get_task_stream
from sim.cdr.generator import Options, write
from typer.testing import CliRunner

from fanzha.telecom import distributed, features
from fanzha.telecom.cdr import ingest
from fanzha.telecom.cdr_cli import cdr_app


def assert_same_table(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """Same numbers in the same order; integers and text exactly, floats to 1e-12 relative."""
    assert got.columns == want.columns and got.height == want.height
    assert got.get_column("number").to_list() == want.get_column("number").to_list()
    for name in want.columns:
        a, b = got.get_column(name), want.get_column(name)
        assert a.dtype == b.dtype, name
        if b.dtype.is_float():
            assert ((a - b).abs() <= 1e-12 * b.abs().clip(lower_bound=1.0)).fill_null(a.is_null() & b.is_null()).all()
        else:
            assert a.to_list() == b.to_list(), name


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("dask")
    write(tmp / "cdr.parquet", Options(rows=60_000, numbers=1_500, fraud=15, seed=8), progress=False)
    ingest([tmp / "cdr.parquet"], tmp / "ds", progress=False, buckets=16)
    return tmp / "ds"


def test_dask_with_two_workers_equals_polars(dataset: Path) -> None:
    want = features.compute(dataset)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", env={"POLARS_MAX_THREADS": "1"})
    try:
        with Client(cluster) as client, get_task_stream(client) as stream:
            workers = client.scheduler_info()["workers"]
            assert len(workers) == 2
            got = distributed.compute(dataset, client)
        assert_same_table(got, want)
        ran = [t for t in stream.data if str(t["key"]).startswith("cdr-features-")]
        assert len(ran) == 16  # one task per bucket, run on the cluster's workers
        assert {t["worker"] for t in ran} <= set(workers)
    finally:
        cluster.close()


def test_the_command_line_runs_on_a_scheduler_address(dataset: Path, tmp_path: Path) -> None:
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", env={"POLARS_MAX_THREADS": "1"})
    try:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        result = CliRunner().invoke(cdr_app, ["features", "--cdr", str(dataset), "--out", str(tmp_path / "f.parquet"),
                                              "--engine", "dask", "--scheduler", address])
        assert result.exit_code == 0, result.output
        assert "rows/s, dask)" in result.output
    finally:
        cluster.close()
    assert_same_table(pl.read_parquet(tmp_path / "f.parquet"), features.compute(dataset))


def test_dask_windows_agree_too(dataset: Path) -> None:
    since, until = datetime(2024, 3, 5, tzinfo=UTC), datetime(2024, 3, 12, tzinfo=UTC)
    with distributed.local_cluster(2) as client:
        got = distributed.compute(dataset, client, since=since, until=until)
    assert_same_table(got, features.compute(dataset, since=since, until=until))
    assert 0 < got.height < features.compute(dataset).height
