"""Neurons, layers and multi-layer perceptrons on the scalar engine, as in the lecture.

Also the facts both engines share, so they cannot drift apart: the activation names,
the initial weights for a seed and the parameter count of a layer stack.
"""
import random

from .engine import Value

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


def check_activation(name):
    """Return `name` if it is one of ACTIVATIONS, else raise ValueError saying which ones are."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return name


_METHODS = {"tanh": Value.tanh, "relu": Value.relu, "sigmoid": Value.sigmoid, "linear": None}  # per ACTIVATIONS


def activate(v, activation):
    """The activation applied to a Value ("linear": v itself)."""
    if activation not in _METHODS:
        check_activation(activation)  # raises, naming the choices
    method = _METHODS[activation]
    return v if method is None else method(v)


def parameter_count(nin, nouts):
    """Weights and biases of an MLP(nin, nouts): each neuron has one weight per input, plus a bias."""
    sizes = [nin, *nouts]
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes, sizes[1:]))


def init_weights(nin, nouts, seed=None):
    """Initial weights of an MLP as plain floats: per layer, per neuron, (weights, bias).

    Uniform in [-1, 1] from a private generator, drawn in parameters() order, so the
    scalar and the numpy engine start from the same numbers for the same seed."""
    rng = random.Random(seed)
    sizes = [nin] + list(nouts)
    return [[([rng.uniform(-1, 1) for _ in range(fan_in)], rng.uniform(-1, 1)) for _ in range(fan_out)]
            for fan_in, fan_out in zip(sizes, sizes[1:])]


class Module:
    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self):
        return []


class Neuron(Module):
    def __init__(self, nin, activation="tanh", weights=None, bias=None):
        weights = weights if weights is not None else [random.uniform(-1, 1) for _ in range(nin)]
        self.w = [Value(w) for w in weights]
        self.b = Value(bias if bias is not None else random.uniform(-1, 1))
        self.activation = activation

    def __call__(self, x, fused=True):
        if fused:
            act = Value.dot(self.w, x, self.b)
        else:  # one node per * and +, as the lecture draws it
            act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return activate(act, self.activation)

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        return f"{self.activation.capitalize()}Neuron({len(self.w)})"


class Layer(Module):
    def __init__(self, nin, nout, activation="tanh", init=None):
        init = init or [(None, None)] * nout
        self.neurons = [Neuron(nin, activation, w, b) for w, b in init]
        self.activation = activation

    def __call__(self, x, fused=True):
        if not fused:
            out = [n(x, fused) for n in self.neurons]
            return out[0] if len(out) == 1 else out
        return self.batch([x])[0]

    def batch(self, xs):
        """[self(x) for x in xs], reading the weights once for the whole batch: Value.dots builds
        the same nodes as each neuron's Value.dot, reading each x once for all neurons."""
        weights, biases = [n.w for n in self.neurons], [n.b for n in self.neurons]
        numbers = [[w.data for w in ws] for ws in weights]
        method = _METHODS[check_activation(self.activation)]  # every neuron of a layer has the layer's
        outs = []
        for x in xs:
            sums = Value.dots(weights, x, biases, numbers)
            out = sums if method is None else [method(s) for s in sums]
            outs.append(out[0] if len(out) == 1 else out)
        return outs

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """MLP(3, [4, 4, 1]): 3 inputs, two hidden layers of 4, one output.

    Hidden layers use `activation`, the last layer `output_activation`."""

    def __init__(self, nin, nouts, activation="tanh", output_activation="linear", seed=None):
        check_activation(activation)
        check_activation(output_activation)
        self.sizes = [nin] + list(nouts)
        weights = init_weights(nin, nouts, seed)
        acts = [activation] * (len(nouts) - 1) + [output_activation]
        self.layers = [Layer(self.sizes[i], self.sizes[i + 1], acts[i], weights[i]) for i in range(len(nouts))]

    def __call__(self, x, fused=True):
        for layer in self.layers:
            x = layer(x, fused)
            x = x if isinstance(x, list) else [x]
        return x[0] if len(x) == 1 else x

    def batch(self, xs):
        """[self(x) for x in xs], the same nodes, each layer reading its weights once for the batch."""
        for layer in self.layers:
            xs = [x if isinstance(x, list) else [x] for x in layer.batch(xs)]
        return [x[0] if len(x) == 1 else x for x in xs]

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def load_parameters(self, values):
        """Set every parameter from a flat list of floats, in parameters() order."""
        params = self.parameters()
        if len(values) != len(params):
            raise ValueError(f"expected {len(params)} parameter values, got {len(values)}")
        for p, v in zip(params, values):
            p.data = float(v)

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
