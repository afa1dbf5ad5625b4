"""Metrics for the fraud class and cross-validation of the whole training procedure.

`cross_validate` is honest: each outer fold trains a complete detector (its own out-of-fold calibration and
threshold, its own graph reference) on the other folds and scores the held-out fold as new numbers, with the
held-out labels used only to compute the metrics.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

from fanzha.telecom.detector.table import F64, I64, FeatureTable, TableError

if TYPE_CHECKING:
    from fanzha.telecom.detector.graph import Edges
    from fanzha.telecom.detector.model import Detector
    from fanzha.telecom.detector.train import TrainConfig

METRICS = ("f1", "precision", "recall", "auc")


def scores_at(y: I64, score: F64, threshold: float) -> dict[str, float]:
    """Fraud-class F1, precision and recall when flagging score >= threshold; AUC of the score; macro F1."""
    flagged = (score >= threshold).astype(np.int64)
    both = len(np.unique(y)) == 2
    return {
        "f1": float(f1_score(y, flagged, zero_division=0)),
        "precision": float(precision_score(y, flagged, zero_division=0)),
        "recall": float(recall_score(y, flagged, zero_division=0)),
        "auc": float(roc_auc_score(y, score)) if both else float("nan"),
        "macro_f1": float(f1_score(y, flagged, average="macro", zero_division=0)),
        "threshold": float(threshold),
        "rows": len(y), "fraud": int(y.sum()), "flagged": int(flagged.sum()),
    }


def evaluate(model: Detector, table: FeatureTable, edges: Edges | None = None) -> dict[str, float]:
    """The model's metrics on a labelled table (the labels are read only here, after scoring)."""
    if table.labels is None:
        raise TableError("evaluation needs a label column (1 = fraud)")
    raw, _ = model.predict(table.with_labels(np.zeros(len(table), np.int64)), edges)
    return scores_at(table.labels, raw, model.threshold)


def summary(folds: Sequence[dict[str, float]], keys: Sequence[str] = (*METRICS, "macro_f1")) -> dict[str, Any]:
    """Mean and standard deviation of each metric over folds."""
    out: dict[str, Any] = {}
    for key in keys:
        values = [f[key] for f in folds]
        out[key] = {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0}
    return out


def cross_validate(table: FeatureTable, edges: Edges | None, config: TrainConfig, folds: int = 5, seed: int = 0,
                   progress: Callable[[str], None] | None = None) -> list[dict[str, float]]:
    """Stratified k-fold CV of `train.fit`: per-fold metrics of the fraud class on the held-out fold."""
    from fanzha.telecom.detector.train import fit

    if table.labels is None:
        raise TableError("cross-validation needs a label column (1 = fraud)")
    y = table.labels
    results: list[dict[str, float]] = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for i, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
        model = fit(table.subset(train), edges, config)
        results.append(evaluate(model, table.subset(test), edges))
        if progress is not None:
            progress(f"outer fold {i + 1}/{folds}: " + ", ".join(f"{k} {results[-1][k]:.4f}" for k in METRICS))
    return results
