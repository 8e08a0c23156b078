"""A small reverse-mode autograd engine over numpy float64 arrays.

The vectorized sibling of engine.py. A `Tensor` holds a float64 ndarray; each
op builds its output node and records what its backward needs: a plain
module-level function `backward(out_grad, node) -> one gradient per child`
and the arrays it saved in `node._ctx`. backward() walks an iterative
topological order. No backward function is a closure over its own output, so
a graph has no reference cycles and is freed by reference counting as soon as
it is dropped.

Numbers follow float64 PyTorch: overflow gives inf, 0/0 and log(-1) give nan,
without numpy warnings (the ops run with numpy's floating-point errors
ignored). Gradients of broadcast operands are summed back to the operand's
shape.

Gradients: a leaf's `.grad` starts at 0.0 (as in the scalar engine and
micrograd.optim's zero_grad) and is an ndarray of the leaf's shape once a
backward pass has reached it; leaves accumulate across passes (call backward
twice and their grads double). Inner nodes hold the gradient of the last pass
only. backward() never mutates in place an array that existed before the pass
(it adds into a leaf's grad in place only when that array was created during
the same pass), so an optimizer may keep references to old grads.

For training speed TensorMLP uses a fused layer op (`linear`: x @ W + b and
the activation as one node) and each loss is one node with the formula of
micrograd/losses.py; `TensorMLP.__call__(X, fused=False)` builds the same
network from one node per primitive op and gives the same numbers up to
rounding.
"""
import numpy as np

from .engine import topological_order
from .nn import ACTIVATIONS, init_weights

__all__ = ["Tensor", "TensorMLP", "linear", "mse", "hinge", "bce_with_logits", "l1", "l2", "LOSSES",
           "ACTIVATIONS"]

_f64 = np.float64
_ndarray = np.ndarray
_asarray = np.asarray
_new = object.__new__
_dot = np.dot
_where = np.where
_maximum = np.maximum
_add_reduce = np.add.reduce
_SCALARS = (int, float)

# ---- silencing numpy's floating-point warnings, cheaply
# np.errstate costs a few microseconds per use (it rebuilds its state object each time); setting
# numpy's error-state context variable to a prebuilt "ignore all" state costs ~0.3 us. Fall back
# to np.errstate if a numpy release moves these internals.
try:
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj

    _IGNORE_ALL = _make_extobj(all="ignore")

    def _quiet_on():
        return _extobj_contextvar.set(_IGNORE_ALL)

    _quiet_off = _extobj_contextvar.reset
except (ImportError, AttributeError, TypeError):  # pragma: no cover - other numpy versions
    def _quiet_on():
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def _quiet_off(state):
        state.__exit__(None, None, None)


def _quiet(fn):
    """Decorator: run fn with numpy's floating-point warnings off (torch never warns)."""
    def quiet(*args, **kwargs):
        token = _quiet_on()
        try:
            return fn(*args, **kwargs)
        finally:
            _quiet_off(token)
    quiet.__name__, quiet.__qualname__, quiet.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return quiet


class Tensor:
    """An n-dimensional float64 array with a gradient.

    Tensor(data, requires_grad=True, label=""): data is copied into a new
    float64 array. Leaves that need no gradient (inputs, labels) can pass
    requires_grad=False; an op whose operands all need no gradient returns a
    constant (no graph is recorded).
    """
    __slots__ = ("data", "grad", "requires_grad", "label", "_prev", "_op", "_backward", "_ctx", "__weakref__")
    __array_ufunc__ = None  # numpy defers to our reflected operators: ndarray * Tensor -> Tensor

    def __init__(self, data, requires_grad=True, label=""):
        self.data = np.array(data.data if isinstance(data, Tensor) else data, dtype=_f64, order="C")
        self.requires_grad = bool(requires_grad)
        self.grad = 0.0 if self.requires_grad else None
        self.label = label
        self._prev = ()
        self._op = ""
        self._backward = None
        self._ctx = None

    # ---- conveniences
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def __len__(self):
        return len(self.data)

    def item(self):
        return float(self.data)

    def numpy(self):
        return self.data

    def detach(self):
        """The same data as a constant (no gradient, no graph)."""
        return _const(self.data)

    def zero_grad(self):
        self.grad = 0.0

    def __repr__(self):
        body = np.array2string(self.data, precision=6, separator=", ")
        extra = (f", op={self._op!r}" if self._op else "") + (f", label={self.label!r}" if self.label else "")
        return f"Tensor({body}{extra})"

    # ---- arithmetic, broadcasting like numpy. A Python number operand becomes part of a
    # one-child node; anything else (arrays, lists) becomes a constant Tensor.
    @_quiet
    def __add__(self, other):
        if type(other) in _SCALARS:
            return _unary(self.data + other, self, "+", _pass_bw, None)
        other = other if type(other) is Tensor else _const(other)
        return _binary(self.data + other.data, self, other, "+", _add_bw, None)

    @_quiet
    def __sub__(self, other):
        if type(other) in _SCALARS:
            return _unary(self.data - other, self, "-", _pass_bw, None)
        other = other if type(other) is Tensor else _const(other)
        return _binary(self.data - other.data, self, other, "-", _sub_bw, None)

    @_quiet
    def __mul__(self, other):
        if type(other) in _SCALARS:
            return _unary(self.data * other, self, "*", _scale_bw, other)
        other = other if type(other) is Tensor else _const(other)
        return _binary(self.data * other.data, self, other, "*", _mul_bw, None)

    @_quiet
    def __truediv__(self, other):
        if type(other) in _SCALARS:
            return _unary(self.data / other, self, "/", _div_scalar_bw, other)
        other = other if type(other) is Tensor else _const(other)
        return _binary(self.data / other.data, self, other, "/", _div_bw, None)

    @_quiet
    def __matmul__(self, other):
        other = other if type(other) is Tensor else _const(other)
        if not (1 <= self.data.ndim <= 2 and 1 <= other.data.ndim <= 2):
            raise ValueError("matmul supports 1-D and 2-D operands only")
        return _binary(self.data @ other.data, self, other, "@", _matmul_bw, None)

    def __radd__(self, other):
        return self + other if type(other) in _SCALARS else _const(other) + self

    @_quiet
    def __rsub__(self, other):
        if type(other) in _SCALARS:
            return _unary(other - self.data, self, "-", _neg_bw, None)
        return _const(other) - self

    def __rmul__(self, other):
        return self * other if type(other) in _SCALARS else _const(other) * self

    def __rtruediv__(self, other):
        return _const(other) / self

    def __rmatmul__(self, other):
        return _const(other) @ self

    def __neg__(self):
        return _unary(-self.data, self, "neg", _neg_bw, None)

    @_quiet
    def __pow__(self, exponent):
        """self ** c for a constant number c."""
        if isinstance(exponent, Tensor):
            raise TypeError("Tensor ** Tensor is not supported: the exponent must be a constant")
        c = float(exponent)
        return _unary(_power(self.data, c), self, f"**{c:g}", _pow_bw, c)

    # ---- element-wise functions
    @_quiet
    def exp(self):
        out = np.exp(self.data)
        return _unary(out, self, "exp", _exp_bw, out)

    @_quiet
    def log(self):
        return _unary(np.log(self.data), self, "log", _log_bw, None)

    def tanh(self):
        out = np.tanh(self.data)
        return _unary(out, self, "tanh", _tanh_bw, out)

    @_quiet
    def sigmoid(self):
        out = _sigmoid(self.data)
        return _unary(out, self, "sigmoid", _sigmoid_bw, out)

    def relu(self):
        out = _maximum(self.data, 0.0)  # nan passes through, as in PyTorch
        return _unary(out, self, "relu", _relu_bw, out)

    def abs(self):
        return _unary(np.abs(self.data), self, "abs", _abs_bw, None)

    # ---- reductions and shape
    @_quiet
    def sum(self, axis=None, keepdims=False):
        out = self.data.sum(axis=axis, keepdims=keepdims)
        return _unary(out, self, "sum", _sum_bw, (axis, keepdims, None))

    @_quiet
    def mean(self, axis=None, keepdims=False):
        axes = range(self.data.ndim) if axis is None else np.atleast_1d(axis)
        count = int(np.prod([self.data.shape[a] for a in axes]))
        out = self.data.mean(axis=axis, keepdims=keepdims)
        return _unary(out, self, "mean", _sum_bw, (axis, keepdims, 1.0 / count if count else np.nan))

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _unary(self.data.reshape(shape), self, "reshape", _reshape_bw, None)

    @property
    def T(self):
        return _unary(self.data.T, self, "T", _transpose_bw, None)

    # ---- backpropagation
    def topo_order(self):
        """Every node of the graph (leaves too), each after all of its children."""
        return topological_order(self)

    def _inner_order(self):
        """The non-leaf nodes only, each after all of its non-leaf children."""
        order, seen, stack = [], set(), [(self, False)]
        push, pop, see = stack.append, stack.pop, seen.add
        while stack:
            node, children_done = pop()
            if children_done:
                order.append(node)
            elif node not in seen:
                see(node)
                push((node, True))
                for c in node._prev:
                    if c._prev and c not in seen:
                        push((c, False))
        return order

    def backward(self, grad=None):
        """Fill in d(self)/d(node) for every node of the graph.

        `grad` seeds the output's gradient (default: ones, i.e. the gradient of
        self.sum()). Leaves accumulate; inner nodes are reset each pass.
        """
        if grad is None:
            seed = _ONE if self.data.ndim == 0 else np.ones_like(self.data)
        else:
            seed = np.array(np.broadcast_to(_asarray(grad.data if type(grad) is Tensor else grad, dtype=_f64),
                                            self.data.shape))
        if not self._prev:
            if self.requires_grad:
                cg = self.grad
                self.grad = _asarray(seed + cg) if cg is not None else seed.copy()
            return
        order = self._inner_order()
        for node in order:
            node.grad = None
        self.grad = seed
        owned = set()  # leaves whose grad array was created during this pass: safe to add into in place
        token = _quiet_on()
        try:
            for node in reversed(order):
                backward = node._backward
                for child, g in zip(node._prev, backward(node.grad, node)):
                    if g is None:
                        continue
                    if child._prev:  # inner node: no in-place ops, its grad may be shared
                        cg = child.grad
                        child.grad = g if cg is None else cg + g
                    elif child in owned:
                        child.grad += g
                    elif child.requires_grad:
                        cg = child.grad
                        if type(cg) is float and cg == 0.0:  # zeroed leaf: keep g unless it is shared
                            g = g.copy() if backward in _SHARES_GRAD else g
                        else:
                            g = g + cg
                        child.grad = g if type(g) is _ndarray else _asarray(g)
                        owned.add(child)
        finally:
            _quiet_off(token)


_ONE = np.ones(())
_ONE.flags.writeable = False


# ---- node construction
def _node(data, prev, op, backward, ctx):
    t = _new(Tensor)
    t.data = data if type(data) is _ndarray else _asarray(data, dtype=_f64)
    t.grad = None
    t.requires_grad = True
    t.label = ""
    t._prev = prev
    t._op = op
    t._backward = backward
    t._ctx = ctx
    return t


def _const(x):
    """A leaf without gradient, sharing x's memory when x is already a float64 array."""
    if type(x) is Tensor:
        return x
    t = _new(Tensor)
    t.data = _asarray(x, dtype=_f64)
    t.grad = None
    t.requires_grad = False
    t.label = ""
    t._prev = ()
    t._op = ""
    t._backward = None
    t._ctx = None
    return t


def _binary(out, a, b, op, backward, ctx):
    if a.requires_grad or b.requires_grad:
        return _node(out, (a, b), op, backward, ctx)
    return _const(out)


def _unary(out, a, op, backward, ctx):
    if a.requires_grad:
        return _node(out, (a,), op, backward, ctx)
    return _const(out)


def _unbroadcast(g, shape):
    """Sum a gradient over the axes along which an operand of `shape` was broadcast."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return _asarray(g).reshape(shape)


# ---- backward functions: (out_grad, node) -> one gradient (or None) per child.
# Those marked @_shares_grad may hand out out_grad itself or a view of it; the
# others return arrays nobody else holds.
_SHARES_GRAD = set()


def _shares_grad(fn):
    _SHARES_GRAD.add(fn)
    return fn


@_shares_grad
def _pass_bw(g, node):
    return (g,)


@_shares_grad
def _add_bw(g, node):
    a, b = node._prev
    return (_unbroadcast(g, a.data.shape) if a.requires_grad else None,
            _unbroadcast(g, b.data.shape) if b.requires_grad else None)


@_shares_grad
def _sub_bw(g, node):
    a, b = node._prev
    return (_unbroadcast(g, a.data.shape) if a.requires_grad else None,
            _unbroadcast(-g, b.data.shape) if b.requires_grad else None)


def _mul_bw(g, node):
    a, b = node._prev
    return (_unbroadcast(g * b.data, a.data.shape) if a.requires_grad else None,
            _unbroadcast(g * a.data, b.data.shape) if b.requires_grad else None)


def _scale_bw(g, node):
    return (_asarray(g * node._ctx),)


def _div_scalar_bw(g, node):
    return (_asarray(g / node._ctx),)


def _div_bw(g, node):
    a, b = node._prev  # as torch: d/da = g / b, d/db = -g * ((a / b) / b)
    return (_unbroadcast(g / b.data, a.data.shape) if a.requires_grad else None,
            _unbroadcast(-g * ((a.data / b.data) / b.data), b.data.shape) if b.requires_grad else None)


def _matmul_bw(g, node):
    a, b = node._prev
    A, B = a.data, b.data
    ga = gb = None
    if A.ndim == 2 and B.ndim == 2:
        if a.requires_grad:
            ga = g @ B.T
        if b.requires_grad:
            gb = A.T @ g
    elif A.ndim == 2:  # (n, k) @ (k,) -> (n,)
        if a.requires_grad:
            ga = np.outer(g, B)
        if b.requires_grad:
            gb = A.T @ g
    elif B.ndim == 2:  # (k,) @ (k, m) -> (m,)
        if a.requires_grad:
            ga = B @ g
        if b.requires_grad:
            gb = np.outer(A, g)
    else:  # (k,) @ (k,) -> ()
        if a.requires_grad:
            ga = _asarray(g * B)
        if b.requires_grad:
            gb = _asarray(g * A)
    return ga, gb


def _neg_bw(g, node):
    return (_asarray(-g),)


def _pow_bw(g, node):
    c, x = node._ctx, node._prev[0].data
    if c == 0.0:  # d(x**0)/dx = 0 everywhere, as torch
        return (np.zeros_like(x),)
    return (_asarray(g * (c * _power(x, c - 1.0))),)


def _power(x, c):
    """x ** c as torch computes it: sqrt and rsqrt for c = +-0.5 (nan at -inf), C pow otherwise."""
    if c == 0.5:
        return np.sqrt(x)
    if c == -0.5:
        return 1.0 / np.sqrt(x)
    return np.power(x, c)


def _exp_bw(g, node):
    return (_asarray(g * node._ctx),)


def _log_bw(g, node):
    return (_asarray(g / node._prev[0].data),)


def _tanh_bw(g, node):
    t = node._ctx
    return (_asarray(g * (1.0 - t * t)),)


def _sigmoid_bw(g, node):
    s = node._ctx
    return (_asarray(g * ((1.0 - s) * s)),)


def _relu_bw(g, node):
    return (_where(node._ctx <= 0.0, 0.0, g),)  # torch's threshold_backward: 0 where x <= 0, nan lets g through


def _abs_bw(g, node):
    x = node._prev[0].data
    return (_asarray(g * np.subtract(x > 0, x < 0, dtype=_f64)),)  # sign, with sign(nan) = 0 as torch


@_shares_grad
def _sum_bw(g, node):
    axis, keepdims, scale = node._ctx
    shape = node._prev[0].data.shape
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    if scale is not None:  # mean: d/dx = g / count, computed as g * (1 / count) like the scalar engine
        g = g * scale
    return (np.broadcast_to(g, shape),)


@_shares_grad
def _reshape_bw(g, node):
    return (g.reshape(node._prev[0].data.shape),)


@_shares_grad
def _transpose_bw(g, node):
    return (g.T,)


def _sigmoid(x):
    """Logistic function, stable on both sides: the scalar engine's formula."""
    e = np.exp(-np.abs(x))
    return _where(x >= 0, 1.0, e) / (1.0 + e)


# ---- fused layer: act(x @ W + b) as one node
def linear(x, W, b, activation="linear", squeeze=False):
    """act(x @ W + b) as one node; x: (n, nin), W: (nin, nout), b: (nout,) Tensors.

    With squeeze=True and nout == 1 the output has shape (n,): one score per sample."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    x = x if type(x) is Tensor else _const(x)
    if x.data.ndim != 2 or W.data.ndim != 2 or b.data.shape != W.data.shape[1:] or x.data.shape[1] != W.data.shape[0]:
        raise ValueError(f"linear: shapes x {x.data.shape}, W {W.data.shape}, b {b.data.shape} do not fit")
    token = _quiet_on()
    try:
        out = _linear(x, W, b, activation, squeeze and W.data.shape[1] == 1)
    finally:
        _quiet_off(token)
    return out if x.requires_grad or W.requires_grad or b.requires_grad else _const(out.data)


def _linear(x, W, b, activation, squeeze):
    """The fused layer's forward; the caller silences numpy warnings."""
    z = _dot(x.data, W.data[:, 0] if squeeze else W.data)
    z += b.data
    if activation == "relu":
        out = _maximum(z, 0.0)
    elif activation == "tanh":
        out = np.tanh(z)
    elif activation == "sigmoid":
        out = _sigmoid(z)
    else:
        out = z
    return _node(out, (x, W, b), "linear", _linear_bw, activation)


def _linear_bw(g, node):
    x, W, b = node._prev
    act, out = node._ctx, node.data
    if act == "relu":
        g = _where(out <= 0.0, 0.0, g)
    elif act == "tanh":
        g = g * (1.0 - out * out)
    elif act == "sigmoid":
        g = g * ((1.0 - out) * out)
    X, Wd = x.data, W.data
    if g.ndim == 1:  # squeezed single output unit
        gW = _dot(X.T, g).reshape(Wd.shape) if W.requires_grad else None
        gb = _add_reduce(g, keepdims=True) if b.requires_grad else None
        gx = np.multiply.outer(g, Wd[:, 0]) if x.requires_grad else None
    else:
        gW = _dot(X.T, g) if W.requires_grad else None
        gb = _add_reduce(g, axis=0) if b.requires_grad else None
        gx = _dot(g, Wd.T) if x.requires_grad else None
    return gx, gW, gb


# ---- losses and penalties: one node each, with the formulas of micrograd/losses.py
def _labels(y):
    return _asarray(y.data if type(y) is Tensor else y, dtype=_f64)


@_quiet
def mse(pred, y):
    """Mean squared error mean((p - y)**2). y: array-like, or a Tensor (which then gets a gradient too)."""
    y = y if type(y) is Tensor else _const(y)
    pred = pred if type(pred) is Tensor else _const(pred)
    d = pred.data - y.data
    out = _add_reduce((d * d).ravel()) / d.size
    return _node(out, (pred, y), "mse", _mse_bw, d)


def _mse_bw(g, node):
    p, y = node._prev
    d = node._ctx
    gd = d * (2.0 * (g * (1.0 / d.size)))  # (p - y)**2 has local 2(p - y); mean has local 1/n
    return (_unbroadcast(gd, p.data.shape) if p.requires_grad else None,
            _unbroadcast(-gd, y.data.shape) if y.requires_grad else None)


def hinge(scores, labels):
    """SVM max-margin loss mean(relu(1 - y * score)); labels +-1 (constants)."""
    y = _labels(labels)
    scores = scores if type(scores) is Tensor else _const(scores)
    token = _quiet_on()
    try:
        m = 1.0 - y * scores.data
        out = _add_reduce(_maximum(m, 0.0).ravel()) / m.size
    finally:
        _quiet_off(token)
    return _node(out, (scores,), "hinge", _hinge_bw, (m, y))


def _hinge_bw(g, node):
    m, y = node._ctx
    gm = _where(m <= 0.0, 0.0, y * -float(g * (1.0 / m.size)))  # relu' (0 at <= 0, nan passes) * -y / n
    return (_unbroadcast(gm, node._prev[0].data.shape),)


@_quiet
def bce_with_logits(logits, labels):
    """Binary cross-entropy on raw scores; labels +-1 or 0/1 (constants).

    Per term max(z, 0) - z*t + log1p(exp(-|z|)) with local gradient
    sigmoid(z) - t, averaged: the formula of micrograd.losses.bce_with_logits."""
    t = (_labels(labels) > 0).astype(_f64)
    logits = logits if type(logits) is Tensor else _const(logits)
    z = logits.data
    e = np.exp(-np.abs(z))
    terms = _maximum(z, 0.0) - z * t + np.log1p(e)
    out = _add_reduce(terms.ravel()) / terms.size
    local = _where(z >= 0, 1.0, e) / (1.0 + e) - t  # sigmoid(z) - t, the stable formula
    return _node(out, (logits,), "bce", _bce_bw, local)


def _bce_bw(g, node):
    local = node._ctx
    return (_unbroadcast(local * float(g * (1.0 / local.size)), node._prev[0].data.shape),)


@_quiet
def l1(params):
    """sum |p| over every element of every parameter, as one node."""
    params = tuple(params)
    out = sum(float(_add_reduce(np.abs(p.data).ravel())) for p in params)
    return _node(out, params, "l1", _l1_bw, None)


def _l1_bw(g, node):
    g = float(g)
    return tuple(g * np.subtract(p.data > 0, p.data < 0, dtype=_f64) for p in node._prev)


def l2(params):
    """sum p*p over every element of every parameter, as one node."""
    params = tuple(params)
    out = sum(float(np.vdot(p.data, p.data)) for p in params)  # BLAS dot: overflows to inf without a warning
    return _node(out, params, "l2", _l2_bw, None)


def _l2_bw(g, node):
    g2 = 2.0 * float(g)
    return tuple(p.data * g2 for p in node._prev)


LOSSES = {"mse": mse, "hinge": hinge, "bce": bce_with_logits}


# ---- the network
class TensorMLP:
    """TensorMLP(2, [16, 16, 1]): the scalar MLP's network on whole batches.

    Starts from micrograd.nn.init_weights(nin, nouts, seed), the same numbers as
    micrograd.nn.MLP(nin, nouts, seed=seed). Layer i holds W (nin, nout) and b (nout,).
    """

    def __init__(self, nin, nouts, activation="tanh", output_activation="linear", seed=None):
        for name in (activation, output_activation):
            if name not in ACTIVATIONS:
                raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
        nouts = list(nouts)
        if not nouts:
            raise ValueError("an MLP needs at least one layer")
        self.sizes = [nin] + nouts
        self.activations = [activation] * (len(nouts) - 1) + [output_activation]
        self.layers = []
        for i, layer in enumerate(init_weights(nin, nouts, seed)):
            W = Tensor(np.array([w for w, _ in layer], dtype=_f64).T, label=f"W{i + 1}")  # (nin, nout)
            b = Tensor([bias for _, bias in layer], label=f"b{i + 1}")
            self.layers.append((W, b))

    def __call__(self, X, fused=True):
        """Scores for a batch X of shape (n, nin): shape (n,) for one output, else (n, nout)."""
        x = X if type(X) is Tensor else _const(X)
        if x.data.ndim != 2 or x.data.shape[1] != self.sizes[0]:
            raise ValueError(f"expected inputs of shape (n, {self.sizes[0]}), got {x.data.shape}")
        if fused:
            last = len(self.layers) - 1
            token = _quiet_on()
            try:
                for i, ((W, b), act) in enumerate(zip(self.layers, self.activations)):
                    x = _linear(x, W, b, act, i == last and self.sizes[-1] == 1)
            finally:
                _quiet_off(token)
            return x
        for (W, b), act in zip(self.layers, self.activations):
            x = x @ W + b
            if act != "linear":
                x = getattr(x, act)()
        return x.reshape(x.shape[0]) if self.sizes[-1] == 1 else x

    def parameters(self):
        return [p for layer in self.layers for p in layer]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0

    def num_parameters(self):
        return sum(p.data.size for p in self.parameters())

    def _flat(self, arrays):
        out = []
        for W, b in zip(arrays[::2], arrays[1::2]):
            out.append(np.concatenate([W.T, b[:, None]], axis=1).ravel())  # per neuron: weights, bias
        return np.concatenate(out).tolist()

    def flat_parameters(self):
        """Parameter values as floats in the scalar MLP's parameters() order."""
        return self._flat([p.data for p in self.parameters()])

    def flat_grads(self):
        """Gradients as floats in the scalar MLP's parameters() order."""
        return self._flat([np.broadcast_to(_asarray(p.grad if p.grad is not None else 0.0, dtype=_f64), p.data.shape)
                           for p in self.parameters()])

    def load_parameters(self, values):
        """Set every parameter from a flat list in the scalar MLP's parameters() order (in place)."""
        values = np.asarray(values, dtype=_f64).ravel()
        if values.size != self.num_parameters():
            raise ValueError(f"expected {self.num_parameters()} parameter values, got {values.size}")
        i = 0
        for W, b in self.layers:
            nin, nout = W.data.shape
            block = values[i:i + nout * (nin + 1)].reshape(nout, nin + 1)
            W.data[...] = block[:, :nin].T
            b.data[...] = block[:, nin]
            i += block.size

    def __repr__(self):
        return f"TensorMLP({self.sizes[0]}, {self.sizes[1:]}, activations={self.activations})"
