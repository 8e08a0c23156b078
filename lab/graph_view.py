"""What the Graph page draws, decided in one place: the page's choice (a lecture graph, a typed
expression, the lecture's MLP or the Train page's net) in, a `Drawing` out — the root Value, the
inputs to check with finite differences and a function that rebuilds the graph at other inputs.
The page only shows it; this is tested without Streamlit.
"""
from dataclasses import dataclass
from typing import Callable, NamedTuple

import pandas as pd

from micrograd.engine import Value
from micrograd.expr import expression_names, parse_expression
from micrograd.graph import find_neurons, graph_size, neuron_groups
from micrograd.nn import MLP
from micrograd.presets import PRESET_DEFAULTS, PRESETS, net_loss

from .config import TrainConfig
from .train import load_data

MLP_PRESET = "MLP(3, [4, 4, 1]) forward + loss"
PRESET_OF = {"L": "L = (a*b + c)*f", "neuron": "tanh neuron", "exp": "tanh via exp", "aa": "a + a", "mlp": MLP_PRESET}
SOURCES = {  # what the page offers to draw: key -> label
    "L": "L = (a·b + c)·f", "neuron": "Neuron o = tanh(x1·w1 + x2·w2 + b)", "exp": "The same neuron, tanh via exp",
    "aa": "b = a + a (why grads accumulate)", "mlp": "MLP(3, [4, 4, 1]) + squared error",
    "expr": "Type an expression", "train": "The net from the Train page"}
EXPR_DEFAULTS = {**PRESET_DEFAULTS["tanh neuron"], **PRESET_DEFAULTS["L = (a*b + c)*f"]}
MAX_BUILD = 30_000  # nodes of a one-op-per-node net graph the page builds and steps through on each rerun


class NetTooLarge(ValueError):
    """The Train page's net would make a graph bigger than the page builds."""


class Sample(NamedTuple):
    """One sample of a config's training split: its position, inputs and target."""
    index: int
    x: list
    y: float
    n_train: int


@dataclass
class Drawing:
    """What to draw and check.

    root: the output Value of the graph. values: {leaf name: number}, the leaves the gradient
    check nudges (for a net: its inputs, target and every weight). build: values -> root (or
    (root, leaves)), rebuilding the graph at other values. net: the MLP drawn, if it is one.
    about: a sentence on what is drawn (empty when the page's own text says it)."""
    root: Value
    values: dict
    build: Callable
    net: MLP | None = None
    collapsible: bool = False
    about: str = ""

    def groups(self, collapse, max_nodes):
        """({Value: neuron box}, forced): one box per neuron when asked, or when a net's full graph
        has more than max_nodes nodes (forced)."""
        if collapse:
            return (neuron_groups(self.net, self.root) if self.net else find_neurons(self.root)), False
        if self.net is not None and sum(graph_size(self.root)) > max_nodes:
            return neuron_groups(self.net, self.root), True
        return {}, False


def input_defaults(source, text=None):
    """{name: default value} of the number inputs the page offers for a source: a preset's inputs,
    or the names in the typed expression (ExpressionError when it cannot be drawn; known names
    start at the lecture's values). The Train page's net takes its inputs from the data: none."""
    if source == "expr":
        names = expression_names(text)
        known = next((d for d in PRESET_DEFAULTS.values() if set(names) <= set(d)), EXPR_DEFAULTS)
        return {name: known.get(name, 1.0) for name in names}
    if source == "train":
        return {}
    return dict(PRESET_DEFAULTS[PRESET_OF[source]])


def training_sample(config, index):
    """Sample `index` (clamped) of the config's training split."""
    train, _ = load_data(config)
    index = min(max(int(index), 0), len(train.y) - 1)
    return Sample(index, [float(v) for v in train.X[index]], float(train.y[index]), len(train.y))


def what_to_draw(source, values=None, *, text=None, config=None, sample=None):
    """The Drawing for a source of SOURCES.

    values: the page's number inputs (input_defaults' names). text: the expression ("expr").
    config and sample: the Train page's config and one of its training samples ("train").
    Raises NetTooLarge for a net too big to build, ExpressionError for a bad expression and
    ValueError / ArithmeticError for inputs that cannot be computed."""
    values = dict(values or {})
    if source == "expr":
        def build(v):
            return parse_expression(text, v)  # parses, never evaluates, the text
        root, _ = build(values)
        return Drawing(root, values, build, collapsible=True)
    if source == "mlp":
        return _net_drawing(lambda: MLP(3, [4, 4, 1], "tanh", "tanh", seed=0),  # as presets.mlp_lecture
                            [values[f"x{i}"] for i in range(3)], values["y"])
    if source == "train":
        return _train_drawing(config or TrainConfig(), sample)
    build = PRESETS[PRESET_OF[source]]
    return Drawing(build(values), values, build)


def _net_drawing(make_net, xs, y, about=""):
    def build(v):
        return net_loss(make_net(), [v[f"x{i}"] for i in range(len(xs))], v["y"], params=v)
    net = make_net()
    root, _ = net_loss(net, xs, y)
    values = {**{f"x{i}": v for i, v in enumerate(xs)}, "y": y}
    values.update((p.label, p.data) for p in net.parameters())  # the leaves to check: inputs, target, weights
    return Drawing(root, values, build, net=net, collapsible=True, about=about)


def _train_drawing(config, sample):
    sizes = [len(sample.x), *config.hidden, 1]
    estimate = sum(o * (5 * i + 3) for i, o in zip(sizes, sizes[1:]))  # boxes + circles per neuron
    if estimate > MAX_BUILD:
        raise NetTooLarge(f"This net's graph would have about {estimate:,} nodes, more than this page builds "
                          f"({MAX_BUILD:,}). Choose a smaller net on the Train page, e.g. hidden layers 16, 16.")
    about = (f"MLP({len(sample.x)}, {sizes[1:]}), {config.activation} hidden, {config.output_activation} output, "
             f"seed {config.seed}, on training sample {sample.index} of {sample.n_train} ({config.dataset}): "
             f"x = ({', '.join(f'{v:.4g}' for v in sample.x)}), y = {sample.y:g}. The loss drawn is the squared "
             f"error (out − y)², whatever loss the Train page trains with ({config.loss}).")
    return _net_drawing(lambda: MLP(len(sample.x), [*config.hidden, 1], config.activation,
                                    config.output_activation, seed=config.seed),
                        sample.x, sample.y, about)


def gradient_table(rows):
    """The gradient check's rows (micrograd.backprop.FDRow) as a table indexed by leaf."""
    table = pd.DataFrame(rows).rename(columns={
        "name": "leaf", "analytic": "grad (backward)", "numeric": "finite difference", "abs_error": "|difference|"})
    table["ok"] = table["ok"].map({True: "✓", False: "✗"})
    return table.set_index("leaf")


def check_summary(rows):
    """(all agree, a sentence) on the gradient check's rows."""
    bad = [row.name for row in rows if not row.ok]
    if bad:
        return False, f"{len(bad)} gradient(s) disagree with the finite differences: {', '.join(bad)}"
    return True, (f"All {len(rows)} gradients agree with the finite differences "
                  f"(largest difference {max(row.abs_error for row in rows):.2g}).")


def error_pointer(text, error):
    """The line of `text` where an ExpressionError is, with ^ under the bad part."""
    line = text.splitlines()[(error.line or 1) - 1] if text.strip() else text
    width = len(error.segment) if error.segment and "\n" not in error.segment else 1
    return f"{line}\n{' ' * (error.column - 1)}{'^' * width}"
