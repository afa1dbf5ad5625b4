"""The trained detector: its boosters, calibration, threshold and graph reference; scoring and persistence.

A model directory holds

* `model.json`: the input feature list (`features`), the graph features, the LightGBM parameters, the
  threshold on the raw score and its calibrated probability, the isotonic calibration points, the id-prefix
  length of the edge list;
* `metrics.json`: out-of-fold metrics on the training table (f1, precision, recall, auc at the threshold) and
  the training time;
* `main_<seed>.txt` (and `stage1_<seed>.txt` when neighbour scores are on): LightGBM boosters as text;
* `reference.csv` when trained with a call graph: the training numbers' graph keys, labels and out-of-fold
  stage-1 scores, which new numbers' neighbour features are computed from.

Scoring (`Detector.predict`) builds features exactly as for a number never seen: the table's own labels are
never read, only the training numbers' (`reference.csv`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from fanzha.telecom.detector import graph as g
from fanzha.telecom.detector.table import F64, I64, FeatureTable, TableError

FORMAT: Final = "fanzha-detector/1"


class ModelError(ValueError):
    """A model directory that cannot be loaded, or used with the inputs given."""


@dataclass
class Reference:
    """Training numbers as graph nodes: key, label (1 = fraud), out-of-fold stage-1 score (NaN if none)."""

    keys: list[str]
    labels: I64
    scores: F64

    @property
    def prior(self) -> float:
        return float(self.labels.mean()) if len(self.labels) else 0.0


@dataclass
class Matrices:
    """The feature matrices a table yields for the two stages."""

    stage1: F64
    main: F64


@dataclass
class Detector:
    features: list[str]
    graph_features: list[str]
    params: dict[str, Any]
    boosters: list[lgb.Booster]
    stage1: list[lgb.Booster] = field(default_factory=list)
    key_length: int | None = None
    uses_graph: bool = False
    reference: Reference | None = None
    calibration_x: F64 = field(default_factory=lambda: np.array([0.0, 1.0]))
    calibration_y: F64 = field(default_factory=lambda: np.array([0.0, 1.0]))
    threshold: float = 0.5
    target_precision: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    # -- names ------------------------------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        """The columns of the main model, in order: the table's features then the graph's."""
        return self.features + self.graph_features

    # -- features ---------------------------------------------------------------------------------------------
    def matrices(self, table: FeatureTable, edges: g.Edges | None) -> Matrices:
        """Feature matrices for `table`'s numbers, all treated as unseen (their labels are never read)."""
        x = table.matrix(self.features)
        if not self.uses_graph:
            return Matrices(x, x)
        if edges is None:
            raise ModelError("this model was trained with a call graph: give the edge list (--edges)")
        ref = self.reference if self.reference is not None else Reference([], np.zeros(0, np.int64), np.zeros(0))
        keys = g.keys_of(table.ids, self.key_length)
        graph = g.Graph(edges, [*keys, *ref.keys])
        rows = graph.rows(keys)
        columns = graph.structure()
        structure = g.stack(columns, [n for n in self.graph_features if n in g.STRUCTURE], rows)
        stage1 = np.column_stack([x, structure])
        if any(n in g.LABELS for n in self.graph_features):
            known = np.zeros(len(graph), np.bool_)
            fraud = np.zeros(len(graph), np.bool_)
            ref_rows = graph.rows(ref.keys)
            known[ref_rows] = True
            fraud[ref_rows] = ref.labels == 1
            columns.update(graph.label_features(known, fraud, ref.prior))
        if any(n in g.SCORES for n in self.graph_features):
            scored = np.zeros(len(graph), np.bool_)
            score = np.zeros(len(graph))
            scored[rows] = True
            score[rows] = _mean_prediction(self.stage1, stage1)
            ref_rows = graph.rows(ref.keys)
            have = np.isfinite(ref.scores)
            scored[ref_rows[have]] = True
            score[ref_rows[have]] = ref.scores[have]
            columns.update(graph.score_features(scored, score))
        main = np.column_stack([x, g.stack(columns, self.graph_features, rows)])
        return Matrices(stage1, main)

    def graph_coverage(self, table: FeatureTable, edges: g.Edges | None) -> float:
        """Share of the table's numbers found in the edge list (0 hints at an edge list keyed differently)."""
        if edges is None or not len(table):
            return 0.0
        nodes = edges.nodes
        return sum(k in nodes for k in g.keys_of(table.ids, self.key_length)) / len(table)

    # -- scores -----------------------------------------------------------------------------------------------
    def raw_scores(self, main: F64) -> F64:
        return _mean_prediction(self.boosters, main)

    def calibrate(self, raw: F64) -> F64:
        return np.asarray(np.interp(raw, self.calibration_x, self.calibration_y), dtype=np.float64)

    def predict(self, table: FeatureTable, edges: g.Edges | None = None) -> tuple[F64, F64]:
        """(raw score, calibrated fraud probability) per row of `table`."""
        raw = self.raw_scores(self.matrices(table, edges).main)
        return raw, self.calibrate(raw)

    def flagged(self, raw: F64) -> npt.NDArray[np.bool_]:
        return np.asarray(raw >= self.threshold)

    def contributions(self, main: F64) -> F64:
        """SHAP values (LightGBM pred_contrib) averaged over the boosters: rows x (features + 1 bias)."""
        total = np.zeros((main.shape[0], main.shape[1] + 1))
        for booster in self.boosters:
            total += np.asarray(booster.predict(main, pred_contrib=True), dtype=np.float64)
        return total / max(len(self.boosters), 1)

    # -- persistence ------------------------------------------------------------------------------------------
    def save(self, out: Path | str) -> Path:
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        for old in [*path.glob("main_*.txt"), *path.glob("stage1_*.txt")]:
            old.unlink()
        for i, booster in enumerate(self.boosters):
            booster.save_model(str(path / f"main_{i}.txt"))
        for i, booster in enumerate(self.stage1):
            booster.save_model(str(path / f"stage1_{i}.txt"))
        meta = {
            "format": FORMAT, "features": self.features, "graph_features": self.graph_features,
            "uses_graph": self.uses_graph, "key_length": self.key_length, "params": self.params,
            "boosters": len(self.boosters), "stage1_boosters": len(self.stage1),
            "threshold": self.threshold, "threshold_probability": float(self.calibrate(np.array([self.threshold]))[0]),
            "target_precision": self.target_precision,
            "calibration": {"method": "isotonic", "x": self.calibration_x.tolist(), "y": self.calibration_y.tolist()},
        }
        (path / "model.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        (path / "metrics.json").write_text(json.dumps(self.metrics, indent=1) + "\n", encoding="utf-8")
        ref_path = path / "reference.csv"
        if self.reference is not None:
            with ref_path.open("w", encoding="utf-8") as fh:
                fh.write("key,label,score\n")
                for key, label, score in zip(self.reference.keys, self.reference.labels.tolist(),
                                             self.reference.scores.tolist(), strict=True):
                    fh.write(f"{key},{label},{'' if np.isnan(score) else repr(score)}\n")
        elif ref_path.exists():
            ref_path.unlink()
        return path

    @classmethod
    def load(cls, directory: Path | str) -> Detector:
        path = Path(directory)
        try:
            meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path} is not a detector model directory (model.json: {exc})") from exc
        if meta.get("format") != FORMAT:
            raise ModelError(f"{path / 'model.json'} has format {meta.get('format')!r}, expected {FORMAT!r}")
        try:
            boosters = [lgb.Booster(model_file=str(path / f"main_{i}.txt")) for i in range(int(meta["boosters"]))]
            stage1 = [lgb.Booster(model_file=str(path / f"stage1_{i}.txt"))
                      for i in range(int(meta["stage1_boosters"]))]
            metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
            reference = _read_reference(path / "reference.csv") if meta["uses_graph"] else None
        except (OSError, ValueError, lgb.basic.LightGBMError) as exc:
            raise ModelError(f"cannot load the model in {path}: {exc}") from exc
        calibration = meta["calibration"]
        return cls(
            features=list(meta["features"]), graph_features=list(meta["graph_features"]), params=dict(meta["params"]),
            boosters=boosters, stage1=stage1, key_length=meta["key_length"], uses_graph=bool(meta["uses_graph"]),
            reference=reference, calibration_x=np.asarray(calibration["x"], dtype=np.float64),
            calibration_y=np.asarray(calibration["y"], dtype=np.float64), threshold=float(meta["threshold"]),
            target_precision=meta["target_precision"], metrics=metrics,
        )


def _read_reference(path: Path) -> Reference:
    keys: list[str] = []
    labels: list[int] = []
    scores: list[float] = []
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().strip()
        if header != "key,label,score":
            raise ModelError(f"{path} has header {header!r}, expected 'key,label,score'")
        for line in fh:
            key, label, score = line.rstrip("\n").split(",")
            keys.append(key)
            labels.append(int(label))
            scores.append(float(score) if score else float("nan"))
    return Reference(keys, np.asarray(labels, dtype=np.int64), np.asarray(scores, dtype=np.float64))


def _mean_prediction(boosters: Sequence[lgb.Booster], x: F64) -> F64:
    if not boosters:
        raise TableError("no booster to predict with")
    total = np.zeros(x.shape[0])
    for booster in boosters:
        total += np.asarray(booster.predict(x), dtype=np.float64)
    return total / len(boosters)
