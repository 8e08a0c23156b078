"""Graph: draw a computation graph, step through backpropagation node by node, check the gradients."""
import streamlit as st

import ui
from lab.config import TrainConfig
from lab.graph_view import (FOLLOW_JS, SOURCES, GraphView, NetTooLarge, check_summary, error_pointer, gradient_table,
                            input_defaults, training_sample, what_to_draw)
from micrograd.backprop import finite_difference_check
from micrograd.expr import ExpressionError
from micrograd.graph import to_svg

st.set_page_config(page_title="Graph · micrograd", page_icon="🕸️", layout="wide")

MAX_FD_LEAVES = 60  # finite differences rebuild the graph twice per leaf
# Streamlit draws all graph text at one small size and shrinks wide graphs to the page width: keep the
# DOT font sizes (11 pt boxes, 10 pt circles) and, unless fitting, the graph's own width in a box that
# scrolls both ways. The selectors depend on how Streamlit renders the chart: tests/test_browser_graph.py
# fails when they stop working.
GRAPH_CSS = (".st-key-graph_box svg g.node text {font-size: 11px}"
             ".st-key-graph_box svg g.node:has(ellipse) text {font-size: 10px}")
NO_SHRINK_CSS = (".st-key-graph_box {overflow: auto; max-height: 60vh}"
                 ".st-key-graph_box [data-testid='stGraphVizChart'] svg {max-width: none}")
follow_step = st.components.v2.component("graph_follow_step", js=FOLLOW_JS)


@st.cache_data(max_entries=8, show_spinner=False)
def sample_of(config_dict, index):
    return training_sample(TrainConfig.from_dict(config_dict), index)


@st.cache_data(max_entries=32, show_spinner=False)
def svg_of(dot_source):
    return to_svg(dot_source)


def number_inputs(prefix, defaults, key_by_default=False):
    """One number widget per input, in rows of up to 6. key_by_default: a new default value
    (an input of another expression with the same name) starts a fresh widget."""
    cols = st.columns(min(len(defaults), 6)) if defaults else []
    keys = {name: f"w_graph_{prefix}_{name}" + (f"_{v:g}" if key_by_default else "") for name, v in defaults.items()}
    return {name: cols[i % len(cols)].number_input(
                name, step=0.1, format="%.4f", key=shown(keys[name], st.session_state.get(keys[name], float(v))))
            for i, (name, v) in enumerate(defaults.items())}


def shown(key, value):
    """Send the widget's value with the page, so it shows what is drawn: a widget that a run skipped
    (st.stop() on a bad expression) keeps its value in Streamlit but would come back showing its default."""
    st.session_state[key] = value
    return key


def choice(key, default):
    """The user's last choice for a toggle, else `default` (which may change with the graph)."""
    return st.session_state.setdefault("graph_choices", {}).get(key, default)


def remember(key):
    st.session_state.setdefault("graph_choices", {})[key] = st.session_state[key]


def show_expression_error(text, error):
    st.error(f"This expression cannot be drawn: {error}")
    if error.column:
        st.code(error_pointer(text, error), language=None)
    st.caption("Allowed: numbers, names, + - * / **, parentheses and exp, log, tanh, relu, sigmoid, abs.")


def move(key, delta, top):
    st.session_state[key] = min(max(st.session_state.get(key, 0) + delta, 0), top)


st.title("🕸️ Computation graph and backpropagation")
st.markdown("Every box is a `Value` (its label, `data` and `grad`); every circle the operation that made it. "
            "Step through `backward()` one node at a time, then check the gradients against finite differences.")

# ---------------------------------------------------------------- what to draw
sidebar = st.sidebar
sidebar.header("Graph")
source = sidebar.radio("What to draw", list(SOURCES), format_func=SOURCES.get, key="w_graph_source")
text, config, sample = None, None, None
if source == "expr":
    text = st.text_input("Expression", value="tanh(x1*w1 + x2*w2 + b)", key="w_graph_expr", max_chars=500,
                         help="Numbers, names, + - * / **, parentheses and exp, log, tanh, relu, sigmoid, abs.")
elif source == "train":
    config, _ = ui.config_or_default()
    index = sidebar.number_input("Training sample", 0, 9_999, 0, key="w_graph_sample",
                                 help="Which sample of the Train page's training split goes through the net.")
    try:
        sample = sample_of(config.to_dict(), index)
    except Exception as e:  # noqa: BLE001 - e.g. an uploaded CSV that is gone
        st.warning(f"The Train page's data could not be loaded ({e}). Open the Train page and choose a dataset.")
        st.stop()
try:
    defaults = input_defaults(source, text)
except ExpressionError as e:
    show_expression_error(text, e)
    st.stop()
values = number_inputs(source, defaults, key_by_default=source == "expr")
try:
    drawing = what_to_draw(source, values, text=text, config=config, sample=sample)
except NetTooLarge as e:
    st.warning(str(e))
    st.stop()
except (ValueError, ArithmeticError) as e:  # ExpressionError is a ValueError
    st.error(f"These inputs cannot be computed: {e}")
    st.stop()
if drawing.about:
    whose = "The Train page’s net" if ui.shared_config() else \
        "The Train page’s default net (you have not opened it yet)"
    st.info(f"{whose}: {drawing.about}")

# ---------------------------------------------------------------- options
sidebar.header("Options")
show_grad = sidebar.toggle("Show gradients", key=shown("w_graph_grads", st.session_state.get("w_graph_grads", True)))
collapse = False
if drawing.collapsible:
    forced = drawing.too_big()
    collapse = sidebar.toggle(
        "One node per neuron", disabled=forced, on_change=remember, args=("w_graph_collapse",),
        key=shown("w_graph_collapse", forced or choice("w_graph_collapse", False)),
        help="This net is too big to draw every operation: always one box per neuron." if forced else
        "Draw each neuron (weights, bias, products, sums and activation) as one box.")
rankdir = sidebar.radio("Direction", ["LR", "TB"], key=shown("w_graph_rankdir", st.session_state.get(
                        "w_graph_rankdir", "LR")), horizontal=True, format_func={"LR": "Left → right",
                                                                                 "TB": "Top ↓ bottom"}.get)
view = GraphView(drawing, show_grad=show_grad, collapse=collapse, rankdir=rankdir)
if view.forced_note:
    st.info(view.forced_note)
fit_key = f"w_graph_fit_{source}"
fit = sidebar.toggle("Fit the graph to the page width", key=shown(fit_key, choice(fit_key, view.fit_by_default)),
                     on_change=remember, args=(fit_key,), help="Off: full size; scroll through a big graph. "
                     "The chart's fullscreen button shows it whole.")

# ---------------------------------------------------------------- step-through
k = 0
if view.steps:
    key = f"w_graph_step_{source}"
    shown(key, min(st.session_state.get(key, 0), len(view.steps)))  # the graph may have shrunk
    st.subheader("Backward, one node at a time")
    prev_col, next_col, slider_col = st.columns([1, 1, 8], vertical_alignment="bottom")
    prev_col.button("◀ Prev", key="w_graph_prev", on_click=move, args=(key, -1, len(view.steps)), width="stretch")
    next_col.button("Next ▶", key="w_graph_next", on_click=move, args=(key, 1, len(view.steps)), width="stretch")
    k = slider_col.slider("Backward step", 0, len(view.steps), key=key,
                          help="0: the forward pass only. Each step fills in one node's gradient.")
step = view.step(k)
with st.container(key="graph_step"):  # one block: what changes inside never moves the graph below it
    if step.headline:
        st.markdown(step.headline)
    if step.rule:
        rule_col, numbers_col = st.columns(2)
        rule_col.code(step.rule, language=None, wrap_lines=True)
        numbers_col.code(step.numbers, language=None, wrap_lines=True)
    if view.problem:
        st.warning(view.problem, icon="⚠️")

# ---------------------------------------------------------------- the graph
if view.dot is None:
    st.warning(view.not_drawn)
else:
    st.caption(view.caption(fit))
    st.html(f"<style>{GRAPH_CSS}{'' if fit else NO_SHRINK_CSS}{step.style}</style>")
    st.container(key="graph_box").graphviz_chart(view.dot)

# ---------------------------------------------------------------- gradient check
st.subheader("Check gradients")
checked = dict(list(drawing.values.items())[:MAX_FD_LEAVES])
more = f" (the first {MAX_FD_LEAVES} of {len(drawing.values)} leaves)" if len(drawing.values) > MAX_FD_LEAVES else ""
st.caption(f"Nudge each input{more} by ±h, h = 10⁻⁶, rebuild the graph and compare (f(x + h) − f(x − h)) / 2h "
           "with the grad backward() gives." if checked else "This graph has no inputs to nudge.")
signature = (source, text, tuple(drawing.values.items()))
if st.button("Check gradients", key="w_graph_check", disabled=not checked) and checked:
    with st.spinner("Rebuilding the graph twice per input…"):
        try:
            st.session_state.graph_fd = (signature, finite_difference_check(drawing.build, checked))
        except (ValueError, ArithmeticError) as e:
            st.error(f"The finite differences could not be computed at these inputs: {e}")
if st.session_state.get("graph_fd", (None,))[0] == signature:
    rows = st.session_state.graph_fd[1]
    agree, message = check_summary(rows)
    (st.success if agree else st.error)(message)
    formats = {"value": "%.6g", "grad (backward)": "%.8g", "finite difference": "%.8g", "|difference|": "%.1e"}
    st.dataframe(gradient_table(rows), column_config={column: st.column_config.NumberColumn(format=number_format)
                                                      for column, number_format in formats.items()})

# ---------------------------------------------------------------- downloads
if view.dot is not None:
    dot_col, svg_col = st.columns([1, 5], vertical_alignment="center")
    download = view.download_dot()
    dot_col.download_button("Download DOT", download, file_name="graph.dot", mime="text/vnd.graphviz",
                            key="w_graph_dl_dot", on_click="ignore")
    svg = svg_of(download)
    if svg:
        svg_col.download_button("Download SVG", svg, file_name="graph.svg", mime="image/svg+xml",
                                key="w_graph_dl_svg", on_click="ignore")
    else:
        svg_col.caption("SVG download needs Graphviz's `dot` program, which is not installed here.")
    follow_step(data={"focus": step.focus}, key="graph_follow_step", height=0)
