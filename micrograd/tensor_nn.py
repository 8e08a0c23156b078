"""The numpy engine's network: a fused layer op and TensorMLP (the twin of nn.py).

The scalar MLP builds one node per multiply and add, as the lecture draws it; here a
whole layer, x @ W + b and its activation, is one node (`linear`), so a training
step of the reference 2-16-16-1 net is a handful of nodes instead of tens of
thousands. TensorMLP starts from the same initial weights as micrograd.nn.MLP for
the same seed and reads and writes its weights in MLP.parameters() order, which is
what lets the training loop switch engines and still get the same numbers.
`TensorMLP.__call__(X, fused=False)` builds the network from one node per primitive
op instead, with the same numbers up to rounding.
"""
import functools

import numpy as np

from .nn import check_activation, init_weights, parameter_count
from .tensor import Tensor, constant, make_node, quiet, sigmoid

__all__ = ["linear", "TensorMLP"]

_f64 = np.float64
_dot = np.dot
_where = np.where
_maximum = np.maximum
_add_reduce = np.add.reduce


def linear(x, W, b, activation="linear", squeeze=False):
    """act(x @ W + b) as one node; x: (n, nin), W: (nin, nout), b: (nout,) Tensors.

    With squeeze=True and nout == 1 the output has shape (n,): one score per sample."""
    check_activation(activation)
    x = constant(x)
    if x.data.ndim != 2 or W.data.ndim != 2 or b.data.shape != W.data.shape[1:] or x.data.shape[1] != W.data.shape[0]:
        raise ValueError(f"linear: shapes x {x.data.shape}, W {W.data.shape}, b {b.data.shape} do not fit")
    out = _linear(x, W, b, activation, squeeze and W.data.shape[1] == 1)
    return out if x.requires_grad or W.requires_grad or b.requires_grad else constant(out.data)


@quiet
def _linear(x, W, b, activation, squeeze):
    """The fused layer's forward."""
    out = _layer(x.data, W.data, b.data, activation, squeeze)
    return make_node(out, (x, W, b), "linear", _linear_bw, activation)


def _layer(X, W, b, activation, squeeze):
    """act(X @ W + b) on plain arrays: the numbers of the fused layer, without a node."""
    z = _dot(X, W[:, 0] if squeeze else W)
    z += b
    if activation == "relu":
        return _maximum(z, 0.0)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "sigmoid":
        return sigmoid(z)
    return z


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
        gb = _dot(_ones(len(g)), g) if b.requires_grad else None  # column sums: one BLAS call, 3x add.reduce's speed
        gx = _dot(g, Wd.T) if x.requires_grad else None
    return gx, gW, gb


@functools.lru_cache(maxsize=8)
def _ones(n):
    ones = np.ones(n)
    ones.flags.writeable = False
    return ones


# ---- the network
class TensorMLP:
    """TensorMLP(2, [16, 16, 1]): the scalar MLP's network on whole batches.

    Starts from micrograd.nn.init_weights(nin, nouts, seed), the same numbers as
    micrograd.nn.MLP(nin, nouts, seed=seed). Layer i holds W (nin, nout) and b (nout,).
    """

    def __init__(self, nin, nouts, activation="tanh", output_activation="linear", seed=None):
        check_activation(activation)
        check_activation(output_activation)
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
        self.scalar_order = scalar_order(self.sizes)  # for flat_parameters()

    def __call__(self, X, fused=True):
        """Scores for a batch X of shape (n, nin): shape (n,) for one output, else (n, nout)."""
        x = constant(X)
        if x.data.ndim != 2 or x.data.shape[1] != self.sizes[0]:
            raise ValueError(f"expected inputs of shape (n, {self.sizes[0]}), got {x.data.shape}")
        if fused:
            last = len(self.layers) - 1
            for i, ((W, b), act) in enumerate(zip(self.layers, self.activations)):
                x = _linear(x, W, b, act, i == last and self.sizes[-1] == 1)
            return x
        for (W, b), act in zip(self.layers, self.activations):
            x = x @ W + b
            if act != "linear":
                x = getattr(x, act)()
        return x.reshape(x.shape[0]) if self.sizes[-1] == 1 else x

    @quiet
    def forward_with_extra(self, X, n):
        """One forward pass over the rows of X: (scores of the first n rows as a graph for training,
        scores of the other rows as a plain array, without gradient). The same numbers as self(X[:n])
        and self.predict(X[n:]), with one matrix product per layer instead of two (for a training
        step that also scores its test set)."""
        X = np.asarray(X, dtype=_f64)
        if X.ndim != 2 or X.shape[1] != self.sizes[0] or not 0 < n <= X.shape[0]:
            raise ValueError(f"expected inputs of shape (m >= {n}, {self.sizes[0]}), got {X.shape}")
        x, rows = constant(X[:n]), X
        last = len(self.layers) - 1
        for i, ((W, b), act) in enumerate(zip(self.layers, self.activations)):
            rows = _layer(rows, W.data, b.data, act, i == last and self.sizes[-1] == 1)
            x = make_node(rows[:n], (x, W, b), "linear", _linear_bw, act)  # rows[:n]: a view, never written
        return x, rows[n:]

    @quiet
    def predict(self, X):
        """The same scores as self(X), as a plain array and without building a graph (for evaluation)."""
        x = np.asarray(X.data if isinstance(X, Tensor) else X, dtype=_f64)
        last = len(self.layers) - 1
        for i, ((W, b), act) in enumerate(zip(self.layers, self.activations)):
            x = _layer(x, W.data, b.data, act, i == last and self.sizes[-1] == 1)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0

    def num_parameters(self):
        return parameter_count(self.sizes[0], self.sizes[1:])

    def _flat(self, arrays):
        """W1, b1, W2, b2, ... as one array in the scalar MLP's order: per neuron its weights, then its bias."""
        return np.concatenate(arrays, axis=None)[self.scalar_order]  # axis=None: each array flattened

    def flat_parameters(self):
        """Parameter values as floats in the scalar MLP's parameters() order."""
        return self.parameter_array().tolist()

    def parameter_array(self):
        """flat_parameters() as a new float64 array (cheaper: no Python float per number)."""
        return self._flat([p.data for p in self.parameters()])

    def flat_grads(self):
        """Gradients as floats in the scalar MLP's parameters() order."""
        return self._flat([np.broadcast_to(np.asarray(p.grad if p.grad is not None else 0.0, dtype=_f64), p.data.shape)
                           for p in self.parameters()]).tolist()

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


def scalar_order(sizes):
    """Where each number of the scalar MLP's parameters() order sits in W1.ravel(), b1, W2.ravel(), b2, ..."""
    order, offset = [], 0
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        for j in range(fan_out):  # neuron j: column j of W (shape fan_in x fan_out), then b[j]
            order += [offset + i * fan_out + j for i in range(fan_in)] + [offset + fan_in * fan_out + j]
        offset += (fan_in + 1) * fan_out
    return np.array(order, dtype=np.intp)
