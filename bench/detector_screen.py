"""Detector screen: quick repeated cross-validation of model and feature ideas on the Sichuan dev file.

`bench/detector.py` measures the shipped detector rigorously (each outer fold chooses its own threshold from
inner out-of-fold scores). This screen is cheaper and answers a different question: does an idea rank users
better than the shipped features and booster? Each variant gets out-of-fold scores from repeated stratified
5-fold CV (same folds for all variants; graph label features from the training folds' labels only), and is
judged on threshold-free figures (AUC, average precision) and on the best fraud F1, macro F1 and accuracy over
all thresholds of the pooled out-of-fold scores. The best-threshold figures are optimistic by the same amount
for every variant; compare them with each other, not with `bench/detector.py`.

Variants (one LightGBM booster with the shipped parameters unless said):

* `table`: the 55 columns; `graph`: + the shipped structure and neighbour-label features (the baseline);
* `nb-diff`: + each column minus its mean over the number's neighbours (the feature-difference idea of the
  GDFGAT paper); `nb-mean`: + the neighbours' means themselves;
* `tenure`: numbers active in all 8 months (`month_ids` = 8, half the errors) scored by a model trained on
  them alone;
* `xgboost`, `catboost`: other boosting libraries on the `graph` features (skipped when not installed);
* `mlp`: a neural network on quantile-normalised columns; `sign`: the same on the columns and their one- and
  two-hop neighbour means (SIGN, a graph-network family like the published models); `graph+sign`: a rank
  blend of `graph` and `sign`.

Usage: python bench/detector_screen.py [--repeats 3] [--variants graph,nb-diff,...] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy.stats import rankdata  # type: ignore[import-untyped]
from sklearn.metrics import average_precision_score, roc_auc_score  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]
from sklearn.neural_network import MLPClassifier  # type: ignore[import-untyped]
from sklearn.preprocessing import QuantileTransformer  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fanzha.telecom.detector.graph import LABELS, STRUCTURE, Graph, infer_key_length, keys_of, read_edges  # noqa: E402
from fanzha.telecom.detector.table import read_table  # noqa: E402
from fanzha.telecom.detector.train import DEFAULT_PARAMS, DEFAULT_ROUNDS  # noqa: E402

DATA = ROOT / "data" / "sichuan"
Array = np.ndarray[Any, Any]
Variant = Callable[[Array, Array], Array]  # (train rows, test rows) -> scores of the test rows


class Screen:
    """The data, the graph and every variant's scoring function."""

    def __init__(self, threads: int) -> None:
        table = read_table(DATA / "sichuan_dev.csv", "phone_no_m", "label")
        edges = read_edges(DATA / "sichuan_edges.csv.gz")
        assert table.labels is not None
        self.threads = threads
        self.columns = list(table.columns)
        self.x: Array = table.values
        self.y: Array = table.labels
        keys = keys_of(table.ids, infer_key_length(table.ids, edges))
        self.graph = Graph(edges, keys)
        self.rows = self.graph.rows(keys)
        structure = self.graph.structure()
        self.structure: Array = np.column_stack([structure[name][self.rows] for name in STRUCTURE])
        self.neighbour_mean = self._neighbour_mean(self.x)

    # -- features -----------------------------------------------------------------------------------------------
    def _propagate(self, values: Array, present: Array) -> Array:
        """Mean over each graph node's neighbours of `values` (rows of graph nodes), where `present`."""
        u = self.graph.undirected
        total = u @ np.where(present, values, 0.0)
        count = u @ present.astype(np.float64)
        return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)

    def _neighbour_mean(self, columns: Array) -> Array:
        full = np.full((len(self.graph), columns.shape[1]), np.nan)
        full[self.rows] = columns
        return self._propagate(np.nan_to_num(full), ~np.isnan(full))[self.rows]

    def labels(self, train: Array) -> Array:
        known = np.zeros(len(self.graph), bool)
        fraud = np.zeros(len(self.graph), bool)
        known[self.rows[train]] = True
        fraud[self.rows[train]] = self.y[train] == 1
        features = self.graph.label_features(known, fraud, float(self.y.mean()))
        return np.column_stack([features[name][self.rows] for name in LABELS])

    def graph_matrix(self, train: Array) -> Array:
        return np.column_stack([self.x, self.structure, self.labels(train)])

    # -- learners -----------------------------------------------------------------------------------------------
    def lightgbm(self, m: Array, train: Array, test: Array, rows: Array | None = None) -> Array:
        fit_rows = train if rows is None else rows
        params = {**DEFAULT_PARAMS, "seed": 0, "num_threads": self.threads, "verbose": -1, "deterministic": True,
                  "force_col_wise": True}
        booster = lgb.train(params, lgb.Dataset(m[fit_rows], label=self.y[fit_rows]), num_boost_round=DEFAULT_ROUNDS)
        return np.asarray(booster.predict(m[test], raw_score=True), dtype=np.float64)

    def mlp(self, m: Array, train: Array, test: Array) -> Array:
        model = MLPClassifier(hidden_layer_sizes=(128, 64), alpha=1e-3, max_iter=300, early_stopping=True,
                              random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(m[train], self.y[train])
        return np.asarray(model.predict_proba(m[test])[:, 1], dtype=np.float64)

    def dense(self) -> Array:
        """Quantile-normal columns (missing -> 0) plus a missing flag per column that has gaps."""
        q = QuantileTransformer(n_quantiles=200, output_distribution="normal", random_state=0)
        values = q.fit_transform(np.column_stack([self.x, np.log1p(self.structure)]))
        gaps = np.isnan(values)
        flags = gaps[:, gaps.any(axis=0)].astype(np.float64)
        return np.column_stack([np.nan_to_num(values), flags])

    def sign(self) -> Array:
        """SIGN features: the dense columns, their neighbour means one and two hops out."""
        dense = self.dense()
        full = np.zeros((len(self.graph), dense.shape[1]))
        present = np.zeros((len(self.graph), 1), bool)
        full[self.rows], present[self.rows] = dense, True
        one = np.nan_to_num(self._propagate(full, np.broadcast_to(present, full.shape)))
        two = np.nan_to_num(self._propagate(one, np.ones_like(one, dtype=bool)))
        return np.column_stack([dense, one[self.rows], two[self.rows]])

    def variants(self) -> dict[str, Variant]:
        tenure = self.x[:, self.columns.index("month_ids")] == 8
        dense = self.dense()
        sign = self.sign()
        difference = self.x - self.neighbour_mean

        def graph(tr: Array, te: Array) -> Array:
            return self.lightgbm(self.graph_matrix(tr), tr, te)

        def tenure_model(tr: Array, te: Array) -> Array:
            m = self.graph_matrix(tr)
            scores = self.lightgbm(m, tr, te)
            long = tenure[te]
            # A separate model for long-tenure numbers; its scores are mapped onto the global model's scale by
            # rank within the segment so one threshold still applies.
            special = self.lightgbm(m, tr, te[long], rows=tr[tenure[tr]])
            ordered = np.sort(scores[long])
            scores[long] = ordered[(rankdata(special, method="ordinal") - 1).astype(int)]
            return scores

        found: dict[str, Variant] = {
            "table": lambda tr, te: self.lightgbm(self.x, tr, te),
            "graph": graph,
            "nb-diff": lambda tr, te: self.lightgbm(np.column_stack([self.graph_matrix(tr), difference]), tr, te),
            "nb-mean": lambda tr, te: self.lightgbm(np.column_stack([self.graph_matrix(tr), self.neighbour_mean]),
                                                    tr, te),
            "tenure": tenure_model,
            "mlp": lambda tr, te: self.mlp(dense, tr, te),
            "sign": lambda tr, te: self.mlp(sign, tr, te),
            "graph+sign": lambda tr, te: 0.7 * rankdata(graph(tr, te)) + 0.3 * rankdata(self.mlp(sign, tr, te)),
        }
        try:
            import xgboost as xgb  # type: ignore[import-not-found]

            def xgboost(tr: Array, te: Array) -> Array:
                m = self.graph_matrix(tr)
                model = xgb.XGBClassifier(n_estimators=800, learning_rate=0.02, max_depth=5, subsample=0.8,
                                          colsample_bytree=0.5, n_jobs=self.threads, random_state=0)
                model.fit(m[tr], self.y[tr])
                return np.asarray(model.predict(m[te], output_margin=True), dtype=np.float64)

            found["xgboost"] = xgboost
        except ImportError:
            print("xgboost: not installed, skipped", file=sys.stderr)
        try:
            from catboost import CatBoostClassifier  # type: ignore[import-not-found]

            def catboost(tr: Array, te: Array) -> Array:
                m = self.graph_matrix(tr)
                model = CatBoostClassifier(iterations=1500, learning_rate=0.03, depth=6, verbose=0,
                                           thread_count=self.threads, random_seed=0,
                                           allow_writing_files=False)  # no catboost_info/ in the working tree
                model.fit(m[tr], self.y[tr])
                return np.asarray(model.predict(m[te], prediction_type="RawFormulaVal"), dtype=np.float64)

            found["catboost"] = catboost
        except ImportError:
            print("catboost: not installed, skipped", file=sys.stderr)
        return found


def figures(y: Array, score: Array) -> dict[str, float]:
    """AUC, average precision, and the best fraud F1, macro F1 and accuracy over all thresholds."""
    order = np.argsort(-score, kind="stable")
    hit = y[order]
    tp, fp = np.cumsum(hit), np.cumsum(1 - hit)
    positives, n = int(y.sum()), len(y)
    fn, tn = positives - tp, (n - positives) - fp
    f1 = 2 * tp / (2 * tp + fp + fn)
    f1_benign = 2 * tn / np.maximum(2 * tn + fn + fp, 1)
    return {"auc": float(roc_auc_score(y, score)), "ap": float(average_precision_score(y, score)),
            "f1": float(f1.max()), "macro_f1": float(((f1 + f1_benign) / 2).max()),
            "accuracy": float(((tp + tn) / n).max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="repeats of stratified 5-fold CV (seeds 0..R-1)")
    parser.add_argument("--variants", help="comma-separated subset (default: all available)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    screen = Screen(args.threads)
    variants = screen.variants()
    chosen = args.variants.split(",") if args.variants else list(variants)
    unknown = [v for v in chosen if v not in variants]
    if unknown:
        parser.error(f"unknown or unavailable variant(s): {', '.join(unknown)}; have {', '.join(variants)}")
    splits = [list(StratifiedKFold(5, shuffle=True, random_state=r).split(screen.x, screen.y))
              for r in range(args.repeats)]
    print(f"{len(screen.y)} numbers ({int(screen.y.sum())} fraud), {args.repeats} x 5-fold CV; mean (sd) over repeats")
    print(f"{'variant':12s} {'AUC':>15s} {'AP':>8s} {'best F1':>15s} {'macro F1':>9s} {'accuracy':>9s} {'time':>6s}")
    for name in chosen:
        started = time.perf_counter()
        runs = []
        for folds in splits:
            oof = np.zeros(len(screen.y))
            for train, test in folds:
                oof[test] = variants[name](train, test)
            runs.append(figures(screen.y, oof))
        mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        sd = {k: float(np.std([r[k] for r in runs])) for k in runs[0]}
        print(f"{name:12s} {mean['auc']:.4f} ({sd['auc']:.4f}) {mean['ap']:.4f} {mean['f1']:.4f} ({sd['f1']:.4f}) "
              f"{mean['macro_f1']:9.4f} {mean['accuracy']:9.4f} {time.perf_counter() - started:5.0f}s", flush=True)


if __name__ == "__main__":
    main()
