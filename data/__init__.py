"""Datasets for the dashboard: generators, CSV loading with validation, example CSVs (no Streamlit here)."""
from pathlib import Path

from .csv_loader import MAX_FEATURES, MAX_ROWS, load_csv
from .dataset import MAX_CLASSES, Dataset, DatasetError, train_test_split
from .features import DEFAULT_FEATURES, FEATURES, expand_features, fit_standardizer, parse_features
from .generators import (DATASET_LABELS, GENERATORS, LECTURE_X, LECTURE_Y, MAX_GENERATED_CLASSES,
                         PLANE_COEFFICIENTS, REGRESSION_DATASETS, make_dataset)

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
EXAMPLE_CSVS = {
    "wavy_boundary": EXAMPLES_DIR / "wavy_boundary.csv",  # 2-D binary classification, 200 rows, label 0/1
    "curve": EXAMPLES_DIR / "curve.csv",                  # 1-D regression, 150 rows, `target` is the first column
    "flowers": EXAMPLES_DIR / "flowers.csv",              # 4 features, species setosa/versicolor, 100 rows
}

__all__ = [
    "Dataset", "DatasetError", "GENERATORS", "DATASET_LABELS", "REGRESSION_DATASETS", "PLANE_COEFFICIENTS",
    "LECTURE_X", "LECTURE_Y", "make_dataset", "MAX_CLASSES", "MAX_GENERATED_CLASSES",
    "FEATURES", "DEFAULT_FEATURES", "parse_features", "expand_features", "fit_standardizer",
    "train_test_split", "load_csv", "MAX_ROWS", "MAX_FEATURES", "EXAMPLES_DIR", "EXAMPLE_CSVS",
]
