"""Backpropagation one node at a time, for a step-through page.

backward_steps(root) replays what Value.backward() does, without touching any
.grad: step 0 seeds the root with 1.0, then each node that was made by an op
is processed in reverse topological order, pushing `local · out.grad` into
each of its children. Every Step carries those contributions and the chain
rule for the op written with the graph's labels ("a.grad += b.data · L.grad").
grads_after / done_after give the state of all grads after k steps (from
scratch, independent of any earlier backward), to draw with
draw_dot(root, done=done_after(root, k)).

Nodes are named by graph.node_names: a plain label (`a`, `L1N0.w2`), else
`#i`, so a rule never reads `x1*w1 + x2*w2.grad += …`.

first_non_finite says where a value or a gradient first stops being a finite
number (1/0, log(-1), exp(1000)) and why, in words for a student.

finite_difference_check compares each input's analytic gradient with a
central difference, rebuilding the graph with one input nudged at a time.
"""
import math
from dataclasses import dataclass
from typing import NamedTuple

from .engine import Value
from .graph import format_number, label_text, node_names

__all__ = ["Step", "backward_steps", "grads_after", "done_after", "node_names", "rule_lines",
           "NonFinite", "first_non_finite", "FDRow", "finite_difference_check"]

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True, eq=False)
class Step:
    """One step of backpropagation.

    index: position in the list (0 is the seed).
    node: the Value being processed (the root for the seed step).
    name: its display name (label, else `#i` with i its topological index).
    op: node._op, or "seed" for step 0.
    out_grad: node's gradient when it is processed (final by then).
    contributions: (child, added_grad) in the order backward() applies them;
        the seed step's is ((root, 1.0),).
    rules: the chain rule for each contribution, with labels.
    numbers: the same with numbers: "a.grad += -3.0000 · -2.0000 = 6.0000".
    """
    index: int
    node: Value
    name: str
    op: str
    out_grad: float
    contributions: tuple
    rules: tuple
    numbers: tuple

    @property
    def rule(self):
        return "\n".join(self.rules)

    @property
    def is_seed(self):
        return self.op == "seed"


def _sup(x):
    """Exponent as superscript when it is an integer: 1 -> ¹, -2 -> ⁻²; else ^(0.5)."""
    return str(int(x)).translate(_SUPERSCRIPT) if x == int(x) else f"^({x:g})"


UNARY_LOCAL = {
    "neg": "−1",
    "exp": "{out}.data",
    "log": "(1 / {x}.data)",
    "tanh": "(1 − {out}.data²)",
    "sigmoid": "{out}.data · (1 − {out}.data)",
    "relu": "(1 if {x}.data > 0 else 0)",
    "abs": "sign({x}.data)",
    "bce": "(σ({x}.data) − target)",
}


def rule_lines(node, names):
    """The chain rule `child.grad += … · out.grad` for each child of `node`."""
    op, kids = node._op, node._prev
    out = names.get(node) or "out"
    n = [names.get(c) or "?" for c in kids]
    g = f"{out}.grad"
    if op == "+" or op == "sum":
        return [f"{a}.grad += 1 · {g}" for a in n]
    if op == "-":
        return [f"{n[0]}.grad += 1 · {g}", f"{n[1]}.grad += −1 · {g}"]
    if op == "*":
        return [f"{n[0]}.grad += {n[1]}.data · {g}", f"{n[1]}.grad += {n[0]}.data · {g}"]
    if op == "/":
        return [f"{n[0]}.grad += (1 / {n[1]}.data) · {g}",
                f"{n[1]}.grad += (−{n[0]}.data / {n[1]}.data²) · {g}"]
    if op == "**":
        return [f"{n[0]}.grad += {n[1]}.data · {n[0]}.data^({n[1]}.data − 1) · {g}",
                f"{n[1]}.grad += {out}.data · ln({n[0]}.data) · {g}"]
    if op.startswith("**"):
        try:
            k = float(op[2:])
        except ValueError:
            k = None
        if k is not None:
            if k == 0:
                return [f"{n[0]}.grad += 0 · {g}   ({n[0]}⁰ is constant)"]
            return [f"{n[0]}.grad += {k:g}·{n[0]}.data{_sup(k - 1)} · {g}"]
    if op in UNARY_LOCAL:  # x.grad += local · out.grad, the local derivative written with x and out
        return [f"{n[0]}.grad += {UNARY_LOCAL[op].format(x=n[0], out=out)} · {g}"]
    if op == "wx+b":
        return _dot_rules(node, n, g)
    return [f"{a}.grad += ∂{out}/∂{a} · {g}" for a in n]


def _dot_rules(node, n, g):
    """Value.dot's children are the weights, the inputs that are Values, then the bias."""
    kids, local = node._prev, node._local
    m = len(kids) - 1
    half = m // 2
    paired = (m % 2 == 0 and m > 0 and all(local[j] == kids[half + j].data and local[half + j] == kids[j].data
                                           for j in range(half)))
    lines = []
    if paired:      # every input is a Value: w_j pairs with x_j
        for j in range(half):
            lines.append(f"{n[j]}.grad += {n[half + j]}.data · {g}")
        for j in range(half):
            lines.append(f"{n[half + j]}.grad += {n[j]}.data · {g}")
    else:           # inputs were plain numbers: only weights and bias are children
        for j in range(m):
            lines.append(f"{n[j]}.grad += x{j} · {g}   (x{j} = {format_number(local[j])}, the input it multiplies)")
    lines.append(f"{n[-1]}.grad += 1 · {g}")
    return lines


def backward_steps(root):
    """The steps of root.backward(): the seed, then one per op'd node in reverse topological order.

    Leaves get no step of their own (they have no children to push to). Grads
    are computed from scratch; no Value's .grad is read or changed."""
    order = root.topological_order()
    names = node_names(root, order)
    grads = {v: 0.0 for v in order}
    grads[root] += 1.0
    rn = names[root]
    steps = [Step(0, root, rn, "seed", 1.0, ((root, 1.0),),
                  (f"{rn}.grad = 1   (∂{rn}/∂{rn} = 1: the seed)",),
                  (f"{rn}.grad = 1.0000",))]
    for node in reversed(order):
        if not node._prev:
            continue
        g = grads[node]
        contributions, numbers = [], []
        for child, local in zip(node._prev, node._local):
            added = local * g
            grads[child] += added
            contributions.append((child, added))
            numbers.append(f"{names[child]}.grad += {format_number(local)} · {format_number(g)} "
                           f"= {format_number(added)}")
        steps.append(Step(len(steps), node, names[node], node._op, g, tuple(contributions),
                          tuple(rule_lines(node, names)), tuple(numbers)))
    return steps


def _check_k(k, steps):
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= len(steps):
        raise ValueError(f"k must be an integer from 0 to {len(steps)}, got {k!r}")


def grads_after(root, k, steps=None):
    """{Value: grad} for every node after the first k steps (k=0: all 0.0;
    k=len(steps): what a fresh backward() gives). Partial sums included."""
    steps = backward_steps(root) if steps is None else steps
    _check_k(k, steps)
    grads = {v: 0.0 for v in root.topological_order()}
    for step in steps[:k]:
        for child, added in step.contributions:
            grads[child] += added
    return grads


def done_after(root, k, steps=None):
    """{Value: grad} for the nodes whose grad is final after k steps: every
    contribution they will ever get has been applied. Pass it to
    draw_dot(root, done=...) to draw the state at step k."""
    steps = backward_steps(root) if steps is None else steps
    grads = grads_after(root, k, steps)
    last = {}
    for step in steps:
        for child, _ in step.contributions:
            last[child] = step.index
    return {v: g for v, g in grads.items() if last.get(v, -1) < k}


# ---------------------------------------------------------------- where numbers stop being finite
class NonFinite(NamedTuple):
    """Where a value (kind "value") or a gradient (kind "grad") first stopped being a finite number.

    node: the Value; name: how the drawing names it (`#2 = 1/0`); step: for a grad, the backward
    step (an index into backward_steps) that produced it; message: what happened, in words."""
    node: Value
    name: str
    kind: str
    step: int | None
    message: str


def _number(x):
    return "−∞" if x == -math.inf else "∞" if x == math.inf else "nan" if math.isnan(x) else f"{x:g}"


BIGGEST = "the largest float (about 1.8e308)"


def _why_value(v):
    """Why v.data is inf or nan although all its inputs are finite numbers."""
    x = [c.data for c in v._prev]
    op = v._op
    if op == "/" and x[1] == 0:
        return "0 / 0 has no value" if x[0] == 0 else f"it divides {_number(x[0])} by 0"
    if op == "log":
        return (f"the log of a negative number ({_number(x[0])}) is not a real number" if x[0] < 0
                else "the log of 0 is minus infinity")
    if op == "exp":
        return f"exp({_number(x[0])}) is larger than {BIGGEST}"
    if op.startswith("**"):
        base, power = x[0], (x[1] if op == "**" else float(op[2:]))
        if base == 0 and power < 0:
            return f"0 to a negative power ({_number(power)}) divides by zero"
        if base < 0 and power != int(power):
            return f"a negative number ({_number(base)}) to a fractional power ({_number(power)}) is not a real number"
        return f"{_number(base)} to the power {_number(power)} is larger than {BIGGEST}"
    if math.isinf(v.data):
        return f"the result of `{op}` is larger than {BIGGEST}"
    return f"`{op}` of {', '.join(_number(a) for a in x)} has no finite value"


def first_non_finite(root, steps=None):
    """A NonFinite for the first node whose value is inf or nan while its inputs are finite numbers,
    else for the first backward step that gives a gradient inf or nan from finite numbers, else None.

    Every value computed from an inf or nan is usually inf or nan too; this names where it started.
    steps: backward_steps(root), when the caller has them (for gradients; None skips gradients)."""
    order = root.topological_order()
    names = node_names(root, order)
    bad = [v for v in order if not math.isfinite(v.data)]
    # children come before parents: a bad node whose inputs are all finite is where it starts
    starts = [v for v in bad if all(math.isfinite(c.data) for c in v._prev)]
    if starts:
        first, spread = starts[0], len(bad) - len(starts)
        name = label_text(first, names[first])
        value = _number(first.data) + (" (not a number)" if math.isnan(first.data) else "")
        text = f"`{name}` is {value}: " + (f"{_why_value(first)}." if first._prev else "the number it was given.")
        if len(starts) > 1:
            others = ", ".join(f"`{label_text(v, names[v])}`" for v in starts[1:4])
            text += f" It is not the only one: so is {others}{' and more' if len(starts) > 4 else ''}."
        if spread:
            text += (f" {spread} more value{'s' if spread > 1 else ''} computed from "
                     f"{'it' if len(starts) == 1 else 'them'} {'are' if spread > 1 else 'is'} not finite either.")
        return NonFinite(first, name, "value", None, text)
    for step in (steps or ())[1:]:
        if not math.isfinite(step.out_grad):
            continue
        for (child, added), local in zip(step.contributions, step.node._local):
            if not math.isfinite(added):
                name, parent = label_text(child, names[child]), label_text(step.node, names[step.node])
                reason = (f"the slope of `{parent}` with respect to it is {_number(local)} here"
                          if not math.isfinite(local) else
                          f"{_number(local)} · {_number(step.out_grad)} is larger than {BIGGEST}")
                return NonFinite(child, name, "grad", step.index,
                                 f"Every value is a finite number, but the gradient of `{name}` becomes "
                                 f"{_number(added)} at backward step {step.index + 1}: {reason}.")
    return None


# ---------------------------------------------------------------- gradient check
class FDRow(NamedTuple):
    name: str
    value: float
    analytic: float
    numeric: float
    abs_error: float
    ok: bool


def _build(build, values):
    """Call the builder; return (root, {name: leaf Value} or None)."""
    result = build(dict(values))
    if isinstance(result, Value):
        return result, None
    root, leaves = result
    return root, dict(leaves)


def _leaf_grads(root, names):
    """Sum of .grad over the leaves labelled with each name."""
    totals = dict.fromkeys(names, 0.0)
    for v in root.topological_order():
        if not v._prev and v.label in totals:
            totals[v.label] += v.grad
    return totals


def finite_difference_check(build, leaves, h=1e-6, *, tol=1e-5):
    """Compare analytic gradients with central differences (f(x+h) − f(x−h)) / 2h.

    build: a function taking {name: float} and returning the root Value, or
        (root, {name: leaf Value}) as parse_expression does; when it returns
        only the root, the leaves are found by their labels.
    leaves: {name: float}, the point to check at (and the inputs to nudge).
    Returns one FDRow(name, value, analytic, numeric, abs_error, ok) per name;
    ok when abs_error <= tol · max(1, |analytic|, |numeric|). A name that does
    not occur in the graph has analytic gradient 0."""
    point = {name: float(v) for name, v in leaves.items()}
    root, leaf_values = _build(build, point)
    root.backward()
    if leaf_values is None:
        analytic = _leaf_grads(root, point)
    else:
        analytic = {name: (leaf_values[name].grad if name in leaf_values else 0.0) for name in point}
    rows = []
    for name, value in point.items():
        plus, minus = dict(point), dict(point)
        plus[name], minus[name] = value + h, value - h
        numeric = (_build(build, plus)[0].data - _build(build, minus)[0].data) / (2 * h)
        a = analytic[name]
        err = abs(a - numeric)
        if math.isfinite(err):
            ok = err <= tol * max(1.0, abs(a), abs(numeric))
        else:
            ok = a == numeric      # the same infinity on both sides
        rows.append(FDRow(name, value, a, numeric, err, ok))
    return rows
