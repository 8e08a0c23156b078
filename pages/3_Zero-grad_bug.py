"""Zero-grad bug: the loop that forgets zero_grad(), next to the correct one and to accumulation on purpose."""
import pandas as pd
import streamlit as st

import ui
from data import DatasetError
from lab import zerograd
from lab.config import TrainConfig
from lab.runs import RunStoreError
from micrograd.graph import draw_dot

st.set_page_config(page_title="Zero-grad bug · micrograd", page_icon="🐞", layout="wide")

LR_VALUES = [0.001, 0.003, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]
SOURCES = {"lecture": "The lecture net", "train": "The net from the Train page"}
NUMBER = st.column_config.NumberColumn(format="%.6g")


@st.cache_data(max_entries=8, show_spinner=False)
def load_setup(config_dict):
    return zerograd.setup(TrainConfig.from_dict(config_dict))


@st.cache_data(max_entries=16, show_spinner=False)
def compare(config_dict, k):
    return zerograd.compare_loops(TrainConfig.from_dict(config_dict), k)


def fmt(x):
    return "–" if x is None else f"{x:.4g}"


st.title("🐞 The zero-grad bug")
st.markdown(
    "`loss.backward()` **adds** each gradient into `p.grad` (it must: see the sibling bug at the bottom). "
    "The lecture's first training loop forgot to reset `p.grad`, so the update at step *t* used "
    "g₁ + g₂ + … + gₜ, the sum of every gradient so far, instead of gₜ. Below, the loops start from the same "
    f"weights, data and learning rate. Loss: the **{zerograd.LOSS_NAME}** over all samples. "
    "Update: plain SGD, `p.data -= lr * p.grad`.")

# ---------------------------------------------------------------- widgets
sidebar = st.sidebar
sidebar.header("Setup")
source = sidebar.radio("Network and data", list(SOURCES), format_func=SOURCES.get, key="w_zg_source",
                       help="The Train page's net uses its dataset (training split), hidden sizes and activations.")
lr = sidebar.select_slider("Learning rate", LR_VALUES, value=zerograd.DEFAULT_LR, key="w_zg_lr",
                           format_func=lambda v: f"{v:g}")
steps = sidebar.slider("Steps", 1, 100, value=zerograd.DEFAULT_STEPS, key="w_zg_steps",
                       help="One step = one parameter update.")
seed = sidebar.slider("Seed", 0, 99, value=0, key="w_zg_seed",
                      help="Seed of the initial weights (all loops share them).")

config, used = zerograd.lecture_config(seed, lr, steps), "lecture"
if source == "train":
    train_config = ui.shared_config()  # what the Train page last built
    if train_config is None:
        sidebar.warning("Open the **Train** page first to choose a net there; showing the lecture net.")
    else:
        config, used = train_config.replace(seed=seed, lr=lr, steps=steps, lr_schedule="constant"), "train"
try:
    shared = load_setup(config.to_dict())
except (DatasetError, RunStoreError, OSError) as e:  # e.g. an uploaded CSV that is no longer kept
    sidebar.warning(f"The Train page's data could not be loaded ({e}); showing the lecture net.")
    config, used = zerograd.lecture_config(seed, lr, steps), "lecture"
    shared = load_setup(config.to_dict())
k = sidebar.select_slider("Micro-batches k (accumulation)", shared.ks, value=2 if 2 in shared.ks else shared.ks[0],
                          key=f"w_zg_k_{len(shared.xs)}",
                          help="The accumulation loop splits the data into k equal slices per update.")

st.caption(f"{SOURCES[used]}: {shared.description} ({len(shared.parameter_names)} parameters), "
           f"{len(shared.xs)} samples, lr {lr:g}, {steps} steps, seed {seed}.")
if shared.n_available > len(shared.xs):
    st.warning(f"This page uses the scalar engine (one Python object per number), so only the first "
               f"**{len(shared.xs)}** of the Train page's {shared.n_available} training samples are used.")
if shared.estimate_seconds() > 5:
    st.warning(f"This takes about {shared.estimate_seconds():,.0f} s to compute; fewer steps or a smaller net are "
               "faster.")

# ---------------------------------------------------------------- computation
with st.spinner("Training the three loops…"):
    comparison = compare(config.to_dict(), k)
runs = comparison.runs
correct, buggy, accumulate = runs["correct"], runs["buggy"], runs["accumulate"]

# ---------------------------------------------------------------- the code that ran
line, _, _ = zerograd.differing_line()
left, right = st.columns(2)
left.markdown("**:green[Correct step]**")
left.html(zerograd.code_html(zerograd.step_source("correct"), line, "#d4f7dc"))
right.markdown("**:red[Buggy step]**")
right.html(zerograd.code_html(zerograd.step_source("buggy"), line, "#ffd7d5"))
st.caption(f"These are the functions the loops below call (lab/zerograd.py). They differ only in line {line}.")

# ---------------------------------------------------------------- results
cols = st.columns(4)
cols[0].metric(f"Loss after {len(correct.step)} updates, correct", fmt(correct.final_loss))
cols[1].metric(f"Loss after {len(buggy.step)} updates, buggy", fmt(buggy.final_loss))
if buggy.step:
    growth = buggy.grad_norm[-1] / buggy.grad_norm[0] if buggy.grad_norm[0] else float("inf")
    cols[2].metric(f"Buggy ‖p.grad‖ at step {len(buggy.step)}", fmt(buggy.grad_norm[-1]),
                   delta=f"×{growth:.3g} since step 1", delta_color="off")
    cols[3].metric("True ‖gradient‖ at its weights then", fmt(zerograd.norm(buggy.true_grads[-1])),
                   help="The gradient of the loss at the buggy loop's own parameters of that step.")
kind, text = zerograd.verdict(comparison)
getattr(st, kind)(text)

figures = zerograd.loop_figures(comparison, log_y=st.toggle("Log-scale loss", key="w_zg_log"))
st.plotly_chart(figures["loss"], key="zg_loss")
left, right = st.columns(2)
left.plotly_chart(figures["grad_norm"], key="zg_grad_norm")
right.plotly_chart(figures["update_norm"], key="zg_update_norm")

st.markdown(
    "**Why it sometimes seems to help.** Summing every gradient so far is SGD with momentum 1: a heavy ball "
    "with no friction. While the gradients point the same way the sum grows, so the steps get longer, as if "
    "the learning rate grew every step, and the loss can fall faster at first. That is how the lecture got away "
    "with it. **Why it is still wrong.** Real momentum forgets old gradients (`SGD(momentum=0.9)` keeps 0.9 of "
    "the last step); here nothing is ever forgotten, so the steps never shrink when the loss should settle: the "
    "weights overshoot, oscillate or run off to huge values, and the update is not the gradient of the loss at "
    "the current weights. Zero the grads every step; ask for momentum explicitly if you want it.")

st.subheader("One parameter's gradient, step by step")
index = st.selectbox("Parameter", range(len(shared.parameter_names)), format_func=shared.parameter_names.__getitem__,
                     key=f"w_zg_param_{shared.net_key}")
st.markdown("gₜ is the true gradient of the loss at the buggy loop's own weights of step *t*, computed "
            "separately with zeroed grads. The buggy loop's `p.grad` is their running sum (up to rounding).")
table = pd.DataFrame(zerograd.running_sum_rows(buggy, index, correct)).set_index("step")
st.dataframe(table, column_config=dict.fromkeys(table.columns, NUMBER), height=min(38 + 35 * len(table), 400))

st.subheader("Not zeroing on purpose: gradient accumulation")
left, right = st.columns(2)
left.html(zerograd.code_html(zerograd.step_source("accumulate")))
size = len(shared.xs) // k
right.markdown(
    f"When a batch does not fit in memory, split it into **k = {k}** micro-batches of {size} sample"
    f"{'s' if size != 1 else ''}, run backward on each micro-batch's loss / k **without** zeroing in between, "
    "then update once. The grads add up to the gradient of the mean over the whole batch, so each update is "
    "the one the big batch would give: the dashed curves above lie on the wide pale ones of the correct loop. "
    f"Largest difference from the correct loop's weights over {len(accumulate.step)} updates: "
    f"**{zerograd.largest_weight_gap(accumulate, correct):.2g}** (rounding). Not zeroing is right when the grads "
    "being added are parts of *one* update, wrong when they come from earlier updates.")

st.subheader("The sibling bug: `=` instead of `+=` in backward")
st.markdown(
    "The lecture's first backward wrote `self.grad = local * out.grad`. A node that feeds two operations "
    "then keeps only the contribution written last; the chain rule needs their **sum**. Every node used "
    "once is still right. The finite difference (f(v + h) − f(v − h)) / 2h, h = 10⁻⁶, settles which is "
    "correct.")
for example in zerograd.overwrite_examples():
    st.markdown(f"**{example.title}**: `{example.expression}`")
    rows = pd.DataFrame(example.rows).set_index("variable")
    rows["wrong?"] = rows["wrong?"].map({True: "✗ wrong", False: "✓ right"})
    st.dataframe(rows, column_config=dict.fromkeys(["value", "wrong grad (=)", "right grad (+=)", "finite difference"],
                                                   NUMBER))
    rankdir = "TB" if len(example.values) > 1 else "LR"  # wide graphs are drawn top-down to fit half a page
    left, right = st.columns(2)
    left.caption("Backward with `=` (wrong grads in red)")
    left.graphviz_chart(draw_dot(example.wrong_root, highlight=dict.fromkeys(example.wrong_nodes, "#ffcdd2"),
                                 rankdir=rankdir))
    right.caption("Backward with `+=` (the same nodes, right, in green)")
    right.graphviz_chart(draw_dot(example.right_root, highlight=dict.fromkeys(example.right_nodes, "#c8e6c9"),
                                  rankdir=rankdir))
