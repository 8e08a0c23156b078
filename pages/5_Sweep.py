"""Sweep: train a grid of configs in parallel and see which settings work, as a heatmap."""
import time

import streamlit as st

import ui
from data import DATASET_LABELS
from lab import compare
from lab.config import ConfigError
from lab.figures import heatmap_figure
from lab.runs import RunStoreError
from lab.jobs import SweepJob
from lab.sweep import SWEEPABLE, configured_scheduler, default_workers, format_value, make_grid, parse_values

st.set_page_config(page_title="Sweep · micrograd", page_icon="🧪", layout="wide")

METRIC_LABELS = {"final_loss": "final train loss", "final_test_loss": "final test loss"}


@st.fragment(run_every=0.5)
def sweep_progress(job):
    st.progress(job.finished / job.total, text=f"Sweep **{ui.escape_markdown(job.name)}**: {job.finished} of "
                f"{job.total} runs done · {time.perf_counter() - job.started:.0f} s"
                + (" · stopping…" if job.stopping else ""))
    st.button("Stop sweep", icon="⏹️", key="sw_cancel", on_click=job.stop, disabled=job.stopping)
    if job.done:
        st.rerun()


def sweep_axis(column, n, base, exclude):
    """A hyperparameter and its values, typed in `column`: (field, [values]) or None."""
    options = [f for f in SWEEPABLE if f != exclude]
    default = {1: "lr", 2: "hidden"}[n]
    if n == 2:
        options = ["(none)", *options]
    field = column.selectbox("First hyperparameter" if n == 1 else "Second hyperparameter (optional)", options,
                             index=options.index(default) if default in options else 0, key=f"sw_field{n}")
    if field == "(none)":
        return None
    current = format_value(field, getattr(base, field))
    text = column.text_input(f"Values of {field}", value=compare.SWEEP_EXAMPLES.get(field, current),
                             key=f"sw_values{n}_{field}", help="Separated by commas. Hidden layers: widths joined by "
                             f"'-' (16-16 is two layers of 16; none is a linear model). The base config has {field} = "
                             f"{current}.")
    return field, parse_values(field, text)


def report(job):
    """What a finished sweep did (once it has finished, its heatmap is the one shown)."""
    if st.session_state.get("sw_reported") is not job:
        st.session_state.sw_reported, st.session_state.sw_show = job, job.name
    name, saved = ui.escape_markdown(job.name), len(job.saved_ids())
    if job.error:
        st.error(f"Sweep **{name}**: {ui.escape_markdown(job.error)}")
    elif job.stopping:
        st.info(f"Sweep **{name}** was stopped: {saved} of {job.total} runs saved.")
    else:
        st.success(f"Sweep **{name}**: {saved} runs in {job.elapsed:.1f} s.")


def sweep_results(store, summaries):
    sweeps = compare.sweep_names(summaries)
    if not sweeps:
        st.caption("No sweeps saved yet.")
        return
    st.subheader("Sweep results")
    if st.session_state.get("sw_show") not in sweeps:
        st.session_state.sw_show = next(iter(sweeps))
    left, right = st.columns([3, 2])
    name = left.selectbox("Sweep", list(sweeps), key="sw_show", format_func=lambda s: f"{s} ({sweeps[s]} runs)")
    metric = right.segmented_control("Colour by", list(METRIC_LABELS), default="final_loss", required=True,
                                     key="sw_metric", format_func=METRIC_LABELS.get)
    runs = [r for r in summaries if r["sweep"] == name]
    view = compare.sweep_view(runs, names=compare.sweep_axes(store, name), metric=metric)
    names, label = view["names"], METRIC_LABELS[metric]
    fig = heatmap_figure(view["x"], view["y"], view["z"], names[0], names[1] if len(names) > 1 else "",
                         title=f"{label.capitalize()} over the grid of {compare.plotly_text(name)}", z_title=label,
                         text=view["text"])
    if len(names) == 1:
        fig.update_layout(height=260)  # one row of cells
    st.plotly_chart(fig, key="sw_heatmap")
    st.caption(compare.sweep_caption(view))
    ids = [r["id"] for r in runs][:compare.MAX_SELECTED]
    st.page_link("pages/4_Compare.py", label=f"Compare {'these' if len(runs) == len(ids) else 'the newest'} "
                 f"{len(ids)} runs", icon="📊", query_params={"runs": compare.format_ids(ids)})
    table = compare.sweep_table(runs, names)
    st.dataframe(ui.readable_numbers(table, [c for c in table if "loss" in c]), key="sw_table",
                 hide_index=True, column_config={
                     "link": st.column_config.LinkColumn("compare", display_text="open ↗"),
                     "accuracy": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent"),
                     "± accuracy": st.column_config.NumberColumn(format="percent")})


st.title("🧪 Sweep hyperparameters")
store = ui.open_store()
base, origin = ui.config_or_default()
scheduler = configured_scheduler()  # the server's own setting: a browser never chooses an address
st.markdown("Train a grid of configs in parallel worker processes; every run is saved, tagged with the sweep.")
st.caption(f"Base config, from {origin}: {DATASET_LABELS.get(base.dataset, base.dataset)} · hidden "
           f"{format_value('hidden', base.hidden)} · {base.activation} · {base.optimizer.upper()} lr {base.lr:g} · "
           f"{base.steps} steps · {base.engine} engine")
job = st.session_state.get("sweep_job")
running = job is not None and not job.done
first, second = st.columns(2)
axis1 = sweep_axis(first, 1, base, None)
axis2 = sweep_axis(second, 2, base, axis1[0])
grid = None
try:
    grid = make_grid(base, [axis1] + ([axis2] if axis2 else []))
except ConfigError as e:
    st.error(f"The grid is not valid: {ui.escape_markdown(e)}")
name_col, workers_col, where_col = st.columns([2, 1, 2])
name = name_col.text_input("Sweep name", key="sw_name", placeholder="automatic: sweep-date-time", max_chars=100)
cores = default_workers()
workers = workers_col.number_input("Worker processes", 1, 64, value=cores, key="sw_workers",
                                   help=f"This machine has {cores} core{'s' if cores != 1 else ''}.")
on_cluster = scheduler is not None and where_col.toggle(
    "Run on the server's Dask cluster", value=True, key="sw_on_cluster",
    help="The cluster this server is configured with (environment variable MICROGRAD_DASK_SCHEDULER).")
if scheduler is None:
    where_col.caption("Dask cluster: none configured on this server (set MICROGRAD_DASK_SCHEDULER to use one).")
if grid is not None:
    sizes = " × ".join(str(len(v)) for v in grid.values)
    used = min(workers, len(grid.configs))
    where = (f"on the server's Dask cluster at {scheduler}" if on_cluster
             else f"in {used} worker process{'es' if used > 1 else ''}" if used > 1 else "in this process")
    st.caption(f"{len(grid.configs)} runs ({sizes}: {' × '.join(grid.names)}) {where}.")
if st.button("Run sweep", type="primary", icon="▶️", key="sw_run", disabled=grid is None or running):
    name = name.strip() or time.strftime("sweep-%Y%m%d-%H%M%S")
    job = SweepJob(grid, store, name, workers=workers, scheduler=scheduler if on_cluster else None).start()
    st.session_state.sweep_job = job
    running = True
if running:
    sweep_progress(job)
elif job is not None:
    report(job)
try:
    sweep_results(store, store.list())
except (RunStoreError, ValueError) as e:  # ValueError: a stored row the store cannot decode
    ui.store_error(e)
