"""The fraud-number detector (issue 5, deliverable 3): LightGBM on a per-number feature table, optional
call-graph features, isotonic calibration, a threshold for max F1 or a target precision, SHAP reasons.

``table`` reads any feature table, ``graph`` the call graph and its features, ``train`` fits, ``model`` scores
and saves, ``evaluate`` measures and cross-validates, ``reasons`` explains, ``cli`` is the command line.
See docs/detector.md.
"""

from fanzha.telecom.detector.model import Detector, ModelError
from fanzha.telecom.detector.table import FeatureTable, MissingColumnsError, TableError, read_table
from fanzha.telecom.detector.train import TrainConfig, fit

__all__ = ["Detector", "FeatureTable", "MissingColumnsError", "ModelError", "TableError", "TrainConfig", "fit",
           "read_table"]
