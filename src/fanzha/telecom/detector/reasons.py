"""The top reasons behind each score: the features whose SHAP values (LightGBM `pred_contrib`) push it up most.

A reason is (feature, the number's value of it, its contribution in log-odds). Contributions are averaged over
the model's boosters; the bias column is left out. Only contributions towards fraud (> 0) are reasons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fanzha.telecom.detector.table import F64


@dataclass(frozen=True)
class Reason:
    feature: str
    value: float | None  # None: the cell was empty
    contribution: float

    def as_dict(self) -> dict[str, float | str | None]:
        return {"feature": self.feature, "value": self.value, "contribution": round(self.contribution, 4)}

    def __str__(self) -> str:
        value = "empty" if self.value is None else f"{self.value:g}"
        return f"{self.feature}={value} (+{self.contribution:.2f})"


def top_reasons(contributions: F64, x: F64, names: list[str], k: int = 3) -> list[list[Reason]]:
    """Per row, up to `k` features with the largest positive contribution, largest first."""
    if contributions.shape[1] != len(names) + 1:
        raise ValueError(f"{contributions.shape[1] - 1} contributions for {len(names)} feature names")
    per_feature = contributions[:, :-1]
    order = np.argsort(-per_feature, axis=1, kind="stable")[:, :k]
    out: list[list[Reason]] = []
    for row, columns in enumerate(order.tolist()):
        reasons = []
        for col in columns:
            c = float(per_feature[row, col])
            if c <= 0:
                break
            v = float(x[row, col])
            reasons.append(Reason(names[col], None if math.isnan(v) else v, c))
        out.append(reasons)
    return out
