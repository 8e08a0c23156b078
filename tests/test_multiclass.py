"""More than two classes, input features, standardization and honest metrics (issues 13, 14, 17).

Softmax cross-entropy is checked against float64 PyTorch (value, gradient, a whole training
run from the same weights); both engines against each other; the CLI end to end.
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from data import EXAMPLE_CSVS, Dataset, load_csv, make_dataset
from lab.config import ConfigError, TrainConfig
from lab.figures import (boundary_figure, class_accuracy_figure, confusion_figure, loss_figure, metrics_figure,
                         predictions_figure, result_figures, result_metrics)
from lab.train import (ADDED_HISTORY_KEYS, HISTORY_KEYS, accuracy, class_accuracy, complete_history, confusion,
                       data_loss, decision_grid, make_network, predict, prepare_data, r2_score, rmse, train)
from micrograd import Value
from micrograd import losses as scalar_losses
from micrograd.optim import SGD
from micrograd.tensor import Tensor
from micrograd.tensor_losses import LOSSES, cross_entropy, loss_value
from micrograd.tensor_nn import TensorMLP

ROOT = Path(__file__).resolve().parents[1]
THREE = "x1,x2,species\n" + "".join(
    f"{x:.3f},{y:.3f},{name}\n"
    for i, (cx, cy, name) in enumerate([(-2, 0, "setosa"), (2, 0, "versicolor"), (0, 3, "virginica")] * 20)
    for x, y in [(cx + 0.3 * math.sin(7 * i), cy + 0.3 * math.cos(5 * i))])


def cli(*args, db):
    env = {**os.environ, "MICROGRAD_RUNS_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


# ---------------------------------------------------------------- the loss against PyTorch
LOGITS = np.array([[0.3, -1.2, 2.0], [800.0, -5.0, 799.5], [-900.0, -901.0, -899.0], [1e5, 0.0, -1e5],
                   [0.0, 0.0, 0.0], [-2.5, 3.5, 0.25], [12.0, -7.0, 30.0]])
LABELS = np.array([2, 0, 1, 2, 1, 1, 0])


def _torch_ce(logits, labels):
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(z, torch.tensor(labels, dtype=torch.long))
    loss.backward()
    return loss.item(), z.grad.numpy()


def test_cross_entropy_equals_torch_on_both_engines_even_for_huge_logits():
    ref, ref_grad = _torch_ce(LOGITS, LABELS)
    assert math.isfinite(ref)
    logits = Tensor(LOGITS)
    out = cross_entropy(logits, LABELS.astype(float))
    out.backward()
    np.testing.assert_allclose(out.item(), ref, rtol=1e-9)
    np.testing.assert_allclose(logits.grad, ref_grad, rtol=1e-9, atol=1e-15)
    rows = [[Value(v) for v in row] for row in LOGITS]
    scalar = scalar_losses.cross_entropy(rows, LABELS.tolist())
    scalar.backward()
    np.testing.assert_allclose(scalar.data, ref, rtol=1e-9)
    np.testing.assert_allclose([[v.grad for v in row] for row in rows], ref_grad, rtol=1e-9, atol=1e-15)
    assert LOSSES["ce"] is cross_entropy and scalar_losses.LOSSES["ce"] is scalar_losses.cross_entropy
    assert loss_value("ce", LOGITS, LABELS) == out.item()  # the graph-free evaluation: the same number


def test_cross_entropy_reads_plus_minus_one_labels_as_classes_0_and_1():
    z = np.random.default_rng(2).normal(size=(6, 2)) * 4
    pm, idx = np.array([-1.0, 1, 1, -1, 1, -1]), np.array([0, 1, 1, 0, 1, 0])
    assert cross_entropy(Tensor(z), pm).item() == cross_entropy(Tensor(z), idx).item() == pytest.approx(
        _torch_ce(z, idx)[0], rel=1e-12)


@pytest.mark.parametrize("name", ["mse", "hinge", "bce", "ce"])
def test_loss_value_is_the_losses_number_without_a_graph(name):
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(9, 4)) * 3 if name == "ce" else rng.normal(size=9) * 3
    labels = rng.integers(0, 4, 9).astype(float) if name == "ce" else np.sign(rng.normal(size=9))
    assert loss_value(name, scores, labels) == LOSSES[name](Tensor(scores), labels).item()
    assert data_loss(name, scores, labels) == loss_value(name, scores, labels)


def test_a_whole_multi_class_run_matches_torch_from_the_same_weights():
    data = make_dataset("blobs", n=60, noise=0.1, seed=1, classes=4)
    X, y = data.X, data.y
    net = TensorMLP(2, [8, 4], activation="tanh", output_activation="linear", seed=5)
    params = [torch.tensor(p.data.copy(), dtype=torch.float64, requires_grad=True) for p in net.parameters()]
    ours_opt = SGD(net.parameters(), lr=0.3)
    theirs_opt = torch.optim.SGD(params, lr=0.3)
    X_t, y_t = torch.tensor(X), torch.tensor(y, dtype=torch.long)
    for _ in range(40):
        loss = cross_entropy(net(X), y) + 1e-3 * sum((p * p).sum() for p in net.parameters())
        ours_opt.zero_grad()
        loss.backward()
        ours_opt.step()
        h = torch.tanh(X_t @ params[0] + params[1]) @ params[2] + params[3]
        ref = torch.nn.functional.cross_entropy(h, y_t) + 1e-3 * sum((p * p).sum() for p in params)
        theirs_opt.zero_grad()
        ref.backward()
        theirs_opt.step()
        assert loss.item() == pytest.approx(ref.item(), rel=1e-9)
    for ours, theirs in zip(net.parameters(), params):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert ref.item() < 0.5  # it learned: the comparison is not vacuous


def test_forward_with_extra_rows_is_the_forward_and_the_prediction():
    rng = np.random.default_rng(4)
    net = TensorMLP(3, [6, 5, 3], activation="relu", seed=2)
    X = rng.normal(size=(30, 3))
    scores, extra = net.forward_with_extra(X, 22)
    np.testing.assert_array_equal(scores.data, net(X[:22]).data)
    np.testing.assert_array_equal(extra, net.predict(X[22:]))
    labels = rng.integers(0, 3, 22).astype(float)
    cross_entropy(scores, labels).backward()
    grads = net.flat_grads()
    net.zero_grad()
    cross_entropy(net(X[:22]), labels).backward()
    assert grads == net.flat_grads() and any(g != 0 for g in grads)  # the extra rows took no part in training
    with pytest.raises(ValueError, match="shape"):
        net.forward_with_extra(X, 31)


# ---------------------------------------------------------------- both engines
@pytest.mark.parametrize("changes", [
    dict(dataset="blobs", classes=4, steps=25),
    dict(dataset="spiral", classes=3, n=60, optimizer="adam", lr=0.02, activation="tanh", batch_size=16),
    dict(dataset="blobs", classes=3, l1=1e-3, momentum=0.9, lr=0.1, output_activation="tanh"),
    dict(dataset="xor", features="x1,x2,x1*x2,sin(x1)", hidden=(), loss="ce"),
    dict(dataset="moons", loss="ce", features="x1^2,x2^2,x1*x2"),
])
def test_both_engines_give_the_same_multi_class_run(changes):
    cfg = TrainConfig(**{"n": 48, "steps": 15, "hidden": (6,), **changes})
    fast, slow = train(cfg.replace(engine="numpy")), train(cfg.replace(engine="scalar"))
    assert fast.status == slow.status == "finished" and fast.losses[-1] < fast.losses[0]
    assert np.allclose(fast.losses, slow.losses, rtol=1e-9, atol=0)
    assert np.allclose(fast.params, slow.params, rtol=1e-9, atol=1e-12)
    for key in HISTORY_KEYS:
        a = [math.nan if v is None else v for v in fast.history[key]]
        b = [math.nan if v is None else v for v in slow.history[key]]
        if key != "time":
            assert np.allclose(a, b, rtol=1e-9, equal_nan=True), key


def test_both_engines_agree_on_a_standardized_csv_regression(tmp_path):
    path = tmp_path / "wide.csv"
    x = np.linspace(-1, 1, 40)
    path.write_text("x,target\n" + "".join(f"{100 * v:.4f},{500 + 40 * np.sin(3 * v):.4f}\n" for v in x))
    cfg = TrainConfig(dataset="csv", csv_path=str(path), hidden=(5,), activation="tanh", lr=0.05, steps=20)
    fast, slow = train(cfg), train(cfg.replace(engine="scalar"))
    assert np.allclose(fast.losses, slow.losses, rtol=1e-9, atol=0)
    assert np.allclose(fast.history["test_r2"], slow.history["test_r2"], rtol=1e-9)


# ---------------------------------------------------------------- honest metrics
def _before_update(cfg, i):
    """The weights the i-th step (1-based) computed its metrics with: a run of i - 1 steps (constant rate)."""
    if i == 1:
        return make_network(cfg, 2).flat_parameters()
    return train(cfg.replace(steps=i - 1)).params


@pytest.mark.parametrize("changes", [dict(dataset="blobs", classes=3), dict(dataset="moons", l2=0.05),
                                     dict(dataset="plane", lr=0.02, l1=1e-3)])
def test_history_metrics_are_what_they_say_with_the_weights_of_their_step(changes):
    cfg = TrainConfig(n=60, hidden=(8,), steps=6, lr_schedule="constant", **changes)
    run = train(cfg)
    data = prepare_data(cfg)
    loss_name = cfg.loss_for(data.train.task, data.train.n_classes)
    for i in (1, 6):
        params = _before_update(cfg, i)
        h = {key: values[i - 1] for key, values in run.history.items()}
        train_scores, test_scores = predict(cfg, params, data.train.X), predict(cfg, params, data.test.X)
        # train and test loss are the same quantity: the data loss, without the penalty
        assert h["train_loss"] == pytest.approx(data_loss(loss_name, train_scores, data.train.y), rel=1e-12)
        assert h["test_loss"] == pytest.approx(data_loss(loss_name, test_scores, data.test.y), rel=1e-12)
        weights = np.array(params)
        assert h["penalty"] == pytest.approx(cfg.l2 * np.sum(weights ** 2) + cfg.l1 * np.sum(np.abs(weights)),
                                             rel=1e-12, abs=0)
        if data.train.task == "classification":
            assert h["accuracy"] == accuracy(train_scores, data.train.y)
            assert h["test_accuracy"] == accuracy(test_scores, data.test.y)
            assert h["test_r2"] is None and h["test_rmse"] is None
        else:
            assert h["test_r2"] == pytest.approx(r2_score(test_scores, data.test.y), rel=1e-9)
            assert h["test_rmse"] == pytest.approx(rmse(test_scores, data.test.y), rel=1e-9)
            assert h["accuracy"] is None and h["test_accuracy"] is None


def test_mini_batch_accuracy_is_still_the_whole_training_set():
    cfg = TrainConfig(dataset="blobs", classes=4, n=80, steps=3, batch_size=8, lr_schedule="constant")
    run = train(cfg)
    data = prepare_data(cfg)
    params = train(cfg.replace(steps=2)).params
    assert run.history["accuracy"][-1] == accuracy(predict(cfg, params, data.train.X), data.train.y)


def test_regression_targets_are_standardized_on_the_training_split_and_predictions_come_back_in_their_units(
        tmp_path):
    path = tmp_path / "big.csv"
    x = np.linspace(-3, 3, 50)
    path.write_text("x,target\n" + "".join(f"{1000 * v:.3f},{2000 + 300 * v:.3f}\n" for v in x))
    cfg = TrainConfig(dataset="csv", csv_path=str(path), hidden=(), lr=0.1, steps=150)
    data = prepare_data(cfg)
    prep = data.preprocessing
    assert prep.standardized and cfg.standardizes()
    assert prep.x_mean == pytest.approx(data.train.X.mean(axis=0)) and prep.y_mean == pytest.approx(data.train.y.mean())
    assert prep.y_scale == pytest.approx(data.train.y.std()) and prep.x_mean != pytest.approx(
        np.vstack([data.train.X, data.test.X]).mean(axis=0))  # the training split only
    run = train(cfg)
    assert run.status == "finished" and run.final("test_r2") > 0.99
    assert np.allclose(predict(cfg, run.params, data.test.X), data.test.y, rtol=0, atol=30)
    raw = train(cfg.replace(standardize="off"))  # the same inputs unscaled blow up at this rate
    assert raw.status == "diverged"


def test_bundled_classification_csvs_train_at_the_default_settings():
    for name in ("flowers", "wavy_boundary"):
        run = train(TrainConfig(dataset="csv", csv_path=str(EXAMPLE_CSVS[name])))
        assert run.status == "finished" and run.final("test_accuracy") >= 0.9, name
    off = train(TrainConfig(dataset="csv", csv_path=str(EXAMPLE_CSVS["flowers"]), standardize="off"))
    assert off.final("test_accuracy") <= 0.6  # what issue 14 saw: one class predicted for all


# ---------------------------------------------------------------- features and the plane they are drawn on
def test_xor_with_only_x1_times_x2_and_no_hidden_layer():
    cfg = TrainConfig(dataset="xor", features="x1*x2", hidden=(), steps=100)
    run = train(cfg)
    assert cfg.architecture(2) == "1-1" and len(run.params) == 2
    data = prepare_data(cfg)
    X_net, y_net = data.network_arrays("train")
    np.testing.assert_array_equal(X_net[:, 0], data.train.X[:, 0] * data.train.X[:, 1])
    np.testing.assert_array_equal(y_net, data.train.y)
    assert run.final("accuracy") >= 0.95 and run.final("test_accuracy") >= 0.95
    w, b = run.params
    X = make_dataset("xor").X
    xs, ys, Z = decision_grid(cfg, run.params, X, resolution=9)
    gx, gy = np.meshgrid(xs, ys)
    np.testing.assert_allclose(Z, w * gx * gy + b, rtol=1e-12)  # the grid went through the same feature
    assert train(cfg.replace(features="x1,x2")).final("accuracy") < 0.8  # a linear model on x1, x2 cannot


def test_features_are_validated_and_normalised():
    assert TrainConfig(features=" X1*x2 ,x1, x1 ").features == "x1,x1*x2"
    assert TrainConfig(features=["sin(x2)", "x1"]).input_features == ("x1", "sin(x2)")
    from lab.sweep import parse_grid  # '+' separates features inside one value of a comma-separated grid
    grid = parse_grid(["features=x1+x2,x1*x2"], TrainConfig(dataset="xor"))
    assert [c.features for c in grid.configs] == ["x1,x2", "x1*x2"]
    for bad, words in [("x3", "unknown input feature 'x3'"), ("", "at least one"), (",", "at least one")]:
        with pytest.raises(ConfigError, match=words):
            TrainConfig(features=bad)
    with pytest.raises(ConfigError, match="2-D data"):
        TrainConfig(dataset="lecture", features="x1*x2")
    with pytest.raises(ConfigError, match="2-D data"):
        train(TrainConfig(dataset="csv", csv_path=str(EXAMPLE_CSVS["flowers"]), features="x1^2"))


# ---------------------------------------------------------------- config, classes and stored runs
def test_classes_config_url_and_errors():
    cfg = TrainConfig(dataset="spiral", classes=5, features="x1,x2,x1^2", standardize="on")
    assert cfg.to_query() == {"dataset": "spiral", "classes": "5", "features": "x1,x2,x1^2", "standardize": "on"}
    assert TrainConfig.from_dict(cfg.to_query()) == cfg and TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.loss_for("classification") == "ce" and cfg.architecture(2) == "3-16-16-5"
    assert TrainConfig(loss="ce").architecture(2) == "2-16-16-2" and TrainConfig().architecture(2) == "2-16-16-1"
    for bad, words in [(dict(classes=3), "moons has two classes"), (dict(dataset="blobs", classes=7), "2 and 6"),
                       (dict(dataset="spiral", classes=1), "2 and 6"), (dict(dataset="blobs", classes="x"), "integer"),
                       (dict(dataset="blobs", classes=3, loss="hinge"), "two-class loss"),
                       (dict(dataset="sine", loss="ce"), "regression"), (dict(standardize="yes"), "standardize")]:
        with pytest.raises(ConfigError, match=words):
            TrainConfig(**bad)


def test_a_csv_decides_its_number_of_classes(tmp_path):
    path = tmp_path / "three.csv"
    path.write_text(THREE)
    run = train(TrainConfig(dataset="csv", csv_path=str(path), steps=60))
    assert run.config.classes == 3 and run.class_names == ("setosa", "versicolor", "virginica")
    assert len(run.params) == run.config.parameter_count(2) == 3 * 16 + 17 * 16 + 17 * 3
    assert run.final("test_accuracy") >= 0.9
    with pytest.raises(ConfigError, match="has 3 classes"):
        train(TrainConfig(dataset="csv", csv_path=str(path), classes=4))
    with pytest.raises(ConfigError, match="two-class loss"):
        train(TrainConfig(dataset="csv", csv_path=str(path), loss="hinge"))


def test_old_stored_runs_still_open():
    old = {"step": [1, 2], "train_loss": [0.5, 0.4], "test_loss": [0.6, 0.5], "accuracy": [0.5, 0.7],
           "test_accuracy": [0.4, 0.6], "grad_norm": [1.0, 0.9], "lr": [0.5, 0.5], "time": [0.01, 0.02]}
    full = complete_history(old)
    assert set(full) == set(HISTORY_KEYS) and all(full[k] == [None, None] for k in ADDED_HISTORY_KEYS)
    assert {k: full[k] for k in old} == old
    fig = loss_figure([{"name": "old", "history": old}], show_penalty=True)
    assert [t.name for t in fig.data] == ["old (train)", "old (test)"]
    assert len(metrics_figure([{"name": "old", "history": old}], "classification").data) == 2
    stored = {k: v for k, v in TrainConfig(dataset="csv", csv_upload="ab" * 32).to_dict().items() if k != "standardize"}
    assert TrainConfig.from_stored(stored).standardize == "off"  # as it trained before standardization existed
    assert TrainConfig.from_dict(stored).standardize == "auto"   # a link without the field gets today's default


# ---------------------------------------------------------------- evaluation helpers and figures
def test_confusion_and_per_class_accuracy():
    y = np.array([0, 0, 1, 2, 2, 2.0])
    logits = np.eye(3)[[0, 1, 1, 2, 0, 2]] * 5
    assert confusion(logits, y, 3) == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert class_accuracy(logits, y, 3) == [0.5, 1.0, pytest.approx(2 / 3)]
    assert class_accuracy(logits, np.array([0, 0, 1, 1, 0, 0.0]), 3)[2] is None
    scores, labels = np.array([2.0, -1.0, 0.5, -3.0]), np.array([1.0, 1.0, -1.0, -1.0])
    assert confusion(scores, labels) == [[1, 1], [1, 1]] and accuracy(scores, labels) == 0.5


def test_k_class_figures_use_the_class_names(tmp_path):
    path = tmp_path / "three.csv"
    path.write_text(THREE)
    cfg = TrainConfig(dataset="csv", csv_path=str(path), classes=3, steps=60)
    run = train(cfg)
    figures = result_figures(run.config, run.params)
    names = ["setosa", "versicolor", "virginica"]
    assert list(figures["confusion"].data[0].x) == names and np.array(figures["confusion"].data[0].z).shape == (3, 3)
    assert [t.name for t in figures["boundary"].data[1:]] == [f"class {n}" for n in names]
    heat = figures["boundary"].data[0]
    assert heat.type == "heatmap" and set(np.unique(heat.text)) <= set(names)
    z = np.array(heat.z)
    assert z.min() >= 0 and z.max() < 3 and len(np.unique(np.floor(z))) == 3  # class + confidence shade
    assert list(figures["predictions"].layout.xaxis.ticktext) == names
    probabilities = np.concatenate([t.y for t in figures["predictions"].data[:2]])
    assert probabilities.min() >= 0 and probabilities.max() <= 1
    assert list(figures["class_accuracy"].data[0].x) == names
    metrics = result_metrics(run.config, run.params)
    counts = np.array(figures["confusion"].data[0].z)
    assert metrics["accuracy"] == pytest.approx(np.trace(counts) / counts.sum()) and metrics["standardized"]
    assert metrics["class_accuracy"] == {n: pytest.approx(counts[i, i] / counts[i].sum()) for i, n in enumerate(names)}


def test_binary_figures_use_the_class_names_not_plus_minus_one():
    data = load_csv(EXAMPLE_CSVS["wavy_boundary"])
    assert data.class_names == ("0", "1")
    cfg = TrainConfig(dataset="csv", csv_path=str(EXAMPLE_CSVS["wavy_boundary"]), steps=20)
    run = train(cfg)
    figures = result_figures(run.config, run.params)
    assert list(figures["predictions"].layout.xaxis.ticktext) == ["0", "1"]
    assert [t.name for t in figures["boundary"].data if t.type == "scatter"] == ["class 0", "class 1"]
    assert list(figures["confusion"].data[0].x) == ["0", "1"]
    threshold = [t for t in figures["predictions"].data if t.name.startswith("decision threshold")]
    assert threshold and not figures["predictions"].layout.annotations  # a legend entry no point can hide


def test_figure_functions_take_plain_arrays():
    y = np.array([0, 1, 2, 1.0])
    logits = np.array([[3.0, 0, 0], [0, 2, 0], [0, 0, -1], [0, 1, 0]])
    fig = predictions_figure("classification", logits, y, class_names=("a", "b", "c"))
    assert fig.data[-1].name == "chance (1/k)" and fig.data[-1].y[0] == pytest.approx(1 / 3)
    assert len(confusion_figure([[1, 0], [0, 1]], ("no", "yes")).data[0].x) == 2
    assert class_accuracy_figure(("a", "b"), [0.5, None]).data[0].text[1] == "no samples"
    Z = np.zeros((4, 5, 3))
    Z[..., 1] = 1.0
    fig = boundary_figure(np.arange(5.0), np.arange(4.0), Z, np.zeros((4, 2)), y, "classification",
                          class_names=("a", "b", "c"))
    assert set(np.unique(fig.data[0].text)) == {"b"}


# ---------------------------------------------------------------- the CLI
@pytest.mark.parametrize("args, minimum", [
    (("--dataset", "blobs", "--classes", "4", "--n", "200", "--steps", "200"), 0.9),
    (("--dataset", "spiral", "--classes", "3", "--n", "600", "--noise", "0.05", "--hidden", "32,32",
      "--optimizer", "adam", "--lr", "0.01", "--steps", "1500"), 0.9),
    (("--dataset", "xor", "--features", "x1*x2", "--hidden", "0", "--steps", "100"), 0.95),
])
def test_cli_multi_class_and_features_reach_high_accuracy(tmp_path, args, minimum):
    out = cli("train", *args, "--json", db=tmp_path / "r.sqlite")
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)
    assert run["status"] == "finished" and run["final_accuracy"] >= minimum
    assert run["final_test_accuracy"] >= minimum - 0.05 and run["final_r2"] is None
    assert run["final_test_accuracy"] == run["history"]["test_accuracy"][-1]


def test_cli_trains_a_csv_with_three_string_classes_and_reports_r2_for_regression(tmp_path):
    path = tmp_path / "three.csv"
    path.write_text(THREE)
    out = cli("train", "--csv", str(path), "--steps", "60", "--json", db=tmp_path / "r.sqlite")
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)
    assert run["config"]["classes"] == 3 and run["final_test_accuracy"] >= 0.9
    out = cli("train", "--dataset", "sine", "--lr", "0.03", "--steps", "200", "--json", db=tmp_path / "r.sqlite")
    run = json.loads(out.stdout)
    assert run["final_r2"] == run["history"]["test_r2"][-1] and run["final_r2"] > 0.5
    assert run["final_test_accuracy"] is None


@pytest.mark.parametrize("args", [("--classes", "abc"), ("--classes", "3"), ("--dataset", "spiral", "--classes", "9"),
                                  ("--dataset", "blobs", "--classes", "2.5"), ("--features", "x3"),
                                  ("--features", ""), ("--dataset", "sine", "--features", "x1^2"),
                                  ("--dataset", "blobs", "--classes", "3", "--loss", "bce")])
def test_cli_bad_classes_and_features_are_one_error_line(tmp_path, args):
    out = cli("train", *args, db=tmp_path / "x.sqlite")
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr


def test_cli_too_many_csv_classes_is_one_error_line(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("x,label\n" + "".join(f"{i},c{i}\n" for i in range(11)))
    out = cli("train", "--csv", str(path), db=tmp_path / "x.sqlite")
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "at most 10 classes" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_generated_k_class_data_is_a_dataset_with_names():
    ds = make_dataset("spiral", n=30, classes=3)
    assert isinstance(ds, Dataset) and ds.class_names == ("0", "1", "2")
