"""One training loop for both engines: config in, per-step history and trained weights out.

Also the one place that turns a TrainConfig into a network (make_network), that prepares a
config's data the way the network sees it (prepare_data: the train/test split, input
features, standardization fitted on the training split) and that says how long the scalar
engine will take (estimate_scalar_seconds), so pages and the CLI agree.

The history is honest: train_loss and test_loss are the same quantity (the data loss) on the
two splits; the L1/L2 penalty, which the optimiser minimises too, is recorded as its own key.
Per-step metrics are cheap (issue 17): the train accuracy comes from the scores the loss
already computed (full batch), and the test set is scored in the same forward pass as the
training batch, off the graph; anything expensive (a boundary grid) is left to the pages.
"""
import math
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from data import (DEFAULT_FEATURES, Dataset, expand_features, fit_standardizer, load_csv, make_dataset,
                  train_test_split)
from micrograd import MLP, losses as scalar_losses, tensor_losses
from micrograd.engine import cycle_collector_paused
from micrograd.optim import OPTIMIZERS
from micrograd.quiet import quietly
from micrograd.tensor_losses import class_indices, loss_evaluator, loss_value
from micrograd.tensor_nn import TensorMLP

from .config import ConfigError, TrainConfig

BLOWUP = 1e10  # a loss this many times the first one has diverged, even while still finite
HISTORY_KEYS = ("step", "train_loss", "test_loss", "accuracy", "test_accuracy", "grad_norm", "lr", "time",
                "penalty", "test_r2", "test_rmse")
ADDED_HISTORY_KEYS = ("penalty", "test_r2", "test_rmse")  # absent from runs saved before they were recorded


@dataclass
class TrainResult:
    config: TrainConfig
    status: str                       # "finished", "stopped" or "diverged"
    history: dict                     # HISTORY_KEYS -> list, one entry per completed step
    params: list                      # final weights, flat, in MLP.parameters() order
    task: str
    n_features: int                   # columns of the data (the network may see more: config.features)
    diverged_at: int | None = None    # the step whose loss was not finite
    elapsed: float = 0.0
    # while training: a function giving the current weights (for checkpoints and live drawing); None once done
    live_params: object = field(default=None, repr=False, compare=False)
    # for replay: step -> the weights that step's loss was computed with (a float64 array in params order),
    # at snapshot_steps() of the run
    snapshots: dict = field(default_factory=dict, repr=False)
    class_names: tuple | None = None  # what the labels mean (classification), in label order

    @property
    def losses(self):
        return self.history["train_loss"]

    @property
    def steps_done(self):
        return len(self.history["step"])

    def final(self, key):
        values = self.history.get(key) or []
        return values[-1] if values else None


def complete_history(history):
    """A stored history with every key of HISTORY_KEYS: keys recorded only by newer runs
    (ADDED_HISTORY_KEYS) are filled with None, so an older run opens and draws like a new one."""
    steps = len(history.get("step") or [])
    return {**{key: [None] * steps for key in ADDED_HISTORY_KEYS}, **history}


def make_network(config, n_features, engine="numpy", params=None):
    """The config's MLP for data with `n_features` columns: config.n_inputs(n_features) inputs
    (the chosen features of 2-D data), hidden layers config.hidden, config.n_outputs() outputs.

    engine "scalar" gives a micrograd.nn.MLP (one Value per number), "numpy" a TensorMLP;
    both start from the same weights (config.seed). params: flat weights in
    MLP.parameters() order to load instead (a trained run's)."""
    nin, nouts = config.n_inputs(n_features), [*config.hidden, config.n_outputs()]
    if engine == "scalar":
        net = MLP(nin, nouts, config.activation, config.output_activation, seed=config.seed)
    elif engine == "numpy":
        net = TensorMLP(nin, nouts, config.activation, config.output_activation, seed=config.seed)
    else:
        raise ValueError(f"unknown engine {engine!r}; choose scalar or numpy")
    if params is not None:
        net.load_parameters(params)
    return net


# Seconds of one scalar-engine forward and backward pass, per sample and parameter. bench/engines.py
# measures about 1.4e-6 in its own quiet process; inside the app's server (many more live objects for
# the garbage collector to scan) a Train-page run took about 2.6e-6 (issue 14), so estimates use that.
SCALAR_SECONDS_PER_UNIT = 2.6e-6


def estimate_scalar_seconds(n_samples, n_parameters, steps, passes=1):
    """Rough wall time of `steps` scalar-engine steps of `passes` forward+backward passes each
    over n_samples samples of a net with n_parameters weights (the cost grows with their product)."""
    return passes * n_samples * n_parameters * steps * SCALAR_SECONDS_PER_UNIT


NUMPY_SECONDS_PER_UNIT = 2e-9  # the numpy engine on big nets (small ones cost less than their fixed overhead)


def estimate_seconds(config, n_features, n_train):
    """Rough wall time of a whole run of `config` on n_train training samples, on its engine."""
    batch = min(config.batch_size, n_train) if config.batch_size else n_train
    n_parameters = config.parameter_count(n_features)
    if config.engine == "scalar":
        return estimate_scalar_seconds(batch, n_parameters, config.steps)
    return batch * n_parameters * config.steps * NUMPY_SECONDS_PER_UNIT


def load_data(config, dataset=None):
    """(train, test or None) for a config, as the data's own columns; `dataset` overrides it (an uploaded CSV)."""
    if dataset is None:
        if config.dataset == "csv" and config.csv_path:  # the CLI's --csv (from_dict refuses paths)
            dataset = load_csv(config.csv_path)
        elif config.dataset == "csv" and config.csv_upload:
            from .runs import load_upload  # runs imports this module: import it when needed
            dataset = load_upload(config.csv_upload)
        elif config.dataset == "csv":
            raise ConfigError("no CSV data: dataset 'csv' needs a CSV file (the CLI's --csv, or an upload "
                              "kept by the run store)")
        else:
            dataset = make_dataset(config.dataset, n=config.n, noise=config.noise, seed=config.data_seed,
                                   classes=config.classes)
    # the lecture's four samples are too few to hold any out: all four train
    fraction = 0.0 if config.dataset == "lecture" else config.test_fraction
    return train_test_split(dataset, fraction, seed=config.data_seed)


class Preprocessing:
    """What a sample goes through on its way into the network, fitted on the training split.

    inputs(X): standardize the columns (when the config says so), then compute the chosen
    input features (2-D data); targets(y): standardize regression targets the same way;
    outputs(scores): network outputs back in the targets' units."""

    def __init__(self, features=None, x_mean=None, x_scale=None, y_mean=0.0, y_scale=1.0):
        self.features = features          # names from data.FEATURES, or None: the columns as they are
        self.x_mean, self.x_scale = x_mean, x_scale  # None: inputs not standardized
        self.y_mean, self.y_scale = y_mean, y_scale

    @property
    def standardized(self):
        return self.x_mean is not None

    def inputs(self, X):
        X = np.asarray(X, dtype=float)
        if self.x_mean is not None:
            X = (X - self.x_mean) / self.x_scale
        return expand_features(X, self.features) if self.features else X

    def targets(self, y):
        return y if self.y_scale == 1.0 and self.y_mean == 0.0 else (np.asarray(y) - self.y_mean) / self.y_scale

    def outputs(self, scores):
        return scores if self.y_scale == 1.0 and self.y_mean == 0.0 else scores * self.y_scale + self.y_mean


def fit_preprocessing(config, train_set):
    """The config's Preprocessing, fitted on the training split."""
    features = config.input_features
    if train_set.n_features != 2 and features != DEFAULT_FEATURES:
        raise ConfigError(f"input features apply to 2-D data (x1, x2); this data has {train_set.n_features} "
                          f"columns: use the features x1,x2")
    prep = Preprocessing(features=None if features == DEFAULT_FEATURES or train_set.n_features != 2 else features)
    if config.standardizes():
        prep.x_mean, prep.x_scale = fit_standardizer(train_set.X)
        if train_set.task == "regression":
            mean, scale = fit_standardizer(train_set.y)
            prep.y_mean, prep.y_scale = float(mean), float(scale)
    return prep


def config_for_data(config, data):
    """`config` with the data's number of classes: a CSV's target column decides it (the
    default classes=2 then becomes the file's count); anywhere else they must agree."""
    k = data.n_classes or 2
    if k == config.classes:
        return config
    if config.dataset == "csv" and config.classes == 2:
        return config.replace(classes=k)
    raise ConfigError(f"the data has {k} classes, but classes is {config.classes}")


@dataclass
class PreparedData:
    """A config's data the way the network sees it."""
    train: Dataset                  # the training split, in the data's own columns
    test: Dataset | None
    preprocessing: Preprocessing    # fitted on the training split
    config: TrainConfig             # the config, with the data's number of classes (a CSV's)

    def network_arrays(self, split="train"):
        """(X, y) of the "train" or "test" split as the network sees them: the chosen input
        features of the (standardized) columns, and standardized regression targets."""
        data = self.train if split == "train" else self.test
        if data is None:
            return None
        return self.preprocessing.inputs(data.X), self.preprocessing.targets(data.y)


def prepare_data(config, dataset=None):
    """Split the config's data (or `dataset`, e.g. an uploaded CSV) and fit its Preprocessing."""
    train_set, test_set = load_data(config, dataset)
    config = config_for_data(config, train_set)
    return PreparedData(train_set, test_set, fit_preprocessing(config, train_set), config)


def learning_rate(config, step):
    """The rate at 0-based `step`: constant, or decaying to 10% of lr by the last step."""
    if config.lr_schedule == "constant" or config.steps == 1:
        return config.lr
    progress = step / (config.steps - 1)
    if config.lr_schedule == "linear":
        return config.lr * (1.0 - 0.9 * progress)
    return config.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))  # cosine


class Model:
    """One engine's network, loss and gradient, behind the same methods."""
    lib = None  # the engine's module of losses and penalties

    def objective(self, config, loss_name, X, y, extra=None):
        """For a batch: (what the optimiser minimises, its data loss, its penalty, the batch's scores,
        the scores of the `extra` rows (e.g. the test set) by the same weights, without a graph)."""
        scores, targets, extra_scores = self.forward(X, y, extra)
        data = self.lib.LOSSES[loss_name](scores, targets)
        total, penalty = data, 0.0
        if config.l2:
            term = self.lib.l2(self.params, config.l2)
            total, penalty = total + term, penalty + float(term.data)
        if config.l1:
            term = self.lib.l1(self.params, config.l1)
            total, penalty = total + term, penalty + float(term.data)
        return total, float(data.data), penalty, scores, extra_scores


class ScalarModel(Model):
    """The lecture's engine: one Value per number. It is evaluated by a numpy twin holding its weights."""
    lib = scalar_losses

    def __init__(self, config, nin):
        self.net = make_network(config, nin, engine="scalar")
        self.params = self.net.parameters()
        self.twin = make_network(config, nin)

    def forward(self, X, y, extra=None):
        return self.net.batch(X.tolist()), y.tolist(), None if extra is None else self.predict(extra)

    def score_array(self, scores):
        return np.array([[v.data for v in s] if isinstance(s, list) else s.data for s in scores])

    def predict(self, X):
        self.twin.load_parameters(self.flat_parameters())
        return self.twin.predict(X)

    def grad_norm(self):
        return math.sqrt(sum(p.grad * p.grad for p in self.params))

    def flat_parameters(self):
        return [p.data for p in self.params]

    def snapshot(self):
        return np.array(self.flat_parameters())


class NumpyModel(Model):
    """The vectorized engine: one node per layer."""
    lib = tensor_losses

    def __init__(self, config, nin):
        self.net = make_network(config, nin, engine="numpy")
        self.params = self.net.parameters()
        self.predict = self.net.predict  # no graph: plain arrays through the same layer formula
        self.stacked = (None, None, None)  # (batch, extra rows, both stacked): stacked once for a full batch

    def forward(self, X, y, extra=None):
        if extra is None:
            return self.net(X), y, None
        batch, rows, both = self.stacked
        if batch is not X or rows is not extra:
            both = np.concatenate([X, extra])
            self.stacked = (X, extra, both)
        scores, extra_scores = self.net.forward_with_extra(both, len(X))  # one pass, the extra rows off the graph
        return scores, y, extra_scores

    def score_array(self, scores):
        return scores.data

    def grad_norm(self):
        grads = np.concatenate([p.grad for p in self.params], axis=None)  # axis=None: each flattened
        return math.sqrt(float(np.vdot(grads, grads)))  # a BLAS dot: inf on overflow, without a warning

    def flat_parameters(self):
        return self.net.flat_parameters()

    def snapshot(self):
        return self.net.parameter_array()


MODELS = {"scalar": ScalarModel, "numpy": NumpyModel}


class Scorer:
    """The per-step metrics of one split from its scores, with what does not change precomputed."""

    def __init__(self, data_set, prep, loss_name):
        self.data_loss = loss_evaluator(loss_name, prep.targets(data_set.y))  # scores -> the data loss
        self.n = data_set.n
        self.classify = data_set.task == "classification"
        if self.classify:
            self.positive = data_set.y > 0
            self.index = class_indices(data_set.y)
        else:  # R^2 = 1 - SSE / SST in the targets' units; the loss is the MSE in standardized units
            spread = float(np.sum((data_set.y - data_set.y.mean()) ** 2))
            self.sse_per_mse = self.n * prep.y_scale ** 2
            self.sst = spread if spread > 0 else None
            self.y_scale = prep.y_scale

    def accuracy(self, scores):
        if scores.ndim == 1:
            hits = np.count_nonzero((scores > 0) == self.positive)
        else:
            hits = np.count_nonzero(scores.argmax(axis=1) == self.index)
        return hits / self.n

    def regression(self, mse):
        """(R^2, RMSE) in the targets' units from the MSE in the network's units."""
        root = math.sqrt(mse) * self.y_scale if mse >= 0 else math.nan
        return (1.0 - mse * self.sse_per_mse / self.sst if self.sst is not None else None), root


def train(config, on_step=None, should_stop=None, dataset=None, on_start=None):
    """Train an MLP as `config` says.

    on_start(result) is called once the data and the network are ready, before the first step
    (a RunRecorder writes its "running" row then); on_step(result) is called after every step
    with the result so far (a page redraws from it); should_stop() is asked before every step
    (a Stop button).
    A loss that is not finite (or has blown up BLOWUP-fold) ends the run as "diverged";
    the steps before it are kept. For a CSV the result's config carries the file's
    number of classes.
    """
    # The matrices here are tiny: BLAS threads cost more to wake than they save (about 3x per step).
    # quietly(): numpy's warnings off once for the run, not once per op (a few % of a numpy step).
    with threadpool_limits(limits=1, user_api="blas"), quietly():
        return _train(config, on_step, should_stop, dataset, on_start)


def _train(config, on_step, should_stop, dataset, on_start=None):
    data = prepare_data(config, dataset)
    config, prep, train_set, test_set = data.config, data.preprocessing, data.train, data.test
    loss_name = config.loss_for(train_set.task, train_set.n_classes)
    X_all, y_all = data.network_arrays("train")
    model = MODELS[config.engine](config, X_all.shape[1])
    opt_kwargs = {"momentum": config.momentum} if config.optimizer == "sgd" else {}
    optimizer = OPTIMIZERS[config.optimizer](model.params, lr=config.lr, **opt_kwargs)
    on_train = Scorer(train_set, prep, loss_name)
    on_test = Scorer(test_set, prep, loss_name) if test_set is not None else None
    X_test = prep.inputs(test_set.X) if test_set is not None else None
    classify = train_set.task == "classification"
    rates = [learning_rate(config, step) for step in range(config.steps)]
    batches = np.random.default_rng(config.seed)
    history = {key: [] for key in HISTORY_KEYS}
    record = [history[key].append for key in HISTORY_KEYS]
    result = TrainResult(config, "finished", history, [], train_set.task, train_set.n_features,
                         live_params=model.flat_parameters, class_names=train_set.class_names)
    if on_start is not None:
        on_start(result)
    keep = set(snapshot_steps(config.steps, snapshot_limit(len(result.live_params()))))
    n = train_set.n
    full_batch = not (config.batch_size and config.batch_size < n)
    first_objective = None
    start = time.perf_counter()
    for step in range(config.steps):
        if should_stop is not None and should_stop():
            result.status = "stopped"
            break
        if full_batch:
            X, y = X_all, y_all
        else:
            idx = np.sort(batches.choice(n, config.batch_size, replace=False))
            X, y = X_all[idx], y_all[idx]
        optimizer.lr = rates[step]
        with cycle_collector_paused():  # the step's graph has no cycles: it is freed before the collector resumes
            # one forward pass scores the batch (with a graph) and the test set (without one)
            total, train_loss, penalty, scores, test_scores = model.objective(config, loss_name, X, y, X_test)
            objective = float(total.data)
            if has_diverged(objective, first_objective):
                result.status, result.diverged_at = "diverged", step + 1
                break
            # metrics of the weights this loss was computed with, before the update
            train_scores = None
            if classify:  # a full batch is the whole training set: its scores are already computed
                train_scores = model.score_array(scores) if full_batch else model.predict(X_all)
            if step + 1 in keep:  # for replay: the weights this step's loss was computed with
                result.snapshots[step + 1] = model.snapshot()  # a new array
            optimizer.zero_grad()
            total.backward()
            grad_norm = model.grad_norm()
            optimizer.step()
            del total, scores  # the graph
        first_objective = objective if first_objective is None else first_objective
        train_accuracy = test_loss = test_accuracy = test_r2 = test_rmse = None
        if classify:
            train_accuracy = on_train.accuracy(train_scores)
        if on_test is not None:
            test_loss = on_test.data_loss(test_scores)
            if classify:
                test_accuracy = on_test.accuracy(test_scores)
            else:
                test_r2, test_rmse = on_test.regression(test_loss)
        for add, value in zip(record, (step + 1, train_loss, test_loss, train_accuracy, test_accuracy, grad_norm,
                                       optimizer.lr, time.perf_counter() - start, penalty, test_r2, test_rmse)):
            add(value)  # in HISTORY_KEYS order
        if on_step is not None:
            result.elapsed = time.perf_counter() - start
            on_step(result)
    result.params, result.live_params = model.flat_parameters(), None
    if result.status != "diverged" and not all(map(math.isfinite, result.params)):
        result.status, result.diverged_at = "diverged", result.steps_done
    result.elapsed = time.perf_counter() - start
    return result


MAX_SNAPSHOTS = 100           # weight snapshots a run keeps for replay...
MAX_SNAPSHOT_VALUES = 500_000  # ...and at most this many numbers in all (big nets keep fewer snapshots)


def snapshot_limit(n_params):
    """How many snapshots a net of n_params weights keeps: MAX_SNAPSHOTS, fewer for big nets, at least 2."""
    return max(2, min(MAX_SNAPSHOTS, MAX_SNAPSHOT_VALUES // max(n_params, 1)))


def snapshot_steps(total_steps, max_snapshots=MAX_SNAPSHOTS):
    """The steps (1-based) whose weights a run keeps for replay: at most max_snapshots, evenly spaced, with
    the first and the last."""
    if total_steps <= max_snapshots:
        return list(range(1, total_steps + 1))
    return sorted({round(1 + i * (total_steps - 1) / (max_snapshots - 1)) for i in range(max_snapshots)})


def has_diverged(loss, first):
    """Not finite, or BLOWUP times the first step's loss."""
    return not math.isfinite(loss) or (first is not None and loss > BLOWUP * (first + 1e-12))


# ---- pure evaluation helpers: trained weights in, arrays out
def predict(config, params, X, data=None):
    """Network outputs for rows X in the data's own columns: shape (n,) for one output (the
    score, or the regression output in the targets' units), (n, k) logits for k classes.

    data: the run's PreparedData (its fitted preprocessing); default: prepared from the config."""
    data = data or prepare_data(config)
    X = np.asarray(X, dtype=float)
    net = make_network(data.config, X.shape[1], params=params)
    return data.preprocessing.outputs(net.predict(data.preprocessing.inputs(X)))


def softmax(logits):
    """Class probabilities of (n, k) logits, row by row (stable for large logits)."""
    z = np.asarray(logits, dtype=float)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def predicted_classes(scores):
    """Class indices 0 .. k-1 of scores: the sign of one score (0: the -1 class), or the largest logit."""
    scores = np.asarray(scores, dtype=float)
    return (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)


def data_loss(loss_name, scores, y):
    """The loss of scores against targets, with the numpy engine's own formula (no graph built)."""
    return loss_value(loss_name, scores, y)


def accuracy(scores, y):
    """Share of samples whose predicted class is their label's (labels +-1 or 0 .. k-1)."""
    return float(np.mean(predicted_classes(scores) == class_indices(y)))


def confusion(scores, y, n_classes=2):
    """k x k counts: row = true class, column = predicted class (class indices in label order)."""
    matrix = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(matrix, (class_indices(y), predicted_classes(scores)), 1)
    return matrix.tolist()


def class_accuracy(scores, y, n_classes=2):
    """Per class, the share of its samples predicted as it (None for a class with no samples)."""
    matrix = np.array(confusion(scores, y, n_classes))
    totals = matrix.sum(axis=1)
    return [float(matrix[i, i] / totals[i]) if totals[i] else None for i in range(n_classes)]


def r2_score(predictions, y):
    """Coefficient of determination 1 - SSE/SST (None when the targets are all equal)."""
    y = np.asarray(y, dtype=float)
    sst = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((np.asarray(predictions) - y) ** 2)) / sst if sst > 0 else None


def rmse(predictions, y):
    return math.sqrt(float(np.mean((np.asarray(predictions) - np.asarray(y, dtype=float)) ** 2)))


def decision_grid(config, params, X, resolution=80, margin=0.5, data=None):
    """(xs, ys, Z): the network's output over a grid covering 2-D inputs X (the data's own two
    columns: the grid goes through the same features and standardization as the data).
    Z is (resolution, resolution) for one output, (resolution, resolution, k) logits for k."""
    X = np.asarray(X, dtype=float)
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    out = predict(config, params, np.column_stack([gx.ravel(), gy.ravel()]), data=data)
    return xs, ys, out.reshape(gx.shape + out.shape[1:])
