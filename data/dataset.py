"""The Dataset container, its error type, the train/test split and the encoding of class targets.

Two classes keep the labels -1.0 / +1.0 (the sign of one score, as hinge loss and the lecture
want); k > 2 classes are indices 0 .. k-1 (one score per class, softmax cross-entropy).
Either way ``class_names`` says what each label means, so every chart can use the names.
"""
from __future__ import annotations

import math
import numbers
from collections import Counter
from dataclasses import dataclass

import numpy as np

TASKS = ("classification", "regression")
MAX_CLASSES = 10  # a target column with more distinct names than this is refused, not guessed at


class DatasetError(ValueError):
    """Bad dataset input. The message says what is wrong, where, and what to do about it."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features and targets of one dataset.

    ``X`` is (n, d) float64 and ``y`` is (n,) float64; both are read-only copies.
    Two classes are labelled -1.0 / +1.0, k = 3 .. MAX_CLASSES classes 0.0 .. k-1.
    ``class_names`` names the labels in that order (for two classes: the -1 class, then
    the +1 class); left out, they are the labels themselves ("-1", "+1" or "0" .. "k-1").
    Regression data has no class names (None).
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] | None = None

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
        class_names = self._check_classes(y)
        X.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "feature_names", names)
        object.__setattr__(self, "class_names", class_names)

    def _check_classes(self, y):
        """The class names, checked against the labels (defaults: the labels as text)."""
        names = self.class_names
        if self.task == "regression":
            if names is not None:
                raise DatasetError(f"Dataset {self.name!r}: class names are for a classification task")
            return None
        if names is None:
            top = float(y.max()) if y.size else 1.0
            if y.size == 0 or np.isin(y, (-1.0, 1.0)).all():
                names = ("-1", "+1")
            elif top == int(top) and 2 <= top < MAX_CLASSES:
                names = tuple(str(i) for i in range(int(top) + 1))
            else:
                raise DatasetError(f"Dataset {self.name!r}: classification labels must be -1.0 / +1.0 (two "
                                   f"classes) or class indices 0 to k-1 (k = 3 to {MAX_CLASSES} classes)")
        names = tuple(str(c) for c in names)
        k = len(names)
        if not 2 <= k <= MAX_CLASSES or len(set(names)) != k:
            raise DatasetError(f"Dataset {self.name!r}: a classification task needs 2 to {MAX_CLASSES} "
                               f"distinct class names, got {names!r}")
        labels = (-1.0, 1.0) if k == 2 else np.arange(k, dtype=np.float64)
        if not np.isin(y, labels).all():
            expected = "-1.0 or +1.0" if k == 2 else f"class indices 0 to {k - 1}"
            raise DatasetError(f"Dataset {self.name!r}: classification labels must be {expected}")
        return names

    @property
    def classes(self):
        """The class names (the older name of ``class_names``)."""
        return self.class_names

    @property
    def n_classes(self) -> int | None:
        """2 to MAX_CLASSES for classification, None for regression."""
        return None if self.class_names is None else len(self.class_names)

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
                and self.feature_names == other.feature_names and self.class_names == other.class_names
                and np.array_equal(self.X, other.X) and np.array_equal(self.y, other.y))

    def __hash__(self):
        return hash((self.name, self.task, self.feature_names, self.class_names, self.X.shape))

    def __repr__(self):
        extra = f", class_names={self.class_names!r}" if self.class_names else ""
        return (f"Dataset(name={self.name!r}, task={self.task!r}, n={self.n}, "
                f"n_features={self.n_features}, feature_names={self.feature_names!r}{extra})")

    def subset(self, indices) -> "Dataset":
        """The samples at ``indices`` (same name, task, feature names and class names)."""
        idx = np.asarray(indices, dtype=np.intp)
        return Dataset(self.name, self.X[idx], self.y[idx], self.task, self.feature_names, self.class_names)


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


def _short(text, width=20):
    """A class name in a message: repr(), cut to about `width` characters (a cell may be long)."""
    return repr(text) if len(text) <= width else repr(text[:width - 1]) + "…"


def class_target(cells, numbers, column):
    """Encode a target column of 3 to MAX_CLASSES classes: (y, class_names), or None when it is not one.

    cells: the column's stripped texts; numbers: their values (None for a text cell) or None
    for a text column. Whole numbers with 3 to MAX_CLASSES distinct values are classes (in
    numeric order; any other numbers are a regression target: None); texts with 3 to
    MAX_CLASSES distinct values are classes in sorted order, and more texts than that are
    refused (DatasetError) rather than guessed at. Two classes are the caller's: -1 / +1.
    """
    if numbers is not None:
        distinct = sorted(set(numbers))
        if not 3 <= len(distinct) <= MAX_CLASSES or any(v != int(v) for v in distinct):
            return None
        first_text = {}
        for value, cell in zip(numbers, cells):
            first_text.setdefault(value, cell)
        index = {value: i for i, value in enumerate(distinct)}
        return np.array([index[v] for v in numbers], dtype=np.float64), tuple(first_text[v] for v in distinct)
    counts = Counter(cells)
    if len(counts) > MAX_CLASSES:
        shown = ", ".join(f"{_short(c)}: {k} row{'' if k == 1 else 's'}" for c, k in counts.most_common(5))
        more = f", and {len(counts) - 5} more" if len(counts) > 5 else ""
        raise DatasetError(
            f'The target column "{column}" has {len(counts)} different text values ({shown}{more}); a class '
            f"target can have at most {MAX_CLASSES} classes. Merge or drop classes, or use numbers for a "
            f"regression target.")
    if len(counts) < 3:
        return None
    names = tuple(sorted(counts))
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[c] for c in cells], dtype=np.float64), names
