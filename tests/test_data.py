"""Tests for the data package: generators, the train/test split, CSV loading and the example CSVs."""
import csv
import io
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data import (DATASET_LABELS, EXAMPLE_CSVS, GENERATORS, PLANE_COEFFICIENTS, Dataset, DatasetError,
                  load_csv, make_dataset, train_test_split)
from data.csv_loader import _records

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["lecture", "moons", "circles", "xor", "spiral", "blobs", "sine", "plane"]
CLASSIFICATION = ["lecture", "moons", "circles", "xor", "spiral", "blobs"]
REGRESSION = ["sine", "plane"]
RANDOM = [n for n in NAMES if n != "lecture"]


# ---------------------------------------------------------------- generators

def test_generator_names_and_labels():
    assert list(GENERATORS) == NAMES
    assert set(DATASET_LABELS) == set(NAMES)
    assert all(isinstance(v, str) and v.strip() for v in DATASET_LABELS.values())
    assert DATASET_LABELS["moons"] == "Two moons"


@pytest.mark.parametrize("name", NAMES)
def test_generator_types_and_shapes(name):
    ds = make_dataset(name, n=101, noise=0.1, seed=3)
    assert isinstance(ds, Dataset)
    assert ds.name == name
    assert ds.X.dtype == np.float64 and ds.y.dtype == np.float64
    n = 4 if name == "lecture" else 101
    expected_d = {"lecture": 3, "sine": 1}.get(name, 2)
    assert ds.X.shape == (n, expected_d) and ds.y.shape == (n,)
    assert ds.n == n and ds.n_features == expected_d
    assert len(ds.feature_names) == expected_d
    if ds.task == "classification":  # generated sets are named by their labels
        assert ds.class_names == ("-1", "+1") == ds.classes and ds.n_classes == 2
    else:
        assert ds.class_names is None and ds.n_classes is None
    assert np.isfinite(ds.X).all() and np.isfinite(ds.y).all()
    assert ds.task == ("regression" if name in REGRESSION else "classification")
    assert GENERATORS[name].task == ds.task  # what the config and the pages read without generating


def test_config_derives_dataset_names_from_the_generators():
    from lab.config import DATASETS, REGRESSION_DATASETS
    assert DATASETS == (*NAMES, "csv")
    assert REGRESSION_DATASETS == tuple(REGRESSION)


@pytest.mark.parametrize("name", [n for n in CLASSIFICATION if n != "lecture"])
def test_classification_labels_split_n_half_and_half(name):
    ds = make_dataset(name, n=101, seed=1)
    assert set(np.unique(ds.y)) == {-1.0, 1.0}
    assert (ds.y == -1).sum() == 50 and (ds.y == 1).sum() == 51
    ds1 = make_dataset(name, n=1, seed=1)
    assert ds1.n == 1 and ds1.y.tolist() == [1.0]


@pytest.mark.parametrize("name", RANDOM)
def test_generators_are_deterministic(name):
    a = make_dataset(name, n=50, noise=0.2, seed=7)
    b = make_dataset(name, n=50, noise=0.2, seed=7)
    c = make_dataset(name, n=50, noise=0.2, seed=8)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert a == b
    assert not np.array_equal(a.X, c.X)
    assert a != c


def test_generators_callable_directly_positionally():
    for name, fn in GENERATORS.items():
        assert fn(20, 0.1, 0) == make_dataset(name, 20, 0.1, 0)


def test_lecture_is_karpathys_toy_set_and_ignores_n_and_noise():
    ds = make_dataset("lecture", n=500, noise=3.0, seed=9)
    assert ds.X.tolist() == [[2, 3, -1], [3, -1, 0.5], [0.5, 1, 1], [1, 1, -1]]
    assert ds.y.tolist() == [1, -1, -1, 1]
    assert ds == make_dataset("lecture")


def test_moons_matches_the_sklearn_formula():
    n = 9
    ds = make_dataset("moons", n=n, noise=0.0)
    t_out, t_in = np.linspace(0, np.pi, n // 2), np.linspace(0, np.pi, n - n // 2)
    expected = np.concatenate([np.c_[np.cos(t_out), np.sin(t_out)], np.c_[1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5]])
    np.testing.assert_allclose(ds.X, expected, atol=1e-12)
    assert ds.y.tolist() == [-1.0] * 4 + [1.0] * 5


def test_noise_is_gaussian_jitter_of_that_scale():
    clean = make_dataset("moons", n=4000, noise=0.0, seed=5)
    noisy = make_dataset("moons", n=4000, noise=0.2, seed=5)
    jitter = noisy.X - clean.X
    assert abs(jitter.std() - 0.2) < 0.01 and abs(jitter.mean()) < 0.01
    assert np.array_equal(clean.y, noisy.y)


def test_circles_radii():
    ds = make_dataset("circles", n=200, noise=0.0)
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    np.testing.assert_allclose(r[ds.y == -1], 1.0)
    np.testing.assert_allclose(r[ds.y == 1], 0.5)


def test_xor_labels_follow_quadrants():
    ds = make_dataset("xor", n=500, noise=0.0, seed=2)
    assert np.array_equal(np.sign(ds.X[:, 0] * ds.X[:, 1]), ds.y)
    assert np.abs(ds.X).min() >= 0.1 and np.abs(ds.X).max() <= 2.0
    # all four quadrants are used
    quadrants = {(a, b) for a, b in np.sign(ds.X)}
    assert len(quadrants) == 4


def test_spiral_arms_are_rotations_of_each_other():
    ds = make_dataset("spiral", n=200, noise=0.0)
    neg, pos = ds.X[ds.y == -1], ds.X[ds.y == 1]
    np.testing.assert_allclose(pos, -neg, atol=1e-12)
    assert np.hypot(ds.X[:, 0], ds.X[:, 1]).max() <= 2.0


@pytest.mark.parametrize("k", [3, 4, 6])
def test_spiral_with_k_arms_rotates_each_arm_by_a_kth_turn(k):
    ds = make_dataset("spiral", n=60 * k, noise=0.0, classes=k)
    assert ds.n_classes == k and ds.class_names == tuple(map(str, range(k)))
    first = ds.X[ds.y == 0]
    turn = 2 * np.pi / k
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    for j in range(1, k):
        arm = ds.X[ds.y == j]
        assert len(arm) == 60
        # (x1, x2) = r (sin t, cos t): adding a turn to t rotates clockwise
        np.testing.assert_allclose(arm, first @ np.linalg.matrix_power(rotation, j), atol=1e-12)


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_blobs_with_k_centres(k):
    from data.generators import blob_centres
    ds = make_dataset("blobs", n=600 * k, noise=0.0, seed=2, classes=k)
    centres = blob_centres(k)
    assert ds.n_classes == k and np.bincount(ds.y.astype(int)).tolist() == [600] * k
    for j in range(k):
        np.testing.assert_allclose(ds.X[ds.y == j].mean(axis=0), centres[j], atol=0.06)
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i in range(k) for j in range(i)]
    assert min(gaps) >= 2.0 - 1e-9  # neighbours stay apart as k grows
    if k == 4:
        assert sorted(map(tuple, centres.tolist())) == [(-1, -1), (-1, 1), (1, -1), (1, 1)]


@pytest.mark.parametrize("name, classes, words", [("moons", 3, "two classes"), ("spiral", 7, "2 to 6"),
                                                   ("blobs", 1, "2 to 6"), ("blobs", 2.5, "whole number")])
def test_classes_are_checked(name, classes, words):
    with pytest.raises(DatasetError, match=words):
        make_dataset(name, classes=classes)


def test_blobs_centres():
    ds = make_dataset("blobs", n=4000, noise=0.1, seed=4)
    np.testing.assert_allclose(ds.X[ds.y == -1].mean(axis=0), [-1, -1], atol=0.05)
    np.testing.assert_allclose(ds.X[ds.y == 1].mean(axis=0), [1, 1], atol=0.05)


def test_sine_is_a_sine():
    ds = make_dataset("sine", n=300, noise=0.0, seed=1)
    assert ds.feature_names == ("x",)
    np.testing.assert_allclose(ds.y, np.sin(ds.X[:, 0]))
    assert np.all(np.diff(ds.X[:, 0]) >= 0)
    assert ds.X.min() >= -np.pi and ds.X.max() <= np.pi
    noisy = make_dataset("sine", n=3000, noise=0.3, seed=1)
    assert abs((noisy.y - np.sin(noisy.X[:, 0])).std() - 0.3) < 0.02


def test_plane_is_a_plane():
    ds = make_dataset("plane", n=100, noise=0.0, seed=6)
    a, b, c = PLANE_COEFFICIENTS
    np.testing.assert_allclose(ds.y, a * ds.X[:, 0] + b * ds.X[:, 1] + c)
    assert ds.X.min() >= -2 and ds.X.max() <= 2
    noisy = make_dataset("plane", n=2000, noise=0.1, seed=6)
    coef, *_ = np.linalg.lstsq(np.c_[noisy.X, np.ones(noisy.n)], noisy.y, rcond=None)
    np.testing.assert_allclose(coef, PLANE_COEFFICIENTS, atol=0.02)


@pytest.mark.parametrize("name", NAMES)
def test_features_in_a_natural_range(name):
    ds = make_dataset(name, n=1000, noise=0.1, seed=0)
    assert np.abs(ds.X).max() < 4.0


def test_large_n():
    for name in NAMES:
        ds = make_dataset(name, n=10_000, noise=0.1, seed=0)
        assert ds.n == (4 if name == "lecture" else 10_000)


@pytest.mark.parametrize("kwargs, words", [
    ({"name": "moon"}, ["moon", "lecture", "moons", "circles", "xor", "spiral", "blobs", "sine", "plane"]),
    ({"name": "nope"}, ["nope", "moons", "plane"]),
    ({"name": "moons", "n": 0}, ["n", "0"]),
    ({"name": "moons", "n": -5}, ["n", "-5"]),
    ({"name": "moons", "n": 2.5}, ["n", "2.5"]),
    ({"name": "moons", "noise": -0.1}, ["noise", "-0.1"]),
    ({"name": "moons", "noise": float("nan")}, ["noise"]),
    ({"name": "moons", "seed": -1}, ["seed", "-1"]),
    ({"name": "lecture", "n": 0}, ["n"]),
])
def test_make_dataset_rejects_bad_arguments(kwargs, words):
    with pytest.raises(DatasetError) as err:
        make_dataset(**kwargs)
    assert isinstance(err.value, ValueError)
    for word in words:
        assert word in str(err.value)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(DatasetError, match="Did you mean 'moons'"):
        make_dataset("moon")


# ---------------------------------------------------------------- Dataset

def test_dataset_is_frozen_and_copies_its_arrays():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    ds = Dataset("d", X, [1, -1], "classification", ["a", "b"])
    X[0, 0] = 99.0
    assert ds.X[0, 0] == 1.0
    assert ds.feature_names == ("a", "b")
    with pytest.raises(ValueError):
        ds.X[0, 0] = 5.0
    with pytest.raises(AttributeError):
        ds.name = "other"
    assert "n=2" in repr(ds)


@pytest.mark.parametrize("args", [
    (np.zeros(3), np.zeros(3), "regression", ("a",)),                      # X not 2-D
    (np.zeros((3, 1)), np.zeros(2), "regression", ("a",)),                 # length mismatch
    (np.zeros((3, 1)), np.zeros(3), "clustering", ("a",)),                 # bad task
    (np.zeros((3, 2)), np.zeros(3), "regression", ("a",)),                 # names vs columns
    (np.zeros((2, 1)), np.array([0.0, 1.0]), "classification", ("a",)),    # labels not +-1
    (np.zeros((2, 1)), np.array([0.0, 3.0]), "classification", ("a",), ("p", "q", "r")),  # index past the names
    (np.zeros((2, 1)), np.array([0.0, 0.5]), "classification", ("a",)),    # not class indices
    (np.zeros((2, 1)), np.array([0.0, 11.0]), "classification", ("a",)),   # more than 10 classes
    (np.zeros((2, 1)), np.array([0.0, 2.0]), "classification", ("a",), ("p", "p", "q")),  # repeated names
    (np.zeros((2, 1)), np.array([0.5, 2.0]), "regression", ("a",), ("p", "q")),  # names for regression
    (np.array([[np.nan], [0.0]]), np.zeros(2), "regression", ("a",)),      # NaN
])
def test_dataset_validates(args):
    with pytest.raises(DatasetError):
        Dataset("bad", *args)


# ---------------------------------------------------------------- train/test split

def _rows(ds):
    return {tuple(r) + (t,) for r, t in zip(ds.X.tolist(), ds.y.tolist())}


def test_split_sizes_disjoint_and_complete():
    ds = make_dataset("moons", n=100, noise=0.1, seed=0)
    train, test = train_test_split(ds, 0.2, seed=0)
    assert (train.n, test.n) == (80, 20)
    assert not (_rows(train) & _rows(test))
    assert _rows(train) | _rows(test) == _rows(ds)
    assert train.task == test.task == ds.task and train.feature_names == ds.feature_names
    assert set(np.unique(test.y)) == {-1.0, 1.0}  # shuffled, not the tail of the class-ordered data


def test_split_is_deterministic_per_seed():
    ds = make_dataset("spiral", n=60, seed=0)
    a, b, c = (train_test_split(ds, 0.25, seed=s) for s in (1, 1, 2))
    assert a[0] == b[0] and a[1] == b[1]
    assert a[1] != c[1]
    order = np.random.default_rng(1).permutation(60)
    np.testing.assert_array_equal(a[1].X, ds.X[order[:15]])


def test_split_zero_fraction_returns_the_dataset():
    ds = make_dataset("sine", n=10)
    train, test = train_test_split(ds, 0.0)
    assert train is ds and test is None


@pytest.mark.parametrize("n, fraction, expected", [
    (4, 0.1, (3, 1)),    # any positive fraction holds out at least one sample
    (4, 0.5, (2, 2)),
    (2, 0.99, (1, 1)),   # the training set keeps at least one sample
    (10, 0.95, (1, 9)),
    (101, 0.3, (71, 30)),
])
def test_split_rounding_and_minimums(n, fraction, expected):
    ds = make_dataset("plane", n=n)
    train, test = train_test_split(ds, fraction)
    assert (train.n, test.n) == expected


def test_split_of_a_single_sample_has_no_test_set():
    ds = make_dataset("sine", n=1)
    train, test = train_test_split(ds, 0.5)
    assert train.n == 1 and test is None


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5, float("nan"), "0.2", None])
def test_split_rejects_bad_fractions(fraction):
    with pytest.raises(DatasetError, match="test_fraction"):
        train_test_split(make_dataset("moons", n=10), fraction)


# ---------------------------------------------------------------- CSV: rejections

def _error(content, **kwargs):
    if isinstance(content, str):
        content = content.encode("utf-8")
    with pytest.raises(DatasetError) as err:
        load_csv(content, **kwargs)
    return str(err.value)


@pytest.mark.parametrize("content", [b"", b"\n\n   \n", b"\xef\xbb\xbf"])
def test_csv_empty(content):
    assert "empty" in _error(content)


def test_csv_without_header():
    msg = _error("1,2,3\n4,5,6\n7,8,9\n")
    assert "Row 1" in msg and "header" in msg


def test_csv_without_header_with_quotes_and_trailing_comma():
    assert "header" in _error('"1.5",2,\n3,4,\n5,6,\n')


def test_csv_non_utf8_names_offset_and_row():
    content = "x,label\n1,a\n2,caf\xe9\n".encode("latin-1")
    msg = _error(content)
    assert "UTF-8" in msg and "save the file as utf-8" in msg.lower()
    assert f"byte offset {content.index(0xE9)}" in msg and "row 3" in msg and "0xE9" in msg


def test_csv_non_utf8_offset_counts_the_bom():
    content = b"\xef\xbb\xbfx,y\n\xff,1\n2,3\n"
    msg = _error(content)
    assert "byte offset 7" in msg and "row 2" in msg


def test_csv_utf16_gets_a_hint():
    msg = _error("x,y\n1,2\n3,4\n".encode("utf-16"))
    assert "UTF-16" in msg and "UTF-8" in msg


def test_csv_nul_byte():
    msg = _error(b"x,y\n1,2\x00\n3,4\n")
    assert "NUL" in msg and "Row 2" in msg


def test_csv_duplicated_column_names():
    msg = _error("x1,x2,x1,target\n1,2,3,0\n4,5,6,1\n")
    assert '"x1"' in msg and "twice" in msg and "columns 1 and 3" in msg


def test_csv_duplicate_after_stripping_spaces():
    assert '"a"' in _error("a, a ,y\n1,2,3\n4,5,6\n")


def test_csv_two_target_columns():
    msg = _error("target,x,Target\n1,2,3\n4,5,6\n")
    assert '"target"' in msg and '"Target"' in msg


def test_csv_unnamed_column():
    msg = _error("x,,y\n1,2,3\n4,5,6\n")
    assert "column 2" in msg and "no name" in msg


def test_csv_data_in_an_unnamed_trailing_column():
    msg = _error("x,y,\n1,2,\n4,5,6\n")
    assert "Row 3" in msg and "column 3" in msg and "'6'" in msg


def test_csv_non_numeric_cell_names_row_and_column():
    msg = _error("x1,x2,target\n1,2,0\n3,4,1\n5,abc,0\n")
    assert "Row 4" in msg and '"x2"' in msg and "'abc'" in msg and "not a number" in msg


def test_csv_row_numbers_are_file_lines_even_with_blank_lines():
    msg = _error("x1,x2,target\n1,2,0\n\n\n3,4,1\n5,6,oops\n7,8,1\n9,1,0\n")
    assert "Row 6" in msg and '"target"' in msg


def test_csv_row_numbers_after_a_multiline_quoted_header_cell():
    msg = _error('"x\n1",x2,target\n1,2,0\n3,q,1\n')
    assert "Row 4" in msg and '"x2"' in msg


@pytest.mark.parametrize("cell, word", [
    ("nan", "NaN"), ("NaN", "NaN"), ("inf", "infinite"), ("-Infinity", "infinite"), ("1e999", "infinite"),
    ("", "empty"), ('""', "empty"), ("  ", "empty"), ("NA", "missing"), ("null", "missing"), ("?", "missing"),
])
def test_csv_missing_and_non_finite_cells_name_row_and_column(cell, word):
    msg = _error(f"a,b,target\n1,2,0\n3,{cell},1\n5,6,1\n")
    assert "Row 3" in msg and '"b"' in msg and word in msg


@pytest.mark.parametrize("cell", ["nan", "inf", "", "NA"])
def test_csv_missing_or_non_finite_target(cell):
    msg = _error(f"a,target\n1,0\n2,{cell}\n3,1\n")
    assert "Row 3" in msg and '"target"' in msg


@pytest.mark.parametrize("cell", ["1_000", "\u0661\u0662", "0x10", "1,5", "1.2.3", "--1"])
def test_csv_number_lookalikes_are_rejected(cell):
    quoted = f'"{cell}"'
    msg = _error(f"a,b,target\n1,2,0\n3,{quoted},1\n")
    assert "Row 3" in msg and '"b"' in msg and "not a number" in msg


def test_csv_decimal_comma_gets_a_hint():
    assert "decimal point" in _error('a,target\n"1,5",0\n2,1\n')


@pytest.mark.parametrize("row, got", [("3,1", 2), ("3,1,1,", 4), ("3,1,1,7", 4), ("3", 1)])
def test_csv_ragged_row(row, got):
    msg = _error(f"x1,x2,target\n1,2,0\n{row}\n5,6,1\n")
    assert "Row 3" in msg and f"has {got} cells" in msg and "3 columns" in msg


def test_csv_malformed_quotes():
    msg = _error('x,y\n1,2\n3,"4"5\n6,7\n')
    assert "Row 3" in msg and "quote" in msg


def test_csv_unterminated_quote():
    msg = _error('x,y\n1,2\n3,"4\n6,7\n')
    assert "Row 3" in msg and "quote" in msg


def test_csv_string_target_with_three_classes_is_a_three_class_task():
    ds = load_csv(b"a,b,species\n1,2,setosa\n3,4,versicolor\n5,6,setosa\n7,8,virginica\n")
    assert ds.task == "classification" and ds.n_classes == 3
    assert ds.class_names == ("setosa", "versicolor", "virginica")  # sorted, as two classes are
    assert ds.y.tolist() == [0, 1, 0, 2]


def test_csv_whole_number_target_with_3_to_10_values_is_classes_in_numeric_order():
    ds = load_csv(b"x,grade\n1,10\n2,2\n3,3\n4,2\n5,10.0\n")
    assert ds.task == "classification" and ds.class_names == ("2", "3", "10")
    assert ds.y.tolist() == [2, 0, 1, 0, 2]
    rows = "".join(f"{i},{i % 11}\n" for i in range(30))  # 11 whole numbers: a regression target
    assert load_csv(("x,y\n" + rows).encode()).task == "regression"


def test_csv_ten_text_classes_train_and_eleven_are_refused_with_the_limit():
    ten = load_csv(("x,label\n" + "".join(f"{i},c{i % 10}\n" for i in range(20))).encode())
    assert ten.n_classes == 10 and ten.class_names[0] == "c0"
    rows = "".join(f"{i},c{i}\n" for i in range(12))
    msg = _error("x,label\n" + rows)
    assert "12 different" in msg and "7 more" in msg and "at most 10 classes" in msg and '"label"' in msg


def test_multi_class_dataset_keeps_its_names_through_a_split():
    ds = make_dataset("blobs", n=30, classes=3)
    train, test = train_test_split(ds, 0.5, seed=1)
    assert train.class_names == test.class_names == ("0", "1", "2")
    assert Dataset("d", np.zeros((2, 1)), [0, 2], "classification", ("a",)).class_names == ("0", "1", "2")


def test_csv_string_target_with_one_class():
    msg = _error("a,label\n1,cat\n2,cat\n")
    assert '"label"' in msg and "two classes" in msg and "'cat'" in msg


def test_csv_constant_numeric_target():
    msg = _error("a,y\n1,3\n2,3.0\n")
    assert '"y"' in msg and "same value" in msg


def test_csv_mostly_numeric_target_points_at_the_odd_cell():
    msg = _error("a,y\n1,0.5\n2,1.5\n3,2.5x\n4,3.5\n5,4.5\n")
    assert "Row 4" in msg and '"y"' in msg and "'2.5x'" in msg


def test_csv_single_column():
    msg = _error("y\n1\n2\n")
    assert "one column" in msg and '"y"' in msg and "feature" in msg


def test_csv_semicolon_separated_gets_a_hint():
    assert "semicolons" in _error("a;b;target\n1;2;0\n3;4;1\n")


@pytest.mark.parametrize("content, count", [("a,b\n", 0), ("a,b\n1,2\n", 1), ("a,b\n1,2\n\n\n", 1)])
def test_csv_needs_two_data_rows(content, count):
    msg = _error(content)
    assert f"{count} data row" in msg and "at least 2" in msg


def test_csv_row_cap_is_rejected_with_count_and_cap():
    content = "x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(10_001))
    msg = _error(content)
    assert "10,001" in msg and "10,000" in msg and "truncat" in msg


def test_csv_row_cap_custom_and_exact():
    content = "x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(50))
    assert load_csv(content.encode(), max_rows=50).n == 50
    msg = _error(content, max_rows=49)
    assert "50 data rows" in msg and "limit is 49" in msg


def test_csv_row_cap_wins_over_a_late_malformed_row():
    content = "x,y\n" + "1,2\n" * 12 + '3,"4\n'
    msg = _error(content, max_rows=10)
    assert "at least" in msg and "limit is 10" in msg


def test_csv_feature_cap():
    header = ",".join(f"f{i}" for i in range(21)) + ",target"
    row = ",".join(["1"] * 21) + ",0"
    msg = _error("\n".join([header, row, row]) + "\n")
    assert "21 feature columns" in msg and "limit is 20" in msg
    ok_header = ",".join(f"f{i}" for i in range(20)) + ",target"
    ok_row = ",".join(["1"] * 20)
    ds = load_csv(("\n".join([ok_header, ok_row + ",0", ok_row + ",1"]) + "\n").encode())
    assert ds.n_features == 20
    assert "3 feature columns" in _error("a,b,c,y\n1,2,3,4\n5,6,7,8\n", max_features=2)


def test_csv_bad_source_type():
    with pytest.raises(DatasetError):
        load_csv(12345)


def test_csv_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_csv(tmp_path / "nope.csv")


# ---------------------------------------------------------------- CSV: accepted input

def test_csv_basic_numeric_binary_target_maps_lower_to_minus_one():
    ds = load_csv(b"x1,x2,label\n1,2,5\n3,4,3\n5,6,5\n")
    assert ds.task == "classification"
    assert ds.X.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert ds.y.tolist() == [1, -1, 1]
    assert ds.classes == ("3", "5")
    assert ds.feature_names == ("x1", "x2")


def test_csv_numeric_target_with_more_values_is_regression():
    ds = load_csv(b"x,y\n1,0.5\n2,1.5\n3,-2\n")
    assert ds.task == "regression" and ds.classes is None
    assert ds.y.tolist() == [0.5, 1.5, -2.0]


def test_csv_string_target_sorted_names():
    ds = load_csv(b"a,b,species\n1,2,versicolor\n3,4,setosa\n5,6,versicolor\n")
    assert ds.task == "classification"
    assert ds.classes == ("setosa", "versicolor")
    assert ds.y.tolist() == [1, -1, 1]


def test_csv_target_column_by_name_any_case_anywhere():
    ds = load_csv(b"a,TARGET,b\n1,0,2\n3,1,4\n5,0,6\n")
    assert ds.feature_names == ("a", "b")
    assert ds.X.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert ds.y.tolist() == [-1, 1, -1]


def test_csv_utf8_bom_accepted():
    ds = load_csv(b"\xef\xbb\xbfx,y\n1,2\n3,4\n5,6\n")
    assert ds.feature_names == ("x",) and ds.n == 3


def test_csv_trailing_blank_lines_and_crlf_accepted():
    ds = load_csv(b"x,y\r\n1,2.5\r\n3,4\r\n5,1\r\n\r\n\r\n   \r\n")  # 2.5: not whole numbers, regression
    assert ds.n == 3 and ds.y.tolist() == [2.5, 4, 1]


def test_csv_quoted_numbers_and_whitespace_accepted():
    ds = load_csv(b' x1 , "x2" ,  target \n" 1.5 ", 2 ,0\n"-3e-1",  +4.  , 1\n.5,"7" ,"0"\n')
    assert ds.feature_names == ("x1", "x2")
    assert ds.X.tolist() == [[1.5, 2.0], [-0.3, 4.0], [0.5, 7.0]]
    assert ds.y.tolist() == [-1, 1, -1]


def test_csv_blank_lines_before_header_and_between_rows_are_skipped():
    ds = load_csv(b"\n\nx,y\n1,2\n\n3,4\n,\n5,6\n")
    assert ds.X[:, 0].tolist() == [1, 3, 5]


def test_csv_spreadsheet_trailing_empty_columns_accepted():
    ds = load_csv(b"x,y,,\n1,2.5,,\n3,4,,\n5,6\n")
    assert ds.feature_names == ("x",) and ds.y.tolist() == [2.5, 4, 6]


def test_csv_sources(tmp_path):
    content = b"x,y\n1,2\n3,4\n5,6\n"
    path = tmp_path / "my data.csv"
    path.write_bytes(content)
    assert load_csv(path).name == "my data"
    assert load_csv(str(path)).name == "my data"
    assert load_csv(path, name="custom").name == "custom"
    with open(path, "rb") as f:
        assert load_csv(f).name == "my data"
    with open(path, encoding="utf-8") as f:
        assert load_csv(f) == load_csv(path)
    assert load_csv(io.StringIO(content.decode())).n == 3
    assert load_csv(bytearray(content)).n == 3
    assert load_csv(content).name == "csv"

    class UploadedFile(io.BytesIO):  # Streamlit's upload: a BytesIO subclass with a name
        name = "upload.csv"

    upload = UploadedFile(content)
    upload.read()  # a page may already have read it: the whole file is still used
    ds = load_csv(upload)
    assert ds.name == "upload" and ds.n == 3


def test_csv_parsing_10k_rows_20_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10_000, 20))
    lines = [",".join([f"f{i}" for i in range(20)] + ["target"])]
    lines += [",".join([f"{v:.6f}" for v in row] + [f"{t:.3f}"]) for row, t in zip(X, X.sum(axis=1))]
    ds = load_csv(("\n".join(lines) + "\n").encode())  # its speed is measured in bench/, not here
    assert ds.task == "regression" and ds.X.shape == (10_000, 20)
    np.testing.assert_allclose(ds.X, X, atol=1e-6)


# ---------------------------------------------------------------- CSV: size limits of names and cells

BIG = 5_000_000  # a 5 MB column name froze every browser that showed the run; a 5 MB cell made a 5 MB message


def test_csv_huge_column_name_is_refused_with_a_short_message():
    msg = _error("x," + "n" * BIG + "\n1,0\n2,1\n")
    assert "Row 1, column 2" in msg and "5,000,000 characters" in msg and "at most 100" in msg
    assert len(msg) < 300 and msg.count("n" * 60) == 0


@pytest.mark.parametrize("cell", ["1" * BIG, "x" * BIG, '"' + "y" * BIG + '"'], ids=["digits", "letters", "quoted"])
def test_csv_huge_cell_is_refused_with_a_short_message(cell):
    msg = _error(f"x,target\n1,0\n{cell},1\n3,0\n")
    assert 'Row 3, column "x"' in msg and "5,000,000 characters" in msg and "at most 100" in msg
    assert len(msg) < 300


def test_csv_huge_target_cell_is_refused():
    msg = _error(f"x,target\n1,a\n2,{'b' * BIG}\n")
    assert 'Row 3, column "target"' in msg and len(msg) < 300


def test_csv_cell_and_name_length_caps_are_exact():
    number = "0." + "1" * 98  # 100 characters, a fine number
    ds = load_csv(f"{'c' * 100},target\n{number},0\n2,1\n".encode())
    assert ds.feature_names == ("c" * 100,) and ds.X[0, 0] == pytest.approx(1 / 9)
    assert "at most 100" in _error(f"{'c' * 101},target\n1,0\n2,1\n")
    assert "at most 100" in _error(f"x,target\n{number}1,0\n2,1\n")


@pytest.mark.parametrize("content", [
    "x,target\n1,0\n" + "q" * 99 + ",1\n",                      # a long non-number
    "x,target\n1,0\n2," + "k" * 99 + "".join(f"\n{i},c{i}" for i in range(3, 13)) + "\n",  # 12 classes, one long
    "x,target\n1,0\n2," + "m" * 99 + "\n3,mm\n4,mmm\n5,mmmm\n6,m5\n7,m6\n8,m7\n9,m8\n10,m9\n11,m10\n12,m11\n",
    "x,target\n1,0\n2,1\n3," + "z" * 99 + "\n",                  # a long odd cell out in a numeric target
    "x," + "t" * 99 + "\n1,0\n2,1\n3,nan\n",                      # a long column name in a cell message
], ids=["not-a-number", "three-classes", "many-classes", "odd-target", "long-name"])
def test_csv_messages_quote_at_most_about_80_characters_of_a_cell(content):
    msg = _error(content)
    longest_run = max(len(run) for run in msg.replace("'", " ").replace('"', " ").split())
    assert longest_run <= 80, msg


# ---------------------------------------------------------------- CSV: the record reader

def test_csv_quoting_forms_accepted():
    ds = load_csv(b'x,label\n1,"a, b"\n2,"say ""hi"""\n3,"a, b"\n4,"say ""hi"""\n')
    assert ds.classes == ("a, b", 'say "hi"') and ds.y.tolist() == [-1, 1, -1, 1]
    ds = load_csv(b'x,label\n1,"two\nlines"\n2,b\n3,b\n')
    assert ds.classes == ("b", "two\nlines") and ds.X[:, 0].tolist() == [1, 2, 3]
    ds = load_csv(b'x,y\r1,2.5\r3,4\r5,6')  # old Mac line ends, no final line break
    assert ds.y.tolist() == [2.5, 4, 6]
    ds = load_csv(b'"x" , "y"\n "1" ,\t"2"\t\n"3","4"\n"5","6"')  # blanks around quoted cells
    assert ds.feature_names == ("x",) and ds.X[:, 0].tolist() == [1, 3, 5]


def test_csv_row_numbers_after_a_multiline_quoted_cell():
    msg = _error(b'x,label\n1,"two\nlines"\n2,b\n3,x\n4,?\n')
    assert "Row 6" in msg and '"label"' in msg


@pytest.mark.parametrize("text, row", [
    ('x,y\n1,2\n3,4"\n', 3),        # quote inside a bare cell
    ('x,y\n1,2\n"3"4,5\n', 3),      # text after the closing quote
    ('x,y\n1,"a\nb"x,2\n', 3),      # ... of a cell that spans lines
])
def test_csv_malformed_quotes_name_the_row(text, row):
    msg = _error(text)
    assert f"Row {row}" in msg and "quote" in msg


@pytest.mark.parametrize("seed", range(20))
def test_csv_reader_agrees_with_the_csv_module(seed):
    rng = np.random.default_rng(seed)
    alphabet = ["a", "1", " ", ",", '"', "\n", "\r\n", ".", "x", ""]
    rows = [["".join(rng.choice(alphabet, size=rng.integers(0, 5))) for _ in range(rng.integers(1, 5))]
            for _ in range(rng.integers(1, 30))]
    buf = io.StringIO()
    csv.writer(buf, lineterminator=str(rng.choice(["\n", "\r\n"]))).writerows(rows)
    text = buf.getvalue()
    expected, reader, row = [], csv.reader(io.StringIO(text, newline=""), strict=True), 1
    for cells in reader:
        cells = [c.strip() for c in cells]
        if any(cells):
            expected.append((row, cells))
        row = reader.line_num + 1
    assert list(_records(text)) == expected


# ---------------------------------------------------------------- example CSVs

def test_example_csvs_load():
    assert set(EXAMPLE_CSVS) == {"wavy_boundary", "curve", "flowers"}
    loaded = {name: load_csv(path) for name, path in EXAMPLE_CSVS.items()}
    wavy, curve, flowers = loaded["wavy_boundary"], loaded["curve"], loaded["flowers"]
    assert (wavy.task, wavy.n, wavy.n_features, wavy.classes) == ("classification", 200, 2, ("0", "1"))
    assert (curve.task, curve.n, curve.feature_names) == ("regression", 150, ("x",))
    assert (flowers.task, flowers.n, flowers.n_features) == ("classification", 100, 4)
    assert flowers.classes == ("setosa", "versicolor")
    for ds in loaded.values():
        assert abs((ds.y == 1).mean() - 0.5) < 0.2 or ds.task == "regression"
    assert np.abs(wavy.X).max() < 2.5 and np.abs(curve.X).max() <= 2.0


def test_example_csvs_are_reproducible(tmp_path):
    script = ROOT / "data" / "examples" / "make_examples.py"
    runpy.run_path(str(script))["main"](tmp_path)
    for name, path in EXAMPLE_CSVS.items():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), name


# ---------------------------------------------------------------- package hygiene

def test_data_package_does_not_import_streamlit():
    code = "import sys, data; assert 'streamlit' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for path in (ROOT / "data").rglob("*.py"):
        assert "streamlit" not in path.read_text(), path
