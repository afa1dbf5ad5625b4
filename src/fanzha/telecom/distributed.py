"""The per-number feature job on a Dask distributed cluster, for CDRs beyond one machine.

The normalised dataset is already partitioned by number (bucket = number % buckets, `fanzha.telecom.cdr`), and
every number's calls live in one bucket, so a bucket is a complete unit of work: each becomes one delayed call of
`fanzha.telecom.features.bucket_features` (polars on the worker), and the client puts the buckets' tables
together exactly as the single-machine engine does (`features.finish`). The results are therefore identical to
``--engine polars``. Workers read the bucket files themselves: the dataset must be on storage every worker sees
at the same path (a shared or network file system), and only the per-number table travels back.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from dask.delayed import delayed
from distributed import Client, LocalCluster

from fanzha.telecom.cdr import Dataset
from fanzha.telecom.features import bucket_features, finish

LOOPBACK = "127.0.0.1"


@contextmanager
def local_cluster(n_workers: int = 2, *, threads_per_worker: int = 1,
                  polars_threads: int | None = None) -> Iterator[Client]:
    """A throwaway cluster of worker processes on loopback, and a client connected to it.

    Each worker's polars uses `polars_threads` threads (default: the machine's cores shared out among the
    workers), so two workers on two cores do not fight over four threads."""
    cores = os.cpu_count() or 1
    per_worker = polars_threads or max(1, cores // n_workers)
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True, host=LOOPBACK,
        dashboard_address=f"{LOOPBACK}:0", scheduler_port=0, env={"POLARS_MAX_THREADS": str(per_worker)})
    try:
        with Client(cluster) as client:  # type: ignore[no-untyped-call]
            yield client
    finally:
        cluster.close()


def compute(dataset: Dataset | Path, client: Client, *, since: datetime | None = None,
            until: datetime | None = None) -> pl.DataFrame:
    """Features of every number with a call in [since, until), one task per bucket on `client`'s cluster."""
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    run = uuid.uuid4().hex[:12]  # fresh task keys: the files may have changed since the last run
    tasks = [delayed(bucket_features, pure=False)([str(p.resolve()) for p in parts], since, until,
                                                  dask_key_name=f"cdr-features-{run}-{i}")
             for i, parts in enumerate(ds.parts) if parts]
    futures: list[Any] = client.compute(tasks)  # type: ignore[no-untyped-call]
    frames: list[pl.DataFrame] = client.gather(futures)  # type: ignore[no-untyped-call]
    return finish(frames)


@contextmanager
def connect(scheduler: str) -> Iterator[Client]:
    """A client of the running cluster whose scheduler is at ``tcp://host:port``."""
    with Client(scheduler) as client:  # type: ignore[no-untyped-call]
        yield client


def compute_at(dataset: Dataset | Path, scheduler: str | None, *, since: datetime | None = None,
               until: datetime | None = None, workers: int = 2) -> pl.DataFrame:
    """`compute` on the cluster at `scheduler`, or on a local loopback cluster of `workers` processes when no
    scheduler is given."""
    with connect(scheduler) if scheduler else local_cluster(workers) as client:
        return compute(dataset, client, since=since, until=until)
