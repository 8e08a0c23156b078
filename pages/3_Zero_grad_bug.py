"""Zero-grad bug: the loop that forgets zero_grad(), next to the correct one and to accumulation on purpose."""
import html

import pandas as pd
import streamlit as st

from lab import zerograd as zg
from data import DatasetError
from lab.figures import run_color, series_figure
from micrograd.graph import draw_dot

st.set_page_config(page_title="Zero-grad bug · micrograd", page_icon="🐞", layout="wide")

LR_VALUES = [0.001, 0.003, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
COLORS = {"correct": run_color(0), "buggy": run_color(1), "accumulate": run_color(2)}
SOURCES = {"lecture": "The lecture net", "train": "The net from the Train page"}


@st.cache_data(max_entries=16, show_spinner=False)
def compute(xs, ys, spec, lr, steps, k):
    return zg.run_loops([list(x) for x in xs], list(ys), spec, lr, steps, k=k)


@st.cache_data(max_entries=4, show_spinner=False)
def train_setup(config_dict, seed):
    from lab.config import TrainConfig
    return zg.train_page_setup(TrainConfig.from_dict(config_dict), seed=seed)


def code_html(code, line, color):
    """The loop's code with line number `line` (1-based) on a coloured background."""
    rows = []
    for i, text in enumerate(code.splitlines(), 1):
        style = f"background:{color};font-weight:600;" if i == line else ""
        rows.append(f'<span style="display:block;{style}">{html.escape(text) or " "}</span>')
    return ('<pre style="font-size:0.8rem;line-height:1.45;padding:0.75rem;border-radius:0.5rem;'
            'background:#f6f8fa;border:1px solid #e1e4e8;overflow-x:auto;margin:0">'
            f'<code>{"".join(rows)}</code></pre>')


def legend_below(fig):
    """Half-width charts: the legend under the plot, so it never covers the title."""
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, xanchor="left", x=0),
                      height=460, margin=dict(b=140))
    return fig


def draw(root, highlight, caption, rankdir="LR"):
    st.caption(caption)
    st.graphviz_chart(draw_dot(root, highlight=highlight, rankdir=rankdir))


st.title("🐞 The zero-grad bug")
st.markdown(
    "`loss.backward()` **adds** each gradient into `p.grad` (it must: see the sibling bug at the bottom). "
    "In the lecture the first training loop forgot to reset `p.grad`, so the update at step *t* used "
    "g₁ + g₂ + … + gₜ, the sum of every gradient so far, instead of gₜ. It still trained, by luck. "
    f"Below, both loops start from the same weights, data and learning rate. Loss: the **{zg.LOSS_NAME}** "
    "over all samples. Update: plain SGD, `p.data -= lr * p.grad`.")

# ---------------------------------------------------------------- widgets
sb = st.sidebar
sb.header("Setup")
config = st.session_state.get("config")
source = sb.radio("Network and data", list(SOURCES), format_func=SOURCES.get, key="w_zg_source",
                  help="The Train page's net uses its dataset (training split), hidden sizes and activations.")
lr = sb.select_slider("Learning rate", LR_VALUES, value=0.05, key="w_zg_lr", format_func=lambda v: f"{v:g}")
steps = sb.slider("Steps", 1, 100, value=20, key="w_zg_steps", help="One step = one parameter update.")
seed = sb.slider("Seed", 0, 99, value=0, key="w_zg_seed", help="Seed of the initial weights (both loops share them).")

notes = []
xs, ys, spec = zg.lecture_setup(seed)
used = "lecture"
if source == "train":
    if config is None:
        sb.warning("Open the **Train** page first to choose a net there; showing the lecture net.")
    else:
        try:
            xs, ys, spec, available = train_setup(config.to_dict(), seed)
            used = "train"
            if available > len(xs):
                notes.append(f"This page uses the scalar engine (one Python object per number), so only the first "
                             f"**{len(xs)}** of the Train page's {available} training samples are used.")
        except (DatasetError, OSError) as e:  # e.g. an uploaded CSV that is gone
            sb.warning(f"The Train page's data could not be loaded ({e}); showing the lecture net.")
            xs, ys, spec = zg.lecture_setup(seed)

ks = zg.valid_ks(len(xs))
k = sb.select_slider("Micro-batches k (accumulation)", ks, value=2 if 2 in ks else ks[0], key=f"w_zg_k_{len(xs)}",
                     help="The accumulation loop splits the data into k equal slices per update.")
names = zg.parameter_names(spec)
seconds = zg.estimate_seconds(len(xs), len(names), steps)
if seconds > 5:
    notes.append(f"This takes about {seconds:,.0f} s to compute; fewer steps or a smaller net are faster.")

st.caption(f"{SOURCES[used]}: "
           f"{spec.describe()} ({len(names)} parameters), {len(xs)} samples, "
           f"lr {lr:g}, {steps} steps, seed {seed}.")
for note in notes:
    st.warning(note)

# ---------------------------------------------------------------- computation
with st.spinner("Training the three loops…"):
    runs = compute(tuple(map(tuple, xs)), tuple(ys), spec, lr, steps, k)
correct, buggy, acc = runs["correct"], runs["buggy"], runs["accumulate"]
stats = zg.summary(runs)
line, good_line, bad_line = zg.differing_line()

# ---------------------------------------------------------------- results
left, right = st.columns(2)
left.markdown("**:green[Correct loop]**")
left.html(code_html(zg.CORRECT_LOOP, line, "#d4f7dc"))
right.markdown("**:red[Buggy loop]**")
right.html(code_html(zg.BUGGY_LOOP, line, "#ffd7d5"))
st.caption(f"The two loops differ only in line {line}.")


def last(v, key):
    s = stats[v]
    return s.get(key) if s["steps"] else None


def fmt(x):
    return "–" if x is None else f"{x:.4g}"


n_done = len(buggy.step)
cols = st.columns(4)
cols[0].metric(f"Loss at step {len(correct.step)}, correct", fmt(last("correct", "last_loss")))
cols[1].metric(f"Loss at step {n_done}, buggy", fmt(last("buggy", "last_loss")))
if n_done:
    growth = buggy.grad_norm[-1] / buggy.grad_norm[0] if buggy.grad_norm[0] else float("inf")
    cols[2].metric(f"Buggy ‖p.grad‖ at step {n_done}", fmt(buggy.grad_norm[-1]),
                   delta=f"×{growth:.3g} since step 1", delta_color="off")
    true_norm = zg.norm(buggy.true_grads[-1])
    cols[3].metric("True ‖gradient‖ at its weights then", fmt(true_norm),
                   help="The gradient of the loss at the buggy loop's own parameters of that step.")
if buggy.diverged_at:
    st.error(f"The buggy loop diverged at step {buggy.diverged_at}: its loss or gradient was not finite.")
if correct.diverged_at:
    st.error(f"The correct loop diverged at step {correct.diverged_at}: try a smaller learning rate.")

log_y = st.toggle("Log-scale loss", key="w_zg_log")
series = [(h.label, h.step, h.loss, COLORS[v]) for v, h in runs.items()]
fig = series_figure(series, f"Loss per step ({zg.LOSS_NAME}, before each update)", "loss", log_y=log_y)
fig.update_traces(line_dash="dash", selector=dict(name=acc.label))
st.plotly_chart(fig, key="zg_loss")

left, right = st.columns(2)
series = [(h.label, h.step, h.grad_norm, COLORS[v]) for v, h in runs.items()]
series.append(("buggy: true gradient at its weights", buggy.step, [zg.norm(g) for g in buggy.true_grads],
               COLORS["buggy"]))
fig = series_figure(series, "Gradient norm used by each update: ‖p.grad‖", "norm")
fig.update_traces(line_dash="dash", selector=dict(name=acc.label))
fig.update_traces(line_dash="dot", selector=dict(name=series[-1][0]))
left.plotly_chart(legend_below(fig), key="zg_grad_norm")
series = [(h.label, h.step, h.update_norm, COLORS[v]) for v, h in runs.items()]
fig = series_figure(series, "Update size: ‖parameters after − before‖", "norm")
fig.update_traces(line_dash="dash", selector=dict(name=acc.label))
right.plotly_chart(legend_below(fig), key="zg_update_norm")

if n_done > 1:
    st.markdown(
        f"At step {n_done} the buggy loop's `p.grad` has norm **{buggy.grad_norm[-1]:.4g}** but the true "
        f"gradient at its weights has norm **{zg.norm(buggy.true_grads[-1]):.4g}**, so it moves its weights by "
        f"**{buggy.update_norm[-1]:.4g}** per step (the correct loop: {fmt(last('correct', 'last_update'))}). "
        "Piling up gradients is SGD with momentum 1 and no friction: it can speed up early on, which is why "
        "the lecture got away with it, but it never settles down unless old gradients happen to cancel out.")

st.subheader("One parameter's gradient, step by step")
index = st.selectbox("Parameter", range(len(names)), format_func=names.__getitem__,
                     key=f"w_zg_param_{spec.nin}_{'-'.join(map(str, spec.hidden))}")
st.markdown("gₜ is the true gradient of the loss at the buggy loop's own weights of step *t*, computed "
            "separately with zeroed grads. The buggy loop's `p.grad` is their running sum (up to rounding).")
table = pd.DataFrame(zg.running_sum_rows(buggy, index, correct)).set_index("step")
st.dataframe(table, column_config={c: st.column_config.NumberColumn(format="%.6g") for c in table.columns},
             height=min(38 + 35 * len(table), 400))

st.subheader("Not zeroing on purpose: gradient accumulation")
left, right = st.columns([1, 1])
left.html(code_html(zg.ACCUMULATE_LOOP, 0, ""))
size = len(xs) // k
if acc.step:
    gap = max(abs(a - b) for pa, pc in zip(acc.params, correct.params) for a, b in zip(pa, pc))
    right.markdown(
        f"When a batch does not fit in memory, split it into **k = {k}** micro-batches of {size} sample"
        f"{'s' if size != 1 else ''}, run backward on each micro-batch's loss / k **without** zeroing in between, "
        "then update once and zero. The grads add up to the gradient of the mean over the whole batch, so each "
        "update is the one the big batch would give (the dashed curves above lie on the correct ones). "
        f"Largest difference from the correct loop's weights over {len(acc.step)} updates: **{gap:.2g}** "
        "(rounding). Not zeroing is right when the grads being added are parts of *one* update, wrong when "
        "they come from earlier updates.")

st.subheader("The sibling bug: `=` instead of `+=` in backward")
st.markdown(
    "The lecture's first backward wrote `self.grad = local * out.grad`. A node that feeds two operations "
    "then keeps only the contribution written last; the chain rule needs their **sum**. Every node used "
    "once is still right. The finite difference (f(v + h) − f(v − h)) / 2h, h = 10⁻⁶, settles which is correct.")
for i, ex in enumerate(zg.overwrite_examples()):
    st.markdown(f"**{ex.title}**: `{ex.expression}`")
    rows = pd.DataFrame(ex.rows).set_index("variable")
    rows["wrong?"] = rows["wrong?"].map({True: "✗ wrong", False: "✓ right"})
    st.dataframe(rows, column_config={c: st.column_config.NumberColumn(format="%.6g")
                                      for c in ("value", "wrong grad (=)", "right grad (+=)", "finite difference")})
    left, right = st.columns(2)
    rankdir = "TB" if len(ex.values) > 1 else "LR"  # wide graphs are drawn top-down to fit half a page
    with left:
        draw(ex.wrong_root, {n: "#ffcdd2" for n in ex.wrong_nodes}, "Backward with `=` (wrong grads in red)", rankdir)
    with right:
        draw(ex.right_root, {n: "#c8e6c9" for n in ex.right_nodes}, "Backward with `+=` (the same nodes, right, in green)",
             rankdir)
