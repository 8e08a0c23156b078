"""Draw a Value graph as graphviz DOT, the way the lecture's draw_dot does.

Every Value becomes a record `label | data 1.2345 | grad 0.5000`; every Value
made by an op gets a small circle with the op's symbol just before it, so a
graph reads left to right from the inputs to the output.

Browsers render DOT slowly once a graph has more than a few hundred nodes
(see DESIGN.md), so draw_dot counts the nodes it would emit and raises
GraphTooLarge above `max_nodes`; `collapse`/`groups` draw a whole neuron (or
any group of Values) as one node to keep big graphs readable.

Node ids are numbered in topological order (`n0`, `n0op`, `g0`, ...), never
id(), so the same graph always gives the same DOT text. Nothing here needs the
`dot` binary: the DOT source is rendered in the browser by st.graphviz_chart.

A step-through redraws the same graph once per backward step, and the browser's
graphviz lays the whole DOT out again whenever its text changes (about a second
for the lecture's MLP). So draw_step_dot draws one DOT for every step: each box
holds its final grad and a `?`, and has an SVG id; step_style writes the CSS
that says, for one step, which boxes are amber or green and whether each shows
its grad or the `?`. Only the small style sheet changes from step to step.
"""
import html
import math
import re
import shutil
from collections import Counter
from collections.abc import Mapping

import graphviz

from .engine import Value

__all__ = ["GraphTooLarge", "draw_dot", "draw_step_dot", "step_style", "svg_id", "dot_ids", "node_names", "label_text",
           "graph_size", "edge_count", "neuron_groups", "neuron_columns", "find_neurons", "to_svg", "format_number",
           "DEFAULT_MAX_NODES", "HIGHLIGHT_COLOR", "CHILD_COLOR", "ALARM_COLOR"]

DEFAULT_MAX_NODES = 400
HIGHLIGHT_COLOR = "#ffd54f"     # amber: the node being processed
CHILD_COLOR = "#c8e6c9"         # green: the nodes whose grads it adds to
ALARM_COLOR = "#d32f2f"         # red outline: where a value or grad first stops being a finite number
GROUP_COLOR = "#e3f2fd"         # pale blue fill for collapsed groups
PENDING_FONT = "grey55"         # step-through: grad not known yet
PENDING_LINE = "grey70"
ACTIVATION_OPS = ("tanh", "relu", "sigmoid")
RANKDIRS = ("LR", "RL", "TB", "BT")


class GraphTooLarge(ValueError):
    """The graph would emit more nodes than the browser can render quickly."""

    def __init__(self, n_nodes, max_nodes):
        self.n_nodes, self.max_nodes = n_nodes, max_nodes
        super().__init__(f"graph has {n_nodes} nodes, over the cap of {max_nodes}; "
                         "collapse it or use a smaller net")


# ---------------------------------------------------------------- helpers
def format_number(x):
    """4 decimals as in the lecture; scientific notation for very large numbers."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if abs(x) >= 1e5:
        return f"{x:.4e}"
    return f"{x + 0.0:.4f}"  # + 0.0 turns -0.0 into 0.0


def _esc(text):
    """Escape the characters that have a meaning inside a record label."""
    out = str(text).replace("\\", "\\\\")
    for ch in '{}|<>"':
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", " ")


PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def node_names(root, order=None):
    """{Value: a short name that says which node it is}, for rule texts and drawings.

    A node keeps its label when that is a plain name (`a`, `n`, `L1N0.w2`) used by no other node;
    every other node is `#i`, i its index in root.topological_order(): the unlabelled ones, the
    numbers (`2`) and labels that are expressions (`x1*w1 + x2*w2`) or used twice. So a rule such as
    `#7.grad += 1 · n.grad` never reads as `x1*w1 + x2*w2.grad += …`. Drawings show `#7 = x1*w1 + x2*w2`
    (see label_text)."""
    order = root.topological_order() if order is None else order
    uses = Counter(v.label for v in order)
    return {v: v.label if uses[v.label] == 1 and PLAIN_NAME.fullmatch(v.label) else f"#{i}"
            for i, v in enumerate(order)}


def label_text(v, name):
    """The name field of v's box: its name, and its label when the name is a number (`#7 = x1*w1`)."""
    return v.label if name == v.label else f"{name} = {v.label}" if v.label else name


def _roots(outputs):
    return [outputs] if isinstance(outputs, Value) else list(outputs)


def _topo(roots):
    """All nodes under several roots, each after its children, without repeats."""
    order, seen = [], set()
    for r in roots:
        for v in r.topological_order():
            if v not in seen:
                seen.add(v)
                order.append(v)
    return order


def _parents(order):
    parents = {v: [] for v in order}
    for v in order:
        for c in v._prev:
            if v not in parents[c]:
                parents[c].append(v)
    return parents


def _resolve_groups(root, collapse, groups):
    if groups is not None:
        return dict(groups)
    if collapse is False or collapse is None:
        return {}
    if collapse is True:
        return find_neurons(root)
    if isinstance(collapse, Mapping):
        return dict(collapse)
    if hasattr(collapse, "parameters"):        # an MLP, Layer or Neuron
        return neuron_groups(collapse, root)
    raise TypeError("collapse must be a bool, a {Value: group name} mapping or a micrograd.nn module")


# ---------------------------------------------------------------- layout
class _Layout:
    """What draw_dot would emit: value nodes, op nodes, group nodes and edges."""

    def __init__(self, root, groups):
        self.order = order = root.topological_order()
        self.index = {v: i for i, v in enumerate(order)}
        inside = set(order)
        self.groups = {v: str(name) for v, name in groups.items() if v in inside}
        # group ids in order of each group's first member in topological order
        self.group_id, self.members = {}, {}
        for v in order:
            name = self.groups.get(v)
            if name is not None:
                if name not in self.group_id:
                    self.group_id[name] = f"g{len(self.group_id)}"
                    self.members[name] = []
                self.members[name].append(v)
        self.values = [v for v in order if v not in self.groups]     # drawn as records
        self.ops = [v for v in self.values if v._prev]               # get an op circle
        self.n_nodes = len(self.values) + len(self.ops) + len(self.group_id)

    def node_id(self, v):
        name = self.groups.get(v)
        return self.group_id[name] if name is not None else f"n{self.index[v]}"

    def edges(self):
        """(src, dst) pairs; edges touching a group are emitted once each."""
        out, seen = [], set()
        for v in self.order:
            name = self.groups.get(v)
            dst = self.group_id[name] if name is not None else f"n{self.index[v]}op"
            for c in v._prev:
                if name is not None and self.groups.get(c) == name:
                    continue                                   # inside the group
                src = self.node_id(c)
                if src.startswith("g") or dst.startswith("g"):
                    if (src, dst) in seen:
                        continue
                    seen.add((src, dst))
                out.append((src, dst))
            if v._prev and name is None:
                out.append((f"n{self.index[v]}op", f"n{self.index[v]}"))
        return out

    def group_outputs(self, name, root):
        members = set(self.members[name])
        parents = self._parent_map()
        return [m for m in self.members[name]
                if m is root or any(p not in members for p in parents[m])]

    def _parent_map(self):
        if not hasattr(self, "_parents_cache"):
            self._parents_cache = _parents(self.order)
        return self._parents_cache


def graph_size(root, groups=None):
    """(number of value nodes, number of op nodes) draw_dot would emit for `root`.

    With `groups` ({Value: group name}) each group counts as one value node and
    grouped Values emit nothing else."""
    layout = _Layout(root, groups or {})
    return len(layout.values) + len(layout.group_id), len(layout.ops)


def edge_count(root, groups=None):
    """Number of edges draw_dot would emit for `root` with `groups` (as in graph_size).

    Collapsed nets have few nodes but up to fan_in x fan_out edges between two
    layers, and edges cost the browser's layout time too."""
    return len(_Layout(root, groups or {}).edges())


# ---------------------------------------------------------------- drawing
def draw_dot(root, *, show_grad=True, highlight=(), done=None, collapse=False, groups=None,
             max_nodes=DEFAULT_MAX_NODES, rankdir="LR", number_unlabelled=False):
    """Draw the graph that ends in `root` as a graphviz.Digraph (no `dot` binary needed).

    show_grad: add the `grad` field to every record.
    highlight: Values to fill with a colour (e.g. the node a step-through is
        processing); an iterable (amber) or a {Value: colour} mapping.
    done: None to show every Value's .grad; else a set of Values whose grad is
        known (the others show `grad ?` and are greyed), or a {Value: grad}
        mapping whose numbers are shown instead of .grad (what
        micrograd.backprop.done_after returns for a step-through).
    collapse: False; True to draw each neuron-like pattern found in the graph
        (activation of a weighted sum, a fused wx+b) as one node; a {Value: name}
        mapping; or a micrograd.nn module (MLP/Layer/Neuron) whose neurons to
        collapse (see neuron_groups).
    groups: explicit {Value: group name}; Values with the same name are drawn as
        one node (overrides `collapse`).
    max_nodes: above this many emitted nodes (records + op circles + groups)
        raise GraphTooLarge instead of emitting.
    number_unlabelled: name every box as the step-through's rule texts do
        (node_names): `#i` for an unlabelled Value, `#i = x1*w1` for a label
        that is not a plain name.
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    layout = _Layout(root, _resolve_groups(root, collapse, groups))
    if max_nodes is not None and layout.n_nodes > max_nodes:
        raise GraphTooLarge(layout.n_nodes, max_nodes)

    if isinstance(highlight, Value):
        highlight = [highlight]
    colours = dict(highlight) if isinstance(highlight, Mapping) else {v: HIGHLIGHT_COLOR for v in highlight}
    if done is None:
        known = None
    elif isinstance(done, Mapping):
        known = dict(done)
    else:
        known = {v: v.grad for v in done}

    def grad_text(vs):
        if known is None:
            return format_number(sum(v.grad for v in vs))
        if all(v in known for v in vs):
            return format_number(sum(known[v] for v in vs))
        return "?"

    names = node_names(root, layout.order) if number_unlabelled else None
    dot = graphviz.Digraph(format="svg", graph_attr={"rankdir": rankdir},
                           node_attr={"fontname": "Helvetica", "fontsize": "11"},
                           edge_attr={"arrowsize": "0.6"})

    emitted_groups = set()
    for v in layout.order:
        name = layout.groups.get(v)
        if name is not None:
            if name in emitted_groups:
                continue
            emitted_groups.add(name)
            members = layout.members[name]
            outs = layout.group_outputs(name, root)
            fields = [_esc(name), f"{len(members)} nodes"]
            if len(outs) == 1 or (outs and all(not o._prev and o.data == outs[0].data for o in outs)):
                fields.append(f"data {format_number(outs[0].data)}")
                if show_grad:
                    fields.append(f"grad {grad_text(outs)}")
            else:
                fields.append(f"{len(outs)} outputs")
            attrs = {"shape": "record", "style": "rounded,filled", "fillcolor": GROUP_COLOR}
            colour = next((colours[m] for m in members if m in colours), None)
            if colour:
                attrs["fillcolor"] = colour
            if known is not None and show_grad and not all(o in known for o in outs):
                attrs.update(fontcolor=PENDING_FONT, color=PENDING_LINE)
            dot.node(layout.group_id[name], graphviz.nohtml("{ " + " | ".join(fields) + " }"), **attrs)
            continue

        i = layout.index[v]
        label = label_text(v, names[v]) if number_unlabelled else v.label
        fields = [_esc(label), f"data {format_number(v.data)}"]
        if show_grad:
            fields.append(f"grad {grad_text([v])}")
        attrs = {"shape": "record"}
        if v in colours:
            attrs.update(style="filled", fillcolor=colours[v])
        if known is not None and v not in known:
            attrs.update(fontcolor=PENDING_FONT, color=PENDING_LINE)
        dot.node(f"n{i}", graphviz.nohtml("{ " + " | ".join(fields) + " }"), **attrs)
        if v._prev:
            op_attrs = {"shape": "circle", "fontsize": "10", "width": "0.3", "height": "0.3", "margin": "0.02"}
            if v in colours:
                op_attrs.update(style="filled", fillcolor=colours[v])
            dot.node(f"n{i}op", graphviz.nohtml(_esc(v._op or "?")), **op_attrs)

    for src, dst in layout.edges():
        dot.edge(src, dst)
    return dot


# ---------------------------------------------------------------- one drawing for every step
SVG_ID_PREFIX = "mg-"
GRAD_CLASS = "mg-grad"          # boxes with a `grad ? number` field
PENDING_OPACITY = 0.45          # text and lines of a box whose grad is not known yet


def svg_id(node_id):
    """The SVG id of a DOT node (`n12`, `n12op`, `g3`) of draw_step_dot's drawing."""
    return SVG_ID_PREFIX + node_id


def dot_ids(root, groups=None):
    """{Value: the DOT name of the box it is drawn in}: its group's box (`g3`), else its own (`n12`)."""
    layout = _Layout(root, groups or {})
    return {v: layout.node_id(v) for v in layout.order}


def _text(text):
    return html.escape(str(text), quote=False).replace("\n", " ")


def _box(fields, grad, vertical, fill):
    """An HTML-like label: the fields side by side (stacked when `vertical`) with lines between,
    then, unless grad is None, `grad ? number`: step_style shows either the `?` or the number, and the
    box has room for both, so the layout never changes."""
    texts = [_text(f) for f in fields]
    if grad is not None:  # three texts in one cell (a FONT span each): `grad`, ` ?` and the number
        texts.append(f'grad<FONT POINT-SIZE="11"> ?</FONT><FONT POINT-SIZE="11"> {_text(grad)}</FONT>')
    # a line after each cell but the last, as a cell border (<VR/> and <HR/> make zero-width polygons that
    # break the browser's redraw when the direction changes)
    side = ' BORDER="1" SIDES="B"' if vertical else ' BORDER="1" SIDES="R"'
    cells = [f"<TD{side if i < len(texts) - 1 else ''}>{text}</TD>" for i, text in enumerate(texts)]
    body = "".join(f"<TR>{c}</TR>" for c in cells) if vertical else f"<TR>{''.join(cells)}</TR>"
    return (f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="6" BGCOLOR="{fill}">'
            f"{body}</TABLE>>")


def draw_step_dot(root, grads=None, *, groups=None, max_nodes=DEFAULT_MAX_NODES, rankdir="LR", columns=()):
    """The drawing of a backward step-through, the same DOT for every step (see step_style).

    grads: {Value: its grad once backward() is done} to show in every box, or None for boxes
        without a grad field. Each box shows `grad`, a `?` and that number; step_style hides one.
    groups: {Value: group name}, drawn as one box each (as in draw_dot).
    columns: lists of Values to keep in one column (one rank), in this order: e.g. a net's inputs
        and the neurons of each layer (neuron_columns), so N0 is drawn above N1.
    Every box and op circle has the SVG id svg_id(its DOT name); boxes are named as node_names does.
    Raises GraphTooLarge above max_nodes, as draw_dot."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    layout = _Layout(root, groups or {})
    if max_nodes is not None and layout.n_nodes > max_nodes:
        raise GraphTooLarge(layout.n_nodes, max_nodes)
    names = node_names(root, layout.order)
    vertical = rankdir in ("TB", "BT")
    dot = graphviz.Digraph(format="svg", graph_attr={"rankdir": rankdir},
                           node_attr={"fontname": "Helvetica", "fontsize": "11", "shape": "plain"},
                           edge_attr={"arrowsize": "0.6"})

    def box(node_id, fields, grad, fill):
        attrs = {"id": svg_id(node_id)}
        if grad is not None:
            attrs["class"] = GRAD_CLASS
        dot.node(node_id, _box(fields, grad, vertical, fill), **attrs)

    for name, members in layout.members.items():
        outs = layout.group_outputs(name, root)
        fields, grad = [name, f"{len(members)} nodes"], None
        if len(outs) == 1 or (outs and all(not o._prev and o.data == outs[0].data for o in outs)):
            fields.append(f"data {format_number(outs[0].data)}")
            if grads is not None:
                grad = format_number(sum(grads[o] for o in outs))
        else:
            fields.append(f"{len(outs)} outputs")
        box(layout.group_id[name], fields, grad, GROUP_COLOR)
    for v in layout.values:
        node_id = f"n{layout.index[v]}"
        box(node_id, [label_text(v, names[v]), f"data {format_number(v.data)}"],
            None if grads is None else format_number(grads[v]), "white")
        if v._prev:
            dot.node(f"{node_id}op", graphviz.nohtml(_esc(v._op or "?")), id=svg_id(f"{node_id}op"),
                     shape="circle", fontsize="10", width="0.3", height="0.3", margin="0.02")
    for src, dst in layout.edges():
        dot.edge(src, dst)
    for column in columns:
        ids = list(dict.fromkeys(layout.node_id(v) for v in column if v in layout.index))
        if len(ids) > 1:
            with dot.subgraph() as same:
                same.attr(rank="same")
                for upper, lower in zip(ids, ids[1:]):
                    same.edge(upper, lower, style="invis")
    return dot


def step_style(root, *, groups=None, done=None, highlight=(), alarm=()):
    """The CSS that shows one step of a step-through on draw_step_dot's drawing.

    done: the Values whose grad is known (the others show `?`, greyed), or None when all are.
    highlight: {Value: fill colour}, or an iterable of Values (amber); a Value made by an op has
        its op circle filled too. alarm: Values outlined in red (e.g. where a value first stops
        being a finite number). Values inside a group style the group's box."""
    layout = _Layout(root, groups or {})
    colours = dict(highlight) if isinstance(highlight, Mapping) else dict.fromkeys(highlight, HIGHLIGHT_COLOR)

    def ids(values, circles=False):
        """`#id` selectors of the boxes (or the op circles) of these Values, without repeats."""
        found = {}
        for v in values:
            if v not in layout.index:
                continue
            if circles:
                if v._prev and v not in layout.groups:
                    found[f"#{svg_id(layout.node_id(v))}op > ellipse"] = True
            else:
                found[f"#{svg_id(layout.node_id(v))}"] = True
        return list(found)

    def selector(boxes, child):
        return f":is({', '.join(boxes)}) > {child}"

    rules = [f"g.{GRAD_CLASS} > text:nth-last-of-type(2) {{visibility: hidden}}"]  # the `?`: shown when pending
    if done is not None:
        pending = [v for v in layout.values if v not in done]
        pending += [layout.members[name][0] for name in layout.members
                    if not all(o in done for o in layout.group_outputs(name, root))]
        boxes = ids(pending)
        if boxes:
            rules += [f"{selector(boxes, 'text:nth-last-of-type(2)')} {{visibility: visible}}",
                      f"{selector(boxes, 'text:last-of-type')} {{visibility: hidden}}",
                      f"{selector(boxes, 'text')}, {selector(boxes, 'polyline')}, "
                      f"{selector(boxes, 'polygon:not(:first-of-type)')} {{opacity: {PENDING_OPACITY}}}"]
    by_colour = {}
    for v, colour in colours.items():
        by_colour.setdefault(colour, []).append(v)
    for colour, values in by_colour.items():
        shapes = [f"{box} > polygon:first-of-type" for box in ids(values)] + ids(values, circles=True)
        if shapes:
            rules.append(f"{', '.join(shapes)} {{fill: {colour}}}")
    shapes = [f"{box} > polygon:last-of-type" for box in ids(alarm)] + ids(alarm, circles=True)
    if shapes:
        rules.append(f"{', '.join(shapes)} {{stroke: {ALARM_COLOR}; stroke-width: 2.5px; opacity: 1}}")
    return "\n".join(rules)


def to_svg(dot):
    """SVG bytes of a Digraph (or DOT text) when the `dot` binary exists, else None."""
    if shutil.which("dot") is None:
        return None
    src = dot if isinstance(dot, (graphviz.Digraph, graphviz.Graph, graphviz.Source)) else graphviz.Source(str(dot))
    try:
        return src.pipe(format="svg")
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, OSError):
        return None


# ---------------------------------------------------------------- grouping
def neuron_groups(net, outputs):
    """{Value: group name} collapsing each neuron of a micrograd.nn net into one node.

    `net` is an MLP, Layer or Neuron; `outputs` the Value(s) computed with it
    (a prediction, a list of them, or a loss built on top). Each neuron's
    group holds its weights, bias, products w*x, the running sums (or the fused
    wx+b node) and its activation; names are "L1 N0" (layer 1, neuron 0), or
    "N0" for a Layer and "neuron" for a lone Neuron. Anonymous input leaves
    (the float inputs that `w * x` wraps into a Value per use) are grouped per
    input position as "x0", "x1", ... so each input is drawn once.
    Works for graphs built with fused=False and fused=True, and for several
    calls of the net (all calls of one neuron share its group)."""
    if hasattr(net, "layers"):
        named = [(f"L{li + 1} N{ni}", n) for li, layer in enumerate(net.layers)
                 for ni, n in enumerate(layer.neurons)]
    elif hasattr(net, "neurons"):
        named = [(f"N{ni}", n) for ni, n in enumerate(net.neurons)]
    elif hasattr(net, "w") and hasattr(net, "b"):
        named = [("neuron", net)]
    else:
        raise TypeError("neuron_groups needs a micrograd.nn MLP, Layer or Neuron")
    order = _topo(_roots(outputs))
    parents = _parents(order)
    groups = {}

    def add_input(x, j):
        if not x._prev and not x.label and x not in groups:
            groups[x] = f"x{j}"

    for name, neuron in named:
        w, b = neuron.w, neuron.b
        if b not in parents:
            continue                                    # neuron not used in this graph
        members = []
        for top in parents[b]:
            if top._op == "wx+b" and top._prev[:len(w)] == tuple(w):
                members.append(top)
                for j, x in enumerate(top._prev[len(w):-1]):
                    add_input(x, j)
                last = top
            elif (top._op == "+" and top._prev[0] is b and top._prev[1]._op == "*"
                  and top._prev[1]._prev[0] is w[0]):
                cur, products = top, [top._prev[1]]
                members.append(cur)
                for i in range(1, len(w)):
                    nxt = next((p for p in parents.get(cur, ()) if p._op == "+" and p._prev[0] is cur
                                and p._prev[1]._op == "*" and p._prev[1]._prev[0] is w[i]), None)
                    if nxt is None:
                        break
                    members.append(nxt)
                    products.append(nxt._prev[1])
                    cur = nxt
                members.extend(products)
                for j, p in enumerate(products):
                    add_input(p._prev[1], j)
                last = cur
            else:
                continue
            act = getattr(neuron, "activation", "linear")
            if act != "linear":
                a = next((p for p in parents.get(last, ()) if p._op == act and p._prev == (last,)), None)
                if a is not None:
                    members.append(a)
        if members:
            for v in members + list(w) + [b]:
                if v in parents:
                    groups[v] = name
    return groups


def neuron_columns(net, outputs):
    """[[the inputs], [layer 1's neurons], [layer 2's neurons], ...] of an MLP's graph: one Value per
    input and per neuron, in order, for draw_step_dot(columns=...) to draw each column top to bottom
    as x0, x1, ... and N0, N1, ... A neuron is its output Value (its activation, or its sum when
    linear), a member of its box when neuron_groups collapses it. Columns of one are left out."""
    groups = neuron_groups(net, outputs)
    order = _topo(_roots(outputs))
    parents = _parents(order)
    members = {}
    for v in order:
        if v in groups:
            members.setdefault(groups[v], []).append(v)

    def output(name):
        inside = set(members[name])
        return next(m for m in reversed(members[name]) if not parents[m] or any(p not in inside for p in parents[m]))

    first = net.layers[0].neurons[0]
    inputs = []
    for w in first.w:       # w_j * x_j, or one fused w·x + b node with the inputs as children
        product = next((p for p in parents.get(w, ()) if p._op == "*" and p._prev[0] is w), None)
        if product is not None:
            inputs.append(product._prev[1])
    fused = next((p for p in parents.get(first.b, ()) if p._op == "wx+b"), None)
    if fused is not None:
        inputs = list(fused._prev[len(first.w):-1])
    layers = [[output(f"L{li} N{ni}") for ni in range(len(layer.neurons)) if f"L{li} N{ni}" in members]
              for li, layer in enumerate(net.layers, 1)]
    return [column for column in [inputs, *layers] if len(column) > 1]


def find_neurons(root):
    """{Value: group name} for neuron-like patterns, found from the graph alone.

    A neuron is an activation (tanh/relu/sigmoid) of a weighted sum, a fused
    wx+b node, or a bare sum of at least two products with a leaf factor (a
    linear neuron). The group takes the sum's `+` nodes, the products, and the
    leaves used only there (weights, bias, inputs wrapped per use); shared
    Values such as a net's named inputs stay visible. Groups are named after
    the top node's label, else "neuron 1", "neuron 2", ... in graph order."""
    order = root.topological_order()
    parents = _parents(order)
    claimed, found = set(), []

    def single(v):
        return len(parents[v]) == 1 and v not in claimed

    for v in reversed(order):
        if v in claimed:
            continue
        members, need = [v], 1
        if v._op in ACTIVATION_OPS and len(v._prev) == 1 and v._prev[0]._op in ("+", "wx+b") \
                and single(v._prev[0]):
            top = v._prev[0]
            members.append(top)
        elif v._op in ("+", "wx+b"):
            top, need = v, (1 if v._op == "wx+b" else 2)
        else:
            continue
        products, leaves = 0, []
        if top._op == "wx+b":
            products = 1
            leaves = [c for c in top._prev if not c._prev and single(c)]
        else:
            stack = list(top._prev)
            while stack:
                t = stack.pop()
                if t._op == "+" and single(t) and t not in members:
                    members.append(t)
                    stack.extend(t._prev)
                elif t._op == "*" and single(t) and any(not c._prev for c in t._prev):
                    members.append(t)
                    products += 1
                    leaves.extend(c for c in t._prev if not c._prev and single(c))
                elif not t._prev and single(t):
                    leaves.append(t)
        if products < need:
            continue
        members.extend(dict.fromkeys(leaves))
        claimed.update(members)
        found.append((v, members))

    groups, used = {}, set()
    position = {v: i for i, v in enumerate(order)}
    found.sort(key=lambda item: position[item[0]])
    for k, (top, members) in enumerate(found, 1):
        name = top.label or f"neuron {k}"
        if name in used:
            name = f"{name} ({k})"
        used.add(name)
        for m in members:
            groups[m] = name
    return groups
