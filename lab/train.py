"""One training loop for both engines: config in, per-step history and trained weights out.

Also the one place that turns a TrainConfig into a network (make_network) and that says how
long the scalar engine will take (estimate_scalar_seconds), so pages and the CLI agree.
"""
import math
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from data import load_csv, make_dataset, train_test_split
from micrograd import MLP, losses as scalar_losses, tensor_losses
from micrograd.optim import OPTIMIZERS
from micrograd.tensor_nn import TensorMLP

from .config import ConfigError, TrainConfig

BLOWUP = 1e10  # a loss this many times the first one has diverged, even while still finite
HISTORY_KEYS = ("step", "train_loss", "test_loss", "accuracy", "test_accuracy", "grad_norm", "lr", "time")


@dataclass
class TrainResult:
    config: TrainConfig
    status: str                       # "finished", "stopped" or "diverged"
    history: dict                     # HISTORY_KEYS -> list, one entry per completed step
    params: list                      # final weights, flat, in MLP.parameters() order
    task: str
    n_features: int
    diverged_at: int | None = None    # the step whose loss was not finite
    elapsed: float = 0.0
    # while training: a function giving the current weights (for checkpoints and live drawing); None once done
    live_params: object = field(default=None, repr=False, compare=False)
    # for replay: step -> the weights that step's loss was computed with, at snapshot_steps() of the run
    snapshots: dict = field(default_factory=dict, repr=False)

    @property
    def losses(self):
        return self.history["train_loss"]

    @property
    def steps_done(self):
        return len(self.history["step"])

    def final(self, key):
        values = self.history.get(key) or []
        return values[-1] if values else None


def make_network(config, n_features, engine="numpy", params=None):
    """The config's MLP for `n_features` inputs: hidden layers config.hidden, one output.

    engine "scalar" gives a micrograd.nn.MLP (one Value per number), "numpy" a TensorMLP;
    both start from the same weights (config.seed). params: flat weights in
    MLP.parameters() order to load instead (a trained run's)."""
    nouts = [*config.hidden, 1]
    if engine == "scalar":
        net = MLP(n_features, nouts, config.activation, config.output_activation, seed=config.seed)
    elif engine == "numpy":
        net = TensorMLP(n_features, nouts, config.activation, config.output_activation, seed=config.seed)
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
    """(train, test or None) for a config; `dataset` overrides it (an uploaded CSV)."""
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
            dataset = make_dataset(config.dataset, n=config.n, noise=config.noise, seed=config.data_seed)
    # the lecture's four samples are too few to hold any out: all four train
    fraction = 0.0 if config.dataset == "lecture" else config.test_fraction
    return train_test_split(dataset, fraction, seed=config.data_seed)


def learning_rate(config, step):
    """The rate at 0-based `step`: constant, or decaying to 10% of lr by the last step."""
    if config.lr_schedule == "constant" or config.steps == 1:
        return config.lr
    progress = step / (config.steps - 1)
    if config.lr_schedule == "linear":
        return config.lr * (1.0 - 0.9 * progress)
    return config.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))  # cosine


class Model:
    """One engine's network, loss and gradient, behind the same four methods."""
    lib = None  # the engine's module of losses and penalties

    def loss(self, config, loss_name, X, y):
        total = self.lib.LOSSES[loss_name](*self.forward(X, y))
        if config.l2:
            total = total + config.l2 * self.lib.l2(self.params)
        if config.l1:
            total = total + config.l1 * self.lib.l1(self.params)
        return total


class ScalarModel(Model):
    """The lecture's engine: one Value per number."""
    lib = scalar_losses

    def __init__(self, config, nin):
        self.net = make_network(config, nin, engine="scalar")
        self.params = self.net.parameters()

    def forward(self, X, y):
        return [self.net(row) for row in X.tolist()], y.tolist()

    def grad_norm(self):
        return math.sqrt(sum(p.grad * p.grad for p in self.params))

    def flat_parameters(self):
        return [p.data for p in self.params]


class NumpyModel(Model):
    """The vectorized engine: one node per layer."""
    lib = tensor_losses

    def __init__(self, config, nin):
        self.net = make_network(config, nin, engine="numpy")
        self.params = self.net.parameters()

    def forward(self, X, y):
        return self.net(X), y

    def grad_norm(self):
        with np.errstate(over="ignore", invalid="ignore"):
            return math.sqrt(sum(float(np.dot(g, g)) for g in (np.ravel(p.grad) for p in self.params)))

    def flat_parameters(self):
        return self.net.flat_parameters()


MODELS = {"scalar": ScalarModel, "numpy": NumpyModel}


def train(config, on_step=None, should_stop=None, dataset=None, on_start=None):
    """Train an MLP as `config` says.

    on_start(result) is called once the data and the network are ready, before the first step
    (a RunRecorder writes its "running" row then); on_step(result) is called after every step
    with the result so far (a page redraws from it); should_stop() is asked before every step
    (a Stop button).
    A loss that is not finite (or has blown up BLOWUP-fold) ends the run as "diverged";
    the steps before it are kept.
    """
    # The matrices here are tiny: BLAS threads cost more to wake than they save (about 3x per step).
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(config, on_step, should_stop, dataset, on_start)


def _train(config, on_step, should_stop, dataset, on_start=None):
    train_set, test_set = load_data(config, dataset)
    loss_name = config.loss_for(train_set.task)
    model = MODELS[config.engine](config, train_set.n_features)
    opt_kwargs = {"momentum": config.momentum} if config.optimizer == "sgd" else {}
    optimizer = OPTIMIZERS[config.optimizer](model.params, lr=config.lr, **opt_kwargs)
    probe = make_network(config, train_set.n_features, params=model.flat_parameters())  # evaluates each step's weights
    batches = np.random.default_rng(config.seed)
    history = {key: [] for key in HISTORY_KEYS}
    result = TrainResult(config, "finished", history, [], train_set.task, train_set.n_features,
                         live_params=model.flat_parameters)
    if on_start is not None:
        on_start(result)
    keep = set(snapshot_steps(config.steps, snapshot_limit(len(result.live_params()))))
    n = train_set.n
    start = time.perf_counter()
    for step in range(config.steps):
        if should_stop is not None and should_stop():
            result.status = "stopped"
            break
        if config.batch_size and config.batch_size < n:
            idx = np.sort(batches.choice(n, config.batch_size, replace=False))
            X, y = train_set.X[idx], train_set.y[idx]
        else:
            X, y = train_set.X, train_set.y
        optimizer.lr = learning_rate(config, step)
        loss = model.loss(config, loss_name, X, y)
        loss_value = float(loss.data)
        if has_diverged(loss_value, history["train_loss"]):
            result.status, result.diverged_at = "diverged", step + 1
            break
        weights = model.flat_parameters()
        probe.load_parameters(weights)  # the weights this loss was computed with
        if step + 1 in keep:
            result.snapshots[step + 1] = [float(w) for w in weights]
        optimizer.zero_grad()
        loss.backward()
        grad_norm = model.grad_norm()
        optimizer.step()
        metrics = evaluate(probe, train_set, test_set, loss_name)
        for key, value in (("step", step + 1), ("train_loss", loss_value), ("grad_norm", grad_norm),
                           ("lr", optimizer.lr), ("time", time.perf_counter() - start), *metrics.items()):
            history[key].append(value)
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


def has_diverged(loss, earlier):
    first = earlier[0] if earlier else None
    return not math.isfinite(loss) or (first is not None and loss > BLOWUP * (first + 1e-12))


# ---- pure evaluation helpers: trained weights in, arrays out
def scores_of(net, X):
    return np.asarray(net(np.asarray(X, dtype=float)).data, dtype=float).reshape(-1)


def predict(config, params, X):
    """Network outputs (scores for classification) for the rows of X."""
    X = np.asarray(X, dtype=float)
    return scores_of(make_network(config, X.shape[1], params=params), X)


def data_loss(loss_name, scores, y):
    """The loss of scores against targets, with the numpy engine's own formula (no gradient kept)."""
    return float(tensor_losses.LOSSES[loss_name](scores, y).data)


def accuracy(scores, y):
    return float(np.mean(np.where(scores > 0, 1.0, -1.0) == y))


def evaluate(net, train_set, test_set, loss_name):
    """Train accuracy, test loss and test accuracy of a net (None where they do not apply)."""
    classify = train_set.task == "classification"
    out = {"accuracy": accuracy(scores_of(net, train_set.X), train_set.y) if classify else None,
           "test_loss": None, "test_accuracy": None}
    if test_set is not None:
        scores = scores_of(net, test_set.X)
        out["test_loss"] = data_loss(loss_name, scores, test_set.y)
        out["test_accuracy"] = accuracy(scores, test_set.y) if classify else None
    return out


def decision_grid(config, params, X, resolution=80, margin=0.5):
    """(xs, ys, Z): the network's output over a grid covering 2-D inputs X, for a heatmap."""
    X = np.asarray(X, dtype=float)
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    Z = predict(config, params, np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    return xs, ys, Z


def confusion(scores, y):
    """2x2 counts [[true -1 predicted -1, true -1 predicted +1], [true +1 ..., ...]]."""
    pred = np.where(scores > 0, 1.0, -1.0)
    return [[int(np.sum((y == t) & (pred == p))) for p in (-1.0, 1.0)] for t in (-1.0, 1.0)]
