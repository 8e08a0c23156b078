"""What the Graph page draws, decided in one place: the page's choice (a lecture graph, a typed
expression, the lecture's MLP or the Train page's net) in, a `Drawing` out — the root Value, the
inputs to check with finite differences and a function that rebuilds the graph at other inputs.
`GraphView` turns a Drawing and the page's options into what the page shows at any backward step.
The page only shows it; this is tested without Streamlit.

Stepping must feel immediate, and the browser's graphviz takes about a second to lay out the MLP's
DOT each time its text changes. So the DOT (`GraphView.dot`) is the same for every step and only a
small style sheet (`StepView.style`) changes; FOLLOW_JS scrolls the step's node into view.
"""
from dataclasses import dataclass
from typing import Callable, NamedTuple

import pandas as pd

from micrograd.backprop import backward_steps, done_after, first_non_finite, grads_after
from micrograd.engine import Value
from micrograd.expr import expression_names, parse_expression
from micrograd.graph import (CHILD_COLOR, HIGHLIGHT_COLOR, GraphTooLarge, dot_ids, draw_dot, draw_step_dot,
                             edge_count, find_neurons, format_number, graph_size, label_text, neuron_columns,
                             neuron_groups, node_names, step_style, svg_id)
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
MAX_NODES = 600     # browsers take ~0.6 s to draw 170 nodes and ~1.5 s for 1,600 (DESIGN.md)
MAX_EDGES = 2_000   # a collapsed wide net has few boxes but fan_in x fan_out edges
FIT_NODES = 12      # graphs up to this size are shrunk to the page width by default, bigger ones scroll


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

    def too_big(self, max_nodes=MAX_NODES):
        """A net whose full graph has more than max_nodes nodes is always drawn one box per neuron."""
        return self.net is not None and sum(graph_size(self.root)) > max_nodes

    def groups(self, collapse, max_nodes):
        """({Value: neuron box}, forced): one box per neuron when asked, or when a net's full graph
        has more than max_nodes nodes (forced)."""
        if collapse:
            return (neuron_groups(self.net, self.root) if self.net else find_neurons(self.root)), False
        if self.too_big(max_nodes):
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


# ---------------------------------------------------------------- what the page shows
class StepView(NamedTuple):
    """The step-through at step k: a headline (markdown), the chain rule with names and with numbers,
    the style sheet that draws this step on GraphView.dot, and the SVG ids of the nodes to scroll to
    (the node processed, its op circle, then the ones it adds to; None at step 0)."""
    k: int
    headline: str
    rule: str
    numbers: str
    style: str
    focus: list | None


class GraphView:
    """Everything the Graph page shows for a Drawing with its options, at any backward step.

    dot: the DOT text, the same at every step (None when the graph is too big to draw, with the
    reason in `not_drawn`). problem: a sentence on where a value or gradient first stopped being a
    finite number, or "". step(k): the StepView of step k (0: the forward pass only)."""

    def __init__(self, drawing, *, show_grad=True, collapse=False, rankdir="LR", max_nodes=MAX_NODES,
                 max_edges=MAX_EDGES):
        root = self.root = drawing.root
        self.groups, _ = drawing.groups(collapse, max_nodes)
        self.forced = drawing.too_big(max_nodes)     # one box per neuron, asked for or not
        self.values_n, self.ops_n = graph_size(root, self.groups)
        self.n_nodes = self.values_n + self.ops_n
        self.steps = backward_steps(root) if show_grad else []
        self.final = grads_after(root, len(self.steps), self.steps) if show_grad else None
        self.names = node_names(root)
        self.ids = dot_ids(root, self.groups)
        trouble = first_non_finite(root, self.steps)
        self.problem, self.alarm = (trouble.message, [trouble.node]) if trouble else ("", [])
        self.forced_note = (f"The full graph has {sum(graph_size(root)):,} nodes, more than this page draws "
                            f"({max_nodes}): it is drawn with one box per neuron. A smaller net on the Train "
                            "page shows every operation." if self.forced else "")
        columns = neuron_columns(drawing.net, root) if drawing.net is not None else ()
        hint = ("Choose a smaller net on the Train page (fewer or narrower hidden layers)." if drawing.net else
                "Try a shorter expression or turn on “One node per neuron”.")
        self.dot, self.not_drawn, edges = None, "", edge_count(root, self.groups)
        if edges > max_edges:
            self.not_drawn = (f"Not drawn: the graph has {edges:,} edges (every neuron feeds every neuron of the "
                              f"next layer), more than a browser lays out quickly ({max_edges:,}). {hint}")
        else:
            try:
                self.dot = draw_step_dot(root, self.final, groups=self.groups, max_nodes=max_nodes, rankdir=rankdir,
                                         columns=columns).source
            except GraphTooLarge as e:
                self.not_drawn = f"Not drawn: the {e}. {hint}"
        self.show_grad, self.rankdir, self.max_nodes = show_grad, rankdir, max_nodes

    @property
    def fit_by_default(self):
        """Small graphs are shrunk to the page width unless the user says otherwise; big ones scroll."""
        return self.n_nodes <= FIT_NODES

    def caption(self, fit):
        grouped = f" ({len(set(self.groups.values()))} of them whole neurons)" if self.groups else ""
        return (f"{self.n_nodes} nodes: {self.values_n} value boxes{grouped} and {self.ops_n} operation circles. "
                "A box is named by its label, or #i (its place in topological order) when the label is not a "
                "plain name." + ("" if fit else " A graph wider than the page scrolls; the output is at the far end."))

    def step(self, k):
        """The StepView of step k, 0 <= k <= len(steps) (clamped)."""
        k = min(max(int(k), 0), len(self.steps))
        alarm = dict(alarm=self.alarm, groups=self.groups)
        if not self.steps:
            return StepView(0, "", "", "", step_style(self.root, **alarm), None)
        done = done_after(self.root, k, self.steps)
        if k == 0:
            headline = (f"**Step 0 of {len(self.steps)}**: the forward pass only; no gradient is known yet "
                        "(grey `grad ?`). **Next** seeds the output's grad with 1.")
            out = self.names[self.root]
            return StepView(0, headline, f"{out}.grad = ?   (no gradient is known yet)",
                            f"{out}.data = {format_number(self.root.data)}   (the forward pass)",
                            step_style(self.root, done=done, **alarm), None)
        step = self.steps[k - 1]
        name = label_text(step.node, self.names[step.node])
        what = "seed the output" if step.is_seed else f"`{name}` (op `{step.op}`) pushes its grad to its inputs"
        headline = (f"**Step {k} of {len(self.steps)}**: {what}. Amber: the node processed; "
                    "green: the grads it adds to.")
        highlight = {**{child: CHILD_COLOR for child, _ in step.contributions}, step.node: HIGHLIGHT_COLOR}
        style = step_style(self.root, done=done, highlight=highlight, **alarm)
        node = self.ids[step.node]
        circle = [svg_id(node + "op")] if node.startswith("n") and step.node._prev else []
        focus = [svg_id(node), *circle, *(svg_id(self.ids[child]) for child, _ in step.contributions)]
        return StepView(k, headline, step.rule, "\n".join(step.numbers), style, list(dict.fromkeys(focus)))

    def download_dot(self):
        """The DOT to download: boxes (records) with every grad backward() gives, as draw_dot draws them."""
        return draw_dot(self.root, show_grad=self.show_grad, done=self.final, groups=self.groups,
                        max_nodes=self.max_nodes, rankdir=self.rankdir, number_unlabelled=True).source


# Scrolls the graph box so that the step's nodes are in its middle (the page passes {"focus": their SVG ids},
# the node processed first, with as many of the others as fit, nearest first); then the page as
# little as needed to show the box (or, in a box taller than the window, the node). The drawing is laid out
# in the browser, sometimes after this runs (a new graph): so it also follows when the drawing changes in
# the next seconds. Only ids made by micrograd.graph.svg_id are passed in, never user text.
FOLLOW_JS = """
let watcher = null;
export default function ({ data }) {
    if (watcher) watcher.disconnect();
    watcher = null;
    const box = document.querySelector(".st-key-graph_box");
    if (!data || !data.focus || !box) return;
    const follow = () => {
        const nodes = data.focus.map(id => document.getElementById(id)).filter(Boolean);
        if (!nodes.length) return;
        const b = box.getBoundingClientRect();
        const [first, ...others] = nodes.map(node => node.getBoundingClientRect());
        let { left, right, top, bottom } = first;
        const away = r => Math.abs(r.left + r.right - left - right) + Math.abs(r.top + r.bottom - top - bottom);
        for (const r of others.sort((p, q) => away(p) - away(q))) {   // the nearest ones that fit with it
            const wider = [Math.min(left, r.left), Math.max(right, r.right),
                           Math.min(top, r.top), Math.max(bottom, r.bottom)];
            if (wider[1] - wider[0] <= box.clientWidth && wider[3] - wider[2] <= box.clientHeight) {
                [left, right, top, bottom] = wider;
            }
        }
        box.scrollBy((left + right) / 2 - (b.left + box.clientWidth / 2),
                     (top + bottom) / 2 - (b.top + box.clientHeight / 2));
        // the whole box when it fits the window (the step's text above it stays in view), else the node
        const target = b.height <= window.innerHeight ? box : nodes[0];
        target.scrollIntoView({ block: "nearest", inline: "nearest" });
    };
    watcher = new MutationObserver(follow);
    watcher.observe(box, { childList: true, subtree: true });
    const mine = watcher;
    setTimeout(() => mine.disconnect(), 10000);
    follow();
}
"""
