"""Losses and penalties of the numpy engine (the twin of losses.py), one node each.

Each loss is written with the formula of micrograd/losses.py, element by element in
the same order, so both engines give the same loss to the last few bits: the
training loop switches engines without changing a number (tested to 1e-9). One
node per loss instead of a node per sample keeps a training step's graph small.
Each loss's arithmetic is a plain function of arrays (`_hinge`, ...), shared by the
node-building loss and by `loss_value`, which evaluates a test set without a graph.
"""
import numpy as np

from .tensor import Tensor, constant, make_node, quiet, unbroadcast

__all__ = ["mse", "hinge", "bce_with_logits", "cross_entropy", "class_indices", "l1", "l2", "LOSSES", "loss_value",
           "loss_evaluator"]

_f64 = np.float64
_asarray = np.asarray
_where = np.where
_maximum = np.maximum
_add_reduce = np.add.reduce


def _labels(y):
    return _asarray(y.data if type(y) is Tensor else y, dtype=_f64)


@quiet
def mse(pred, y):
    """Mean squared error mean((p - y)**2). y: array-like, or a Tensor (which then gets a gradient too)."""
    y = constant(y)
    pred = constant(pred)
    out, d = _mse(pred.data, y.data)
    return make_node(out, (pred, y), "mse", _mse_bw, d)


def _mse(p, y):
    d = p - y
    return _add_reduce((d * d).ravel()) / d.size, d


def _mse_bw(g, node):
    p, y = node._prev
    d = node._ctx
    gd = d * (2.0 * (g * (1.0 / d.size)))  # (p - y)**2 has local 2(p - y); mean has local 1/n
    return (unbroadcast(gd, p.data.shape) if p.requires_grad else None,
            unbroadcast(-gd, y.data.shape) if y.requires_grad else None)


@quiet
def hinge(scores, labels):
    """SVM max-margin loss mean(relu(1 - y * score)); labels +-1 (constants)."""
    y = _labels(labels)
    scores = constant(scores)
    out, m = _hinge(scores.data, y)
    return make_node(out, (scores,), "hinge", _hinge_bw, (m, y))


def _hinge(z, y):
    m = 1.0 - y * z
    return _add_reduce(_maximum(m, 0.0).ravel()) / m.size, m


def _hinge_bw(g, node):
    m, y = node._ctx
    gm = _where(m <= 0.0, 0.0, y * -float(g * (1.0 / m.size)))  # relu' (0 at <= 0, nan passes) * -y / n
    return (unbroadcast(gm, node._prev[0].data.shape),)


@quiet
def bce_with_logits(logits, labels):
    """Binary cross-entropy on raw scores; labels +-1 or 0/1 (constants).

    Per term max(z, 0) - z*t + log1p(exp(-|z|)) with local gradient
    sigmoid(z) - t, averaged: the formula of micrograd.losses.bce_with_logits."""
    t = (_labels(labels) > 0).astype(_f64)
    logits = constant(logits)
    z = logits.data
    out, e = _bce(z, t)
    local = _where(z >= 0, 1.0, e) / (1.0 + e) - t  # sigmoid(z) - t, the stable formula
    return make_node(out, (logits,), "bce", _bce_bw, local)


def _bce(z, t):
    e = np.exp(-np.abs(z))
    terms = _maximum(z, 0.0) - z * t + np.log1p(e)
    return _add_reduce(terms.ravel()) / terms.size, e


def _bce_bw(g, node):
    local = node._ctx
    return (unbroadcast(local * float(g * (1.0 / local.size)), node._prev[0].data.shape),)


def class_indices(labels):
    """The classes labels name, as integers: 0 .. k-1 for k classes; -1 / +1 (two classes) -> 0 / 1."""
    return _maximum(_labels(labels), 0.0).astype(np.intp)


@quiet
def cross_entropy(logits, labels):
    """Softmax cross-entropy, the mean over samples, as torch.nn.functional.cross_entropy.

    logits: (n, k); labels: class indices (or +-1 for two classes), constants. Per row
    m + log(sum_j exp(z_j - m)) - z_label with m the row's max (no exp overflows), local
    gradient softmax(z) - onehot(label): the formula of micrograd.losses.cross_entropy."""
    target = class_indices(labels)
    logits = constant(logits)
    out, (e, total, rows) = _ce(logits.data, target)
    local = e / total[:, None]
    local[rows, target] -= 1.0
    return make_node(out, (logits,), "ce", _ce_bw, local)


def _ce(z, target):
    rows = np.arange(z.shape[0])
    m = z.max(axis=1)
    e = np.exp(z - m[:, None])
    total = _add_reduce(e, axis=1)
    terms = m + np.log(total) - z[rows, target]
    return _add_reduce(terms) / terms.size, (e, total, rows)


def _ce_bw(g, node):
    local = node._ctx
    return (local * float(g * (1.0 / local.shape[0])),)


@quiet
def l1(params, weight=1.0):
    """weight * (sum |p| over every element of every parameter), as one node: the numbers of
    weight * l1(params), without the extra node."""
    params = tuple(params)
    out = weight * sum(float(_add_reduce(np.abs(p.data).ravel())) for p in params)
    return make_node(out, params, "l1", _l1_bw, weight)


def _l1_bw(g, node):
    g = float(g * node._ctx)
    return tuple(g * np.subtract(p.data > 0, p.data < 0, dtype=_f64) for p in node._prev)


def l2(params, weight=1.0):
    """weight * (sum p*p over every element of every parameter), as one node: the numbers of
    weight * l2(params), without the extra node."""
    params = tuple(params)
    flat = np.concatenate([p.data.reshape(-1) for p in params] or [np.zeros(0)])  # one BLAS dot: inf, no warning
    out = weight * float(np.vdot(flat, flat))
    return make_node(out, params, "l2", _l2_bw, weight)


def _l2_bw(g, node):
    g2 = 2.0 * float(g * node._ctx)
    return tuple(p.data * g2 for p in node._prev)


LOSSES = {"mse": mse, "hinge": hinge, "bce": bce_with_logits, "ce": cross_entropy}
# each loss's arithmetic on plain arrays, and its labels as that arithmetic reads them
_FORWARD = {"mse": _mse, "hinge": _hinge, "bce": _bce, "ce": _ce}
_TARGETS = {"mse": _labels, "hinge": _labels, "bce": lambda y: (_labels(y) > 0).astype(_f64), "ce": class_indices}


@quiet
def loss_value(name, scores, labels):
    """The loss `name` of plain arrays as a float, without building a node: the same formula
    and numbers as LOSSES[name] (for evaluating a test set)."""
    return float(_FORWARD[name](_asarray(scores, dtype=_f64), _TARGETS[name](labels))[0])


def loss_evaluator(name, labels):
    """scores -> loss_value(name, scores, labels), with the labels read once: for scoring the
    same test set at every training step."""
    forward, targets = _FORWARD[name], _TARGETS[name](labels)

    @quiet
    def evaluate(scores):
        return float(forward(scores, targets)[0])
    return evaluate
