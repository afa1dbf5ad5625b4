"""Command line of the detector: `fanzha telecom train | evaluate | score`.

`train`, `evaluate` and `score` are plain typer-annotated functions; `detector_app` registers them for use on
their own (`python -m fanzha.telecom.detector.cli`) and the main CLI registers them under `fanzha telecom`.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from fanzha.telecom.detector import evaluate as ev
from fanzha.telecom.detector import graph as g
from fanzha.telecom.detector.model import Detector, ModelError
from fanzha.telecom.detector.reasons import top_reasons
from fanzha.telecom.detector.table import FeatureTable, TableError, read_table
from fanzha.telecom.detector.train import TrainConfig, fast_config, fit, stderr_progress

detector_app = typer.Typer(help="The fraud-number detector: train, evaluate, score", no_args_is_help=True)

FeaturesOpt = Annotated[Path, typer.Option("--features", help="per-number feature table (CSV or Parquet)",
                                           exists=True, dir_okay=False)]
IdOpt = Annotated[str, typer.Option("--id", help="the id column (the number)")]
LabelOpt = Annotated[str, typer.Option("--label", help="the label column (1 = fraud, 0 = not)")]
EdgesOpt = Annotated[Path | None, typer.Option(
    "--edges", help="call graph edge list CSV (caller, callee; ids or their first k characters)",
    exists=True, dir_okay=False)]
ModelOpt = Annotated[Path, typer.Option("--model", help="model directory written by train", exists=True,
                                        file_okay=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the detector's input errors into a clear message and exit status 2."""
    try:
        yield
    except (TableError, ModelError, g.GraphError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _edges(path: Path | None) -> g.Edges | None:
    return g.read_edges(path) if path is not None else None


def _check_coverage(detector: Detector, table: FeatureTable, edges: g.Edges | None) -> None:
    if edges is not None and detector.uses_graph and len(table) and detector.graph_coverage(table, edges) == 0:
        what = "their ids" if detector.key_length is None else f"the first {detector.key_length} characters of ids"
        typer.echo(f"warning: no number of the table is in the edge list (the model expects {what}); "
                   "graph features are empty", err=True)


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def train(
    features: FeaturesOpt,
    label: LabelOpt,
    id_column: IdOpt,
    out: Annotated[Path, typer.Option("--out", help="model directory to write")],
    edges: EdgesOpt = None,
    target_precision: Annotated[float | None, typer.Option(
        "--target-precision", min=0.0, max=1.0,
        help="flag at the lowest score whose out-of-fold precision reaches this (default: maximise F1)")] = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="boosters averaged")] = TrainConfig.seeds,
    folds: Annotated[int, typer.Option("--folds", min=2, help="folds for the out-of-fold predictions")] = 5,
    threads: Annotated[int, typer.Option("--threads", min=1, help="LightGBM threads")] = 1,
    neighbour_scores: Annotated[bool, typer.Option(
        "--neighbour-scores", help="with --edges: add the neighbours' out-of-fold fraud scores (stage 1)")] = False,
    fast: Annotated[bool, typer.Option("--fast", help="quick low-accuracy setting (for tests)")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress on stderr")] = False,
) -> None:
    """Train the detector on a labelled feature table (and optionally a call graph); write the model directory."""
    with _errors():
        table = read_table(features, id_column, label)
        if table.ignored:
            typer.echo(f"note: non-numeric columns left out: {', '.join(table.ignored)}", err=True)
        base = fast_config() if fast else TrainConfig()
        config = TrainConfig(params=base.params, rounds=base.rounds, seeds=seeds if not fast else base.seeds,
                             folds=folds if not fast else base.folds, target_precision=target_precision,
                             threads=threads, neighbour_scores=neighbour_scores)
        model = fit(table, _edges(edges), config, progress=(lambda _: None) if quiet else stderr_progress)
        model.save(out)
    m = model.metrics["out_of_fold"]
    typer.echo(f"model written to {out}: {len(model.feature_names)} features, threshold {model.threshold:.4f}; "
               f"out-of-fold f1 {m['f1']:.4f} precision {m['precision']:.4f} recall {m['recall']:.4f} "
               f"auc {m['auc']:.4f}")


def evaluate(
    model: ModelOpt,
    features: FeaturesOpt,
    label: LabelOpt,
    id_column: IdOpt,
    edges: EdgesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score a labelled table with a trained model; print the fraud class's F1, precision, recall and AUC."""
    with _errors():
        detector = Detector.load(model)
        table = read_table(features, id_column, label)
        graph = _edges(edges)
        _check_coverage(detector, table, graph)
        metrics = ev.evaluate(detector, table, graph)
    if as_json:
        typer.echo(json.dumps({k: None if math.isnan(metrics[k]) else metrics[k] for k in ev.METRICS}))
        return
    for key in (*ev.METRICS, "macro_f1"):
        typer.echo(f"{key:10} {metrics[key]:.4f}")
    typer.echo(f"{metrics['rows']} numbers, {metrics['fraud']} fraud, {metrics['flagged']} flagged "
               f"at threshold {metrics['threshold']:.4f}")


def score(
    model: ModelOpt,
    features: FeaturesOpt,
    id_column: IdOpt,
    edges: EdgesOpt = None,
    as_json: JsonOpt = False,
    reasons: Annotated[int, typer.Option("--reasons", min=0, help="top reasons per number")] = 3,
    out: Annotated[Path | None, typer.Option("--out", help="write the scores as CSV here instead")] = None,
) -> None:
    """Score each number: raw score, calibrated fraud probability, flagged at the model's threshold, top reasons."""
    with _errors():
        detector = Detector.load(model)
        table = read_table(features, id_column)
        graph = _edges(edges)
        _check_coverage(detector, table, graph)
        matrices = detector.matrices(table, graph)
        raw = detector.raw_scores(matrices.main)
        probability = detector.calibrate(raw)
        flagged = detector.flagged(raw)
        why = top_reasons(detector.contributions(matrices.main), matrices.main, detector.feature_names, reasons) \
            if reasons else [[] for _ in raw]
    rows: list[dict[str, Any]] = [
        {"id": number, "score": _number(float(s)), "probability": _number(float(p)), "flagged": bool(f),
         "reasons": [r.as_dict() for r in rs]}
        for number, s, p, f, rs in zip(table.ids, raw.tolist(), probability.tolist(), flagged.tolist(), why,
                                       strict=True)
    ]
    if out is not None:
        import csv

        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "score", "probability", "flagged", "reasons"])
            for row, rs in zip(rows, why, strict=True):
                writer.writerow([row["id"], row["score"], row["probability"], "yes" if row["flagged"] else "no",
                                 "; ".join(str(r) for r in rs)])
        typer.echo(f"{len(rows)} numbers scored, {int(np.sum(flagged))} flagged; written to {out}", err=True)
        return
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row, rs in zip(rows, why, strict=True):
        typer.echo(f"{row['id']}\t{row['score']:.4f}\t{row['probability']:.4f}\t"
                   f"{'yes' if row['flagged'] else 'no'}\t{'; '.join(str(r) for r in rs)}")


detector_app.command("train")(train)
detector_app.command("evaluate")(evaluate)
detector_app.command("score")(score)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(detector_app())
