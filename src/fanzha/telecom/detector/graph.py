"""Call-graph features: structure (label free) and the neighbours' known labels and scores (no label leakage).

The graph is an edge list, one row per call or per calling pair (`src,dst`). Its ids may be the feature table's
ids or their first *k* characters (the Sichuan edge list holds the first 16 hex characters of `phone_no_m`):
`key_length` says which, and `keys_of` maps table ids to graph keys.

Three kinds of feature, each a column per number:

* structure, from the edges alone: distinct callees (`g_out_degree`) and callers (`g_in_degree`), edge rows
  each way, distinct neighbours either way (`g_degree`), reciprocity, the neighbours' mean degree, PageRank
  on the undirected graph;
* known labels: how many neighbours are known fraud / known benign and the smoothed fraud share among them
  (`g_nb_*`), and the same share one hop further (`g_nb2_fraud_share`, the mean over neighbours of *their*
  labelled neighbours' fraud share with this number's own label taken out, so a training number never sees
  its own label echoed back);
* scores: the mean and max of the neighbours' fraud scores (`g_nbs_*`), scores of training numbers being
  out-of-fold predictions.

"Known" labels are whatever the caller passes: training labels only. Numbers being scored or evaluated are
never in it, which is what keeps their features independent of their own labels (see the tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse as sp  # type: ignore[import-untyped]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

STRUCTURE: Final = ("g_out_degree", "g_in_degree", "g_out_edges", "g_in_edges", "g_degree", "g_reciprocity",
                    "g_nb_degree_mean", "g_pagerank")
LABELS: Final = ("g_nb_fraud", "g_nb_benign", "g_nb_fraud_share", "g_nb2_fraud_share")
SCORES: Final = ("g_nbs_mean", "g_nbs_max")
ALL: Final = STRUCTURE + LABELS + SCORES

SMOOTHING: Final = 2.0  # pseudo-neighbours at the prior fraud rate in the shares


class GraphError(ValueError):
    """The edge list cannot be read or does not match the feature table."""


class Edges:
    """An edge list: node keys in order of appearance and each edge as (source, destination) node indices.

    The adjacency and the structural features are computed once per edge list and cached here, so scoring
    many tables (or many cross-validation folds) against one call graph builds it once.
    """

    def __init__(self, src: Sequence[str], dst: Sequence[str]) -> None:
        both = pl.Series("k", [*src, *dst], dtype=pl.String)
        nodes = both.unique(maintain_order=True)
        index = pl.DataFrame({"k": nodes, "i": np.arange(len(nodes), dtype=np.int64)})
        codes = pl.DataFrame({"k": both}).join(index, on="k", how="left", maintain_order="left")["i"].to_numpy()
        self.keys: list[str] = nodes.to_list()
        self.src: I64 = np.asarray(codes[: len(src)], dtype=np.int64)
        self.dst: I64 = np.asarray(codes[len(src):], dtype=np.int64)
        self._adjacency: tuple[Any, Any, F64, F64] | None = None
        self._structure: dict[str, F64] | None = None

    @property
    def nodes(self) -> set[str]:
        return set(self.keys)

    def __len__(self) -> int:
        return len(self.src)

    def adjacency(self) -> tuple[Any, Any, F64, F64]:
        """(directed 0/1 CSR, undirected 0/1 CSR, edge rows out, edge rows in) over the edge list's nodes."""
        if self._adjacency is None:
            n = len(self.keys)
            keep = self.src != self.dst  # a self-loop says nothing about neighbours
            s, d = self.src[keep], self.dst[keep]
            counts = sp.csr_matrix((np.ones(len(s)), (s, d)), shape=(n, n))  # duplicates summed
            directed = (counts > 0).astype(np.float64).tocsr()
            undirected = ((directed + directed.T) > 0).astype(np.float64).tocsr()
            self._adjacency = (directed, undirected, np.asarray(counts.sum(axis=1), dtype=np.float64).ravel(),
                               np.asarray(counts.sum(axis=0), dtype=np.float64).ravel())
        return self._adjacency

    def structure(self) -> dict[str, F64]:
        """Label-free features of the edge list's nodes (see the module docstring)."""
        if self._structure is None:
            a, u, out_edges, in_edges = self.adjacency()
            out_deg = np.asarray(a.sum(axis=1), dtype=np.float64).ravel()
            in_deg = np.asarray(a.sum(axis=0), dtype=np.float64).ravel()
            mutual = np.asarray(a.multiply(a.T).sum(axis=1), dtype=np.float64).ravel()
            deg = np.asarray(u.sum(axis=1), dtype=np.float64).ravel()
            nan = np.full(len(deg), np.nan)
            self._structure = {
                "g_out_degree": out_deg, "g_in_degree": in_deg, "g_out_edges": out_edges, "g_in_edges": in_edges,
                "g_degree": deg,
                "g_reciprocity": np.divide(mutual, deg, out=nan.copy(), where=deg > 0),
                "g_nb_degree_mean": np.divide(u @ deg, deg, out=nan.copy(), where=deg > 0),
                "g_pagerank": pagerank(u, deg) * len(deg),
            }
        return self._structure


def pagerank(undirected: Any, degree: F64, damping: float = 0.85, iterations: int = 100,
             tol: float = 1e-10) -> F64:
    """PageRank of a random walk on the undirected graph (a dangling node jumps anywhere)."""
    n = len(degree)
    if n == 0:
        return np.zeros(0)
    inv = np.divide(1.0, degree, out=np.zeros(n), where=degree > 0)
    walk = (sp.diags(inv) @ undirected).T.tocsr()
    rank = np.full(n, 1.0 / n)
    dangling = degree == 0
    for _ in range(iterations):
        new = np.asarray(damping * (walk @ rank) + (damping * rank[dangling].sum() + 1.0 - damping) / n,
                         dtype=np.float64)
        done = float(np.abs(new - rank).sum()) < tol
        rank = new
        if done:
            break
    return rank


def read_edges(path: Path | str) -> Edges:
    """Read an edge list (CSV, optionally gzip): columns `src`/`dst`, `src16`/`dst16` or else the first two."""
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise GraphError(f"cannot read the edge list {path}: {exc}") from exc
    if frame.width < 2:
        raise GraphError(f"the edge list {path} needs two columns (caller, callee); it has {frame.width}")
    names = frame.columns
    pairs = [(s, d) for s, d in (("src", "dst"), ("src16", "dst16"), ("caller", "callee")) if s in names and d in names]
    src, dst = pairs[0] if pairs else (names[0], names[1])
    frame = frame.select(pl.col(src).str.strip_chars().alias("s"), pl.col(dst).str.strip_chars().alias("d"))
    frame = frame.drop_nulls()
    return Edges(frame["s"].to_list(), frame["d"].to_list())


def infer_key_length(table_ids: Sequence[str], edges: Edges) -> int | None:
    """None when the edge list uses the table's ids; k when it uses their first k characters."""
    nodes = edges.nodes
    if set(table_ids) & nodes:
        return None
    lengths = {len(n) for n in nodes}
    if len(lengths) == 1:
        (k,) = lengths
        prefixes = {i[:k] for i in table_ids if len(i) > k}
        if prefixes & nodes:
            if len(prefixes) < len(set(table_ids)):
                raise GraphError(f"the first {k} characters of the table's ids are not unique; "
                                 "give the edge list with full ids")
            return k
    raise GraphError("no id in the edge list matches an id (or an id prefix) of the feature table")


def keys_of(ids: Sequence[str], key_length: int | None) -> list[str]:
    return list(ids) if key_length is None else [i[:key_length] for i in ids]


class Graph:
    """The edge list's graph plus extra keys (numbers of the table with no edge: isolated nodes)."""

    def __init__(self, edges: Edges, extra_keys: Sequence[str] = ()) -> None:
        self.index: dict[str, int] = {k: i for i, k in enumerate(edges.keys)}
        self.keys: list[str] = list(edges.keys)
        for key in extra_keys:
            if key not in self.index:
                self.index[key] = len(self.keys)
                self.keys.append(key)
        n, m = len(self.keys), len(edges.keys)
        directed, undirected, _, _ = edges.adjacency()
        if n > m:
            directed = sp.csr_matrix((directed.data, directed.indices, np.r_[directed.indptr,
                                      np.full(n - m, directed.indptr[-1])]), shape=(n, n))
            undirected = sp.csr_matrix((undirected.data, undirected.indices, np.r_[undirected.indptr,
                                        np.full(n - m, undirected.indptr[-1])]), shape=(n, n))
        self.directed = directed
        self.undirected = undirected
        self.degree: F64 = np.asarray(undirected.sum(axis=1), dtype=np.float64).ravel()
        self._base = edges.structure()
        self._edge_nodes = m

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self, keys: Sequence[str]) -> I64:
        return np.fromiter((self.index[k] for k in keys), np.int64, len(keys))

    def structure(self) -> dict[str, F64]:
        """Structural features; a number with no edge has degree 0 and no (NaN) ratio or PageRank."""
        pad = len(self) - self._edge_nodes
        out: dict[str, F64] = {}
        for name, values in self._base.items():
            fill = 0.0 if name in ("g_out_degree", "g_in_degree", "g_out_edges", "g_in_edges", "g_degree") else np.nan
            out[name] = np.r_[values, np.full(pad, fill)]
        return out

    # -- labels -----------------------------------------------------------------------------------------------
    def label_features(self, known: Bool, fraud: Bool, prior: float) -> dict[str, F64]:
        """Features from the labels of the `known` nodes (`fraud` read only where `known`)."""
        u = self.undirected
        k = known.astype(np.float64)
        f = (known & fraud).astype(np.float64)
        n_fraud = u @ f
        n_known = u @ k
        share = (n_fraud + SMOOTHING * prior) / (n_known + SMOOTHING)
        # Two hops: for each edge (v, w), w's labelled-neighbour fraud share without v's own label.
        coo = u.tocoo()
        v, w = coo.row, coo.col
        per_edge = (n_fraud[w] - f[v] + SMOOTHING * prior) / (n_known[w] - k[v] + SMOOTHING)
        sums = np.bincount(v, weights=per_edge, minlength=len(self))
        deg = self.degree
        two_hop = np.divide(sums, deg, out=np.full(len(self), np.nan), where=deg > 0)
        return {"g_nb_fraud": n_fraud, "g_nb_benign": n_known - n_fraud,
                "g_nb_fraud_share": np.where(n_known > 0, share, np.nan), "g_nb2_fraud_share": two_hop}

    # -- scores -----------------------------------------------------------------------------------------------
    def score_features(self, scored: Bool, score: F64) -> dict[str, F64]:
        """Mean and max of the neighbours' scores, over the neighbours that have one."""
        u = self.undirected
        has = scored.astype(np.float64)
        s = np.where(scored, score, 0.0)
        n = u @ has
        mean = np.divide(u @ s, n, out=np.full(len(self), np.nan), where=n > 0)
        weighted = u.multiply(s[np.newaxis, :]).tocsr()
        peak = np.asarray(weighted.max(axis=1).todense()).ravel()
        return {"g_nbs_mean": mean, "g_nbs_max": np.where(n > 0, peak, np.nan)}


def stack(columns: dict[str, F64], names: Sequence[str], rows: I64) -> F64:
    """The named columns at `rows`, as a matrix (rows x names)."""
    if not names:
        return np.zeros((len(rows), 0))
    return np.column_stack([columns[name][rows] for name in names])
