"""Graph: draw a computation graph, step through backpropagation node by node, check the gradients."""
import pandas as pd
import streamlit as st

from lab.config import TrainConfig
from lab.train import load_data, make_network
from micrograd.backprop import backward_steps, done_after, finite_difference_check
from micrograd.expr import ExpressionError, expression_names, parse_expression
from micrograd.graph import (HIGHLIGHT_COLOR, GraphTooLarge, draw_dot, edge_count, find_neurons, graph_size,
                             neuron_groups, to_svg)
from micrograd.nn import MLP
from micrograd.presets import PRESET_DEFAULTS, PRESETS, net_loss

st.set_page_config(page_title="Graph · micrograd", page_icon="🕸️", layout="wide")

MAX_NODES = 600     # browsers take ~0.6 s to draw 170 nodes and ~1.5 s for 1,600 (DESIGN.md)
MAX_EDGES = 2_000   # a collapsed wide net has few boxes but fan_in x fan_out edges
MAX_BUILD = 30_000  # nodes of a one-op-per-node net graph this page builds and steps through each rerun
FIT_NODES = 12      # graphs up to this size are shrunk to the page width by default, bigger ones scroll
MAX_FD_LEAVES = 60  # finite differences rebuild the graph twice per leaf
CHILD_COLOR = "#c8e6c9"
MLP_PRESET = "MLP(3, [4, 4, 1]) forward + loss"
PRESET_OF = {"L": "L = (a*b + c)*f", "neuron": "tanh neuron", "exp": "tanh via exp", "aa": "a + a", "mlp": MLP_PRESET}
SOURCES = {"L": "L = (a·b + c)·f", "neuron": "Neuron o = tanh(x1·w1 + x2·w2 + b)", "exp": "The same neuron, tanh via exp",
          "aa": "b = a + a (why grads accumulate)", "mlp": "MLP(3, [4, 4, 1]) + squared error",
          "expr": "Type an expression", "train": "The net from the Train page"}
# Streamlit draws all graph text at one small size and shrinks wide graphs to the page width:
# keep the DOT font sizes (11 pt boxes, 10 pt circles) and, unless fitting, the graph's own width.
GRAPH_CSS = ("<style>.st-key-graph_box svg g.node text {font-size: 11px}"
             ".st-key-graph_box svg g.node:has(ellipse) text {font-size: 10px}</style>")
NO_SHRINK_CSS = ("<style>.st-key-graph_box {overflow-x: auto}"
                 ".st-key-graph_box [data-testid='stGraphVizChart'] svg {max-width: none}</style>")
EXPR_DEFAULTS = {**PRESET_DEFAULTS["tanh neuron"], **PRESET_DEFAULTS["L = (a*b + c)*f"]}


@st.cache_data(max_entries=8, show_spinner=False)
def training_sample(config_dict, index):
    """(x, y, number of training samples) of one training sample of the Train page's data."""
    train, _ = load_data(TrainConfig.from_dict(config_dict))
    index = min(index, len(train.y) - 1)
    return [float(v) for v in train.X[index]], float(train.y[index]), len(train.y)


@st.cache_data(max_entries=32, show_spinner=False)
def svg_of(dot_source):
    return to_svg(dot_source)


def number_inputs(prefix, defaults, key_by_default=False):
    """One number widget per input, in rows of up to 6. key_by_default: a new default value
    (an input of another expression with the same name) starts a fresh widget."""
    cols = st.columns(min(len(defaults), 6)) if defaults else []
    return {name: cols[i % len(cols)].number_input(
                name, value=float(v), step=0.1, format="%.4f",
                key=f"w_graph_{prefix}_{name}" + (f"_{v:g}" if key_by_default else ""))
            for i, (name, v) in enumerate(defaults.items())}


def show_expression_error(text, err):
    st.error(f"This expression cannot be drawn: {err}")
    if err.column:
        line = text.splitlines()[(err.line or 1) - 1] if text.strip() else text
        width = len(err.segment) if err.segment and "\n" not in err.segment else 1
        st.code(f"{line}\n{' ' * (err.column - 1)}{'^' * width}", language=None)
    st.caption("Allowed: numbers, names, + - * / **, parentheses and exp, log, tanh, relu, sigmoid, abs.")


def move(key, delta, top):
    st.session_state[key] = min(max(st.session_state.get(key, 0) + delta, 0), top)


st.title("🕸️ Computation graph and backpropagation")
st.markdown("Every box is a `Value` (its label, `data` and `grad`); every circle the operation that made it. "
            "Step through `backward()` one node at a time, then check the gradients against finite differences.")

# ---------------------------------------------------------------- source and inputs
sb = st.sidebar
sb.header("Graph")
source = sb.radio("What to draw", list(SOURCES), format_func=SOURCES.get, key="w_graph_source")
net, make_net, text = None, None, None
if source == "expr":
    text = st.text_input("Expression", value="tanh(x1*w1 + x2*w2 + b)", key="w_graph_expr", max_chars=500,
                         help="Numbers, names, + - * / **, parentheses and exp, log, tanh, relu, sigmoid, abs.")
    try:
        names = expression_names(text)
    except ExpressionError as e:
        show_expression_error(text, e)
        st.stop()
    known = next((d for d in PRESET_DEFAULTS.values() if set(names) <= set(d)), EXPR_DEFAULTS)  # a lecture preset's
    values = number_inputs("expr", {n: known.get(n, 1.0) for n in names}, key_by_default=True)
    build = lambda v: parse_expression(text, v)  # noqa: E731 - parse_expression never evaluates the text
elif source in ("mlp", "train"):
    if source == "mlp":
        make_net = lambda: MLP(3, [4, 4, 1], "tanh", "tanh", seed=0)  # noqa: E731 - as presets.mlp_lecture
        values = number_inputs("mlp", PRESET_DEFAULTS[MLP_PRESET])
        xs, y = [values[f"x{i}"] for i in range(3)], values["y"]
    else:
        config = st.session_state.get("config") or TrainConfig()
        index = sb.number_input("Training sample", 0, 9_999, 0, key="w_graph_sample",
                                help="Which sample of the Train page's training split goes through the net.")
        try:
            xs, y, n_train = training_sample(config.to_dict(), index)
        except Exception as e:  # noqa: BLE001 - e.g. an uploaded CSV that is gone
            st.warning(f"The Train page's data could not be loaded ({e}). Open the Train page and choose a dataset.")
            st.stop()
        sizes = [len(xs), *config.hidden, 1]
        whose = "The Train page’s net" if "config" in st.session_state else \
            "The Train page’s default net (you have not opened it yet)"
        st.info(f"{whose}: MLP({len(xs)}, {sizes[1:]}), {config.activation} hidden, {config.output_activation} output, "
                f"seed {config.seed}, on training sample {min(index, n_train - 1)} of {n_train} ({config.dataset}): "
                f"x = ({', '.join(f'{v:.4g}' for v in xs)}), y = {y:g}. The loss drawn is the squared error "
                f"(out − y)², whatever loss the Train page trains with ({config.loss}).")
        estimate = sum(o * (5 * i + 3) for i, o in zip(sizes, sizes[1:]))  # boxes + circles per neuron
        if estimate > MAX_BUILD:
            st.warning(f"This net's graph would have about {estimate:,} nodes, more than this page builds "
                       f"({MAX_BUILD:,}). Choose a smaller net on the Train page, e.g. hidden layers 16, 16.")
            st.stop()
        make_net = lambda: make_network(config, len(xs), engine="scalar")  # noqa: E731
        values = {**{f"x{i}": v for i, v in enumerate(xs)}, "y": y}
    build = lambda v: net_loss(make_net(), [v[f"x{i}"] for i in range(len(xs))], v["y"], params=v)  # noqa: E731
    net = make_net()
    root, _ = net_loss(net, xs, y)
    values.update((p.label, p.data) for p in net.parameters())  # the leaves to check: inputs, target, weights
else:
    values = number_inputs(source, PRESET_DEFAULTS[PRESET_OF[source]])
    build = PRESETS[PRESET_OF[source]]

if net is None:
    try:
        built = build(values)
    except (ValueError, ArithmeticError) as e:  # ExpressionError is a ValueError
        st.error(f"These inputs cannot be computed: {e}")
        st.stop()
    root = built[0] if isinstance(built, tuple) else built

# ---------------------------------------------------------------- options
sb.header("Options")
show_grad = sb.toggle("Show gradients", value=True, key="w_graph_grads")
collapse = source in ("mlp", "train", "expr") and sb.toggle(
    "One node per neuron", value=False, key="w_graph_collapse",
    help="Draw each neuron (weights, bias, products, sums and activation) as one box.")
rankdir = sb.radio("Direction", ["LR", "TB"], key="w_graph_rankdir", horizontal=True,
                   format_func={"LR": "Left → right", "TB": "Top ↓ bottom"}.get)
groups = (neuron_groups(net, root) if net else find_neurons(root)) if collapse else {}
full = sum(graph_size(root))
if full > MAX_NODES and net is not None and not collapse:
    groups = neuron_groups(net, root)
    st.info(f"The full graph has {full:,} nodes, more than this page draws ({MAX_NODES}): "
            "it is drawn with one box per neuron. A smaller net on the Train page shows every operation.")
values_n, ops_n = graph_size(root, groups)
fit = sb.toggle("Fit the graph to the page width", value=values_n + ops_n <= FIT_NODES, key=f"w_graph_fit_{source}",
                help="Off: full size; scroll sideways through a big graph. The chart's fullscreen button shows it whole.")

# ---------------------------------------------------------------- step-through
done, highlight = None, {}
if show_grad:
    steps = backward_steps(root)
    key = f"w_graph_step_{source}"
    st.session_state[key] = min(st.session_state.get(key, 0), len(steps))  # the graph may have shrunk
    st.subheader("Backward, one node at a time")
    prev_col, next_col, slider_col = st.columns([1, 1, 8], vertical_alignment="bottom")
    prev_col.button("◀ Prev", key="w_graph_prev", on_click=move, args=(key, -1, len(steps)), width="stretch")
    next_col.button("Next ▶", key="w_graph_next", on_click=move, args=(key, 1, len(steps)), width="stretch")
    k = slider_col.slider("Backward step", 0, len(steps), key=key,
                          help="0: the forward pass only. Each step fills in one node's gradient.")
    done = done_after(root, k, steps)
    if k == 0:
        st.markdown(f"**Step 0 of {len(steps)}**: the forward pass only; no gradient is known yet (grey `grad ?`). "
                    "**Next** seeds the output's grad with 1.")
    else:
        s = steps[k - 1]
        highlight = {**{child: CHILD_COLOR for child, _ in s.contributions}, s.node: HIGHLIGHT_COLOR}
        what = "seed the output" if s.is_seed else f"`{s.name}` (op `{s.op}`) pushes its grad to its inputs"
        st.markdown(f"**Step {k} of {len(steps)}**: {what}. Amber: the node processed; green: the grads it adds to.")
        rule_col, numbers_col = st.columns(2)
        rule_col.code(s.rule, language=None, wrap_lines=True)
        numbers_col.code("\n".join(s.numbers), language=None, wrap_lines=True)

# ---------------------------------------------------------------- the graph
dot, edges = None, edge_count(root, groups)
hint = ("Choose a smaller net on the Train page (fewer or narrower hidden layers)." if net else
        "Try a shorter expression or turn on “One node per neuron”.")
if edges > MAX_EDGES:
    st.warning(f"Not drawn: the graph has {edges:,} edges (every neuron feeds every neuron of the next layer), "
               f"more than a browser lays out quickly ({MAX_EDGES:,}). {hint}")
else:
    try:
        dot = draw_dot(root, show_grad=show_grad, highlight=highlight, done=done, groups=groups,
                       max_nodes=MAX_NODES, rankdir=rankdir, number_unlabelled=True)
    except GraphTooLarge as e:
        st.warning(f"Not drawn: the {e}. {hint}")
if dot is not None:
    grouped = f" ({len(set(groups.values()))} of them whole neurons)" if groups else ""
    st.caption(f"{values_n + ops_n} nodes: {values_n} value boxes{grouped} and {ops_n} operation circles. "
               "A value without a label is named #i, its position in topological order."
               + ("" if fit else " A graph wider than the page scrolls sideways; the output is at the far end."))
    st.html(GRAPH_CSS + ("" if fit else NO_SHRINK_CSS))
    st.container(key="graph_box").graphviz_chart(dot)

# ---------------------------------------------------------------- gradient check
st.subheader("Check gradients")
checked = dict(list(values.items())[:MAX_FD_LEAVES])
more = f" (the first {MAX_FD_LEAVES} of {len(values)} leaves)" if len(values) > MAX_FD_LEAVES else ""
st.caption(f"Nudge each input{more} by ±h, h = 10⁻⁶, rebuild the graph and compare (f(x + h) − f(x − h)) / 2h "
           "with the grad backward() gives." if checked else "This graph has no inputs to nudge.")
signature = (source, text, tuple(values.items()))
if st.button("Check gradients", key="w_graph_check", disabled=not checked) and checked:
    with st.spinner("Rebuilding the graph twice per input…"):
        try:
            st.session_state.graph_fd = (signature, finite_difference_check(build, checked))
        except (ValueError, ArithmeticError) as e:
            st.error(f"The finite differences could not be computed at these inputs: {e}")
if st.session_state.get("graph_fd", (None,))[0] == signature:
    rows = st.session_state.graph_fd[1]
    bad = [r.name for r in rows if not r.ok]
    if bad:
        st.error(f"{len(bad)} gradient(s) disagree with the finite differences: {', '.join(bad)}")
    else:
        st.success(f"All {len(rows)} gradients agree with the finite differences "
                   f"(largest difference {max(r.abs_error for r in rows):.2g}).")
    table = pd.DataFrame(rows).rename(columns={"name": "leaf", "analytic": "grad (backward)",
                                               "numeric": "finite difference", "abs_error": "|difference|"})
    table["ok"] = table["ok"].map({True: "✓", False: "✗"})
    formats = {"value": "%.6g", "grad (backward)": "%.8g", "finite difference": "%.8g", "|difference|": "%.1e"}
    st.dataframe(table.set_index("leaf"), column_config={c: st.column_config.NumberColumn(format=f)
                                                         for c, f in formats.items()})

# ---------------------------------------------------------------- downloads
if dot is not None:
    dot_col, svg_col = st.columns([1, 5], vertical_alignment="center")
    dot_col.download_button("Download DOT", dot.source, file_name="graph.dot", mime="text/vnd.graphviz",
                            key="w_graph_dl_dot", on_click="ignore")
    svg = svg_of(dot.source)
    if svg:
        svg_col.download_button("Download SVG", svg, file_name="graph.svg", mime="image/svg+xml",
                                key="w_graph_dl_svg", on_click="ignore")
    else:
        svg_col.caption("SVG download needs Graphviz's `dot` program, which is not installed here.")
