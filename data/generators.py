"""Synthetic datasets: deterministic for a seed, vectorised with numpy.

Every generator has the signature ``fn(n, noise, seed, classes=2) -> Dataset`` and says
what it makes in ``fn.task`` ("classification" or "regression"), ``fn.label`` (its name
on the pages), ``fn.n_features`` (its input columns) and ``fn.max_classes`` (2, or more
for the sets that can have more classes: spiral arms and blob centres): GENERATORS is the
one list of dataset names, the config and the pages derive theirs from it. ``noise`` is
the standard deviation of Gaussian jitter added to the features (to the target for the
regression sets). Two classes are labelled -1.0 / +1.0, k > 2 classes 0 .. k-1, and the
samples come in class order (first the -1 class, then the +1 class); shuffle before
mini-batching, or use ``train_test_split``.
"""
from __future__ import annotations

import difflib
import functools
import math
import numbers

import numpy as np

from .dataset import Dataset, DatasetError, _check_seed

MAX_GENERATED_SAMPLES = 1_000_000
MAX_GENERATED_CLASSES = 6

# y = a*x1 + b*x2 + c (+ noise) for the "plane" dataset
PLANE_COEFFICIENTS = (1.5, -0.8, 0.5)

# the micrograd lecture's four samples and targets
LECTURE_X = ((2.0, 3.0, -1.0), (3.0, -1.0, 0.5), (0.5, 1.0, 1.0), (1.0, 1.0, -1.0))
LECTURE_Y = (1.0, -1.0, -1.0, 1.0)


def _check_args(n, noise, seed):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise DatasetError(f"n (the number of samples) must be a whole number, got {n!r}")
    if not 1 <= n <= MAX_GENERATED_SAMPLES:
        raise DatasetError(f"n (the number of samples) must be between 1 and {MAX_GENERATED_SAMPLES:,}, got {n}")
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not math.isfinite(noise) or noise < 0:
        raise DatasetError(f"noise must be a finite number 0 or more, got {noise!r}")
    return int(n), float(noise), _check_seed(seed)


def _check_classes(classes, name, max_classes):
    if isinstance(classes, bool) or not isinstance(classes, numbers.Integral):
        raise DatasetError(f"classes must be a whole number, got {classes!r}")
    if max_classes == 2 and classes != 2:
        raise DatasetError(f"{name} has two classes; spiral and blobs can have 2 to {MAX_GENERATED_CLASSES}")
    if not 2 <= classes <= max_classes:
        raise DatasetError(f"{name} can have 2 to {max_classes} classes, got {classes}")
    return int(classes)


def _generator(task, label, n_features=2, max_classes=2):
    """Decorator: check the arguments, seed the generator and record what it makes.

    Generators that can make more than two classes take them as a fourth argument."""
    def wrap(fn):
        @functools.wraps(fn)
        def checked(n: int = 100, noise: float = 0.1, seed: int = 0, classes: int = 2) -> Dataset:
            n, noise, seed = _check_args(n, noise, seed)
            classes = _check_classes(classes, fn.__name__, max_classes)
            rng = np.random.default_rng(seed)
            return fn(n, noise, rng, classes) if max_classes > 2 else fn(n, noise, rng)
        checked.task, checked.label, checked.n_features, checked.max_classes = task, label, n_features, max_classes
        return checked
    return wrap


def _labels(n_neg: int, n_pos: int) -> np.ndarray:
    return np.concatenate([np.full(n_neg, -1.0), np.full(n_pos, 1.0)])


def _class_sizes(n: int, k: int) -> list[int]:
    """n samples in k near-equal classes, the larger ones last (two classes: n // 2, then the rest)."""
    return [(n + i) // k for i in range(k)]


def _class_labels(sizes) -> np.ndarray:
    """-1 / +1 for two classes, else 0 .. k-1, each repeated for its class's samples."""
    values = (-1.0, 1.0) if len(sizes) == 2 else range(len(sizes))
    return np.concatenate([np.full(size, float(v)) for v, size in zip(values, sizes)])


def _jitter(X: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    # always draw, so the same seed gives the same underlying points at any noise level
    return X + noise * rng.standard_normal(X.shape)


@_generator("classification", "Lecture toy set (4 samples, 3 features)", n_features=3)
def lecture(n, noise, rng):
    """Karpathy's 4-sample toy set from the micrograd lecture; ignores n and noise."""
    return Dataset("lecture", np.array(LECTURE_X), np.array(LECTURE_Y), "classification", ("x1", "x2", "x3"))


@_generator("classification", "Two moons")
def moons(n, noise, rng):
    """Two interleaving half circles, as sklearn.datasets.make_moons (unshuffled)."""
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, math.pi, n_out)
    t_in = np.linspace(0.0, math.pi, n_in)
    X = np.concatenate([
        np.column_stack([np.cos(t_out), np.sin(t_out)]),
        np.column_stack([1.0 - np.cos(t_in), 1.0 - np.sin(t_in) - 0.5]),
    ])
    return Dataset("moons", _jitter(X, noise, rng), _labels(n_out, n_in), "classification", ("x1", "x2"))


@_generator("classification", "Two circles")
def circles(n, noise, rng):
    """Two concentric circles (radius 1 -> -1, radius 0.5 -> +1), as sklearn's make_circles(factor=0.5)."""
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, 2 * math.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2 * math.pi, n_in, endpoint=False)
    X = np.concatenate([
        np.column_stack([np.cos(t_out), np.sin(t_out)]),
        0.5 * np.column_stack([np.cos(t_in), np.sin(t_in)]),
    ])
    return Dataset("circles", _jitter(X, noise, rng), _labels(n_out, n_in), "classification", ("x1", "x2"))


@_generator("classification", "XOR quadrants")
def xor(n, noise, rng):
    """Points in [-2, 2]^2 (kept 0.1 away from the axes): +1 where x1*x2 > 0 (quadrants 1 and 3), else -1."""
    n_neg = n // 2
    n_pos = n - n_neg
    mag = 0.1 + 1.9 * rng.random((n, 2))
    sign = np.where(rng.random((n, 2)) < 0.5, -1.0, 1.0)
    # -1 class: opposite signs; +1 class: equal signs
    sign[:n_neg, 1] = -sign[:n_neg, 0]
    sign[n_neg:, 1] = sign[n_neg:, 0]
    X = mag * sign
    return Dataset("xor", _jitter(X, noise, rng), _labels(n_neg, n_pos), "classification", ("x1", "x2"))


@_generator("classification", "Spirals", max_classes=MAX_GENERATED_CLASSES)
def spiral(n, noise, rng, classes):
    """Interleaved spirals, one arm per class (1.75 turns each, radius up to 2), arm j rotated
    by 2*pi*j/classes: for two classes the second arm is the first rotated by pi."""
    sizes = _class_sizes(n, classes)
    parts = []
    for j, count in enumerate(sizes):
        s = np.arange(count) / max(count, 1)
        r = 2.0 * s
        t = 1.75 * 2 * math.pi * s + 2 * math.pi * j / classes
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    X = np.concatenate(parts)
    return Dataset("spiral", _jitter(X, noise, rng), _class_labels(sizes), "classification", ("x1", "x2"))


def blob_centres(classes):
    """Centres on a circle, starting at (-1, -1): two classes at (-1, -1) and (1, 1), four at
    (+-1, +-1); more classes on a wider circle, so neighbours stay about 2 apart."""
    radius = math.sqrt(2.0) * max(1.0, classes / 4)
    angles = 1.25 * math.pi + 2 * math.pi * np.arange(classes) / classes
    return np.round(radius * np.column_stack([np.cos(angles), np.sin(angles)]), 12)


@_generator("classification", "Gaussian blobs", max_classes=MAX_GENERATED_CLASSES)
def blobs(n, noise, rng, classes):
    """Gaussian blobs (std 0.5, plus the noise), one per class around blob_centres(classes):
    for two classes (-1, -1) -> -1 and (1, 1) -> +1."""
    sizes = _class_sizes(n, classes)
    centres = np.repeat(blob_centres(classes), sizes, axis=0)
    X = centres + 0.5 * rng.standard_normal((n, 2))
    return Dataset("blobs", _jitter(X, noise, rng), _class_labels(sizes), "classification", ("x1", "x2"))


@_generator("regression", "Sine wave (regression)", n_features=1)
def sine(n, noise, rng):
    """1-D regression: x uniform in [-pi, pi] (sorted), y = sin(x) + noise."""
    x = np.sort(rng.uniform(-math.pi, math.pi, n))
    y = np.sin(x) + noise * rng.standard_normal(n)
    return Dataset("sine", x[:, None], y, "regression", ("x",))


@_generator("regression", "Plane (2-D regression)")
def plane(n, noise, rng):
    """2-D regression: x uniform in [-2, 2]^2, y = a*x1 + b*x2 + c + noise with PLANE_COEFFICIENTS."""
    a, b, c = PLANE_COEFFICIENTS
    X = rng.uniform(-2.0, 2.0, (n, 2))
    y = a * X[:, 0] + b * X[:, 1] + c + noise * rng.standard_normal(n)
    return Dataset("plane", X, y, "regression", ("x1", "x2"))


GENERATORS = {fn.__name__: fn for fn in (lecture, moons, circles, xor, spiral, blobs, sine, plane)}
DATASET_LABELS = {name: fn.label for name, fn in GENERATORS.items()}
REGRESSION_DATASETS = tuple(name for name, fn in GENERATORS.items() if fn.task == "regression")


def make_dataset(name: str, n: int = 100, noise: float = 0.1, seed: int = 0, classes: int = 2) -> Dataset:
    """Generate the dataset called ``name`` (a key of GENERATORS); ``classes`` for spiral and blobs."""
    fn = GENERATORS.get(name) if isinstance(name, str) else None
    if fn is None:
        valid = ", ".join(GENERATORS)
        close = difflib.get_close_matches(str(name).strip().lower(), list(GENERATORS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DatasetError(f"Unknown dataset {name!r}.{hint} Valid names: {valid}.")
    return fn(n, noise, seed, classes)
