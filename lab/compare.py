"""UI-free helpers of the Compare and Sweep pages: the runs table, the selection in the URL, config
diffs, final metrics, sweep heatmaps, and a sweep running in a background thread. No Streamlit here.

Everything in the store may have come from an imported file, so nothing here trusts it: names are
escaped for plotly, odd values are flagged per run instead of failing the page, and a run's
`csv_path` is never opened (its data figures are simply not redrawn)."""
import html
import math
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd

from .config import TrainConfig
from .figures import run_color
from .runs import RunStoreError
from .sweep import format_value, run_sweep

TABLE_COLUMNS = ["id", "name", "dataset", "architecture", "activation", "optimizer", "lr", "steps", "status",
                 "train loss", "test loss", "accuracy", "created", "sweep"]
CONFIG_FIELDS = [f.name for f in fields(TrainConfig)]
METRICS = {  # label on the page -> a run summary's key, or else the history key whose last value it is
    "final train loss": "final_loss",
    "final test loss": "final_test_loss",
    "final accuracy (train)": "final_accuracy",
    "final test accuracy": "test_accuracy",
    "training time (s)": "elapsed",
}
MAX_SIDE_BY_SIDE = 4
MAX_SELECTED = 20    # runs a link or a selection compares at once
MAX_ID_DIGITS = 18   # a longer "id" is junk (and would overflow SQLite's integers)
SWEEP_EXAMPLES = {  # values offered when a field is picked for a sweep
    "lr": "0.01, 0.1, 0.5", "hidden": "4, 8, 16-16", "seed": "0, 1, 2", "data_seed": "0, 1, 2",
    "activation": "tanh, relu, sigmoid", "optimizer": "sgd, adam", "steps": "50, 100, 200", "l2": "0, 0.0001, 0.01",
    "momentum": "0, 0.5, 0.9", "batch_size": "0, 16, 32", "n": "50, 100, 200", "noise": "0.05, 0.1, 0.2",
    "lr_schedule": "constant, linear, cosine", "loss": "hinge, bce, mse"}


# ---------------------------------------------------------------- the runs table
def architecture(run):
    return run["config"].architecture(run["n_features"])


def created_time(value):
    """A run's `created` as a datetime, or None when it is not a time (e.g. 1e20 in an imported file)."""
    try:
        return datetime.fromtimestamp(float(value))
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _number(value):
    """A stored metric as a float; anything that is not a number is shown as missing."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def runs_table(summaries):
    """One row per run summary (RunStore.list()), in the given order, with the table's columns.
    An odd stored value shows as missing (odd_runs says which and why), never breaks the table."""
    rows = []
    for r in summaries:
        config = r["config"]
        rows.append({"id": r["id"], "name": str(r["name"]), "dataset": config.dataset, "architecture": architecture(r),
                     "activation": config.activation, "optimizer": config.optimizer, "lr": config.lr,
                     "steps": r["steps_done"], "status": str(r["status"]), "train loss": _number(r["final_loss"]),
                     "test loss": _number(r["final_test_loss"]), "accuracy": _number(r["final_accuracy"]),
                     "created": created_time(r["created"]), "sweep": str(r["sweep"] or "")})
    df = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    for col in ("train loss", "test loss", "accuracy"):
        df[col] = df[col].astype(float)
    df["created"] = pd.to_datetime(df["created"])
    return df


def odd_runs(summaries):
    """{run id: what is odd about its stored summary}, for values the table cannot show."""
    odd = {}
    for r in summaries:
        problems = []
        if created_time(r["created"]) is None:
            problems.append(f"its creation time {str(r['created'])[:30]!r} is not a date")
        for key in ("final_loss", "final_test_loss", "final_accuracy"):
            if r[key] is not None and _number(r[key]) is None:
                problems.append(f"its {key.replace('_', ' ')} {str(r[key])[:30]!r} is not a number")
        if problems:
            odd[r["id"]] = " and ".join(problems)
    return odd


def load_runs(store, ids):
    """(full records of the runs, {id: why it could not be read}): one unreadable run does not stop the others."""
    runs, problems = [], {}
    for run_id in ids:
        try:
            runs.append(store.get(run_id))
        except (RunStoreError, ValueError, TypeError, KeyError) as e:  # ConfigError and bad JSON are ValueErrors
            problems[run_id] = str(e)[:200]
    return runs, problems


def filter_table(df, text="", statuses=(), datasets=()):
    """Rows whose name, sweep, dataset, architecture, activation or optimizer contain every word of
    `text` (any case), with a status in `statuses` and a dataset in `datasets` (empty: any)."""
    keep = pd.Series(True, index=df.index)
    if statuses:
        keep &= df["status"].isin(list(statuses))
    if datasets:
        keep &= df["dataset"].isin(list(datasets))
    words = str(text).lower().split()
    if words:
        haystack = (df["name"] + " " + df["sweep"] + " " + df["dataset"] + " " + df["architecture"] + " "
                    + df["activation"] + " " + df["optimizer"] + " #" + df["id"].astype(str)).str.lower()
        for word in words:
            keep &= haystack.str.contains(word, regex=False)
    return df[keep].reset_index(drop=True)


# ---------------------------------------------------------------- the selection and links
def parse_ids(text):
    """'3,7, 3' -> ([3, 7], []); junk is returned apart: '3,x' -> ([3], ['x'])."""
    ids, bad = [], []
    for part in str(text or "").replace(" ", ",").split(","):
        if not part:
            continue
        if part.lstrip("#").isdigit() and len(part.lstrip("#")) <= MAX_ID_DIGITS:
            value = int(part.lstrip("#"))
            if value not in ids:
                ids.append(value)
        else:
            bad.append(part)
    return ids, bad


def selection(text, known, unreadable=()):
    """(the run ids to compare, warnings) from a link's `runs=` text: at most MAX_SELECTED, and only
    runs in `known` (the store's ids); `unreadable` ids are left out without a warning (the page has
    already said why)."""
    ids, warnings = parse_ids(text)[0], []
    if len(ids) > MAX_SELECTED:
        warnings.append(f"The link names {len(ids)} runs: the first {MAX_SELECTED} are compared "
                        f"(at most {MAX_SELECTED} at once).")
        ids = ids[:MAX_SELECTED]
    missing = [i for i in ids if i not in known and i not in unreadable]
    if missing:
        plural = len(missing) > 1
        warnings.append(f"Run{'s' if plural else ''} {', '.join(f'#{i}' for i in missing)} from the link "
                        f"{'are' if plural else 'is'} not in the store (deleted?) and {'were' if plural else 'was'} "
                        "left out.")
    return [i for i in ids if i in known], warnings


def import_runs(store, content):
    """Import a JSON export's bytes into the store: (new run ids, None) or ([], why it was refused)."""
    try:
        return store.import_json(content.decode("utf-8")), None
    except UnicodeDecodeError:
        return [], "it is not a text file: expected a JSON export"
    except RecursionError:
        return [], "it is nested too deeply to be a runs export"
    except RunStoreError as e:
        return [], str(e)


def format_ids(ids):
    return ",".join(str(i) for i in ids)


def compare_link(ids):
    return "Compare?" + urlencode({"runs": format_ids(ids)}, safe=",")


def train_link(config):
    """The Train page with this config in its URL ("re-run this config")."""
    return "Train?" + urlencode(config.to_query())


def run_label(run):
    return f"#{run['id']} {run['name']}"


def short_label(run, width=22):
    """'#3 name' cut to `width` characters (None: not cut), for legends and headers. A sweep's runs
    drop the sweep's name, which they share: '#31 lr=0.1 hidden=8'."""
    name, sweep = run["name"], run.get("sweep")
    if sweep and name.startswith(sweep + " "):
        name = name[len(sweep) + 1:]
    label = f"#{run['id']} {name}"
    return label if width is None or len(label) <= width else label[:width - 1] + "…"


def legend_below(fig, n_entries):
    """Several runs: the legend under the plot, the plot taller by the legend's rows. Many runs: a
    scrolling legend at the right instead."""
    if n_entries > 12:
        fig.update_layout(height=560, margin=dict(l=60, r=20, t=50, b=50),
                          legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02))
        return fig
    rows = math.ceil(n_entries / 3)
    fig.update_layout(height=400 + 22 * rows, margin=dict(l=60, r=20, t=50, b=90 + 22 * rows),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0,
                                  entrywidth=0.33, entrywidthmode="fraction"))
    return fig


def loss_span(runs):
    """Orders of magnitude between the smallest and largest positive train loss of the runs."""
    values = [v for r in runs for v in r["history"]["train_loss"] if v is not None and v > 0 and math.isfinite(v)]
    return math.log10(max(values) / min(values)) if values else 0.0


def plotly_text(text):
    """User text for a plotly label: plotly draws some HTML tags (<b>, <a href>) in names and titles."""
    return html.escape(str(text), quote=False)


def curves(runs):
    """loss_figure() input: one curve per run, coloured by run_color(id)."""
    return [{"name": plotly_text(short_label(r, 36)), "history": r["history"], "color": run_color(r["id"])}
            for r in runs]


# ---------------------------------------------------------------- diffs and metrics
def _shown(name, value):
    if name == "csv_path":
        return Path(value).name if value else ""
    return format_value(name, value)


def differing_fields(configs):
    """Config fields whose value is not the same in every config, in TrainConfig order."""
    return [name for name in CONFIG_FIELDS if len({getattr(c, name) for c in configs}) > 1]


def config_diff(runs, show_all=False):
    """Parameters table: one row per config field, one column per run. Only the fields that
    differ, unless show_all (or fewer than two runs, where nothing can differ)."""
    configs = [r["config"] for r in runs]
    names = CONFIG_FIELDS if show_all or len(runs) < 2 else differing_fields(configs)
    table = pd.DataFrame({short_label(r, 30): [_shown(n, getattr(r["config"], n)) for n in names] for r in runs},
                         index=pd.Index(names, name="field"))
    return table


def metric_values(runs, label):
    """The final value of a METRICS entry for each run (None where it does not apply)."""
    key = METRICS[label]
    out = []
    for r in runs:
        if key in r:
            value = r[key]
        else:
            values = [v for v in r["history"].get(key, []) if v is not None]
            value = values[-1] if values else None
        out.append(value if value is None or math.isfinite(value) else None)
    return out


def figure_problem(run):
    """Why the data figures of a run cannot be drawn (None when they can).

    A CSV run's data is redrawn only from the copy the run store keeps of the upload (named by its
    content hash); a stored or imported config never names a file this page would open."""
    config = run["config"]
    if config.dataset == "csv" and not run.get("data_available"):
        return ("This run trained on a CSV file that the run store does not keep (an imported run, or one from "
                "before uploads were kept), so its decision boundary and predictions are not redrawn. Its curves "
                "are above.")
    params = run["params"]
    if run["status"] == "diverged" or not all(isinstance(p, (int, float)) and math.isfinite(p) for p in params):
        return ("This run diverged (its loss blew up to a huge or non-finite value): there is no trained network "
                "to draw.")
    return None


def compact(fig, columns):
    """A result figure fitted to one of `columns` side-by-side columns: legend below, no colour bar
    when the columns are narrow."""
    fig.update_layout(height=400, margin=dict(l=50, r=10, t=50, b=60), title_font_size=14,
                      legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0))
    if columns > 2:
        fig.update_traces(showscale=False, selector=dict(type="contour"))
    return fig


# ---------------------------------------------------------------- sweeps
def sweep_names(summaries):
    """{sweep name: number of runs}, newest sweep first (summaries come newest first)."""
    out = {}
    for r in summaries:
        if r["sweep"]:
            out[r["sweep"]] = out.get(r["sweep"], 0) + 1
    return out


def _sort_key(value):
    """Axis order: numbers by value, hidden layers by widths, words alphabetically."""
    if isinstance(value, (int, float)):
        return (0, value, ())
    return (1, 0, value) if isinstance(value, tuple) else (2, 0, (str(value),))


def sweep_axes(store, name):
    """The fields a sweep varied, in its grid's order, as the run store recorded them (None for a sweep saved
    before grids were kept). Repeats over seeds are not an axis: they are grouped."""
    grid = store.sweep_grid(name)
    return None if grid is None else [field for field, _ in grid if field != "seed" or len(grid) == 1]


def sweep_view(runs, names=None, metric="final_loss"):
    """The grid of a sweep's runs, for a heatmap.

    names: the swept fields, in the grid's order (sweep_axes); when None (an old sweep), the config
    fields that differ, in TrainConfig's order; at most two are drawn. Returns {"names", "x", "y", "z", "ids", "status"}: x and y are the axis values as
    labels (y is [""] for a one-field sweep), z[j][i] the metric of the cell, ids[j][i] its run
    id (None where no run), text[j][i] its label ("diverged" has no value: its last finite loss
    would swamp the colour scale). When one cell ran more than once, the newest run is shown."""
    configs = [r["config"] for r in runs]
    if names is None:
        names = sorted(differing_fields(configs), key=CONFIG_FIELDS.index)[:2] or ["seed"]
    names = list(names)
    axes = [sorted({getattr(c, n) for c in configs}, key=_sort_key) for n in names]
    x_values, y_values = axes[0], (axes[1] if len(axes) > 1 else [None])
    z = [[None] * len(x_values) for _ in y_values]
    ids = [[None] * len(x_values) for _ in y_values]
    status = [[""] * len(x_values) for _ in y_values]
    text = [["not run"] * len(x_values) for _ in y_values]
    for r in sorted(runs, key=lambda r: r["id"]):
        config = r["config"]
        i = x_values.index(getattr(config, names[0]))
        j = y_values.index(getattr(config, names[1])) if len(names) > 1 else 0
        value = r.get(metric)
        finite = value is not None and math.isfinite(value) and r["status"] != "diverged"
        z[j][i] = value if finite else None
        ids[j][i], status[j][i] = r["id"], r["status"]
        text[j][i] = "diverged" if r["status"] == "diverged" else (f"{value:.3g}" if finite else "–") + \
            (" (stopped)" if r["status"] == "stopped" else "")
    return {"names": names, "x": [format_value(names[0], v) for v in x_values],
            "y": [format_value(names[1], v) for v in y_values] if len(names) > 1 else [""],
            "z": z, "ids": ids, "status": status, "text": text}


def sweep_table(runs, names):
    """One row per run of a sweep: the swept values, status, final metrics and a link to it."""
    rows = []
    for r in sorted(runs, key=lambda r: tuple(_sort_key(getattr(r["config"], n)) for n in names)):
        row = {n: format_value(n, getattr(r["config"], n)) for n in names}
        row.update({"run": f"#{r['id']}", "status": r["status"], "train loss": r["final_loss"],
                    "test loss": r["final_test_loss"], "accuracy": r["final_accuracy"],
                    "link": compare_link([r["id"]])})
        rows.append(row)
    return pd.DataFrame(rows, columns=[*names, "run", "status", "train loss", "test loss", "accuracy", "link"])
