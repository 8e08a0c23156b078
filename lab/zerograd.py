"""The zero-grad bug, computed: the correct loop, the loop without zero_grad(), and
gradient accumulation on purpose; plus the sibling bug, a backward that overwrites
gradients (=) instead of accumulating them (+=). Pure functions, no Streamlit.

Every loop minimises the mean squared error over the full data set with plain SGD
(`p.data -= lr * p.grad`). One "step" is one parameter update.

Without zeroing, p.grad after step t holds g_1 + g_2 + ... + g_t, the true
gradients at the loop's own parameters of every step so far: the update is SGD
with momentum 1 (a heavy ball with no friction).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from micrograd.engine import Value
from micrograd.losses import mse
from micrograd.nn import MLP

LOSS_NAME = "mean squared error"
MAX_SAMPLES = 200          # the scalar engine builds one Python object per number
VARIANTS = ("correct", "buggy", "accumulate")
VARIANT_LABELS = {
    "correct": "correct (zero_grad every step)",
    "buggy": "buggy (no zero_grad)",
    "accumulate": "accumulation (k micro-batches)",
}

# ---------------------------------------------------------------- the code shown on the page
CORRECT_LOOP = """\
for step in range(steps):
    preds = [net(x) for x in xs]  # forward
    loss = mse(preds, ys)
    net.zero_grad()               # all p.grad = 0
    loss.backward()               # p.grad += dL/dp
    for p in net.parameters():
        p.data -= lr * p.grad     # SGD update"""

BUGGY_LOOP = """\
for step in range(steps):
    preds = [net(x) for x in xs]  # forward
    loss = mse(preds, ys)
    # net.zero_grad()  <- forgotten
    loss.backward()               # p.grad += dL/dp
    for p in net.parameters():
        p.data -= lr * p.grad     # SGD update"""

ACCUMULATE_LOOP = """\
for step in range(steps):         # one update each
    for xb, yb in micro_batches(xs, ys, k):
        preds = [net(x) for x in xb]
        loss = mse(preds, yb) / k
        loss.backward()           # grads add up
    for p in net.parameters():
        p.data -= lr * p.grad
    net.zero_grad()               # once per update"""


def differing_line(a=CORRECT_LOOP, b=BUGGY_LOOP):
    """(1-based line number, line of a, line of b) of the one line where a and b differ.

    Raises ValueError unless they have the same number of lines and differ in exactly one."""
    la, lb = a.splitlines(), b.splitlines()
    diff = [i for i, (x, y) in enumerate(zip(la, lb)) if x != y]
    if len(la) != len(lb) or len(diff) != 1:
        raise ValueError(f"the loops must differ in exactly one line; they differ in {len(diff)} "
                         f"(and have {len(la)} and {len(lb)} lines)")
    i = diff[0]
    return i + 1, la[i], lb[i]


# ---------------------------------------------------------------- data and networks
LECTURE_XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
LECTURE_YS = [1.0, -1.0, -1.0, 1.0]


@dataclass(frozen=True)
class NetSpec:
    """How to build the net: calling it gives a fresh MLP, the same for the same spec."""
    nin: int = 3
    hidden: tuple = (4, 4)
    activation: str = "tanh"
    output_activation: str = "tanh"
    seed: int = 0

    def __call__(self):
        return MLP(self.nin, [*self.hidden, 1], self.activation, self.output_activation, seed=self.seed)

    def describe(self):
        return (f"MLP({self.nin}, {[*self.hidden, 1]}), {self.activation}"
                + ("" if self.output_activation == self.activation else f", {self.output_activation} output"))


def lecture_setup(seed=0):
    """(xs, ys, NetSpec) of the lecture: MLP(3, [4, 4, 1]), tanh everywhere, 4 samples."""
    return [list(x) for x in LECTURE_XS], list(LECTURE_YS), NetSpec(3, (4, 4), "tanh", "tanh", seed)


def train_page_setup(config, seed=None, max_samples=MAX_SAMPLES):
    """(xs, ys, NetSpec, n_available) for a Train-page TrainConfig: its training split,
    capped at max_samples rows, and its hidden sizes and activations (seed: the config's
    unless given)."""
    from .train import load_data  # lazy: the lecture setup needs no data package

    train = load_data(config)[0]
    xs, ys = train.X.tolist(), train.y.tolist()
    spec = NetSpec(train.n_features, tuple(config.hidden), config.activation, config.output_activation,
                   config.seed if seed is None else seed)
    return xs[:max_samples], ys[:max_samples], spec, len(xs)


def parameter_names(spec):
    """Readable names of the parameters, in MLP.parameters() order: 'layer 1, neuron 1, w1'."""
    sizes = [spec.nin, *spec.hidden, 1]
    names = []
    for layer, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), 1):
        for neuron in range(1, fan_out + 1):
            names += [f"layer {layer}, neuron {neuron}, w{i}" for i in range(1, fan_in + 1)]
            names.append(f"layer {layer}, neuron {neuron}, bias")
    return names


def valid_ks(n):
    """Micro-batch counts that split n samples into equal slices (the divisors of n)."""
    return [k for k in range(1, n + 1) if n % k == 0]


def micro_batches(xs, ys, k):
    """The data cut into k equal consecutive slices [(xb, yb), ...]."""
    n = len(xs)
    if k < 1 or n % k:
        raise ValueError(f"k={k} does not split {n} samples into equal micro-batches; use one of {valid_ks(n)}")
    size = n // k
    return [(xs[i:i + size], ys[i:i + size]) for i in range(0, n, size)]


def loss_of(net, xs, ys):
    """The loss every loop minimises: mean squared error over (xs, ys), as a Value."""
    return mse([net(x) for x in xs], ys)


def true_gradient(make_net, params, xs, ys):
    """(loss, gradient) at `params`, from a fresh net with zeroed grads: the real dloss/dp."""
    net = make_net()
    net.load_parameters(params)
    net.zero_grad()
    loss = loss_of(net, xs, ys)
    loss.backward()
    return loss.data, [p.grad for p in net.parameters()]


def norm(values):
    return math.sqrt(math.fsum(v * v for v in values))


# ---------------------------------------------------------------- the three loops
@dataclass
class History:
    """One loop's record; list index i is step i + 1 (the (i+1)-th update).

    loss[i]: the full-data loss at the parameters the step started from.
    grads[i]: what p.grad held when the update was made (every parameter).
    grad_norm[i], update_norm[i]: norms of that gradient and of the parameter change.
    params[i]: the parameters the step started from; params[-1] is the final one.
    true_grads[i]: the true gradient at params[i]. For the buggy loop it comes from a
        separate fresh net with zeroed grads; for the two correct loops it is grads[i]."""
    variant: str
    label: str
    k: int = 1
    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    grads: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    update_norm: list = field(default_factory=list)
    params: list = field(default_factory=list)
    true_grads: list = field(default_factory=list)
    final_loss: float | None = None
    diverged_at: int | None = None

    def grad_of(self, index):
        """What p.grad held at each update, for parameter number `index`."""
        return [g[index] for g in self.grads]

    def true_grad_of(self, index):
        return [g[index] for g in self.true_grads]


def run_loop(variant, xs, ys, make_net, lr, steps, k=1, true_grads=True):
    """Train a fresh make_net() for `steps` updates with one of VARIANTS; return its History.

    correct: forward, zero grads, backward, update.
    buggy: forward, backward, update (grads never zeroed).
    accumulate: for each of k equal micro-batches forward and backward of loss/k with no
        zeroing in between, then one update, then zero grads.
    A loop stops early (diverged_at set) when the loss or a gradient is not finite.
    true_grads: for the buggy loop, also compute the true gradient at each step's
        parameters with a separate fresh net (costs one more forward/backward per step)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    if not xs or len(xs) != len(ys):
        raise ValueError("xs and ys must be non-empty and of the same length")
    batches = micro_batches(xs, ys, k) if variant == "accumulate" else None
    net = make_net()
    params = net.parameters()
    label = f"accumulation (k = {k} micro-batches)" if variant == "accumulate" else VARIANT_LABELS[variant]
    h = History(variant, label, k if variant == "accumulate" else 1)
    for step in range(1, steps + 1):
        before = [p.data for p in params]
        if variant == "accumulate":
            loss = 0.0
            for xb, yb in batches:
                part = loss_of(net, xb, yb) / k
                part.backward()
                loss += part.data
        else:
            out = loss_of(net, xs, ys)
            if variant == "correct":
                net.zero_grad()
            out.backward()
            loss = out.data
        grads = [p.grad for p in params]
        if not (math.isfinite(loss) and all(math.isfinite(g) for g in grads)):
            h.diverged_at = step
            break
        for p in params:
            p.data -= lr * p.grad
        after = [p.data for p in params]
        if variant == "accumulate":
            net.zero_grad()
        if variant == "buggy" and true_grads:
            true = true_gradient(make_net, before, xs, ys)[1]
        else:
            true = grads
        h.step.append(step)
        h.loss.append(loss)
        h.grads.append(grads)
        h.grad_norm.append(norm(grads))
        h.update_norm.append(norm([a - b for a, b in zip(after, before)]))
        h.params.append(before)
        h.true_grads.append(true)
    else:
        h.params.append([p.data for p in params])
        h.final_loss = loss_of(net, xs, ys).data
    return h


def run_loops(xs, ys, make_net, lr, steps, k=1, true_grads=True):
    """{variant: History} for the three loops from the same net, data and hyperparameters."""
    return {v: run_loop(v, xs, ys, make_net, lr, steps, k=k, true_grads=true_grads) for v in VARIANTS}


def running_sum_rows(buggy, index=0, correct=None):
    """Rows for parameter number `index`, one per step of the buggy loop: the true gradient
    at the loop's own parameters of that step, the running sum of those, what p.grad held,
    and the difference (rounding only)."""
    rows, total = [], 0.0
    for i, step in enumerate(buggy.step):
        true, held = buggy.true_grads[i][index], buggy.grads[i][index]
        total += true
        row = {"step": step, "true grad g_t": true, "running sum g_1+…+g_t": total,
               "buggy loop's p.grad": held, "p.grad − running sum": held - total}
        if correct is not None and i < len(correct.step):
            row["correct loop's p.grad"] = correct.grads[i][index]
        rows.append(row)
    return rows


SECONDS_PER_UNIT = 2.6e-6  # one forward+backward, per sample x parameter, scalar engine, measured here


def estimate_seconds(n_samples, n_params, steps, true_grads=True):
    """Rough time run_loops takes: 3 loops (4 passes per step with the buggy loop's true grads)."""
    return (4 if true_grads else 3) * n_samples * n_params * steps * SECONDS_PER_UNIT


def summary(histories):
    """Headline numbers per variant: first and last loss, grad norm and update size."""
    out = {}
    for v, h in histories.items():
        if not h.step:
            out[v] = {"steps": 0, "diverged_at": h.diverged_at}
            continue
        out[v] = {"steps": len(h.step), "diverged_at": h.diverged_at,
                  "first_loss": h.loss[0], "last_loss": h.loss[-1], "final_loss": h.final_loss,
                  "first_grad_norm": h.grad_norm[0], "last_grad_norm": h.grad_norm[-1],
                  "max_grad_norm": max(h.grad_norm), "first_update": h.update_norm[0],
                  "last_update": h.update_norm[-1]}
    return out


# ---------------------------------------------------------------- the sibling bug: = instead of +=
def overwrite_backward(root):
    """The lecture's first, buggy backward: child.grad = local * out.grad (overwrites).

    A node used twice keeps only the contribution written last; every other node is
    right. Inner nodes and leaves are all reset first, so it can be called once on a
    fresh graph."""
    order = root.topological_order()
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in reversed(order):
        for child, local in zip(node._prev, node._local):
            child.grad = local * node.grad


def uses(root):
    """{node: how many times it is an input of an op} over the graph of root."""
    count = {}
    for node in root.topological_order():
        count.setdefault(node, 0)
        for child in node._prev:
            count[child] = count.get(child, 0) + 1
    return count


def _neuron(v):
    n = v["w1"] * v["x"]
    n.label = "w1*x"
    m = v["w2"] * v["x"]
    m.label = "w2*x"
    s = n + m
    s.label = "w1*x + w2*x"
    t = s + v["b"]
    t.label = "n"
    return t.tanh()


def _a_times_b_plus_a(v):
    ab = v["a"] * v["b"]
    ab.label = "a*b"
    return ab + v["a"]


# (title, expression text, builder from {name: Value}, leaf values)
OVERWRITE_CASES = [
    ("a + a", "a + a", lambda v: v["a"] + v["a"], {"a": 3.0}),
    ("a * b + a", "a * b + a", _a_times_b_plus_a, {"a": 2.0, "b": -3.0}),
    ("x reused in a neuron", "tanh(w1*x + w2*x + b)", _neuron, {"x": 0.5, "w1": 1.2, "w2": -0.4, "b": 0.1}),
]


def build(builder, values):
    """(root, {name: leaf Value}) with labelled leaves."""
    leaves = {name: Value(x, label=name) for name, x in values.items()}
    root = builder(leaves)
    root.label = root.label or "out"
    return root, leaves


def finite_difference(builder, values, name, h=1e-6):
    """Central difference d out / d name."""
    up = build(builder, {**values, name: values[name] + h})[0].data
    down = build(builder, {**values, name: values[name] - h})[0].data
    return (up - down) / (2 * h)


@dataclass
class OverwriteExample:
    title: str
    expression: str
    values: dict
    rows: list            # per leaf: variable, value, uses, wrong, right, finite difference, wrong?
    wrong_root: Value     # the graph after overwrite_backward
    right_root: Value     # the same expression after the engine's backward
    wrong_nodes: list     # nodes of wrong_root whose grad is wrong
    right_nodes: list     # the matching nodes of right_root


def overwrite_examples(cases=OVERWRITE_CASES, tol=1e-9):
    """For each case: wrong (=) and right (+=) gradients of every leaf next to a finite
    difference, and both graphs (two separate builds) ready to draw."""
    examples = []
    for title, text, builder, values in cases:
        wrong_root, wrong_leaves = build(builder, values)
        overwrite_backward(wrong_root)
        right_root, right_leaves = build(builder, values)
        right_root.backward()
        count = uses(right_root)
        rows = []
        for name in values:
            w, r = wrong_leaves[name].grad, right_leaves[name].grad
            rows.append({"variable": name, "value": values[name], "uses": count[right_leaves[name]],
                         "wrong grad (=)": w, "right grad (+=)": r,
                         "finite difference": finite_difference(builder, values, name),
                         "wrong?": abs(w - r) > tol})
        # the two builds have the same topological order, node for node
        pairs = list(zip(wrong_root.topological_order(), right_root.topological_order()))
        bad = [(a, b) for a, b in pairs if abs(a.grad - b.grad) > tol]
        examples.append(OverwriteExample(title, text, dict(values), rows, wrong_root, right_root,
                                         [a for a, _ in bad], [b for _, b in bad]))
    return examples
