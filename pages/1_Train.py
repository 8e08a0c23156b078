"""Train: choose data and a network, press Train, watch it learn."""
import streamlit as st

import ui
from data import DATASET_LABELS, DatasetError, load_csv
from lab.config import ENGINES, OPTIMIZERS, REGRESSION_DATASETS, SCHEDULES, ConfigError, TrainConfig
from lab.figures import loss_figure, result_figures
from lab import jobs
from lab.runs import RunStoreError, result_to_json
from lab.train import load_data
from micrograd.nn import ACTIVATIONS

st.set_page_config(page_title="Train · micrograd", page_icon="🏋️", layout="wide")

LR_VALUES = [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.2, 0.5, 1.0, 3.0, 10.0]
PENALTIES = [0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
DATASET_CHOICES = {**DATASET_LABELS, "csv": "Upload a CSV…"}
SUGGESTED_LR = {"sine": 0.03, "plane": 0.03}  # regression targets are unbounded: smaller steps


@st.cache_data(max_entries=8, show_spinner=False)
def csv_error(content, name):
    """Why an uploaded CSV cannot be used (None when it can); parsed once per file, not per rerun."""
    try:
        load_csv(content, name=name)
    except DatasetError as e:
        return f"**{ui.escape_markdown(name)}**: {e}"
    return None


@st.cache_data(max_entries=64, show_spinner=False)
def n_features(config_dict):
    return load_data(TrainConfig.from_dict(config_dict))[0].n_features


@st.cache_data(max_entries=32, show_spinner=False)
def figures_for(config_dict, params):
    return result_figures(TrainConfig.from_dict(config_dict), list(params))


def suggest_for_dataset():
    """A new dataset starts from a learning rate that suits it (the user can change it after)."""
    st.session_state.w_lr = SUGGESTED_LR.get(st.session_state.w_dataset, TrainConfig.lr)
    st.session_state.w_loss = "auto"


def csv_file(sidebar):
    """The content hash of the CSV to train on: a new upload (kept by the run store once it is valid), or the one
    uploaded earlier in this session. None while there is none usable."""
    upload = sidebar.file_uploader("CSV file", type=["csv", "txt"], key="w_csv", help="Numeric feature columns; "
                                   "the target in a column named `target` or the last column.")
    earlier = ui.shared_config()
    if upload is None and earlier is not None and earlier.csv_upload:
        sidebar.caption(f"Using the CSV uploaded earlier ({ui.escape_markdown(st.session_state.get('csv_name', ''))}).")
        return earlier.csv_upload
    problem = "Upload a CSV to train on it." if upload is None else csv_error(upload.getvalue(), upload.name)
    if not problem:
        try:
            st.session_state.csv_name = upload.name
            return ui.open_store().save_upload(upload.getvalue(), upload.name)
        except (DatasetError, RunStoreError) as e:
            problem = f"**{ui.escape_markdown(upload.name)}**: {e}"
    (sidebar.info if upload is None else sidebar.error)(problem)
    return None


def sidebar_config():
    """Draw the sidebar; the TrainConfig its widgets show (None while the CSV is missing or bad).
    Every widget is drawn on every run, even when unused, so Streamlit keeps its value."""
    state, sidebar = st.session_state, st.sidebar
    sidebar.header("Data")
    dataset = sidebar.selectbox("Dataset", list(DATASET_CHOICES), format_func=DATASET_CHOICES.get, key="w_dataset",
                                on_change=suggest_for_dataset)
    csv_upload = csv_file(sidebar) if dataset == "csv" else ""
    sidebar.slider("Samples", 4, 5000, key="w_n", disabled=dataset in ("lecture", "csv"))
    sidebar.slider("Noise", 0.0, 1.0, key="w_noise", step=0.05, disabled=dataset in ("lecture", "csv"))
    sidebar.slider("Test fraction", 0.0, 0.5, key="w_test", step=0.05)

    sidebar.header("Network")
    layers = sidebar.slider("Hidden layers", 0, 8, key="w_layers")
    sidebar.slider("Neurons per layer", 1, 64, key="w_width", disabled=layers == 0)
    sidebar.selectbox("Activation", ACTIVATIONS[:3], key="w_activation")

    sidebar.header("Training")
    losses = ["auto", "mse"] if dataset in REGRESSION_DATASETS else ["auto", "hinge", "bce", "mse"]
    sidebar.selectbox("Loss", losses, key="w_loss", help="auto: hinge for classification, mse for regression")
    optimizer = sidebar.selectbox("Optimizer", OPTIMIZERS, key="w_optimizer", format_func=str.upper)
    sidebar.select_slider("Learning rate", sorted(set(LR_VALUES) | {state.w_lr}), key="w_lr", format_func="{:g}".format)
    sidebar.slider("Steps", 1, 5000, key="w_steps")
    sidebar.number_input("Batch size (0 = full batch)", 0, 10_000, key="w_batch", step=8)
    sidebar.select_slider("L2 penalty", sorted(set(PENALTIES) | {state.w_l2}), key="w_l2", format_func="{:g}".format)
    sidebar.number_input("Seed", 0, 2**31 - 1, key="w_seed")
    sidebar.radio("Engine", ENGINES, key="w_engine", horizontal=True,
                  help="numpy: vectorized and fast. scalar: the lecture's Value engine. Same numbers.")
    with sidebar.expander("Advanced"):
        st.selectbox("Learning-rate schedule", SCHEDULES, key="w_schedule")
        st.slider("Momentum (SGD)", 0.0, 0.99, key="w_momentum", step=0.01, disabled=optimizer != "sgd")
        st.select_slider("L1 penalty", sorted(set(PENALTIES) | {state.w_l1}), key="w_l1", format_func="{:g}".format)
        st.selectbox("Output activation", ACTIVATIONS, key="w_output")
        st.text_input("Custom layer widths", key="w_custom", placeholder="e.g. 32,16,8",
                      help="Overrides the two sliders above when set.")
        st.number_input("Data seed", 0, 2**31 - 1, key="w_data_seed")
    if csv_upload is None:
        return None
    try:
        return ui.config_from_widget_values(state, csv_upload)
    except ConfigError as e:
        sidebar.error(str(e))
        return None


def show_results(job):
    result = job.result
    if job.error:
        st.error(job.error)
    if job.save_error and result is not None:
        st.error(f"The run could not be saved: {job.save_error}. Download it and import it later on the Runs page.")
        st.download_button("Download the run (JSON)", result_to_json(result, name=job.name), "run.json",
                           mime="application/json", key="download_unsaved")
    if result is None:
        if job.stopping:
            st.info("Stopped before the first step ended: there is nothing to show.")
        return
    config, history = result.config, result.history
    if result.status == "diverged":
        st.warning(f"⚠️ Training **diverged at step {result.diverged_at}**: the loss blew up (infinite, NaN or "
                   "10¹⁰ times its first value). Try a smaller learning rate. The run is saved with status *diverged*.")
    elif result.status == "stopped":
        st.info(f"Stopped after {result.steps_done} of {config.steps} steps. The run is saved with status *stopped*.")
    if job.run_id is not None:
        st.success(f"Saved as run **#{job.run_id}** · [open it on the Compare page](Compare?runs={job.run_id})",
                   icon="💾")
    if not history["step"]:
        return
    change, accuracy = history["train_loss"][-1] - history["train_loss"][0], result.final("accuracy")
    final, test, accurate, time, speed = st.columns(5)
    final.metric("Final loss", ui.format_number(result.final("train_loss")),
                 delta=f"{'+' if change > 0 else ''}{ui.format_number(change, 3)} from start", delta_color="inverse")
    test.metric("Test loss", ui.format_number(result.final("test_loss")))
    accurate.metric("Accuracy (train)", "–" if accuracy is None else f"{accuracy:.1%}")
    time.metric("Time", f"{result.elapsed:.2f} s")
    speed.metric("Steps / s", f"{result.steps_done / max(result.elapsed, 1e-9):,.0f}")
    log_y = st.toggle("Log-scale loss", key="w_log_y")
    st.plotly_chart(loss_figure([{"name": "this run", "history": history, "color": "#1f77b4"}], log_y=log_y,
                                title="Loss per step"), key="final_loss")
    if result.status != "diverged":
        figures = figures_for(config.to_dict(), tuple(result.params))
        left, right = st.columns(2)
        if "boundary" in figures:
            left.plotly_chart(figures["boundary"], key="boundary")
        right.plotly_chart(figures["predictions"], key="predictions")
        if "confusion" in figures:
            right.plotly_chart(figures["confusion"], key="confusion")


@st.fragment(run_every=0.5)
def live_progress(job):
    """Redrawn twice a second while the run trains in its own thread (more often, each redraw can
    interrupt the last before the browser has drawn the chart)."""
    steps, history = job.progress()
    if job.state == "queued":
        st.info(f"Waiting for a free slot: this server trains at most {jobs.MAX_RUNNING} runs at once "
                f"({job.queue_position()} in the queue).", icon="⏳")
    st.progress(steps / job.config.steps, text=f"Training… step {steps} of {job.config.steps}")
    if history and history["step"]:
        st.plotly_chart(loss_figure([{"name": "this run", "history": history, "color": "#1f77b4"}],
                                    title="Loss per step (live)", as_arrays=True), key="live_loss")
    st.button("Stop", icon="⏹️", on_click=job.stop, key="stop")
    if job.done:
        st.rerun()


jobs.prewarm()  # a worker process ready for the next click
link_problem = ui.restore_train_widgets()  # a shared link, or this session's settings when coming back
st.title("🏋️ Train a network")
if link_problem:
    st.warning(link_problem)
config = sidebar_config()
if config is not None:
    ui.set_shared_config(config)  # the Graph, Zero-grad and Sweep pages use this net too
    query = config.to_query()
    if dict(st.query_params) != query:
        st.query_params.from_dict(query)
    nin = n_features(config.to_dict())
    n_params = config.parameter_count(nin)
    st.caption(f"{DATASET_CHOICES[config.dataset]} · network {config.architecture(nin)} ({n_params:,} weights) · "
               f"{config.activation} · {config.optimizer.upper()} lr {config.lr:g} · {config.steps:,} steps · "
               f"{config.engine} engine")
    try:
        seconds = jobs.check_budget(config)
        if seconds > 5:
            st.info(f"This run will take about {seconds:,.0f} s"
                    + (": the scalar engine builds one Python object per number; the numpy engine gives the same "
                       "numbers far faster." if config.engine == "scalar" else "."))
    except ConfigError as e:
        st.error(f"Too big to train here: {e}.")
        config = None

job = st.session_state.get("job")
left, right = st.columns([3, 1])
name = right.text_input("Run name", key="w_name", placeholder="automatic", label_visibility="collapsed")
busy = job is not None and not job.done
if left.button("Train", type="primary", icon="▶️", disabled=config is None or busy, key="train"):
    job = jobs.TrainingJob(config, ui.open_store(), name=name.strip() or None).start()
    st.session_state.job = job
    job.wait(timeout=1.0)  # short runs finish here and draw at once

if job is None:
    st.info("Choose a dataset and a network in the sidebar, then press **Train**.")
elif not job.done:
    live_progress(job)
else:
    show_results(job)
