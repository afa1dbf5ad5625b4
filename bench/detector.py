"""Fraud-number detector: 5-fold stratified cross-validation on the Sichuan dev file, ours against a plain GBDT.

In the same run and on the same folds:

* **plain GBDT**: LightGBM with default parameters (100 rounds, 31 leaves, learning rate 0.1) on the table's
  55 features, flagging at probability 0.5;
* **ours, table**: `fanzha.telecom.detector.train.fit` on the table alone (fixed parameters, seed bagging,
  isotonic calibration and the max-F1 threshold from out-of-fold predictions inside the training folds);
* **ours, table + graph**: the same with the call graph (`sichuan_edges.csv.gz`): structure and the
  neighbours' known labels, training-fold labels only;
* optionally (`--neighbour-scores`) the graph variant with stage-1 neighbour scores as well.

Each outer fold trains a complete model on four fifths and scores the held-out fifth as unseen numbers; the
held-out labels are read only to compute the metrics. Reported: the fraud class's F1, precision and recall at
the model's threshold, AUC, and macro F1 (the metric the published graph-network results use), mean ± sd over
folds. Then one full training on the whole file is timed.

Usage: python bench/detector.py [--folds 5] [--seed 0] [--no-graph] [--neighbour-scores] [--json FILE]
(or scripts/bench detector, which also starts a database this benchmark does not use)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fanzha.telecom.detector.evaluate import evaluate, scores_at, summary  # noqa: E402
from fanzha.telecom.detector.graph import Edges, read_edges  # noqa: E402
from fanzha.telecom.detector.table import FeatureTable, read_table  # noqa: E402
from fanzha.telecom.detector.train import TrainConfig, fast_config, fit  # noqa: E402

DATA = ROOT / "data" / "sichuan"
PUBLISHED = [("GDFGAT (PLOS ONE 2025)", "macro F1 0.9208", "AUC 0.9453"),
             ("CDR2IMG (2023)", "macro F1 0.9109", "AUC 0.9449")]
KEYS = ("f1", "precision", "recall", "auc", "macro_f1")


def plain_gbdt(train: FeatureTable, test: FeatureTable, threads: int) -> dict[str, float]:
    assert train.labels is not None and test.labels is not None
    model = lgb.LGBMClassifier(n_jobs=threads, verbose=-1)  # default parameters
    model.fit(train.values, train.labels)
    probability = np.asarray(model.predict_proba(test.values)[:, 1], dtype=np.float64)
    return scores_at(test.labels, probability, 0.5)


def run(table: FeatureTable, edges: Edges | None, args: argparse.Namespace) -> dict[str, Any]:
    assert table.labels is not None
    base = fast_config() if args.fast else TrainConfig()
    config = TrainConfig(params=base.params, rounds=base.rounds, seeds=base.seeds, folds=base.folds,
                         threads=args.threads)
    variants: dict[str, tuple[Edges | None, TrainConfig] | None] = {"plain GBDT (LightGBM defaults)": None,
                                                                    "ours, table": (None, config)}
    if edges is not None:
        variants["ours, table + graph"] = (edges, config)
        if args.neighbour_scores:
            variants["ours, + neighbour scores"] = (edges, TrainConfig(**{**config.__dict__,
                                                                          "neighbour_scores": True}))
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    seconds: dict[str, float] = dict.fromkeys(variants, 0.0)
    splitter = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    for i, (train_rows, test_rows) in enumerate(splitter.split(np.zeros(len(table)), table.labels)):
        train, test = table.subset(train_rows), table.subset(test_rows)
        for name, variant in variants.items():
            started = time.perf_counter()
            if variant is None:
                metrics = plain_gbdt(train, test, args.threads)
            else:
                variant_edges, variant_config = variant
                metrics = evaluate(fit(train, variant_edges, variant_config), test, variant_edges)
            seconds[name] += time.perf_counter() - started
            results[name].append(metrics)
            print(f"fold {i + 1}/{args.folds} {name:32} " + " ".join(f"{k} {metrics[k]:.4f}" for k in KEYS),
                  file=sys.stderr, flush=True)
    return {"folds": args.folds, "seed": args.seed, "results": {n: summary(r, KEYS) for n, r in results.items()},
            "per_fold": results, "seconds": seconds, "config": {"rounds": config.rounds, "seeds": config.seeds,
                                                                "params": config.params}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", type=Path, default=DATA / "sichuan_dev.csv")
    parser.add_argument("--edges", type=Path, default=DATA / "sichuan_edges.csv.gz")
    parser.add_argument("--id", default="phone_no_m")
    parser.add_argument("--label", default="label")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-graph", action="store_true", help="skip the graph variant")
    parser.add_argument("--neighbour-scores", action="store_true", help="add the stage-1 neighbour-score variant")
    parser.add_argument("--fast", action="store_true", help="the quick test setting (not the real model)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--postgres-url", help=argparse.SUPPRESS)  # passed by scripts/bench; no database here
    args = parser.parse_args()

    table = read_table(args.features, args.id, args.label)
    edges = None if args.no_graph else read_edges(args.edges)
    assert table.labels is not None
    print(f"{args.features.name}: {len(table)} numbers, {int(table.labels.sum())} fraud, {len(table.columns)} "
          f"features" + (f"; {len(edges)} edges" if edges is not None else ""))
    out = run(table, edges, args)

    print(f"\n{args.folds}-fold stratified CV (seed {args.seed}), mean ± sd over folds; fraud class at each model's "
          "threshold")
    print(f"{'model':34}" + "".join(f"{k:>18}" for k in KEYS) + f"{'seconds':>10}")
    for name, summ in out["results"].items():
        cells = "".join(f"{summ[k]['mean']:>11.4f} ± {summ[k]['sd']:.3f}" for k in KEYS)
        print(f"{name:34}{cells}{out['seconds'][name]:>10.1f}")
    print("published on this data (their own splits): " + "; ".join(" ".join(p) for p in PUBLISHED))

    timings: dict[str, float] = {}
    for name, e in (("table", None), ("table + graph", edges)):
        if name.endswith("graph") and e is None:
            continue
        started = time.perf_counter()
        fit(table, e, TrainConfig(threads=args.threads) if not args.fast else fast_config())
        timings[name] = time.perf_counter() - started
        print(f"full training on all {len(table)} numbers ({name}): {timings[name]:.1f} s")
    out["full_train_seconds"] = timings
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
