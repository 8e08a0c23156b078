"""Compare: saved runs side by side — their curves (runs that differ only by seed as a mean with a ± std
band), what differs, hyperparameters against metrics, and what each net learned."""
import zlib

import streamlit as st

import ui
from data import DATASET_LABELS
from lab import compare
from lab import compare_figures as figures
from lab.config import TrainConfig
from lab.figures import result_figures, run_color
from lab.runs import STATUSES

st.set_page_config(page_title="Compare · micrograd", page_icon="📊", layout="wide")

MAX_SELECTED = compare.MAX_SELECTED
TEXT, NUMBER = st.column_config.TextColumn, st.column_config.NumberColumn
TABLE_CONFIG = {  # widths in px: the columns up to accuracy fit next to the sidebar; engine, created, sweep scroll in
    "id": NUMBER("#", format="%d", width=40), "name": TEXT("name", width=170), "dataset": TEXT("data", width=84),
    "architecture": TEXT("architecture", width=84), "activation": TEXT("activation", width=68),
    "optimizer": TEXT("optimizer", width=66), "lr": NUMBER("lr", format="%g", width=44),
    "steps": NUMBER("steps", width=50), "engine": TEXT("engine", width=56), "status": TEXT("status", width=74),
    "train loss": NUMBER("train loss", width=72), "test loss": NUMBER("test loss", width=66),  # ui.readable_numbers
    "accuracy": st.column_config.ProgressColumn("accuracy", min_value=0.0, max_value=1.0, format="percent", width=90),
    "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm", width=128),
    "sweep": TEXT("sweep", width=150)}


@st.cache_data(max_entries=32, show_spinner=False)
def figures_for(config_dict, params, prefix, columns):
    """A saved run's data figures in one of `columns` columns (compare.figure_problem says when not to draw them)."""
    data_figures = result_figures(TrainConfig.from_dict(config_dict), list(params), title_prefix=prefix)
    return {kind: figures.compact(fig, columns) for kind, fig in data_figures.items()}


# ---------------------------------------------------------------- the selection lives in the URL
def selected_ids():
    return compare.parse_ids(st.query_params.get("runs", ""))[0][:MAX_SELECTED]


def set_selection(ids, redraw_table=True):
    """Select these runs (the first MAX_SELECTED of them)."""
    if ids:
        st.query_params["runs"] = compare.format_ids(ids[:MAX_SELECTED])
    elif "runs" in st.query_params:
        del st.query_params["runs"]
    if redraw_table:  # the table shows a selection it did not make: draw it afresh
        st.session_state.table_version = st.session_state.get("table_version", 0) + 1


def on_table_select(key, shown_ids):
    picked = [shown_ids[row] for row in st.session_state[key].selection.rows]
    kept = [i for i in selected_ids() if i not in shown_ids or i in picked]  # filtered-out runs stay selected
    wanted = kept + [i for i in picked if i not in kept]
    if len(wanted) > MAX_SELECTED:
        st.session_state.flash = f"At most {MAX_SELECTED} runs are compared at once: the first {MAX_SELECTED} are kept."
    set_selection(wanted, redraw_table=len(wanted) > MAX_SELECTED)


# ---------------------------------------------------------------- parts of the page
def runs_table(store, summaries):
    """The runs table with its filters; returns the ids of the selected runs (kept in the URL)."""
    table = compare.runs_table(summaries)
    for run_id, problem in compare.odd_runs(summaries).items():
        st.warning(f"Run #{run_id} has an odd stored value: {ui.escape_markdown(problem)}. It is shown without it.")
    search, status, dataset = st.columns([3, 2, 2])
    text = search.text_input("Search", key="cmp_search", placeholder="name, sweep, architecture, #id…")
    counts = table["status"].value_counts()
    statuses = status.multiselect("Status", STATUSES, key="cmp_status", placeholder="any status",
                                  format_func=lambda s: f"{s} ({counts.get(s, 0)})")
    datasets = dataset.multiselect("Data", sorted(set(table["dataset"])), key="cmp_dataset",
                                   format_func=lambda d: DATASET_LABELS.get(d, d), placeholder="any dataset or CSV")
    shown = compare.filter_table(table, text, statuses, datasets)
    selected, warnings = compare.selection(st.query_params.get("runs", ""), set(table["id"]),
                                           unreadable={run_id for run_id, _ in store.unreadable})
    for warning in warnings:
        st.warning(warning)
    if warnings:
        set_selection(selected)
    shown_ids = [int(i) for i in shown["id"]]
    key = f"runs_table_{st.session_state.get('table_version', 0)}_{zlib.crc32(repr(shown_ids).encode())}"
    st.dataframe(ui.readable_numbers(shown, ["train loss", "test loss"]), key=key, hide_index=True,
                 column_config=TABLE_CONFIG, selection_mode="multi-row", height=min(38 + 35 * max(len(shown), 1), 420),
                 on_select=lambda: on_table_select(key, shown_ids),
                 selection_default={"selection": {"rows": [shown_ids.index(i) for i in selected if i in shown_ids]}})
    hidden, (left, right) = len([i for i in selected if i not in shown_ids]), st.columns([4, 1])
    left.caption(f"{len(shown)} of {len(table)} runs shown · **{len(selected)} selected**" + (f" ({hidden} hidden by "
                 "the filters)" if hidden else "")
                 + f" · tick up to {MAX_SELECTED} rows to compare them; click a column header to sort. The selection "
                 "is kept in the page address, so a comparison can be shared. " + compare.status_note(shown))
    right.button("Clear selection", key="cmp_clear", on_click=set_selection, args=([],), disabled=not selected,
                 width="stretch")
    return selected


def curves(runs):
    """The histories of the runs; returns whether seed groups are drawn as one (their mean)."""
    labels = ", ".join(ui.escape_markdown(compare.short_label(r, None)) for r in runs)
    st.markdown(f"Comparing {labels} · [link to this comparison]({compare.compare_link([r['id'] for r in runs])})")
    st.subheader("Curves")
    smoothing_col, log_col, x_col, group_col = st.columns([3, 2, 2, 2])
    smoothing = smoothing_col.slider("Smoothing", 0.0, 0.99, 0.0, 0.01, key="cmp_smoothing",
                                     help="Exponential moving average, as in TensorBoard: 0 shows the raw values. On "
                                     "a log scale it averages log10(value), so a loss that reaches 0 stays readable.")
    log_y = log_col.toggle("Log scale", key="cmp_log_y", help="For the loss, gradient norm and learning rate.")
    x_key = x_col.segmented_control("x axis", ["step", "time"], default="step", key="cmp_x", required=True,
                                    format_func={"step": "step", "time": "wall time (s)"}.get)
    grouped = compare.has_seed_groups(runs) and group_col.toggle("Group seeds", value=True, key="cmp_group",
                                              help="Runs that differ only by seed as one curve: their mean.")
    band = grouped and group_col.toggle("± std band", value=True, key="cmp_band")
    options = dict(x_key=x_key, smoothing=smoothing, log_y=log_y, grouped=grouped, band=band)
    st.plotly_chart(figures.curves_figure(runs, "loss", **options), key="cmp_loss")
    if not log_y and compare.loss_span(runs) > 3:
        st.caption(f"The losses span {compare.loss_span(runs):.0f} orders of magnitude: turn on the log scale.")
    groups = compare.groups_table(runs)
    if not groups.empty:
        st.markdown("**Seed groups**: runs that differ only by seed, each final metric as mean ± std over the seeds")
        st.table(ui.escaped_table(groups.set_index("group")))
    chart = st.segmented_control("More curves", figures.MORE_CHARTS, default="accuracy", key="cmp_more", required=True)
    st.plotly_chart(figures.curves_figure(runs, chart, **options), key="cmp_more_chart")
    return grouped


def parameters_and_metrics(runs, grouped):
    left, right = st.columns([3, 2]) if len(runs) <= 3 else (st.container(), st.container())  # many: full width
    with left:
        st.subheader("Parameters")
        show_all = st.toggle("Show all fields", key="cmp_show_all", help="Off: only the fields that differ.")
        diff = compare.config_diff(runs, show_all=show_all)
        if not diff.empty:
            st.table(compare.highlighted_diff(ui.escaped_table(diff)))
        st.caption(compare.diff_caption(runs, diff))
    with right:
        st.subheader("Final metrics")
        metric = st.selectbox("Metric", list(compare.METRICS), key="cmp_metric")
        st.plotly_chart(figures.metric_bars(runs, metric, grouped), key="cmp_bars")


def hyperparameters(runs, grouped):
    st.subheader("Hyperparameters against metrics")
    colour = st.selectbox("Colour lines by", figures.PARALLEL_METRICS, key="cmp_colour")
    st.plotly_chart(figures.parcoords_figure(runs, colour), key="cmp_parcoords")
    x_col, y_col = st.columns(2)
    field = x_col.selectbox("Hyperparameter (x)", figures.hyperparameter_fields(runs), key="cmp_scatter_x")
    metric = y_col.selectbox("Metric (y)", list(compare.METRICS), key="cmp_scatter_y")
    st.plotly_chart(figures.scatter_figure(runs, field, metric, grouped), key="cmp_scatter")


def side_by_side(runs):
    st.subheader("Data and predictions")
    shown = runs[:compare.MAX_SIDE_BY_SIDE]
    if len(runs) > len(shown):
        st.caption(f"Side by side: the first {len(shown)} of the {len(runs)} selected runs.")
    for column, run in zip(st.columns(len(shown)), shown):
        column.markdown(f':color[■]{{foreground="{run_color(run["id"])}"}} '
                        f"**{ui.escape_markdown(compare.short_label(run, None))}**")
        column.caption(f"{ui.escape_markdown(compare.progress_text(run))} · {compare.architecture(run)}"
                       f" · [re-run this config]({compare.train_link(run['config'])})")
        problem = compare.figure_problem(run)
        if problem:
            column.info(ui.escape_markdown(problem))
            continue
        data = figures_for(run["config"].to_dict(), tuple(run["params"]), f"#{run['id']} ", len(shown))
        for kind in ("boundary", "predictions"):
            if kind in data:
                column.plotly_chart(data[kind], key=f"cmp_{kind}_{run['id']}")


# ---------------------------------------------------------------- the page
st.title("📊 Compare runs")
if "flash" in st.session_state:  # from the last run's table selection
    st.warning(st.session_state.pop("flash"))
store, summaries = ui.stored_runs()
if not summaries:
    st.info("**No saved runs yet.** Train a network on the **Train** page (every run is saved), run a sweep on the "
            "**Sweep** page, or import a JSON export on the **Runs** page. Runs then appear here to compare.",
            icon="📭")
    st.markdown("🏋️ [Open the Train page](Train) · 🗂️ [Import runs](Runs)")
    st.stop()
runs, unreadable = compare.load_runs(store, runs_table(store, summaries))
for run_id, problem in unreadable.items():
    st.warning(f"Run #{run_id} cannot be read and is left out: {ui.escape_markdown(problem)}")
if not runs:
    st.info("Tick one or more rows in the table to compare those runs.", icon="☝️")
    st.stop()
grouped = curves(runs)
parameters_and_metrics(runs, grouped)
if len(runs) > 1:
    hyperparameters(runs, grouped)
side_by_side(runs)
st.markdown("Replay on the Train page (the boundary, every neuron and the weights, step by step): "
            + " · ".join(f"[run #{run['id']}](Train?replay={run['id']})" for run in runs))
st.page_link("pages/6_Runs.py", label="Export these runs, or rename or delete one", icon="🗂️",
             query_params={"runs": compare.format_ids([r["id"] for r in runs])})
