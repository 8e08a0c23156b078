"""A small reverse-mode autograd engine over numpy float64 arrays: the Tensor and its ops.

The vectorized sibling of the lecture's scalar engine, split the same way: this file
is engine.py's twin (the Tensor and its primitive ops), tensor_nn.py is nn.py's (the
fused layer and the network), tensor_losses.py is losses.py's. Both engines compute
the same numbers; this one does it on whole batches, about a thousand times faster.

Each op builds its output node and records what its backward needs: a plain
module-level function `backward(out_grad, node) -> one gradient per child` and the
arrays it saved in `node._ctx`. No backward function is a closure over its own
output, so a graph has no reference cycles and is freed as soon as it is dropped.

Numbers follow float64 PyTorch: overflow gives inf, 0/0 and log(-1) give nan, with
no numpy warnings (the ops run under numpy's public `np.errstate(all="ignore")`).
Gradients of broadcast operands are summed back to the operand's shape.

A leaf's `.grad` starts at 0.0 and is an ndarray of the leaf's shape once a backward
pass has reached it; leaves accumulate across passes, inner nodes hold the last pass
only. backward() never mutates in place an array that existed before the pass, so an
optimizer may keep references to old grads.
"""
import numpy as np

from .engine import topological_order
from .quiet import quiet

__all__ = ["Tensor", "make_node", "constant", "unbroadcast", "sigmoid", "quiet"]

_f64 = np.float64
_ndarray = np.ndarray
_asarray = np.asarray
_new = object.__new__
_where = np.where
_maximum = np.maximum
_SCALARS = (int, float)

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
        self._prev, self._op, self._backward, self._ctx = (), "", None, None

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
        return constant(self.data)

    def zero_grad(self):
        self.grad = 0.0

    def __repr__(self):
        body = np.array2string(self.data, precision=6, separator=", ")
        extra = (f", op={self._op!r}" if self._op else "") + (f", label={self.label!r}" if self.label else "")
        return f"Tensor({body}{extra})"

    # ---- arithmetic, broadcasting like numpy. A Python number operand becomes part of a
    # one-child node; anything else (arrays, lists) becomes a constant Tensor.
    @quiet
    def __add__(self, other):
        if type(other) in _SCALARS:
            return _unary(self.data + other, self, "+", _pass_bw, None)
        other = other if type(other) is Tensor else constant(other)
        return _binary(self.data + other.data, self, other, "+", _add_bw, None)

    @quiet
    def __sub__(self, other):
        if type(other) in _SCALARS:
            return _unary(self.data - other, self, "-", _pass_bw, None)
        other = other if type(other) is Tensor else constant(other)
        return _binary(self.data - other.data, self, other, "-", _sub_bw, None)

    @quiet
    def __mul__(self, other):
        if type(other) in _SCALARS:
            return _unary(self.data * other, self, "*", _scale_bw, other)
        other = other if type(other) is Tensor else constant(other)
        return _binary(self.data * other.data, self, other, "*", _mul_bw, None)

    @quiet
    def __truediv__(self, other):
        if type(other) in _SCALARS:
            return _unary(self.data / other, self, "/", _div_scalar_bw, other)
        other = other if type(other) is Tensor else constant(other)
        return _binary(self.data / other.data, self, other, "/", _div_bw, None)

    @quiet
    def __matmul__(self, other):
        other = other if type(other) is Tensor else constant(other)
        if not (1 <= self.data.ndim <= 2 and 1 <= other.data.ndim <= 2):
            raise ValueError("matmul supports 1-D and 2-D operands only")
        return _binary(self.data @ other.data, self, other, "@", _matmul_bw, None)

    def __radd__(self, other):
        return self + other if type(other) in _SCALARS else constant(other) + self

    @quiet
    def __rsub__(self, other):
        if type(other) in _SCALARS:
            return _unary(other - self.data, self, "-", _neg_bw, None)
        return constant(other) - self

    def __rmul__(self, other):
        return self * other if type(other) in _SCALARS else constant(other) * self

    def __rtruediv__(self, other):
        return constant(other) / self

    def __rmatmul__(self, other):
        return constant(other) @ self

    def __neg__(self):
        return _unary(-self.data, self, "neg", _neg_bw, None)

    @quiet
    def __pow__(self, exponent):
        """self ** c for a constant number c."""
        if isinstance(exponent, Tensor):
            raise TypeError("Tensor ** Tensor is not supported: the exponent must be a constant")
        c = float(exponent)
        return _unary(_power(self.data, c), self, f"**{c:g}", _pow_bw, c)

    # ---- element-wise functions
    @quiet
    def exp(self):
        out = np.exp(self.data)
        return _unary(out, self, "exp", _exp_bw, out)

    @quiet
    def log(self):
        return _unary(np.log(self.data), self, "log", _log_bw, None)

    def tanh(self):
        out = np.tanh(self.data)
        return _unary(out, self, "tanh", _tanh_bw, out)

    @quiet
    def sigmoid(self):
        out = sigmoid(self.data)
        return _unary(out, self, "sigmoid", _sigmoid_bw, out)

    def relu(self):
        out = _maximum(self.data, 0.0)  # nan passes through, as in PyTorch
        return _unary(out, self, "relu", _relu_bw, out)

    def abs(self):
        return _unary(np.abs(self.data), self, "abs", _abs_bw, None)

    # ---- reductions and shape
    @quiet
    def sum(self, axis=None, keepdims=False):
        out = self.data.sum(axis=axis, keepdims=keepdims)
        return _unary(out, self, "sum", _sum_bw, (axis, keepdims, None))

    @quiet
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
    def topological_order(self):
        """Every node of the graph (leaves too), each after all of its children."""
        return topological_order(self)

    @quiet
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
        order = topological_order(self, leaves=False)
        for node in order:
            node.grad = None
        self.grad = seed
        owned = set()  # leaves whose grad array was created during this pass: safe to add into in place
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


_ONE = np.ones(())
_ONE.flags.writeable = False


# ---- node construction
def make_node(data, prev=(), op="", backward=None, ctx=None, requires_grad=True):
    """A Tensor around `data`, not copied: the ops' fast path past __init__. backward(out_grad, node)
    gives one gradient (or None) per child of `prev`, using what the forward saved in ctx."""
    t = _new(Tensor)
    t.data = data if type(data) is _ndarray else _asarray(data, dtype=_f64)
    t.grad, t.requires_grad, t.label = None, requires_grad, ""
    t._prev, t._op, t._backward, t._ctx = prev, op, backward, ctx
    return t


def constant(x):
    """A leaf without gradient, sharing x's memory when x is already a float64 array."""
    return x if type(x) is Tensor else make_node(_asarray(x, dtype=_f64), requires_grad=False)


def _binary(out, a, b, op, backward, ctx):
    if a.requires_grad or b.requires_grad:
        return make_node(out, (a, b), op, backward, ctx)
    return constant(out)


def _unary(out, a, op, backward, ctx):
    if a.requires_grad:
        return make_node(out, (a,), op, backward, ctx)
    return constant(out)


def unbroadcast(g, shape):
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
    return (unbroadcast(g, a.data.shape) if a.requires_grad else None,
            unbroadcast(g, b.data.shape) if b.requires_grad else None)


@_shares_grad
def _sub_bw(g, node):
    a, b = node._prev
    return (unbroadcast(g, a.data.shape) if a.requires_grad else None,
            unbroadcast(-g, b.data.shape) if b.requires_grad else None)


def _mul_bw(g, node):
    a, b = node._prev
    return (unbroadcast(g * b.data, a.data.shape) if a.requires_grad else None,
            unbroadcast(g * a.data, b.data.shape) if b.requires_grad else None)


def _scale_bw(g, node):
    return (_asarray(g * node._ctx),)


def _div_scalar_bw(g, node):
    return (_asarray(g / node._ctx),)


def _div_bw(g, node):
    a, b = node._prev  # as torch: d/da = g / b, d/db = -g * ((a / b) / b)
    return (unbroadcast(g / b.data, a.data.shape) if a.requires_grad else None,
            unbroadcast(-g * ((a.data / b.data) / b.data), b.data.shape) if b.requires_grad else None)


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


def sigmoid(x):
    """Logistic function, stable on both sides: the scalar engine's formula."""
    e = np.exp(-np.abs(x))
    return _where(x >= 0, 1.0, e) / (1.0 + e)

