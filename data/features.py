"""Input features for 2-D data, as TensorFlow Playground offers them, and standardization.

A network that sees only (x1, x2) needs hidden layers to separate xor; one that also sees
x1*x2 separates it with a single linear layer. The features are computed from the two
columns of the data, so the boundary can still be drawn over the original (x1, x2) plane:
map the grid's points through the same features.

Standardization (mean 0, standard deviation 1) is fitted on the training split only and
then applied unchanged to the test split and to any grid drawn later.
"""
from __future__ import annotations

import re

import numpy as np

FEATURES = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1^2": lambda x1, x2: x1 * x1,
    "x2^2": lambda x1, x2: x2 * x2,
    "x1*x2": lambda x1, x2: x1 * x2,
    "sin(x1)": lambda x1, x2: np.sin(x1),
    "sin(x2)": lambda x1, x2: np.sin(x2),
}
DEFAULT_FEATURES = ("x1", "x2")


def parse_features(text) -> tuple[str, ...]:
    """'x1, x1*x2' -> ('x1', 'x1*x2'): known names, each once, in FEATURES order. Names are
    separated by commas or by '+' ('x1+x2+x1*x2': one value of a comma-separated sweep grid).

    Raises ValueError naming the unknown feature and the valid ones."""
    parts = [p.strip().lower().replace(" ", "") for p in re.split(r"[,+]", str(text))]
    chosen = {p for p in parts if p}
    if not chosen:
        raise ValueError(f"choose at least one input feature from: {', '.join(FEATURES)}")
    unknown = sorted(chosen - set(FEATURES))
    if unknown:
        raise ValueError(f"unknown input feature {unknown[0]!r}; choose from: {', '.join(FEATURES)}")
    return tuple(name for name in FEATURES if name in chosen)


def expand_features(X, names) -> np.ndarray:
    """The columns `names` (from FEATURES) computed from the two columns of X: shape (n, len(names))."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"input features need 2-D data (x1, x2), got {X.shape[1] if X.ndim == 2 else '?'} columns")
    x1, x2 = X[:, 0], X[:, 1]
    return np.column_stack([FEATURES[name](x1, x2) for name in names])


def fit_standardizer(values) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) per column of `values` (1-D: one column); a constant column keeps scale 1."""
    values = np.asarray(values, dtype=np.float64)
    mean, std = values.mean(axis=0), values.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)
