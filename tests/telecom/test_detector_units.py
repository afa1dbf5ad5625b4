"""The detector's parts on small synthetic data: tables, graph features and their label hygiene, threshold,
persistence, the missing-column refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fanzha.telecom.detector import Detector, MissingColumnsError, TableError, read_table
from fanzha.telecom.detector import graph as g
from fanzha.telecom.detector.cli import detector_app
from fanzha.telecom.detector.table import FeatureTable, from_frame
from fanzha.telecom.detector.train import choose_threshold, fast_config, fit, fit_core, out_of_fold

runner = CliRunner()


def synthetic(n: int = 400, seed: int = 0) -> tuple[FeatureTable, g.Edges]:
    """Numbers with two weakly informative features and a call graph where fraud numbers call each other."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    x = np.column_stack([rng.normal(y * 0.8, 1.0), rng.normal(0, 1, n), rng.normal(y * 0.3, 1.0)])
    x[rng.random(n) < 0.05, 1] = np.nan
    ids = [f"{i:04x}" + "f" * 20 for i in range(n)]
    src: list[str] = []
    dst: list[str] = []
    fraud = np.nonzero(y == 1)[0]
    for i in range(n):
        pool = fraud if y[i] == 1 and rng.random() < 0.8 else np.arange(n)
        for j in rng.choice(pool, size=6):
            if j != i:
                src.append(ids[i][:4])
                dst.append(ids[int(j)][:4])
    # A node outside the table, as in the Sichuan edge list (users held out).
    src += ["zzzz", ids[0][:4]]
    dst += [ids[1][:4], "zzzz"]
    table = FeatureTable(ids, ["a", "b", "c"], x, y)
    return table, g.Edges(src, dst)


@pytest.fixture(scope="module")
def data() -> tuple[FeatureTable, g.Edges]:
    return synthetic()


# -- tables ---------------------------------------------------------------------------------------------------
def test_read_table_empty_cells_text_numbers_and_ignored_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("number,calls,share,city,flag,label\n"
                    "+8613800000001,12,0.5,成都,true,1\n"
                    "+8613800000002,,0.25,绵阳,false,0\n"
                    "+8613800000003,3,,成都,true,0\n", encoding="utf-8")
    table = read_table(path, "number", "label")
    assert table.ids == ["+8613800000001", "+8613800000002", "+8613800000003"]
    assert table.columns == ["calls", "share", "flag"]
    assert table.ignored == ["city"]
    assert np.isnan(table.values[1, 0]) and np.isnan(table.values[2, 1])
    assert table.labels is not None and table.labels.tolist() == [1, 0, 0]


@pytest.mark.parametrize(("csv", "message"), [
    ("id,x,label\na,1,1\na,2,0\n", "repeats ids"),
    ("id,x,label\na,1,2\nb,2,0\n", "must hold 0/1"),
    ("id,x,label\na,1,\nb,2,0\n", "empty cell"),
    ("phone,x,label\na,1,1\n", "no id column 'id'"),
])
def test_read_table_refuses_bad_tables(tmp_path: Path, csv: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(csv, encoding="utf-8")
    with pytest.raises(TableError, match=message):
        read_table(path, "id", "label")


def test_matrix_refuses_missing_columns_by_name() -> None:
    table = from_frame(pl.DataFrame({"id": ["a", "b"], "x": [1.0, 2.0]}), "id")
    with pytest.raises(MissingColumnsError, match="lacks 2 column\\(s\\) the model was trained on: y, z"):
        table.matrix(["x", "y", "z"])


# -- graph ----------------------------------------------------------------------------------------------------
def test_key_length_is_inferred_from_id_prefixes(data: tuple[FeatureTable, g.Edges]) -> None:
    table, edges = data
    assert g.infer_key_length(table.ids, edges) == 4
    full = g.Edges([table.ids[0]], [table.ids[1]])
    assert g.infer_key_length(table.ids, full) is None
    with pytest.raises(g.GraphError, match="no id in the edge list"):
        g.infer_key_length(["nothing", "here"], full)


def test_structure_by_hand() -> None:
    # a -> b, b -> a (mutual), a -> c twice (two calls), d isolated (in the table only)
    edges = g.Edges(["a", "b", "a", "a"], ["b", "a", "c", "c"])
    graph = g.Graph(edges, ["d"])
    s = graph.structure()
    rows = graph.rows(["a", "b", "c", "d"])
    assert s["g_out_degree"][rows].tolist() == [2, 1, 0, 0]
    assert s["g_in_degree"][rows].tolist() == [1, 1, 1, 0]  # distinct callers
    assert s["g_out_edges"][rows].tolist() == [3, 1, 0, 0]
    assert s["g_in_edges"][rows].tolist() == [1, 1, 2, 0]
    assert s["g_degree"][rows].tolist() == [2, 1, 1, 0]
    assert s["g_reciprocity"][rows][:3].tolist() == [0.5, 1.0, 0.0]
    assert np.isnan(s["g_reciprocity"][rows][3]) and np.isnan(s["g_pagerank"][rows][3])
    assert s["g_nb_degree_mean"][rows][:3].tolist() == [1.0, 2.0, 2.0]
    pr = s["g_pagerank"][rows][:3]
    assert pr[0] > pr[1] == pytest.approx(pr[2])
    assert pr.sum() == pytest.approx(3.0)


def test_label_features_never_see_unknown_or_own_labels() -> None:
    # path a - b - c; b and c known; a unknown
    edges = g.Edges(["a", "b"], ["b", "c"])
    graph = g.Graph(edges)
    a, b, c = graph.rows(["a", "b", "c"]).tolist()
    known = np.zeros(3, np.bool_)
    known[[b, c]] = True
    for fraud_a in (False, True):
        fraud = np.zeros(3, np.bool_)
        fraud[a] = fraud_a
        fraud[c] = True
        f = graph.label_features(known, fraud, prior=0.5)
        assert f["g_nb_fraud"][[a, b, c]].tolist() == [0.0, 1.0, 0.0]  # b sees c; a's label is unknown
        assert f["g_nb_benign"][[a, b, c]].tolist() == [1.0, 0.0, 1.0]
        # Two hops for c: its neighbour b's labelled neighbours are {c} (a unknown); without c itself: none,
        # so the prior (0.5) remains, never c's own label echoed back.
        assert f["g_nb2_fraud_share"][c] == pytest.approx(0.5)


def test_test_fold_features_ignore_test_fold_labels(data: tuple[FeatureTable, g.Edges]) -> None:
    table, edges = data
    assert table.labels is not None
    rng = np.random.default_rng(3)
    test = np.sort(rng.choice(len(table), size=len(table) // 4, replace=False))
    train = np.setdiff1d(np.arange(len(table)), test)
    config = fast_config(rounds=40, neighbour_scores=True)
    key = g.infer_key_length(table.ids, edges)

    def test_fold_features(labels: np.ndarray) -> np.ndarray:
        labelled = table.with_labels(labels)
        model = fit_core(labelled.subset(train), edges, config, key)
        return model.matrices(labelled.subset(test), edges).main

    before = test_fold_features(table.labels)
    shuffled = table.labels.copy()
    shuffled[test] = rng.permutation(shuffled[test])
    shuffled[test[:10]] = 1 - shuffled[test[:10]]  # and flip some, so the fraud count changes too
    after = test_fold_features(shuffled)
    assert np.array_equal(before, after, equal_nan=True)
    # The graph features are informative: a leak would have had something to change.
    model = fit_core(table.subset(train), edges, config, key)
    share = before[:, model.feature_names.index("g_nb_fraud_share")]
    y_test = table.labels[test]
    assert np.nanmean(share[y_test == 1]) > np.nanmean(share[y_test == 0]) + 0.2


def test_out_of_fold_scores_ignore_their_own_fold_labels(data: tuple[FeatureTable, g.Edges]) -> None:
    """The whole pipeline (stage-1 scores, neighbour labels and scores, main model) for one held-out fold."""
    table, edges = data
    assert table.labels is not None
    config = fast_config(rounds=30, folds=3, neighbour_scores=True)
    key = g.infer_key_length(table.ids, edges)
    rng = np.random.default_rng(11)
    order = rng.permutation(len(table))
    held = np.sort(order[:100])
    rest = np.sort(order[100:])
    folds = [(rest, held), (held, rest)]
    first = out_of_fold(table, edges, config, key, folds=folds)
    labels = table.labels.copy()
    labels[held] = rng.permutation(labels[held])
    labels[held[:7]] = 1 - labels[held[:7]]
    second = out_of_fold(table.with_labels(labels), edges, config, key, folds=folds)
    assert np.array_equal(first[held], second[held])
    assert not np.array_equal(first[rest], second[rest])  # the other fold trained on the changed labels


# -- threshold ------------------------------------------------------------------------------------------------
def _f1(y: np.ndarray, flagged: np.ndarray) -> float:
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    fn = int((~flagged & (y == 1)).sum())
    return 2 * tp / max(2 * tp + fp + fn, 1)


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=60))
def test_threshold_maximises_f1(points: list[tuple[int, bool]]) -> None:
    score = np.array([p[0] / 20 for p in points])
    y = np.array([int(p[1]) for p in points])
    if y.sum() == 0:
        return
    t = choose_threshold(y, score)
    best = max(_f1(y, score >= c) for c in np.unique(score))
    assert _f1(y, score >= t) == pytest.approx(best)


def test_threshold_for_target_precision() -> None:
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    y = np.array([1, 1, 0, 1, 1, 0, 0])
    t = choose_threshold(y, score, target_precision=0.8)
    flagged = score >= t
    assert flagged.sum() == 5  # 4 of 5 = 0.8 is the most recall at precision >= 0.8
    t = choose_threshold(y, score, target_precision=1.0)
    assert (score >= t).sum() == 2


# -- model ----------------------------------------------------------------------------------------------------
def test_save_load_identical_scores_with_and_without_graph(data: tuple[FeatureTable, g.Edges],
                                                           tmp_path: Path) -> None:
    table, edges = data
    for name, graph_edges in (("graph", edges), ("plain", None)):
        model = fit(table.subset(np.arange(300)), graph_edges, fast_config(rounds=40, neighbour_scores=True))
        unseen = table.subset(np.arange(300, 400))
        raw, probability = model.predict(unseen, graph_edges)
        model.save(tmp_path / name)
        loaded = Detector.load(tmp_path / name)
        raw2, probability2 = loaded.predict(unseen, graph_edges)
        assert np.array_equal(raw, raw2) and np.array_equal(probability, probability2)
        assert loaded.threshold == model.threshold
        assert loaded.metrics["out_of_fold"] == pytest.approx(model.metrics["out_of_fold"], nan_ok=True)
        assert np.all(np.diff(loaded.calibrate(np.sort(raw))) >= 0)


def test_any_column_names_and_reasons_use_them() -> None:
    table, _ = synthetic(200, seed=9)
    odd = ["通话次数", 'share "out": {x}', "a,b"]
    named = FeatureTable(table.ids, odd, table.values, table.labels)
    model = fit(named, None, fast_config(rounds=30))
    from fanzha.telecom.detector.reasons import top_reasons

    x = model.matrices(named, None).main
    reasons = top_reasons(model.contributions(x), x, model.feature_names, k=3)
    assert {r.feature for rs in reasons for r in rs} <= set(odd)
    assert any(rs for rs in reasons)


def test_cli_train_evaluate_plain_table_and_missing_column(tmp_path: Path) -> None:
    table, _ = synthetic(300, seed=5)
    assert table.labels is not None
    frame = pl.DataFrame({"number": table.ids, "a": table.values[:, 0], "b": table.values[:, 1],
                          "c": table.values[:, 2], "is_fraud": table.labels})
    frame.write_csv(tmp_path / "t.csv")
    result = runner.invoke(detector_app, ["train", "--features", str(tmp_path / "t.csv"), "--label", "is_fraud",
                                          "--id", "number", "--out", str(tmp_path / "m"), "--fast", "--quiet",
                                          "--target-precision", "0.7"])
    assert result.exit_code == 0, result.output
    assert Detector.load(tmp_path / "m").target_precision == 0.7
    result = runner.invoke(detector_app, ["evaluate", "--model", str(tmp_path / "m"), "--features",
                                          str(tmp_path / "t.csv"), "--label", "is_fraud", "--id", "number"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("f1")
    frame.drop("b").write_csv(tmp_path / "short.csv")
    result = runner.invoke(detector_app, ["score", "--model", str(tmp_path / "m"), "--features",
                                          str(tmp_path / "short.csv"), "--id", "number", "--json"])
    assert result.exit_code == 2
    assert "lacks 1 column(s) the model was trained on: b" in result.output
    result = runner.invoke(detector_app, ["score", "--model", str(tmp_path / "m"), "--features",
                                          str(tmp_path / "t.csv"), "--id", "number", "--out",
                                          str(tmp_path / "scores.csv")])
    assert result.exit_code == 0, result.output
    scores = pl.read_csv(tmp_path / "scores.csv")
    assert scores.columns == ["id", "score", "probability", "flagged", "reasons"]
    assert set(scores["flagged"].to_list()) <= {"yes", "no"}
