"""Regenerate the example CSVs in this folder (deterministic): python data/examples/make_examples.py [OUT_DIR]

- wavy_boundary.csv: 200 rows, x1, x2 in [-2, 2]; label 1 above the curve x2 = 0.8*sin(2*x1), else 0.
- curve.csv: 150 rows, target = 0.5*x^3 - x + noise, x in [-2, 2]; the target is the first column.
- flowers.csv: 100 synthetic iris-like rows (class means and spreads of Fisher's setosa and
  versicolor, in cm), four features and a text target "species".
"""
import csv
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def wavy_boundary(rng, n=200):
    X = rng.uniform(-2.0, 2.0, (n, 2))
    label = (X[:, 1] > 0.8 * np.sin(2.0 * X[:, 0])).astype(int)
    X = X + 0.05 * rng.standard_normal(X.shape)
    return ["x1", "x2", "label"], [[f"{a:.4f}", f"{b:.4f}", str(c)] for (a, b), c in zip(X, label)]


def curve(rng, n=150):
    x = rng.uniform(-2.0, 2.0, n)
    y = 0.5 * x ** 3 - x + 0.1 * rng.standard_normal(n)
    return ["target", "x"], [[f"{b:.4f}", f"{a:.4f}"] for a, b in zip(x, y)]


# (mean, std) per feature: sepal_length, sepal_width, petal_length, petal_width
FLOWERS = {
    "setosa": ((5.006, 0.352), (3.428, 0.379), (1.462, 0.174), (0.246, 0.105)),
    "versicolor": ((5.936, 0.516), (2.770, 0.314), (4.260, 0.470), (1.326, 0.198)),
}


def flowers(rng, per_class=50):
    rows = []
    for species, stats in FLOWERS.items():
        means = np.array([m for m, _ in stats])
        stds = np.array([s for _, s in stats])
        values = np.clip(means + stds * rng.standard_normal((per_class, 4)), 0.1, None)
        rows += [[f"{v:.1f}" for v in row] + [species] for row in values]
    order = rng.permutation(len(rows))
    return ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"], [rows[i] for i in order]


def main(out_dir=HERE):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for seed, (name, make) in enumerate([("wavy_boundary", wavy_boundary), ("curve", curve), ("flowers", flowers)]):
        header, rows = make(np.random.default_rng(seed))
        _write(out_dir / f"{name}.csv", header, rows)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE)
