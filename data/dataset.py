"""The Dataset container, its error type and the train/test split."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

TASKS = ("classification", "regression")


class DatasetError(ValueError):
    """Bad dataset input. The message says what is wrong, where, and what to do about it."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features and targets of one dataset.

    ``X`` is (n, d) float64 and ``y`` is (n,) float64; both are read-only copies.
    Classification labels are -1.0 / +1.0; ``classes`` holds the original class
    names for the -1 and +1 labels (from a CSV), or None for generated data.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: tuple[str, ...]
    classes: tuple[str, str] | None = None

    def __post_init__(self):
        X = np.array(self.X, dtype=np.float64)  # always a copy, so freezing it never touches the caller's array
        y = np.array(self.y, dtype=np.float64)
        if X.ndim != 2:
            raise DatasetError(f"Dataset {self.name!r}: X must be 2-D (samples x features), got shape {X.shape}")
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise DatasetError(f"Dataset {self.name!r}: y must be 1-D with one value per row of X "
                               f"(X has {X.shape[0]} rows), got shape {y.shape}")
        if self.task not in TASKS:
            raise DatasetError(f"Dataset {self.name!r}: task must be one of {', '.join(TASKS)}, got {self.task!r}")
        names = tuple(str(f) for f in self.feature_names)
        if len(names) != X.shape[1]:
            raise DatasetError(f"Dataset {self.name!r}: {len(names)} feature names for {X.shape[1]} feature columns")
        if not (np.isfinite(X).all() and np.isfinite(y).all()):
            raise DatasetError(f"Dataset {self.name!r}: X and y must be finite (no NaN or inf)")
        if self.task == "classification" and not np.isin(y, (-1.0, 1.0)).all():
            raise DatasetError(f"Dataset {self.name!r}: classification labels must be -1.0 or +1.0")
        classes = self.classes
        if classes is not None:
            classes = tuple(str(c) for c in classes)
            if self.task != "classification" or len(classes) != 2:
                raise DatasetError(f"Dataset {self.name!r}: classes must be two names, for a classification task")
        X.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "feature_names", names)
        object.__setattr__(self, "classes", classes)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def __eq__(self, other):
        if not isinstance(other, Dataset):
            return NotImplemented
        return (self.name == other.name and self.task == other.task
                and self.feature_names == other.feature_names and self.classes == other.classes
                and np.array_equal(self.X, other.X) and np.array_equal(self.y, other.y))

    def __hash__(self):
        return hash((self.name, self.task, self.feature_names, self.classes, self.X.shape))

    def __repr__(self):
        extra = f", classes={self.classes!r}" if self.classes else ""
        return (f"Dataset(name={self.name!r}, task={self.task!r}, n={self.n}, "
                f"n_features={self.n_features}, feature_names={self.feature_names!r}{extra})")

    def subset(self, indices) -> "Dataset":
        """The samples at ``indices`` (same name, task, feature names and classes)."""
        idx = np.asarray(indices, dtype=np.intp)
        return Dataset(self.name, self.X[idx], self.y[idx], self.task, self.feature_names, self.classes)


def train_test_split(ds: Dataset, test_fraction: float, seed: int = 0) -> tuple[Dataset, Dataset | None]:
    """Shuffle with ``np.random.default_rng(seed)`` and hold out a share of the samples.

    ``test_fraction`` 0 returns ``(ds, None)``. Otherwise the test set gets
    ``round(test_fraction * n)`` samples, at least 1, while the training set always
    keeps at least 1 sample (so a 1-sample dataset returns ``(ds, None)``).
    """
    if not isinstance(ds, Dataset):
        raise DatasetError(f"train_test_split needs a Dataset, got {type(ds).__name__}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real):
        raise DatasetError(f"test_fraction must be a number from 0 up to (not including) 1, got {test_fraction!r}")
    f = float(test_fraction)
    if not (math.isfinite(f) and 0.0 <= f < 1.0):
        raise DatasetError(f"test_fraction must be from 0 up to (not including) 1, got {test_fraction!r}")
    seed = _check_seed(seed)
    if f == 0.0:
        return ds, None
    n_test = min(max(1, int(math.floor(f * ds.n + 0.5))), ds.n - 1)
    if n_test <= 0:
        return ds, None
    order = np.random.default_rng(seed).permutation(ds.n)
    return ds.subset(order[n_test:]), ds.subset(order[:n_test])


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise DatasetError(f"seed must be a whole number 0 or more, got {seed!r}")
    return int(seed)
