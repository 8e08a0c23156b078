"""Train: choose data and a network, press Train, and watch it learn: the loss, the boundary and every neuron."""
import streamlit as st

import ui
from lab import jobs, train_view
from lab.config import ConfigError, TrainConfig
from lab.figures import result_figures
from lab.runs import RunStore, RunStoreError, result_to_json
from lab.train import prepare_data

st.set_page_config(page_title="Train · micrograd", page_icon="🏋️", layout="wide")


@st.cache_data(max_entries=16, show_spinner=False)
def data_for(config_dict):
    return prepare_data(TrainConfig.from_dict(config_dict))


@st.cache_data(max_entries=32, show_spinner=False)
def figures_for(config_dict, params):
    figures = result_figures(TrainConfig.from_dict(config_dict), list(params), boundary=False)  # the frame has it
    return {kind: train_view.settle_margins(figure) for kind, figure in figures.items()}


@st.cache_data(max_entries=8, show_spinner=False)
def snapshots_of(run_id, store_path):
    """{step: weights} kept for replay ({} for a run the store could not save)."""
    try:
        return RunStore(store_path).get(run_id)["snapshots"]
    except RunStoreError:
        return {}


def draw_frame(frame, keys):
    """A frame's charts: the loss and the boundary side by side, every neuron below. The figures carry Streamlit's
    look themselves (theme=None), so that the browser draws each once (lab/chart_look.py)."""
    left, right = st.columns(2)
    if frame["loss"] is not None:
        left.plotly_chart(frame["loss"], key=keys["loss"], on_select=keys.get("on_select", "ignore"),
                          selection_mode="points", theme=None)
    if frame["boundary"] is not None:
        right.plotly_chart(frame["boundary"], key=keys["boundary"], theme=None)
    if frame["network"] is not None:
        st.plotly_chart(frame["network"], key=keys["network"], width="content", theme=None)
        st.caption(f"Blue lines are positive weights, orange negative; wider is larger (hover for the value). "
                   f"Red outline: a dead ReLU (zero on every training point); orange: a saturated unit. "
                   f"{frame['health']}")


@st.fragment(run_every=0.4)  # at most 2.5 frames a second; the browser draws one in ~0.3 s (bench/live_fps.py)
def live_view(job):
    """Redrawn from the latest weights the worker sent (training never waits for it)."""
    steps, history = job.progress()
    if job.state == "queued":
        st.info(f"Waiting for a free slot: this server trains at most {jobs.MAX_RUNNING} runs at once "
                f"(yours is number {job.queue_position()} in the queue).", icon="⏳")
    st.progress(steps / job.config.steps, text=train_view.progress_text(steps, job.config.steps, job.training_seconds))
    if history:
        data = data_for(job.config.to_dict())
        draw_frame(train_view.frame(job.config, job.params, history, data, log_y=st.session_state.get("w_log_y"),
                                    live=True),
                   {"loss": "live_loss", "boundary": "live_boundary", "network": "live_network"})
    if job.done:
        st.rerun()


def jump_to_clicked_step(steps):
    step = train_view.clicked_step(steps, st.session_state.final_loss.selection.points)
    if step is not None:
        st.session_state.w_replay = step


def show_results(job, current):
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
    which = f"run #{job.run_id}" if job.run_id is not None else "this run"
    st.subheader(f"Results of {which}")
    if current is not None and current != config:
        st.warning(f"These results are from {which}, trained with other settings than the sidebar shows now "
                   f"({config.dataset}, network {'-'.join(map(str, config.hidden)) or 'linear'}, lr {config.lr:g}, "
                   f"{config.steps:,} steps). Press **Train** to train the new settings.", icon="🕰️")
    if result.status == "diverged":
        st.warning(f"⚠️ Training **diverged at step {result.diverged_at}**: the loss blew up (infinite, NaN or "
                   "10¹⁰ times its first value). Try a smaller learning rate. The run is saved with status *diverged*.")
    elif result.status == "stopped":
        st.info(f"Stopped after {result.steps_done} of {config.steps} steps. The run is saved with status *stopped*.")
    data = data_for(config.to_dict())
    for warning in train_view.run_warnings(result, data):
        st.warning(warning, icon="💀")
    if job.run_id is not None:
        st.success(f"Saved as run **#{job.run_id}** · [open it on the Compare page](Compare?runs={job.run_id})",
                   icon="💾")
    if not history["step"]:
        return
    accuracy, test_accuracy = result.final("accuracy"), result.final("test_accuracy")
    change = history["train_loss"][-1] - history["train_loss"][0]
    final, test, accurate, test_accurate, time, speed = st.columns(6)
    final.metric("Final loss", ui.format_number(result.final("train_loss")), delta_color="inverse",
                 delta=f"{'+' if change > 0 else ''}{ui.format_number(change, 3)} from start")
    test.metric("Test loss", ui.format_number(result.final("test_loss")))
    if result.task == "classification":
        accurate.metric("Accuracy (train)", "–" if accuracy is None else f"{accuracy:.1%}")
        test_accurate.metric("Accuracy (test)", "–" if test_accuracy is None else f"{test_accuracy:.1%}")
    else:
        accurate.metric("R² (test)", ui.format_number(result.final("test_r2"), 3))
        test_accurate.metric("RMSE (test)", ui.format_number(result.final("test_rmse"), 3))
    time.metric("Time", f"{result.elapsed:.2f} s")
    speed.metric("Steps / s", f"{result.steps_done / max(result.elapsed, 1e-9):,.0f}")
    snapshots = snapshots_of(job.run_id, job.store_path) if job.run_id is not None else {}
    steps = sorted(snapshots)
    if st.session_state.get("w_replay") not in steps and steps:
        st.session_state.w_replay = steps[-1]  # a new run starts at its end
    step = st.select_slider("Replay: step", steps, key="w_replay",
                            help="Move through the run: the boundary, every neuron and the weights at that step. "
                                 "Clicking a point of the loss curve jumps there too.") if len(steps) > 1 else None
    params = snapshots[step] if step is not None else result.params
    log_y = st.toggle("Log-scale loss", key="w_log_y")
    frame = train_view.frame(config, params, history, data, step=step, log_y=log_y)
    draw_frame(frame, {"loss": "final_loss", "boundary": "boundary", "network": "network",
                       "on_select": (lambda: jump_to_clicked_step(steps)) if steps else "ignore"})
    st.caption(train_view.about_the_numbers(result, data))
    if result.status != "diverged":
        figures = figures_for(config.to_dict(), tuple(result.params))
        left, right = st.columns(2)
        left.plotly_chart(figures["predictions"], key="predictions", theme=None)
        for kind in ("confusion", "class_accuracy"):
            if kind in figures:
                right.plotly_chart(figures[kind], key=kind, theme=None)


jobs.prewarm()  # a worker process ready for the next click
replayed, replay_problem = ui.replay_request()  # Train?replay=ID: a saved run, reopened with its replay
link_problem = ui.restore_train_widgets()  # a shared link, or this session's settings when coming back
st.title("🏋️ Train a network")
for problem in (link_problem, replay_problem):
    if problem:
        st.warning(problem)
config = ui.train_sidebar()
if config is not None:
    ui.set_shared_config(config)  # the Graph, Zero-grad and Sweep pages use this net too
    query = config.to_query()
    if dict(st.query_params) != query:
        st.query_params.from_dict(query)
    data = data_for(config.to_dict())
    nin = data.train.n_features
    network = data.config  # with a CSV's number of classes
    st.caption(f"{ui.data_name(config)} · network {network.architecture(nin)} ({network.parameter_count(nin):,} "
               f"weights) · {config.activation} · {config.optimizer.upper()} lr {config.lr:g} ({config.lr_schedule}) "
               f"· {config.steps:,} steps · {config.engine} engine")
    try:
        seconds = jobs.check_budget(config, data.train)
        if seconds > 5:
            st.info(f"This run will take about {seconds:,.0f} s" + (
                ": the scalar engine builds one Python object per number; the numpy engine gives the same "
                "numbers far faster." if config.engine == "scalar" else "."))
    except ConfigError as e:
        st.error(f"Too big to train here: {e}.")
        config = None

job = st.session_state.get("job") or replayed
busy = job is not None and not job.done
# Train was clicked: the run starts before the button is drawn, so that the button shows it going (disabled)
if st.session_state.get("train") and config is not None and not busy:
    name = st.session_state.get("w_name", "").strip() or None
    job = st.session_state.job = jobs.TrainingJob(config, ui.open_store(), name=name).start()
    st.session_state.pop("w_replay", None)
    st.session_state.pop("replay_run", None)
    loading = ui.start_loading_plotly()  # in the browser, while the server trains
    busy = not job.wait(timeout=1.5)  # short runs finish here and draw at once
    loading.empty()
left, right = st.columns([3, 1])
right.text_input("Run name", key="w_name", placeholder="automatic")
left.button("Train", type="primary", icon="▶️", disabled=config is None or busy, key="train")

if job is not None and not job.done:
    st.button("Stop", icon="⏹️", on_click=job.stop, key="stop", disabled=job.stopping)  # outside the frames: it
    live_view(job)                                                                    # stays put while they redraw
elif job is not None:
    show_results(job, config)
elif config is not None:
    picture = train_view.data_svg(config, data)  # a picture, not a chart: it shows before plotly has loaded
    if picture is not None:
        st.image(picture)
    st.caption("Choose a dataset and a network in the sidebar, then press **Train**.")
    ui.load_plotly_soon()
