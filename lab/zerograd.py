"""The zero-grad bug, computed: the correct training step, the step that forgets
zero_grad(), and gradient accumulation on purpose; plus the sibling bug, a backward
that overwrites gradients (=) instead of accumulating them (+=). No Streamlit here.

The three steps are the real functions below, and the Zero-grad page shows their
source (inspect.getsource), so the code on the page is the code that ran. Every loop
minimises the mean squared error over the full data set with plain SGD
(`p.data -= lr * p.grad`); one "step" is one parameter update.

Without zeroing, p.grad after step t holds g_1 + g_2 + ... + g_t, the true gradients
at the loop's own weights of every step so far: the update is SGD with momentum 1,
a heavy ball with no friction. While the gradients agree it speeds up, which is why
the bug can look like it helps; nothing ever slows it down again, which is why it is
a bug.
"""
from __future__ import annotations

import html
import inspect
import math
from dataclasses import dataclass, field

from micrograd.backprop import finite_difference_check
from micrograd.engine import Value
from micrograd.losses import mse

from .config import TrainConfig, format_hidden
from .figures import run_color, series_figure
from .train import estimate_scalar_seconds, load_data, make_network

LOSS_NAME = "mean squared error"
MAX_SAMPLES = 200          # the scalar engine builds one Python object per number
# At these defaults the bug visibly hurts on the lecture net (seed 0: loss ~2 vs ~0.001); at
# small rates it often "wins" by luck, which the page explains.
DEFAULT_LR, DEFAULT_STEPS, DEFAULT_K = 1.0, 30, 2
VARIANTS = ("correct", "buggy", "accumulate")
VARIANT_LABELS = {
    "correct": "correct (zero_grad every step)",
    "buggy": "buggy (no zero_grad)",
    "accumulate": "accumulation (k micro-batches)",
}
# The correct and the accumulation curves coincide: the correct one is drawn wide and pale
# with round markers, the accumulation one dashed with open diamonds on top, so both show.
TRACE_STYLES = {
    "correct": dict(line=dict(width=6), opacity=0.55, marker=dict(symbol="circle", size=9)),
    "buggy": dict(line=dict(width=2), marker=dict(symbol="x", size=7)),
    "accumulate": dict(line=dict(width=2, dash="dash"), marker=dict(symbol="diamond-open", size=8)),
    "true": dict(line=dict(width=2, dash="dot"), marker=dict(symbol="circle-open", size=6)),
}
COLORS = {"correct": run_color(0), "buggy": run_color(1), "accumulate": run_color(2), "true": run_color(1)}


# ---------------------------------------------------------------- the steps the page shows
def correct_step(net, xs, ys, lr):
    loss = mse([net(x) for x in xs], ys)
    net.zero_grad()               # every p.grad = 0
    loss.backward()               # p.grad += dloss/dp
    for p in net.parameters():
        p.data -= lr * p.grad     # SGD update
    return loss.data


def buggy_step(net, xs, ys, lr):
    loss = mse([net(x) for x in xs], ys)
    # net.zero_grad()  <- forgotten
    loss.backward()               # p.grad += dloss/dp
    for p in net.parameters():
        p.data -= lr * p.grad     # SGD update
    return loss.data


def accumulating_step(net, xs, ys, lr, k):
    net.zero_grad()               # once per update
    loss = 0.0
    for xb, yb in micro_batches(xs, ys, k):
        part = mse([net(x) for x in xb], yb) / k
        part.backward()           # the k parts' grads add up
        loss += part.data
    for p in net.parameters():
        p.data -= lr * p.grad     # one update for the whole batch
    return loss


STEPS = {"correct": correct_step, "buggy": buggy_step, "accumulate": accumulating_step}


def step_source(variant):
    """The source of the step function a loop runs, as the page shows it."""
    return inspect.getsource(STEPS[variant])


def differing_line(a="correct", b="buggy"):
    """(1-based line number, line of a, line of b) of the one body line where two steps' sources differ.

    The `def` lines (the names) are left out. Raises ValueError unless exactly one line differs."""
    la, lb = step_source(a).splitlines(), step_source(b).splitlines()
    diff = [i for i, (x, y) in enumerate(zip(la, lb)) if x != y and i > 0]
    if len(la) != len(lb) or len(diff) != 1:
        raise ValueError(f"the steps must differ in exactly one line; they differ in {len(diff)} "
                         f"(and have {len(la)} and {len(lb)} lines)")
    i = diff[0]
    return i + 1, la[i], lb[i]


def code_html(code, line=0, color=""):
    """Code as an HTML block with line number `line` (1-based; 0: none) on a coloured background.

    The code is our own source, escaped all the same."""
    rows = []
    for i, text in enumerate(code.splitlines(), 1):
        style = f"background:{color};font-weight:600;" if i == line else ""
        rows.append(f'<span style="display:block;{style}">{html.escape(text) or " "}</span>')
    return ('<pre style="font-size:0.8rem;line-height:1.45;padding:0.75rem;border-radius:0.5rem;'
            'background:#f6f8fa;border:1px solid #e1e4e8;overflow-x:auto;margin:0">'
            f'<code>{"".join(rows)}</code></pre>')


# ---------------------------------------------------------------- data and networks
def lecture_config(seed=0, lr=DEFAULT_LR, steps=DEFAULT_STEPS):
    """The lecture's setup as a TrainConfig: MLP(3, [4, 4, 1]), tanh everywhere, all 4 samples."""
    return TrainConfig(dataset="lecture", test_fraction=0.0, hidden=(4, 4), activation="tanh",
                       output_activation="tanh", seed=seed, lr=lr, steps=steps)


def describe(config, n_features):
    """'MLP(3, [4, 4, 1]), tanh' (and the output activation when it differs)."""
    text = f"MLP({n_features}, {[*config.hidden, 1]}), {config.activation}"
    return text + ("" if config.output_activation == config.activation else f", {config.output_activation} output")


def training_data(config, max_samples=MAX_SAMPLES):
    """(xs, ys, n_available): the config's training split as lists, capped at max_samples rows."""
    train = load_data(config)[0]
    return train.X[:max_samples].tolist(), train.y[:max_samples].tolist(), train.n


def parameter_names(config, n_features):
    """Readable names of the parameters, in MLP.parameters() order: 'layer 1, neuron 1, w1'."""
    sizes = [n_features, *config.hidden, 1]
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


def true_gradient(config, params, xs, ys):
    """The real dloss/dp at `params`: from a fresh net with zeroed grads."""
    net = make_network(config, len(xs[0]), engine="scalar", params=params)
    mse([net(x) for x in xs], ys).backward()
    return [p.grad for p in net.parameters()]


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
        separate fresh net with zeroed grads; for the two correct loops it is grads[i].
    final_loss: the loss after the last update (None when the loop diverged)."""
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


def run_loop(variant, xs, ys, config, k=1, true_grads=True):
    """Train a fresh scalar net of `config` with STEPS[variant] for config.steps updates at the
    constant rate config.lr (its other training fields do not apply); return the History.

    A loop stops early (diverged_at set) when the loss or a gradient is not finite.
    true_grads: for the buggy loop, also compute the true gradient at each step's
    parameters with a separate fresh net (one more forward and backward per step)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    if not xs or len(xs) != len(ys):
        raise ValueError("xs and ys must be non-empty and of the same length")
    k = k if variant == "accumulate" else 1
    micro_batches(xs, ys, k)  # a k that does not split the data fails here, before any work
    net = make_network(config, len(xs[0]), engine="scalar")
    params = net.parameters()
    label = f"accumulation (k = {k} micro-batches)" if variant == "accumulate" else VARIANT_LABELS[variant]
    history = History(variant, label, k)
    step, lr = STEPS[variant], config.lr
    for number in range(1, config.steps + 1):
        before = [p.data for p in params]
        loss = step(net, xs, ys, lr, k) if variant == "accumulate" else step(net, xs, ys, lr)
        grads = [p.grad for p in params]   # every step leaves in p.grad what its update used
        if not (math.isfinite(loss) and all(map(math.isfinite, grads))):
            history.diverged_at = number
            break
        history.step.append(number)
        history.loss.append(loss)
        history.grads.append(grads)
        history.grad_norm.append(norm(grads))
        history.update_norm.append(norm([p.data - b for p, b in zip(params, before)]))
        history.params.append(before)
        true = true_gradient(config, before, xs, ys) if variant == "buggy" and true_grads else grads
        history.true_grads.append(true)
    else:
        history.params.append([p.data for p in params])
        history.final_loss = mse([net(x) for x in xs], ys).data
    return history


def run_loops(xs, ys, config, k=1, true_grads=True):
    """{variant: History} for the three loops from the same net, data and hyperparameters."""
    return {v: run_loop(v, xs, ys, config, k=k, true_grads=true_grads) for v in VARIANTS}


@dataclass
class LoopSetup:
    """The data and the net the three loops share (the config's lr, steps and seed included)."""
    config: TrainConfig
    xs: list
    ys: list
    n_available: int          # training samples before the MAX_SAMPLES cap

    @property
    def n_features(self):
        return len(self.xs[0])

    @property
    def ks(self):
        """The micro-batch counts the accumulation loop can use here."""
        return valid_ks(len(self.xs))

    @property
    def description(self):
        return describe(self.config, self.n_features)

    @property
    def parameter_names(self):
        return parameter_names(self.config, self.n_features)

    @property
    def net_key(self):
        """A short text that changes when the net's parameters do ('3_4-4'): for widget keys."""
        return f"{self.n_features}_{format_hidden(self.config.hidden)}"

    def estimate_seconds(self):
        """How long compare_loops takes: four scalar passes per step (three loops and the true gradient)."""
        return estimate_scalar_seconds(len(self.xs), self.config.parameter_count(self.n_features),
                                       self.config.steps, passes=4)


def setup(config, max_samples=MAX_SAMPLES):
    """The LoopSetup of a config: its training split, capped at max_samples rows."""
    xs, ys, available = training_data(config, max_samples)
    return LoopSetup(config, xs, ys, available)


@dataclass
class LoopComparison:
    """Everything the Zero-grad page shows about the three loops, for one setup."""
    setup: LoopSetup
    k: int
    runs: dict                # variant -> History

    def final_loss(self, variant):
        return self.runs[variant].final_loss


def compare_loops(config, k=DEFAULT_K, max_samples=MAX_SAMPLES):
    """Run the correct, buggy and accumulating loops on the config's training data (capped
    at max_samples), net and seed, with its learning rate (constant) and number of steps."""
    shared = setup(config, max_samples)
    return LoopComparison(shared, k, run_loops(shared.xs, shared.ys, config, k=k))


def verdict(comparison):
    """(kind, text): what this run shows, honestly, whichever loop ended lower. kind is
    "error", "warning" or "info" (how loudly a page should say it)."""
    correct, buggy = comparison.runs["correct"], comparison.runs["buggy"]
    if correct.diverged_at:
        return "error", f"The correct loop diverged at step {correct.diverged_at}: try a smaller learning rate."
    if buggy.diverged_at:
        return "error", (f"The buggy loop diverged at step {buggy.diverged_at}: its summed gradient grew until "
                         "the loss or a gradient was no longer finite.")
    lost, won = buggy.final_loss, correct.final_loss
    settle = (f"Its last update still moved the weights by **{buggy.update_norm[-1]:.3g}** (correct loop: "
              f"{correct.update_norm[-1]:.3g}) and their norm has grown to **{norm(buggy.params[-1]):.3g}** "
              f"(correct loop: {norm(correct.params[-1]):.3g}): the buggy loop never settles.")
    n = len(buggy.step)
    if lost > 2 * won and lost - won > 1e-3:
        return "warning", (f"Here the bug hurts: after {n} updates the buggy loop's loss is **{lost:.3g}**, the "
                           f"correct loop's **{won:.3g}**. " + settle)
    if lost < won:
        return "info", (f"Here the buggy loop ended *lower* ({lost:.3g} against {won:.3g}): by luck, not by design. "
                        + settle + " Tanh saturates at huge weights, so on a few samples a runaway net can land "
                        "on a perfect fit, or on a dead one that predicts one class (try other seeds).")
    return "info", f"After {n} updates: buggy loop {lost:.3g}, correct loop {won:.3g}. " + settle


def loop_figures(comparison, log_y=False):
    """{name: figure} of the loss, the gradient norm and the update size per step, one trace per loop.

    Every trace gets its loop's TRACE_STYLES, so the correct curve shows under the equal
    accumulation curve."""
    runs = comparison.runs
    buggy = runs["buggy"]
    specs = {
        "loss": (f"Loss per step ({LOSS_NAME}, before each update)", "loss", "loss"),
        "grad_norm": ("Gradient norm used by each update: ‖p.grad‖", "norm", "grad_norm"),
        "update_norm": ("Update size: ‖parameters after − before‖", "norm", "update_norm"),
    }
    figures = {}
    for name, (title, y_title, key) in specs.items():
        series = [(h.label, h.step, getattr(h, key), COLORS[v]) for v, h in runs.items()]
        styles = list(VARIANTS)
        if name == "grad_norm":
            series.append(("buggy: true gradient at its weights", buggy.step, [norm(g) for g in buggy.true_grads],
                           COLORS["true"]))
            styles.append("true")
        fig = series_figure(series, title, y_title, log_y=log_y and name == "loss")
        for trace, style in zip(fig.data, styles):
            trace.update(mode="lines+markers", **TRACE_STYLES[style])
        if name != "loss":  # drawn at half width: the legend under the plot, never over the title
            fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, xanchor="left", x=0),
                              height=460, margin=dict(b=140))
        figures[name] = fig
    return figures


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


def largest_weight_gap(a, b):
    """The largest difference between two loops' weights over the steps both made (rounding, for
    accumulation against the correct loop)."""
    return max((abs(x - y) for pa, pb in zip(a.params, b.params) for x, y in zip(pa, pb)), default=0.0)


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
        numeric = {r.name: r.numeric for r in finite_difference_check(lambda v: build(builder, v), values)}
        rows = []
        for name in values:
            w, r = wrong_leaves[name].grad, right_leaves[name].grad
            rows.append({"variable": name, "value": values[name], "uses": count[right_leaves[name]],
                         "wrong grad (=)": w, "right grad (+=)": r, "finite difference": numeric[name],
                         "wrong?": abs(w - r) > tol})
        # the two builds have the same topological order, node for node
        pairs = list(zip(wrong_root.topological_order(), right_root.topological_order()))
        bad = [(a, b) for a, b in pairs if abs(a.grad - b.grad) > tol]
        examples.append(OverwriteExample(title, text, dict(values), rows, wrong_root, right_root,
                                         [a for a, _ in bad], [b for _, b in bad]))
    return examples
