"""Train: choose data and a network, press Train, watch it learn."""
import streamlit as st

from data import DATASET_LABELS, DatasetError, load_csv
from lab.config import ENGINES, OPTIMIZERS, REGRESSION_DATASETS, SCHEDULES, ConfigError, TrainConfig, parse_hidden
from lab.figures import loss_figure, result_figures
from lab.jobs import TrainingJob
from lab.train import estimate_scalar_seconds, load_data
from lab.runs import RunStore, RunStoreError, save_upload
from micrograd.nn import ACTIVATIONS

st.set_page_config(page_title="Train · micrograd", page_icon="🏋️", layout="wide")

LR_VALUES = [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.2, 0.5, 1.0, 3.0, 10.0]
PENALTIES = [0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
DATASET_CHOICES = {**{k: v for k, v in DATASET_LABELS.items()}, "csv": "Upload a CSV…"}
SUGGESTED_LR = {"sine": 0.03, "plane": 0.03}  # regression targets are unbounded: smaller steps


@st.cache_data(max_entries=8, show_spinner=False)
def csv_error(content, name):
    """Why an uploaded CSV cannot be used (None when it can); parsed once per file, not per rerun."""
    try:
        load_csv(content, name=name)
    except DatasetError as e:
        return f"**{name}**: {e}"
    return None


@st.cache_data(max_entries=64, show_spinner=False)
def n_features(config_dict):
    return load_data(TrainConfig.from_dict(config_dict))[0].n_features


@st.cache_data(max_entries=32, show_spinner=False)
def figures_for(config_dict, params):
    return result_figures(TrainConfig.from_dict(config_dict), list(params))


def start_from_url():
    """On a session's first visit the widgets start from the URL (a shared link) or the defaults."""
    if "w_dataset" in st.session_state:
        return
    try:
        cfg = TrainConfig.from_dict(dict(st.query_params))
        if cfg.dataset == "csv":
            raise ConfigError("the link names an uploaded CSV; upload it again")
    except ConfigError as e:
        st.session_state.url_error = f"The link's settings were not used: {e}."
        cfg = TrainConfig()
    widths = cfg.hidden or (16,)
    clamp = lambda v, lo, hi: min(max(v, lo), hi)  # the URL may hold what the CLI allows but a slider does not
    st.session_state.update(
        w_dataset=cfg.dataset, w_n=clamp(cfg.n, 4, 5000), w_noise=clamp(cfg.noise, 0.0, 1.0), w_test=clamp(cfg.test_fraction, 0.0, 0.5), w_data_seed=cfg.data_seed,
        w_layers=len(cfg.hidden), w_width=clamp(max(widths), 1, 64),
        w_custom="" if len(set(widths)) <= 1 and max(widths) <= 64 else ",".join(map(str, widths)),
        w_activation=cfg.activation, w_output=cfg.output_activation, w_loss=cfg.loss, w_optimizer=cfg.optimizer,
        w_lr=cfg.lr, w_schedule=cfg.lr_schedule, w_momentum=clamp(cfg.momentum, 0.0, 0.99), w_batch=clamp(cfg.batch_size, 0, 10_000),
        w_l1=cfg.l1, w_l2=cfg.l2, w_steps=clamp(cfg.steps, 1, 5000), w_seed=cfg.seed, w_engine=cfg.engine)


def suggest_for_dataset():
    """A new dataset starts from a learning rate that suits it (the user can change it after)."""
    st.session_state.w_lr = SUGGESTED_LR.get(st.session_state.w_dataset, TrainConfig.lr)
    st.session_state.w_loss = "auto"


def sidebar_config():
    """Read the sidebar widgets into a TrainConfig (None while the CSV is missing or bad)."""
    ss = st.session_state
    sb = st.sidebar
    sb.header("Data")
    dataset = sb.selectbox("Dataset", list(DATASET_CHOICES), format_func=DATASET_CHOICES.get, key="w_dataset",
                           on_change=suggest_for_dataset)
    csv_path, csv_problem = "", None
    if dataset == "csv":
        upload = sb.file_uploader("CSV file", type=["csv", "txt"], key="w_csv",
                                  help="Numeric feature columns; the target in a column named `target` or the last column.")
        if upload is None:
            csv_problem = "Upload a CSV to train on it."
            sb.info(csv_problem)
        else:
            content = upload.getvalue()
            csv_problem = csv_error(content, upload.name)
            if csv_problem:
                sb.error(csv_problem)
            else:
                csv_path = save_upload(content, upload.name)
    # every widget is drawn on every run, even when unused, so Streamlit keeps its value
    sb.slider("Samples", 4, 5000, key="w_n", disabled=dataset in ("lecture", "csv"))
    sb.slider("Noise", 0.0, 1.0, key="w_noise", step=0.05, disabled=dataset in ("lecture", "csv"))
    sb.slider("Test fraction", 0.0, 0.5, key="w_test", step=0.05)

    sb.header("Network")
    layers = sb.slider("Hidden layers", 0, 8, key="w_layers")
    width = sb.slider("Neurons per layer", 1, 64, key="w_width", disabled=layers == 0)
    activation = sb.selectbox("Activation", ACTIVATIONS[:3], key="w_activation")

    sb.header("Training")
    regression = dataset in REGRESSION_DATASETS
    loss = sb.selectbox("Loss", ["auto", "mse"] if regression else ["auto", "hinge", "bce", "mse"], key="w_loss",
                        help="auto: hinge for classification, mean squared error for regression")
    optimizer = sb.selectbox("Optimizer", OPTIMIZERS, key="w_optimizer", format_func=str.upper)
    lr_values = sorted(set(LR_VALUES) | {ss.w_lr})
    lr = sb.select_slider("Learning rate", lr_values, key="w_lr", format_func=lambda v: f"{v:g}")
    steps = sb.slider("Steps", 1, 5000, key="w_steps")
    batch = sb.number_input("Batch size (0 = full batch)", 0, 10_000, key="w_batch", step=8)
    l2_values = sorted(set(PENALTIES) | {ss.w_l2})
    l2 = sb.select_slider("L2 penalty", l2_values, key="w_l2", format_func=lambda v: f"{v:g}")
    seed = sb.number_input("Seed", 0, 2**31 - 1, key="w_seed")
    engine = sb.radio("Engine", ENGINES, key="w_engine", horizontal=True,
                      help="numpy: vectorized and fast. scalar: the lecture's Value engine. Same numbers.")
    with sb.expander("Advanced"):
        schedule = st.selectbox("Learning-rate schedule", SCHEDULES, key="w_schedule")
        momentum = st.slider("Momentum (SGD)", 0.0, 0.99, key="w_momentum", step=0.01, disabled=optimizer != "sgd")
        l1 = st.select_slider("L1 penalty", sorted(set(PENALTIES) | {ss.w_l1}), key="w_l1", format_func=lambda v: f"{v:g}")
        output = st.selectbox("Output activation", ACTIVATIONS, key="w_output")
        custom = st.text_input("Custom layer widths", key="w_custom", placeholder="e.g. 32,16,8",
                               help="Overrides the two sliders above when set.")
        data_seed = st.number_input("Data seed", 0, 2**31 - 1, key="w_data_seed")
    if csv_problem:
        return None
    try:
        hidden = parse_hidden(custom) if custom.strip() else (width,) * layers
        return TrainConfig(dataset=dataset, n=ss.w_n, noise=ss.w_noise, test_fraction=ss.w_test, data_seed=data_seed,
                           csv_path=csv_path, hidden=hidden, activation=activation, output_activation=output,
                           loss=loss, optimizer=optimizer, lr=lr, lr_schedule=schedule, momentum=momentum,
                           batch_size=batch, l1=l1, l2=l2, steps=steps, seed=seed, engine=engine)
    except ConfigError as e:
        sb.error(str(e))
        return None


def show_results(job):
    result = job.result
    if job.error:
        st.error(job.error)
    if result is None:
        return
    cfg, h = result.config, result.history
    if result.status == "diverged":
        st.warning(f"⚠️ Training **diverged at step {result.diverged_at}**: the loss blew up (infinite, NaN or "
                   "10¹⁰ times its first value). Try a smaller learning rate. The run is saved with status *diverged*.")
    elif result.status == "stopped":
        st.info(f"Stopped after {result.steps_done} of {cfg.steps} steps. The run is saved with status *stopped*.")
    if job.run_id is not None:
        st.success(f"Saved as run **#{job.run_id}** · [open it on the Compare page](Compare?runs={job.run_id})", icon="💾")
    if not h["step"]:
        return
    cols = st.columns(5)
    fmt = lambda v, pct=False: "–" if v is None else (f"{v:.1%}" if pct else f"{v:.4g}")
    cols[0].metric("Final loss", fmt(result.final("train_loss")), delta=f"{h['train_loss'][-1] - h['train_loss'][0]:+.3g} from start",
                   delta_color="inverse")
    cols[1].metric("Test loss", fmt(result.final("test_loss")))
    cols[2].metric("Accuracy (train)", fmt(result.final("accuracy"), True))
    cols[3].metric("Time", f"{result.elapsed:.2f} s")
    cols[4].metric("Steps / s", f"{result.steps_done / max(result.elapsed, 1e-9):,.0f}")
    log_y = st.toggle("Log-scale loss", key="w_log_y")
    st.plotly_chart(loss_figure([{"name": "this run", "history": h, "color": "#1f77b4"}], log_y=log_y,
                                title="Loss per step"), key="final_loss")
    if result.status != "diverged":
        figures = figures_for(cfg.to_dict(), tuple(result.params))
        left, right = st.columns(2)
        if "boundary" in figures:
            left.plotly_chart(figures["boundary"], key="boundary")
        right.plotly_chart(figures["predictions"], key="predictions")
        if "confusion" in figures:
            right.plotly_chart(figures["confusion"], key="confusion")


@st.fragment(run_every=0.5)
def live_progress(job):
    """Redrawn twice a second while the run trains in its own thread (a shorter period can let
    each redraw interrupt the last one before the browser has drawn the chart)."""
    steps, history = job.progress()
    st.progress(steps / job.config.steps, text=f"Training… step {steps} of {job.config.steps}")
    if history and history["step"]:
        st.plotly_chart(loss_figure([{"name": "this run", "history": history, "color": "#1f77b4"}],
                                    title="Loss per step (live)", as_arrays=True), key="live_loss")
    st.button("Stop", icon="⏹️", on_click=job.stop, key="stop")
    if job.done:
        st.rerun()


start_from_url()
st.title("🏋️ Train a network")
if "url_error" in st.session_state:
    st.warning(st.session_state.pop("url_error"))
config = sidebar_config()
if config is not None:
    st.session_state.config = config  # the Graph and Zero-grad pages build this net too
    query = config.to_query()
    if dict(st.query_params) != query:
        st.query_params.from_dict(query)
    nin = n_features(config.to_dict())
    n_params = config.parameter_count(nin)
    st.caption(f"{DATASET_CHOICES[config.dataset]} · network {config.architecture(nin)} ({n_params:,} weights) · "
               f"{config.activation} · {config.optimizer.upper()} lr {config.lr:g} · {config.steps:,} steps · "
               f"{config.engine} engine")
    if config.engine == "scalar":
        seconds = estimate_scalar_seconds(config.n * (1 - config.test_fraction), n_params, config.steps)
        if seconds > 5:
            st.warning(f"The scalar engine builds one Python object per number: this run will take about "
                       f"{seconds:,.0f} s. The numpy engine gives the same numbers far faster.")

job = st.session_state.get("job")
left, right = st.columns([3, 1])
name = right.text_input("Run name", key="w_name", placeholder="automatic", label_visibility="collapsed")
busy = job is not None and not job.done
if left.button("Train", type="primary", icon="▶️", disabled=config is None or busy, key="train"):
    try:
        job = TrainingJob(config, RunStore(), name=name.strip() or None).start()
    except RunStoreError as e:
        st.error(f"The run store cannot be used: {e}")
        st.stop()
    st.session_state.job = job
    job.wait(timeout=1.0)  # short runs finish here and draw at once

if job is None:
    st.info("Choose a dataset and a network in the sidebar, then press **Train**.")
elif not job.done:
    live_progress(job)
else:
    show_results(job)
