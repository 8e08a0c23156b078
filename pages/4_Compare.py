"""Compare: saved runs side by side, and hyperparameter sweeps trained in parallel."""
import time
import zlib
from functools import partial

import streamlit as st

from data import DATASET_LABELS
from lab import compare as cmp
from lab.config import ConfigError, TrainConfig
from lab.figures import bar_figure, heatmap_figure, loss_figure, result_figures, run_color
from lab.runs import STATUSES, RunStore, RunStoreError
from lab.sweep import SWEEPABLE, default_workers, format_value, make_grid, parse_values

st.set_page_config(page_title="Compare · micrograd", page_icon="📊", layout="wide")

TABLE_CONFIG = {  # widths in px: the columns up to accuracy fit next to the sidebar; created and sweep scroll in
    "id": st.column_config.NumberColumn("#", format="%d", width=40),
    "name": st.column_config.TextColumn("name", width=170),
    "dataset": st.column_config.TextColumn("dataset", width=62),
    "architecture": st.column_config.TextColumn("architecture", width=84),
    "activation": st.column_config.TextColumn("activation", width=68),
    "optimizer": st.column_config.TextColumn("optimizer", width=66),
    "lr": st.column_config.NumberColumn("lr", format="%g", width=44),
    "steps": st.column_config.NumberColumn("steps", width=50),
    "status": st.column_config.TextColumn("status", width=66),
    "train loss": st.column_config.NumberColumn("train loss", format="%.4g", width=72),
    "test loss": st.column_config.NumberColumn("test loss", format="%.4g", width=66),
    "accuracy": st.column_config.ProgressColumn("accuracy", min_value=0.0, max_value=1.0, format="percent", width=90),
    "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm", width=128),
    "sweep": st.column_config.TextColumn("sweep", width=150),
}


@st.cache_data(max_entries=32, show_spinner=False)
def figures_for(config_dict, params, prefix, columns):
    """A saved run's data figures, fitted to one of `columns` side-by-side columns."""
    figures = result_figures(TrainConfig.from_dict(config_dict), list(params), title_prefix=prefix)
    return {kind: cmp.compact(fig, columns) for kind, fig in figures.items()}


# ---------------------------------------------------------------- the selection lives in the URL
def selected_ids():
    return cmp.parse_ids(st.query_params.get("runs", ""))[0]


def set_selection(ids, redraw_table=True):
    if ids:
        st.query_params["runs"] = cmp.format_ids(ids)
    elif "runs" in st.query_params:
        del st.query_params["runs"]
    if redraw_table:  # the table shows a selection it did not make: draw it afresh
        st.session_state.table_version = st.session_state.get("table_version", 0) + 1


def on_table_select(key, shown_ids):
    picked = [shown_ids[row] for row in st.session_state[key].selection.rows]
    kept = [i for i in selected_ids() if i not in shown_ids or i in picked]  # filtered-out runs stay selected
    set_selection(kept + [i for i in picked if i not in kept], redraw_table=False)


def flash(message, kind="success"):
    st.session_state.flash = (kind, message)


# ---------------------------------------------------------------- actions
def rename(store, run_id, key):
    try:
        store.rename(run_id, st.session_state[key])
        flash(f"Renamed run #{run_id} to “{st.session_state[key].strip()}”.")
    except RunStoreError as e:
        flash(f"Could not rename run #{run_id}: {e}", "error")


def delete(store, run_id):
    st.session_state.pop("confirm_delete", None)
    try:
        store.delete(run_id)
        flash(f"Deleted run #{run_id}.")
    except RunStoreError as e:
        flash(f"Could not delete run #{run_id}: {e}", "error")
    set_selection([i for i in selected_ids() if i != run_id])


def compare_sweep(ids):
    set_selection(ids)
    st.session_state.compare_view = "Runs"


# ---------------------------------------------------------------- runs tab
def import_export(store, runs, show_export=True):
    st.subheader("Import / export")
    if runs:
        ids = [r["id"] for r in runs]
        what = f"{len(ids)} selected run{'s' if len(ids) != 1 else ''}"
        left, right, _ = st.columns([1, 1, 1])
        left.download_button(f"Download {what} as CSV", partial(store.export_csv, ids), file_name="runs.csv",
                             mime="text/csv", icon="⬇️", key="cmp_export_csv", on_click="ignore", width="stretch",
                             help="One row per run and step: every run's history in long form.")
        right.download_button(f"Download {what} as JSON", partial(store.export_json, ids), file_name="runs.json",
                              mime="application/json", icon="⬇️", key="cmp_export_json", on_click="ignore",
                              width="stretch",
                              help="Everything about the runs (config, history, weights): import it here again.")
    elif show_export:
        st.caption("Select runs in the table to export them as CSV or JSON.")
    upload = st.file_uploader("Import runs from a JSON export", type=["json"], key="cmp_import",
                              help="A file written by the JSON download above or by `python -m lab runs export`.")
    if upload is None:
        return
    done = st.session_state.get("imported", {})  # import each upload once; keep its error while it is there
    if upload.file_id in done:
        if done[upload.file_id]:
            st.error(done[upload.file_id])
        return
    try:
        new = store.import_json(upload.getvalue().decode("utf-8"))
    except (UnicodeDecodeError, RunStoreError) as e:
        problem = "it is not a text file: expected a JSON export" if isinstance(e, UnicodeDecodeError) else e
        st.session_state.imported = {upload.file_id: f"**{upload.name}** was not imported: {problem}"}
        st.error(st.session_state.imported[upload.file_id])
    else:
        st.session_state.imported = {upload.file_id: None}
        flash(f"Imported {len(new)} run(s) from **{upload.name}**: {', '.join(f'#{i}' for i in new)}. "
              "They are selected for comparison.")
        set_selection(selected_ids() + new)
        st.rerun()


def runs_tab(store, summaries):
    if not summaries:
        st.info("**No saved runs yet.** Train a network on the **Train** page (every run is saved), run a sweep "
                "in the **Sweep** tab, or import a JSON export below. Runs then appear here to compare.", icon="📭")
        st.markdown("🏋️ [Open the Train page](Train)")
        import_export(store, [], show_export=False)
        return
    table = cmp.runs_table(summaries)
    search, status, dataset = st.columns([3, 2, 2])
    text = search.text_input("Search", key="cmp_search", placeholder="name, sweep, architecture, #id…")
    statuses = status.multiselect("Status", STATUSES, key="cmp_status", placeholder="any status")
    datasets = dataset.multiselect("Dataset", sorted(set(table["dataset"])), key="cmp_dataset",
                                   format_func=lambda d: DATASET_LABELS.get(d, d), placeholder="any dataset")
    shown = cmp.filter_table(table, text, statuses, datasets)
    known = set(table["id"])
    wanted = selected_ids()
    missing = [i for i in wanted if i not in known]
    if missing:
        plural = len(missing) > 1
        st.warning(f"Run{'s' if plural else ''} {', '.join(f'#{i}' for i in missing)} from the link "
                   f"{'are' if plural else 'is'} not in the store (deleted?) and {'were' if plural else 'was'} left out.")
        set_selection([i for i in wanted if i in known])
    selected = [i for i in wanted if i in known]
    shown_ids = [int(i) for i in shown["id"]]
    key = f"runs_table_{st.session_state.get('table_version', 0)}_{zlib.crc32(repr(shown_ids).encode())}"
    st.dataframe(shown, key=key, hide_index=True, column_config=TABLE_CONFIG, selection_mode="multi-row",
                 on_select=lambda: on_table_select(key, shown_ids), height=min(38 + 35 * max(len(shown), 1), 420),
                 selection_default={"selection": {"rows": [shown_ids.index(i) for i in selected if i in shown_ids]}})
    hidden = len([i for i in selected if i not in shown_ids])
    left, right = st.columns([4, 1])
    left.caption(f"{len(shown)} of {len(table)} runs shown · **{len(selected)} selected**"
                 + (f" ({hidden} hidden by the filters)" if hidden else "")
                 + " · tick rows to compare them; click a column header to sort. The selection is kept in the "
                 "page address, so a comparison can be shared.")
    right.button("Clear selection", key="cmp_clear", on_click=set_selection, args=([],), disabled=not selected,
                 width="stretch")
    if not selected:
        st.info("Tick one or more rows in the table to compare those runs.", icon="☝️")
        import_export(store, [])
        return
    runs = [store.get(i) for i in selected]
    compare(store, runs)
    import_export(store, runs)


def compare(store, runs):
    st.markdown(f"Comparing {', '.join(cmp.short_label(r, None) for r in runs)} · "
                f"[link to this comparison]({cmp.compare_link([r['id'] for r in runs])})")
    st.subheader("Loss curves")
    a, b, c = st.columns([3, 1, 2])
    smoothing = a.slider("Smoothing", 0.0, 0.99, 0.0, 0.01, key="cmp_smoothing",
                         help="Exponential moving average, as in TensorBoard: 0 shows the raw values.")
    log_y = b.toggle("Log-scale loss", key="cmp_log_y")
    x_key = c.segmented_control("x axis", ["step", "time"], default="step", key="cmp_x", required=True,
                                format_func={"step": "step", "time": "wall time (s)"}.get)
    fig = loss_figure(cmp.curves(runs), log_y=log_y, x_key=x_key, smoothing=smoothing, as_arrays=True,
                      title="Loss: train (solid) and test (dotted)")
    st.plotly_chart(cmp.legend_below(fig, len(fig.data)), key="cmp_loss")
    span = cmp.loss_span(runs)
    if not log_y and span > 3:
        st.caption(f"The losses span {span:.0f} orders of magnitude: turn on the log scale to see them all.")

    left, right = st.columns([3, 2]) if len(runs) <= 3 else (st.container(), st.container())  # many: full width
    with left:
        st.subheader("Parameters")
        show_all = st.toggle("Show all fields", key="cmp_show_all", help="Off: only the fields that differ.")
        diff = cmp.config_diff(runs, show_all=show_all)
        if len(runs) == 1:
            st.caption("One run: all of its settings. Select more runs to see only what differs.")
        if diff.empty:
            st.caption("These runs have the same config in every field (turn on *Show all fields* to see it).")
        else:
            st.dataframe(diff, key="cmp_params", height=min(38 + 35 * len(diff), 760))
    with right:
        st.subheader("Final metrics")
        metric = st.selectbox("Metric", list(cmp.METRICS), key="cmp_metric")
        values = cmp.metric_values(runs, metric)
        bars = bar_figure([f"#{r['id']}" for r in runs], values, [run_color(r["id"]) for r in runs],
                          title=metric.capitalize(), y_title=metric)
        st.plotly_chart(bars.update_xaxes(type="category"), key="cmp_bars")  # "#12" is a name, not a number

    st.subheader("Data and predictions")
    shown = runs[:cmp.MAX_SIDE_BY_SIDE]
    if len(runs) > len(shown):
        st.caption(f"Side by side: the first {len(shown)} of the {len(runs)} selected runs.")
    for column, run in zip(st.columns(len(shown)), shown):
        with column:
            st.markdown(f"<span style='color:{run_color(run['id'])};font-size:1.3em'>■</span> "
                        f"**{cmp.short_label(run, None)}**", unsafe_allow_html=True)
            st.caption(f"{run['status']} · {run['steps_done']} steps · {cmp.architecture(run)} · "
                       f"[re-run this config]({cmp.train_link(run['config'])})")
            problem = cmp.figure_problem(run)
            if problem:
                st.info(problem)
                continue
            figures = figures_for(run["config"].to_dict(), tuple(run["params"]), f"#{run['id']} ", len(shown))
            for kind in ("boundary", "predictions"):
                if kind in figures:
                    st.plotly_chart(figures[kind], key=f"cmp_{kind}_{run['id']}")

    st.subheader("Manage")
    by_id = {r["id"]: r for r in runs}
    run_col, name_col, rename_col, delete_col = st.columns([3, 3, 1, 1], vertical_alignment="bottom")
    run_id = run_col.selectbox("Run", list(by_id), format_func=lambda i: cmp.run_label(by_id[i]), key="cmp_manage")
    run = by_id[run_id]
    name_key = f"cmp_name_{run_id}"
    name_col.text_input("New name", value=run["name"], key=name_key)
    rename_col.button("Rename", key="cmp_rename", on_click=rename, args=(store, run_id, name_key), width="stretch")
    if delete_col.button("Delete…", key="cmp_delete", width="stretch"):
        st.session_state.confirm_delete = run_id
    st.markdown(f"[↻ Re-run this config on the Train page]({cmp.train_link(run['config'])}) "
                f"(opens the Train page with the settings of run #{run_id})")
    if st.session_state.get("confirm_delete") in by_id:
        doomed = by_id[st.session_state.confirm_delete]
        st.warning(f"Delete **{cmp.run_label(doomed)}**? Its history and weights are removed from the store; "
                   "this cannot be undone.", icon="⚠️")
        yes, no, _ = st.columns([1, 1, 4])
        yes.button("Yes, delete it", type="primary", key="cmp_delete_yes", on_click=delete, args=(store, doomed["id"]))
        no.button("Cancel", key="cmp_delete_no", on_click=lambda: st.session_state.pop("confirm_delete", None))


# ---------------------------------------------------------------- sweep tab
@st.fragment(run_every=0.5)
def sweep_progress(job):
    st.progress(job.finished / job.total, text=f"Sweep **{job.name}**: {job.finished} of {job.total} runs done · "
                f"{time.perf_counter() - job.started:.0f} s" + (" · cancelling…" if job.cancelled else ""))
    st.button("Cancel sweep", icon="⏹️", key="sw_cancel", on_click=job.cancel, disabled=job.cancelled)
    if job.done:
        st.rerun()


def sweep_axis(column, n, base, exclude):
    options = [f for f in SWEEPABLE if f != exclude]
    default = {1: "lr", 2: "hidden"}[n]
    if n == 2:
        options = ["(none)", *options]
    field = column.selectbox("First hyperparameter" if n == 1 else "Second hyperparameter (optional)", options,
                             index=options.index(default) if default in options else 0, key=f"sw_field{n}")
    if field == "(none)":
        return None
    current = format_value(field, getattr(base, field))
    text = column.text_input(f"Values of {field}", value=cmp.SWEEP_EXAMPLES.get(field, current), key=f"sw_values{n}_{field}",
                             help="Separated by commas. Hidden layers: widths joined by '-' (16-16 is two layers "
                                  f"of 16; none is a linear model). The base config has {field} = {current}.")
    return field, parse_values(field, text)


def sweep_tab(store, summaries):
    base = st.session_state.get("config") or TrainConfig()
    source = "the Train page" if st.session_state.get("config") else "the defaults (open the Train page to change it)"
    st.markdown("Train a grid of configs in parallel worker processes; every run is saved, tagged with the sweep.")
    st.caption(f"Base config, from {source}: {DATASET_LABELS.get(base.dataset, base.dataset)} · hidden "
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
        st.error(f"The grid is not valid: {e}")
    name_col, workers_col, dask_col = st.columns([2, 1, 2])
    name = name_col.text_input("Sweep name", key="sw_name", placeholder="automatic: sweep-date-time")
    cores = default_workers()
    workers = workers_col.number_input("Worker processes", 1, 64, value=cores, key="sw_workers",
                                       help=f"This machine has {cores} core{'s' if cores != 1 else ''}.")
    scheduler = dask_col.text_input("Dask scheduler (optional)", key="sw_scheduler", placeholder="tcp://host:8786",
                                    help="Run the grid on a Dask distributed cluster instead of local processes. "
                                         "Its workers must be able to `import lab` (start them in this repository).")
    if grid is not None:
        sizes = " × ".join(str(len(v)) for v in grid.values)
        used = min(workers, len(grid.configs))
        where = (f"on the Dask cluster at {scheduler.strip()}" if scheduler.strip()
                 else f"in {used} worker process{'es' if used > 1 else ''}" if used > 1 else "in this process")
        st.caption(f"{len(grid.configs)} runs ({sizes}: {' × '.join(grid.names)}) {where}.")
    if st.button("Run sweep", type="primary", icon="▶️", key="sw_run", disabled=grid is None or running):
        name = name.strip() or time.strftime("sweep-%Y%m%d-%H%M%S")
        job = cmp.SweepJob(grid, store, name, workers=workers, scheduler=scheduler.strip() or None).start()
        st.session_state.sweep_job = job
        running = True
    if running:
        sweep_progress(job)
    elif job is not None:
        if st.session_state.get("sw_reported") is not job:  # once, when it has finished: show its heatmap
            st.session_state.sw_reported, st.session_state.sw_show = job, job.name
        saved = len(job.saved_ids())
        if job.error:
            st.error(f"Sweep **{job.name}**: {job.error}")
        elif job.cancelled:
            st.info(f"Sweep **{job.name}** was cancelled: {saved} of {job.total} runs saved.")
        else:
            st.success(f"Sweep **{job.name}**: {saved} runs in {job.elapsed:.1f} s.")
    sweep_results(store, summaries)


def sweep_results(store, summaries):
    sweeps = cmp.sweep_names(summaries)
    if not sweeps:
        st.caption("No sweeps saved yet.")
        return
    st.subheader("Sweep results")
    if st.session_state.get("sw_show") not in sweeps:
        st.session_state.sw_show = next(iter(sweeps))
    left, right = st.columns([3, 2])
    name = left.selectbox("Sweep", list(sweeps), key="sw_show", format_func=lambda s: f"{s} ({sweeps[s]} runs)")
    metric = right.segmented_control("Colour by", ["final_loss", "final_test_loss"], default="final_loss",
                                     required=True, key="sw_metric",
                                     format_func={"final_loss": "final train loss", "final_test_loss": "final test loss"}.get)
    runs = [r for r in summaries if r["sweep"] == name]
    view = cmp.sweep_view(runs, metric=metric)
    names = view["names"]
    label = "final train loss" if metric == "final_loss" else "final test loss"
    fig = heatmap_figure(view["x"], view["y"], view["z"], names[0], names[1] if len(names) > 1 else "",
                         title=f"{label.capitalize()} over the grid of {name}", z_title=label, text=view["text"])
    if len(names) == 1:
        fig.update_layout(height=260)  # one row of cells
    st.plotly_chart(fig, key="sw_heatmap")
    if any(status in ("diverged", "") for row in view["status"] for status in row):
        st.caption("Blank cells: runs that diverged (the loss became infinite) or were not run (a cancelled sweep).")
    ids = [r["id"] for r in runs]
    st.button(f"Compare these {len(ids)} runs", icon="📊", key="sw_compare", on_click=compare_sweep, args=(ids,))
    st.dataframe(cmp.sweep_table(runs, names), key="sw_table", hide_index=True, column_config={
        "link": st.column_config.LinkColumn("compare", display_text="open ↗"),
        "train loss": st.column_config.NumberColumn(format="%.4g"),
        "test loss": st.column_config.NumberColumn(format="%.4g"),
        "accuracy": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent")})


# ---------------------------------------------------------------- page
st.title("📊 Compare runs")
if "flash" in st.session_state:
    kind, message = st.session_state.pop("flash")
    (st.success if kind == "success" else st.error)(message)
try:
    store = RunStore()
    summaries = store.list()
except RunStoreError as e:
    st.error(f"The run store cannot be used: {e}")
    st.stop()

runs_pane, sweep_pane = st.tabs(["Runs", "Sweep"], key="compare_view", on_change="rerun")  # only the open one runs
if runs_pane.open is not False:
    with runs_pane:
        runs_tab(store, summaries)
if sweep_pane.open is not False:
    with sweep_pane:
        sweep_tab(store, summaries)
