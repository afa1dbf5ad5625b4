"""The detector end to end on the real Sichuan file (data/sichuan), through the CLI: train, evaluate, score.

One fast model (fewer rounds, three folds, one seed) is trained per test worker on a stratified 75 % of the dev
file with the call graph; the other 25 % is scored as numbers it has never seen.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
from typer.testing import CliRunner

from fanzha.telecom.detector import Detector, read_table
from fanzha.telecom.detector.cli import detector_app
from fanzha.telecom.detector.graph import LABELS, STRUCTURE

GRAPH_FEATURES = STRUCTURE + LABELS  # the default: no stage-1 neighbour scores

DATA = Path(__file__).resolve().parents[2] / "data" / "sichuan"
DEV = DATA / "sichuan_dev.csv"
EDGES = DATA / "sichuan_edges.csv.gz"
runner = CliRunner()


@dataclass(frozen=True)
class Trained:
    model: Path
    train_csv: Path
    test_csv: Path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    tmp = tmp_path_factory.mktemp("detector")
    frame = pl.read_csv(DEV, infer_schema_length=None)
    train_rows, test_rows = train_test_split(np.arange(frame.height), test_size=0.25, random_state=7,
                                             stratify=frame["label"].to_numpy())
    train_csv, test_csv = tmp / "train.csv", tmp / "test.csv"
    frame[np.sort(train_rows)].write_csv(train_csv)
    frame[np.sort(test_rows)].write_csv(test_csv)
    out = tmp / "model"
    result = runner.invoke(detector_app, ["train", "--features", str(train_csv), "--label", "label", "--id",
                                          "phone_no_m", "--edges", str(EDGES), "--out", str(out), "--fast",
                                          "--quiet"])
    assert result.exit_code == 0, result.output
    yield Trained(out, train_csv, test_csv)


def test_train_writes_model_metrics_and_feature_list(trained: Trained) -> None:
    meta = json.loads((trained.model / "model.json").read_text())
    metrics = json.loads((trained.model / "metrics.json").read_text())
    table_columns = pl.read_csv(DEV, n_rows=1).columns
    assert meta["features"] == [c for c in table_columns if c not in ("phone_no_m", "label")]
    assert set(meta["graph_features"]) == set(GRAPH_FEATURES)
    assert meta["key_length"] == 16  # the edge list holds the first 16 hex characters of phone_no_m
    assert 0.0 < meta["threshold"] < 1.0
    oof = metrics["out_of_fold"]
    assert oof["auc"] > 0.9 and oof["f1"] > 0.8
    assert (trained.model / "reference.csv").exists()


def test_evaluate_on_unseen_numbers_json(trained: Trained) -> None:
    result = runner.invoke(detector_app, ["evaluate", "--model", str(trained.model), "--features",
                                          str(trained.test_csv), "--label", "label", "--id", "phone_no_m",
                                          "--edges", str(EDGES), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert list(metrics) == ["f1", "precision", "recall", "auc"]
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in metrics.values())
    # A broken model (shuffled, constant, leaking nothing useful) cannot reach these on held-out numbers.
    assert metrics["auc"] > 0.93
    assert metrics["f1"] > 0.82
    assert metrics["precision"] > 0.8 and metrics["recall"] > 0.75


def test_score_json_reasons_name_real_features(trained: Trained) -> None:
    result = runner.invoke(detector_app, ["score", "--model", str(trained.model), "--features",
                                          str(trained.test_csv), "--id", "phone_no_m", "--edges", str(EDGES),
                                          "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    test_ids = pl.read_csv(trained.test_csv, columns=["phone_no_m"])["phone_no_m"].to_list()
    assert [r["id"] for r in rows] == test_ids
    model = Detector.load(trained.model)
    names = set(model.feature_names)
    table_columns = set(pl.read_csv(DEV, n_rows=1).columns) - {"phone_no_m", "label"}
    assert names == table_columns | set(GRAPH_FEATURES)
    for row in rows:
        assert set(row) == {"id", "score", "probability", "flagged", "reasons"}
        assert 0.0 <= row["probability"] <= 1.0
        if row["flagged"]:
            assert row["score"] >= model.threshold - 1e-6
        else:
            assert row["score"] <= model.threshold + 1e-6
        for reason in row["reasons"]:
            assert reason["feature"] in names
            assert reason["contribution"] > 0
        if row["flagged"]:
            assert row["reasons"], "a flagged number has at least one reason"
    # Reasons differ between numbers: they are per number, not a global importance list.
    assert len({tuple(r["feature"] for r in row["reasons"]) for row in rows if row["flagged"]}) > 3
    # Calibration is monotone in the score.
    ordered = sorted(rows, key=lambda r: r["score"])
    assert all(a["probability"] <= b["probability"] + 1e-12 for a, b in itertools.pairwise(ordered))


def test_score_text_output_says_yes_or_no(trained: Trained) -> None:
    result = runner.invoke(detector_app, ["score", "--model", str(trained.model), "--features",
                                          str(trained.test_csv), "--id", "phone_no_m", "--edges", str(EDGES)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == pl.read_csv(trained.test_csv, columns=["phone_no_m"]).height
    assert {line.split("\t")[3] for line in lines} == {"yes", "no"}


def test_saved_model_scores_like_the_trained_one(trained: Trained, tmp_path: Path) -> None:
    model = Detector.load(trained.model)
    table = read_table(trained.test_csv, "phone_no_m")
    from fanzha.telecom.detector.graph import read_edges

    edges = read_edges(EDGES)
    raw, probability = model.predict(table, edges)
    model.save(tmp_path / "again")
    again = Detector.load(tmp_path / "again")
    raw2, probability2 = again.predict(table, edges)
    assert np.array_equal(raw, raw2) and np.array_equal(probability, probability2)
    assert again.threshold == model.threshold and again.feature_names == model.feature_names


def test_missing_columns_are_refused_by_name(trained: Trained, tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    pl.read_csv(trained.test_csv, infer_schema_length=None).drop("imeis", "arpu_mean").write_csv(short)
    result = runner.invoke(detector_app, ["evaluate", "--model", str(trained.model), "--features", str(short),
                                          "--label", "label", "--id", "phone_no_m", "--edges", str(EDGES),
                                          "--json"])
    assert result.exit_code == 2
    assert "lacks 2 column(s) the model was trained on: imeis, arpu_mean" in result.output


def test_graph_model_needs_the_edge_list(trained: Trained) -> None:
    result = runner.invoke(detector_app, ["score", "--model", str(trained.model), "--features",
                                          str(trained.test_csv), "--id", "phone_no_m"])
    assert result.exit_code == 2
    assert "--edges" in result.output
