"""Losses and penalties of the numpy engine (the twin of losses.py), one node each.

Each loss is written with the formula of micrograd/losses.py, element by element in
the same order, so both engines give the same loss to the last few bits: the
training loop switches engines without changing a number (tested to 1e-9). One
node per loss instead of a node per sample keeps a training step's graph small.
"""
import numpy as np

from .tensor import Tensor, constant, make_node, quiet, unbroadcast

__all__ = ["mse", "hinge", "bce_with_logits", "l1", "l2", "LOSSES"]

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
    d = pred.data - y.data
    out = _add_reduce((d * d).ravel()) / d.size
    return make_node(out, (pred, y), "mse", _mse_bw, d)


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
    m = 1.0 - y * scores.data
    out = _add_reduce(_maximum(m, 0.0).ravel()) / m.size
    return make_node(out, (scores,), "hinge", _hinge_bw, (m, y))


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
    e = np.exp(-np.abs(z))
    terms = _maximum(z, 0.0) - z * t + np.log1p(e)
    out = _add_reduce(terms.ravel()) / terms.size
    local = _where(z >= 0, 1.0, e) / (1.0 + e) - t  # sigmoid(z) - t, the stable formula
    return make_node(out, (logits,), "bce", _bce_bw, local)


def _bce_bw(g, node):
    local = node._ctx
    return (unbroadcast(local * float(g * (1.0 / local.size)), node._prev[0].data.shape),)


@quiet
def l1(params):
    """sum |p| over every element of every parameter, as one node."""
    params = tuple(params)
    out = sum(float(_add_reduce(np.abs(p.data).ravel())) for p in params)
    return make_node(out, params, "l1", _l1_bw, None)


def _l1_bw(g, node):
    g = float(g)
    return tuple(g * np.subtract(p.data > 0, p.data < 0, dtype=_f64) for p in node._prev)


def l2(params):
    """sum p*p over every element of every parameter, as one node."""
    params = tuple(params)
    out = sum(float(np.vdot(p.data, p.data)) for p in params)  # BLAS dot: overflows to inf without a warning
    return make_node(out, params, "l2", _l2_bw, None)


def _l2_bw(g, node):
    g2 = 2.0 * float(g)
    return tuple(p.data * g2 for p in node._prev)


LOSSES = {"mse": mse, "hinge": hinge, "bce": bce_with_logits}
