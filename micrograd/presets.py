"""Graphs from the micrograd lecture, ready to draw and step through.

PRESETS maps a name to a function `build(values=None) -> root Value`; `values`
overrides some of the inputs (a dict name -> float, unknown names raise
ValueError). Each function's default inputs are in `build.defaults` and in
PRESET_DEFAULTS[name], so a page can make one number widget per input.
Leaves are labelled as in the lecture.
"""
from .engine import Value
from .nn import MLP

__all__ = ["PRESETS", "PRESET_DEFAULTS", "build_preset", "mlp_lecture", "net_loss",
           "expression_l", "tanh_neuron", "tanh_via_exp", "a_plus_a", "mlp_loss"]


def _inputs(defaults, values):
    values = dict(values or {})
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise ValueError(f"unknown input(s) {', '.join(unknown)}; this preset takes {', '.join(defaults)}")
    merged = dict(defaults)
    merged.update({k: float(v) for k, v in values.items()})
    return merged


def _preset(defaults):
    def wrap(fn):
        fn.defaults = dict(defaults)
        return fn
    return wrap


@_preset({"a": 2.0, "b": -3.0, "c": 10.0, "f": -2.0})
def expression_l(values=None):
    """L = (a*b + c)*f with e = a*b, d = e + c."""
    v = _inputs(expression_l.defaults, values)
    a, b, c = Value(v["a"], label="a"), Value(v["b"], label="b"), Value(v["c"], label="c")
    e = a * b; e.label = "e"
    d = e + c; d.label = "d"
    f = Value(v["f"], label="f")
    L = d * f; L.label = "L"
    return L


_NEURON = {"x1": 2.0, "x2": 0.0, "w1": -3.0, "w2": 1.0, "b": 6.8813735870195432}


def _neuron_sum(v):
    x1, x2 = Value(v["x1"], label="x1"), Value(v["x2"], label="x2")
    w1, w2 = Value(v["w1"], label="w1"), Value(v["w2"], label="w2")
    b = Value(v["b"], label="b")
    x1w1 = x1 * w1; x1w1.label = "x1*w1"
    x2w2 = x2 * w2; x2w2.label = "x2*w2"
    x1w1x2w2 = x1w1 + x2w2; x1w1x2w2.label = "x1*w1 + x2*w2"
    n = x1w1x2w2 + b; n.label = "n"
    return n


@_preset(_NEURON)
def tanh_neuron(values=None):
    """o = tanh(x1*w1 + x2*w2 + b), the lecture's neuron (o = 0.7071 at the defaults)."""
    n = _neuron_sum(_inputs(tanh_neuron.defaults, values))
    o = n.tanh(); o.label = "o"
    return o


@_preset(_NEURON)
def tanh_via_exp(values=None):
    """The same neuron with tanh spelled out: e = exp(2n), o = (e - 1)/(e + 1)."""
    n = _neuron_sum(_inputs(tanh_via_exp.defaults, values))
    two = Value(2.0, label="2")
    two_n = two * n; two_n.label = "2*n"
    e = two_n.exp(); e.label = "e"
    one_a, one_b = Value(1.0, label="1"), Value(1.0, label="1")
    num = e - one_a; num.label = "e - 1"
    den = e + one_b; den.label = "e + 1"
    o = num / den; o.label = "o"
    return o


@_preset({"a": 3.0})
def a_plus_a(values=None):
    """b = a + a: the lecture's bug demo; a.grad must be 2, not 1."""
    a = Value(_inputs(a_plus_a.defaults, values)["a"], label="a")
    b = a + a; b.label = "b"
    return b


_MLP_INPUTS = {"x0": 2.0, "x1": 3.0, "x2": -1.0, "y": 1.0}


def mlp_lecture(values=None):
    """(net, inputs, loss) for MLP(3, [4, 4, 1]) (tanh everywhere, seed 0) on the
    lecture's sample x = [2.0, 3.0, -1.0], target y = 1.0; loss = (out - y)**2.

    Built with fused=False (one node per * and +, as the lecture draws it). The
    inputs are Values labelled x0, x1, x2 shared by the first layer's neurons,
    the target a leaf labelled y; parameters are labelled like "L1N0.w2" and
    "L1N0.b". Pass `net` to draw_dot(collapse=net) to draw one node per neuron."""
    v = _inputs(_MLP_INPUTS, values)
    net = MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh", seed=0)
    loss, leaves = net_loss(net, [v["x0"], v["x1"], v["x2"]], v["y"])
    return net, [leaves[f"x{i}"] for i in range(3)], loss


def net_loss(net, x, y, params=None):
    """(loss, leaves) of one forward pass of a micrograd.nn MLP on one sample.

    The parameters are labelled like "L1N0.w2" / "L1N0.b" (layer 1, neuron 0);
    `params` ({label: float}, other names ignored) overrides their data first,
    so a finite-difference check can nudge one weight at a time. The inputs
    are leaves labelled x0, x1, ... shared by the first layer, the target a
    leaf labelled y; loss = (out - y)**2, built with fused=False (one node per
    * and +). leaves: {label: Value} of the inputs, the target and every
    parameter."""
    params = params or {}
    leaves = {}
    xs = [Value(float(xi), label=f"x{i}") for i, xi in enumerate(x)]
    leaves.update((v.label, v) for v in xs)
    for li, layer in enumerate(net.layers, 1):
        for ni, neuron in enumerate(layer.neurons):
            for wi, w in enumerate(neuron.w):
                w.label = f"L{li}N{ni}.w{wi}"
            neuron.b.label = f"L{li}N{ni}.b"
            for p in neuron.parameters():
                if p.label in params:
                    p.data = float(params[p.label])
                leaves[p.label] = p
    out = net(xs, fused=False); out.label = "out"
    target = Value(float(y), label="y")
    leaves["y"] = target
    diff = out - target; diff.label = "out - y"
    loss = diff ** 2; loss.label = "loss"
    return loss, leaves


@_preset(_MLP_INPUTS)
def mlp_loss(values=None):
    """The loss of mlp_lecture (see there)."""
    return mlp_lecture(values)[2]


PRESETS = {
    "L = (a*b + c)*f": expression_l,
    "tanh neuron": tanh_neuron,
    "tanh via exp": tanh_via_exp,
    "a + a": a_plus_a,
    "MLP(3, [4, 4, 1]) forward + loss": mlp_loss,
}
PRESET_DEFAULTS = {name: dict(fn.defaults) for name, fn in PRESETS.items()}


def build_preset(name, values=None):
    """PRESETS[name](values), with a clear error for an unknown name."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name](values)
