"""Training: LightGBM on the table (plus the call graph), out-of-fold calibration and threshold, metrics.

`fit` trains in three steps.

1. **Core model** (`fit_core`) on all training numbers: LightGBM boosters with several seeds, averaged, on the
   table's features; with a call graph also on the graph structure and the neighbours' known labels. With
   `neighbour_scores`, a stage-1 LightGBM (table + structure) first scores every training number out of fold,
   and the neighbours' mean and max score (`g_nbs_*`) become features too.
2. **Out-of-fold predictions**: the core is refitted on each k-1 folds and scores the held-out fold exactly as
   `Detector.predict` scores new numbers, so a held-out number's features use only the other folds' labels.
3. **Calibration and threshold** from those out-of-fold predictions: isotonic regression for the probability;
   the threshold maximises the fraud-class F1, or with `target_precision` is the lowest one whose precision
   reaches the target. The out-of-fold metrics at that threshold are saved with the model.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final

import lightgbm as lgb
import numpy as np
from sklearn.isotonic import IsotonicRegression  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

from fanzha.telecom.detector import graph as g
from fanzha.telecom.detector.evaluate import scores_at
from fanzha.telecom.detector.model import Detector, Reference
from fanzha.telecom.detector.table import F64, I64, FeatureTable, TableError

# Fixed by 5-fold cross-validation on the Sichuan dev file (bench/detector.py); small trees, slow learning,
# half the columns per tree: steady across folds rather than tuned to them.
DEFAULT_PARAMS: Final[dict[str, Any]] = {
    "objective": "binary", "learning_rate": 0.01, "num_leaves": 15, "min_child_samples": 20,
    "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.5, "reg_lambda": 1.0,
}
DEFAULT_ROUNDS: Final = 800


@dataclass(frozen=True)
class TrainConfig:
    params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    rounds: int = DEFAULT_ROUNDS
    seeds: int = 3  # main-model boosters averaged (bagging over seeds)
    folds: int = 5  # out-of-fold predictions for calibration, threshold and the neighbours' scores
    neighbour_scores: bool = False  # stage 1 + g_nbs_* (only with a graph); did not help on Sichuan
    target_precision: float | None = None  # None: the threshold maximises F1
    threads: int = 1
    random_state: int = 0


ProgressFn = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def booster(x: F64, y: I64, config: TrainConfig, seed: int) -> lgb.Booster:
    """One LightGBM booster. Its columns are positional (`Detector.feature_names` names them), so any column
    name a carrier's table has is fine."""
    params = {**config.params, "seed": seed, "num_threads": config.threads, "verbose": -1,
              "deterministic": True, "force_col_wise": True}
    data = lgb.Dataset(x, label=y, free_raw_data=True)
    return lgb.train(params, data, num_boost_round=config.rounds)


def _folds(y: I64, k: int, seed: int) -> list[tuple[I64, I64]]:
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(np.asarray(a, np.int64), np.asarray(b, np.int64)) for a, b in splitter.split(np.zeros(len(y)), y)]


def _check_labels(table: FeatureTable, k: int) -> I64:
    if table.labels is None:
        raise TableError("training needs a label column (1 = fraud)")
    y = table.labels
    if min(int(y.sum()), int(len(y) - y.sum())) < k:
        raise TableError(f"training needs at least {k} fraud and {k} benign numbers (has {int(y.sum())} fraud, "
                         f"{int(len(y) - y.sum())} benign)")
    if not table.columns:
        raise TableError("the feature table has no numeric feature column")
    return y


def fit_core(table: FeatureTable, edges: g.Edges | None, config: TrainConfig,
             key_length: int | None = None) -> Detector:
    """The detector's boosters on all of `table` (no calibration or threshold yet)."""
    y = _check_labels(table, config.folds)
    features = list(table.columns)
    uses_graph = edges is not None
    graph_features = list(g.STRUCTURE + g.LABELS) if uses_graph else []
    model = Detector(features=features, graph_features=graph_features, params=dict(config.params), boosters=[],
                     key_length=key_length, uses_graph=uses_graph)
    if uses_graph:
        keys = g.keys_of(table.ids, key_length)
        model.reference = Reference(keys, y.copy(), np.full(len(y), np.nan))
        if config.neighbour_scores:
            stage1_x = model.matrices(table, edges).stage1
            oof = np.zeros(len(y))
            for train, test in _folds(y, config.folds, config.random_state + 101):
                oof[test] = booster(stage1_x[train], y[train], config, config.random_state).predict(stage1_x[test])
            model.reference.scores = oof
            model.stage1 = [booster(stage1_x, y, config, config.random_state)]
            model.graph_features = list(g.ALL)
    x = model.matrices(table, edges).main
    model.boosters = [booster(x, y, config, config.random_state + s) for s in range(config.seeds)]
    return model


def out_of_fold(table: FeatureTable, edges: g.Edges | None, config: TrainConfig, key_length: int | None,
                progress: ProgressFn = _quiet, folds: list[tuple[I64, I64]] | None = None) -> F64:
    """Raw scores of each training number from a core model fitted without its fold (stratified folds unless
    given). A fold's scores depend on the other folds' labels only."""
    y = _check_labels(table, config.folds)
    oof = np.full(len(y), np.nan)
    splits = folds if folds is not None else _folds(y, config.folds, config.random_state)
    for i, (train, test) in enumerate(splits):
        core = fit_core(table.subset(train), edges, config, key_length)
        oof[test] = core.raw_scores(core.matrices(table.subset(test), edges).main)
        progress(f"fold {i + 1}/{len(splits)} done")
    return oof


def choose_threshold(y: I64, score: F64, target_precision: float | None = None) -> float:
    """The score threshold (flag when score >= threshold): max F1, or the lowest meeting target precision."""
    order = np.argsort(-score, kind="stable")
    s, t = score[order], y[order]
    tp = np.cumsum(t)
    fp = np.cumsum(1 - t)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the last index of each distinct score
    tp, fp, cut = tp[last], fp[last], s[last]
    positives = max(int(y.sum()), 1)
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / positives
    if target_precision is None:
        f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(cut)),
                       where=precision + recall > 0)
        best = int(np.argmax(f1))
    else:
        ok = np.nonzero(precision >= target_precision)[0]
        best = int(ok[-1]) if len(ok) else int(np.argmax(precision))
    # Halfway to the next lower score, so the rule does not hinge on one training score.
    below = cut[best + 1] if best + 1 < len(cut) else cut[best]
    return float((cut[best] + below) / 2) if below < cut[best] else float(cut[best])


def calibration(y: I64, score: F64) -> tuple[F64, F64]:
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, y)
    return np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, dtype=np.float64)


def fit(table: FeatureTable, edges: g.Edges | None = None, config: TrainConfig | None = None,
        progress: ProgressFn = _quiet) -> Detector:
    """Train, calibrate and choose the threshold; the model's `metrics` hold the out-of-fold metrics."""
    config = config or TrainConfig()
    y = _check_labels(table, config.folds)
    started = time.perf_counter()
    key_length = g.infer_key_length(table.ids, edges) if edges is not None else None
    oof = out_of_fold(table, edges, config, key_length, progress)
    model = fit_core(table, edges, config, key_length)
    model.calibration_x, model.calibration_y = calibration(y, oof)
    model.threshold = choose_threshold(y, oof, config.target_precision)
    model.target_precision = config.target_precision
    seconds = time.perf_counter() - started
    model.metrics = {
        "out_of_fold": scores_at(y, oof, model.threshold),
        "rows": len(y), "fraud": int(y.sum()), "folds": config.folds, "seeds": config.seeds,
        "rounds": config.rounds, "graph": edges is not None, "edges": len(edges) if edges is not None else 0,
        "ignored_columns": table.ignored, "train_seconds": round(seconds, 1),
    }
    progress(f"trained in {seconds:.1f} s")
    return model


def fast_config(**changes: Any) -> TrainConfig:
    """A quick setting for tests: fewer rounds, faster learning, three folds, one seed."""
    base = TrainConfig(params={**DEFAULT_PARAMS, "learning_rate": 0.05}, rounds=150, seeds=1, folds=3)
    return replace(base, **changes)


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


__all__ = ["DEFAULT_PARAMS", "TrainConfig", "calibration", "choose_threshold", "fast_config", "fit", "fit_core",
           "out_of_fold"]
