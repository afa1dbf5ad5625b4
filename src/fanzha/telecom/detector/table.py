"""A per-number feature table as the detector sees it: ids, numeric columns (empty cells are NaN), a label.

Any CSV or Parquet table works: ours (`fanzha.telecom.features`, id column `number`) or one a carrier brings
(`sichuan_dev.csv`, id column `phone_no_m`). Numeric and boolean columns are features; a text column whose
every non-empty cell is a number is read as a number; other text columns are left out and listed in `ignored`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class TableError(ValueError):
    """The feature table cannot be used: unreadable, no id column, a bad label, missing model columns."""


class MissingColumnsError(TableError):
    """The table lacks columns the model was trained on."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = list(missing)
        shown = ", ".join(self.missing[:20]) + (f" ... ({len(self.missing)} in all)" if len(self.missing) > 20 else "")
        super().__init__(f"the feature table lacks {len(self.missing)} column(s) the model was trained on: {shown}")


@dataclass(frozen=True)
class FeatureTable:
    ids: list[str]
    columns: list[str]
    values: F64
    labels: I64 | None = None
    ignored: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def matrix(self, columns: Sequence[str]) -> F64:
        """The values of `columns` in that order; refuses a table missing any of them."""
        position = {c: i for i, c in enumerate(self.columns)}
        missing = [c for c in columns if c not in position]
        if missing:
            raise MissingColumnsError(missing)
        return np.ascontiguousarray(self.values[:, [position[c] for c in columns]])

    def subset(self, rows: npt.NDArray[np.int64] | Sequence[int]) -> FeatureTable:
        index = np.asarray(rows, dtype=np.int64)
        return FeatureTable([self.ids[i] for i in index.tolist()], list(self.columns), self.values[index],
                            None if self.labels is None else self.labels[index], list(self.ignored))

    def with_labels(self, labels: npt.ArrayLike) -> FeatureTable:
        return FeatureTable(list(self.ids), list(self.columns), self.values, np.asarray(labels, dtype=np.int64),
                            list(self.ignored))


def _read_frame(path: Path, id_column: str) -> pl.DataFrame:
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            return pl.read_parquet(path)
        return pl.read_csv(path, infer_schema_length=None, schema_overrides={id_column: pl.String},
                           null_values=["", "NA", "NaN", "nan", "null", "None"])
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise TableError(f"cannot read the feature table {path}: {exc}") from exc


def _labels(series: pl.Series) -> I64:
    if series.null_count():
        raise TableError(f"the label column {series.name!r} has {series.null_count()} empty cell(s)")
    if series.dtype == pl.String:
        mapped = series.str.to_lowercase().replace_strict(
            {"1": 1, "0": 0, "true": 1, "false": 0, "yes": 1, "no": 0, "fraud": 1, "benign": 0},
            default=None, return_dtype=pl.Int64)
        if mapped.null_count():
            raise TableError(f"the label column {series.name!r} must hold 0/1 (1 = fraud)")
        series = mapped
    values = series.cast(pl.Float64).to_numpy()
    if not np.isin(values, (0.0, 1.0)).all():
        raise TableError(f"the label column {series.name!r} must hold 0/1 (1 = fraud)")
    return values.astype(np.int64)


def from_frame(frame: pl.DataFrame, id_column: str, label_column: str | None = None) -> FeatureTable:
    if id_column not in frame.columns:
        raise TableError(f"the feature table has no id column {id_column!r} (its columns: "
                         f"{', '.join(frame.columns[:10])}{' ...' if frame.width > 10 else ''})")
    if label_column is not None and label_column not in frame.columns:
        raise TableError(f"the feature table has no label column {label_column!r}")
    ids = frame[id_column].cast(pl.String)
    if ids.null_count():
        raise TableError(f"the id column {id_column!r} has {ids.null_count()} empty cell(s)")
    if ids.n_unique() != len(ids):
        dup = ids.filter(ids.is_duplicated()).head(3).to_list()
        raise TableError(f"the id column {id_column!r} repeats ids, e.g. {', '.join(dup)}")
    columns: list[str] = []
    arrays: list[F64] = []
    ignored: list[str] = []
    for name in frame.columns:
        if name in (id_column, label_column):
            continue
        col = frame[name]
        if col.dtype.is_numeric() or col.dtype == pl.Boolean or col.dtype == pl.Null:
            arrays.append(col.cast(pl.Float64).to_numpy().astype(np.float64))
            columns.append(name)
            continue
        if col.dtype == pl.String:
            as_number = col.str.strip_chars().cast(pl.Float64, strict=False)
            if as_number.null_count() == col.null_count():
                arrays.append(as_number.to_numpy().astype(np.float64))
                columns.append(name)
                continue
        ignored.append(name)
    values = np.column_stack(arrays) if arrays else np.zeros((frame.height, 0))
    values[~np.isfinite(values)] = np.nan
    labels = _labels(frame[label_column]) if label_column is not None else None
    return FeatureTable(ids.to_list(), columns, values, labels, ignored)


def read_table(path: Path | str, id_column: str, label_column: str | None = None) -> FeatureTable:
    """Read a CSV or Parquet feature table; `label_column` (1 = fraud) is required when given."""
    return from_frame(_read_frame(Path(path), id_column), id_column, label_column)
