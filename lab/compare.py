"""UI-free helpers of the Compare and Sweep pages: the runs table, the selection in the URL, config
diffs, seed groups and their spread, final metrics, and sweep heatmaps. No Streamlit here (the
figures are in compare_figures.py).

Runs that differ only by their seed are one experiment repeated: they are grouped (`seed_groups`)
and shown as a mean with its spread, as W&B, TensorBoard and Aim do, since one seed's luck says little.

Everything in the store may have come from an imported file, so nothing here trusts it: names are
escaped for plotly, odd values are flagged per run instead of failing the page, and a run's
`csv_path` is never opened (its data figures are simply not redrawn)."""
import html
import math
import re
from collections import Counter
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd

from .config import TrainConfig
from .runs import RunStoreError
from .sweep import format_value

TABLE_COLUMNS = ["id", "name", "dataset", "architecture", "activation", "optimizer", "lr", "steps", "status",
                 "train loss", "test loss", "accuracy", "engine", "created", "sweep"]
STATUS_NOTES = {  # what a status means, said under the table when such runs are listed
    "running": "still training: curves and weights end at the last checkpoint (reload the page to see more)",
    "interrupted": "their process ended before they finished (killed, or the machine stopped): the curves and "
                   "weights of the last checkpoint are kept",
    "stopped": "stopped with the Stop button before the last step",
    "diverged": "the loss blew up to a huge or non-finite value"}
CONFIG_FIELDS = [f.name for f in fields(TrainConfig)]
METRICS = {  # label on the page -> a run summary's key, or else the history key whose last value it is
    "final train loss": "final_loss",
    "final test loss": "final_test_loss",
    "final accuracy (train)": "final_accuracy",
    "final test accuracy": "test_accuracy",
    "training time (s)": "elapsed",
}
GROUP_COLUMNS = {"final train loss": "train loss", "final test loss": "test loss",  # METRICS, as groups_table's columns
                 "final accuracy (train)": "train accuracy", "final test accuracy": "test accuracy",
                 "training time (s)": "time (s)"}
MAX_SIDE_BY_SIDE = 4
MAX_DIFF_COLUMNS = 6  # runs in the parameters table as columns; more: one row per run
MAX_SELECTED = 20    # runs a link or a selection compares at once
MAX_ID_DIGITS = 18   # a longer "id" is junk (and would overflow SQLite's integers)
SWEEP_EXAMPLES = {  # values offered when a field is picked for a sweep
    "lr": "0.01, 0.1, 0.5", "hidden": "4, 8, 16-16", "seed": "0, 1, 2", "data_seed": "0, 1, 2",
    "activation": "tanh, relu, sigmoid", "optimizer": "sgd, adam", "steps": "50, 100, 200", "l2": "0, 0.0001, 0.01",
    "momentum": "0, 0.5, 0.9", "batch_size": "0, 16, 32", "n": "50, 100, 200", "noise": "0.05, 0.1, 0.2",
    "lr_schedule": "constant, linear, cosine", "loss": "hinge, bce, mse"}


# ---------------------------------------------------------------- numbers and names
def format_number(value, digits=4):
    """A number readable at any size in a few characters: 0.5, 0.0123, 3.3e10, 1.2e-7, – (none)."""
    if value is None:
        return "–"
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value != 0 and not 1e-3 <= abs(value) < 1e5:
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:.0f}" if abs(value) >= 10 ** digits else f"{value:.{digits}g}"


def architecture(run):
    return run["config"].architecture(run["n_features"])


def data_source(run):
    """Where a run's data came from: the generated dataset's name, or the CSV file's ("CSV wavy.csv")."""
    if run["config"].dataset != "csv":
        return run["config"].dataset
    name = run.get("csv_name")
    return f"CSV {name}" if name else "CSV (file not kept)"


# ---------------------------------------------------------------- the runs table

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
        rows.append({"id": r["id"], "name": str(r["name"]), "dataset": data_source(r),
                     "architecture": architecture(r), "activation": config.activation, "optimizer": config.optimizer,
                     "lr": config.lr, "steps": r["steps_done"], "engine": config.engine, "status": str(r["status"]),
                     "train loss": _number(r["final_loss"]), "test loss": _number(r["final_test_loss"]),
                     "accuracy": _number(r["final_accuracy"]), "created": created_time(r["created"]),
                     "sweep": str(r["sweep"] or "")})
    df = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    for col in ("train loss", "test loss", "accuracy"):
        df[col] = df[col].astype(float)
    df["created"] = pd.to_datetime(df["created"])
    return df


def progress_text(run):
    """How far a run got, in words: 'finished · 100 steps', 'still training · 30 of 100 steps so far'."""
    done, steps = run["steps_done"], run["config"].steps
    return {"finished": f"finished · {done} steps",
            "running": f"still training · {done} of {steps} steps so far (its last checkpoint)",
            "interrupted": f"interrupted at step {done} of {steps} (its process ended; the last checkpoint is kept)",
            "stopped": f"stopped at step {done} of {steps}",
            "diverged": f"diverged after {done} steps"}.get(run["status"], f"{run['status']} · {done} steps")


def status_note(table):
    """A line under the runs table saying what its unusual statuses mean ("" when every run finished)."""
    counts = table["status"].value_counts()
    parts = [f"{counts[s]} {s} ({note})" for s, note in STATUS_NOTES.items() if counts.get(s, 0)]
    return "Runs " + "; ".join(parts) + "." if parts else ""


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


def own_name(run):
    """A run's name without the name of its sweep, which all the sweep's runs share:
    'lr=0.1 seed=1 · sweep-20261129-0730' -> 'lr=0.1 seed=1' (older sweeps put the sweep first)."""
    name, sweep = str(run["name"]), run.get("sweep")
    if sweep and name.endswith(f" · {sweep}") and len(name) > len(sweep) + 3:
        return name[:-len(sweep) - 3]
    if sweep and name.startswith(sweep + " "):
        return name[len(sweep) + 1:]
    return name


def cut(text, width):
    """Text cut to `width` characters with an ellipsis (None: not cut)."""
    return text if width is None or len(text) <= width else text[:width - 1] + "…"


def short_label(run, width=22):
    """'#3 name' cut to `width` characters (None: not cut), for legends and headers. A sweep's runs
    drop the sweep's name: '#31 lr=0.1 hidden=8'."""
    return cut(f"#{run['id']} {own_name(run)}", width)


def loss_span(runs):
    """Orders of magnitude between the smallest and largest positive train loss of the runs."""
    values = [v for r in runs for v in r["history"]["train_loss"] if v is not None and v > 0 and math.isfinite(v)]
    return math.log10(max(values) / min(values)) if values else 0.0


def plotly_text(text):
    """User text for a plotly label: plotly draws some HTML tags (<b>, <a href>) in names and titles."""
    return html.escape(str(text), quote=False)


# ---------------------------------------------------------------- diffs and metrics
def _shown(run, name):
    """A config field's value in the parameters table: as people write it; an uploaded CSV by its file's
    name, not its hash."""
    value = getattr(run["config"], name)
    if name == "csv_path":
        return Path(value).name if value else ""
    if name == "csv_upload":
        return data_source(run) if value else ""
    return format_value(name, value)


def differing_fields(configs):
    """Config fields whose value is not the same in every config, in TrainConfig order."""
    return [name for name in CONFIG_FIELDS if len({getattr(c, name) for c in configs}) > 1]


def config_diff(runs, show_all=False):
    """Parameters table: one row per config field, one column per run. Only the fields that
    differ, unless show_all (or fewer than two runs, where nothing can differ)."""
    configs = [r["config"] for r in runs]
    names = CONFIG_FIELDS if show_all or len(runs) < 2 else differing_fields(configs)
    table = pd.DataFrame({short_label(r, 30): [_shown(r, n) for n in names] for r in runs},
                         index=pd.Index(names, name="field"))
    return table


def diff_caption(runs, table):
    """What the parameters table shows, said under it."""
    if len(runs) == 1:
        return "One run: all of its settings. Select more runs to see only what differs."
    if table.empty:
        return "These runs have the same config in every field (turn on *Show all fields* to see it)."
    return "Highlighted: the values that differ from the most common one in their row (the first run's, in a tie)."


def differing_cells(table):
    """Which cells of a config_diff table to highlight: in each row, those whose value is not the row's
    most common one (the first run's value when several are as common), so the odd ones out stand out."""
    def row_mask(row):
        counts = Counter(row)
        usual = next(value for value in row if counts[value] == max(counts.values()))
        return row != usual
    return table.apply(row_mask, axis=1) if not table.empty else table.astype(bool)


def highlighted_diff(table, color="rgba(255, 196, 0, 0.35)"):
    """The config_diff table as a pandas Styler for st.table (which wraps long text rather than cut
    it), its differing cells (differing_cells) with a background. With more than MAX_DIFF_COLUMNS
    runs it is turned to one row per run, so that it grows down the page rather than off its side."""
    mask = differing_cells(table).replace({True: f"background-color: {color}", False: ""})
    if len(table.columns) > MAX_DIFF_COLUMNS:
        table, mask = table.T.rename_axis("run"), mask.T
    return table.style.apply(lambda _: mask.to_numpy(), axis=None)


# ---------------------------------------------------------------- seed groups
SEED_IN_NAME = re.compile(r"(^|\s)seed=\d+(?=\s|$)")


def seed_key(config):
    """What runs of one seed group share: their whole config but the seed."""
    return config.replace(seed=0)


def seed_groups(runs):
    """Runs that differ only by their seed, together: [[run, ...], ...], in the order of each group's
    first run, a group's runs by seed; a run with no such sibling is a group of one."""
    groups = {}
    for r in runs:
        groups.setdefault(seed_key(r["config"]), []).append(r)
    return [sorted(group, key=lambda r: r["config"].seed) for group in groups.values()]


def has_seed_groups(runs):
    """Whether two of the runs differ only by their seed."""
    return any(len(group) > 1 for group in seed_groups(runs))


def group_label(group, width=36):
    """A legend label: the run's short label for a group of one; else the name the runs share once
    their 'seed=N' is taken out (the ids when names differ), and how many seeds: 'lr=0.1 (3 seeds)'."""
    if len(group) == 1:
        return short_label(group[0], width)
    names = {" ".join(SEED_IN_NAME.sub(" ", own_name(r)).split()) for r in group}
    name = names.pop() if len(names) == 1 and "" not in names else ",".join(f"#{r['id']}" for r in group)
    distinct_seeds = len({r["config"].seed for r in group}) == len(group)  # else some are repeats of one seed
    suffix = f" ({len(group)} {'seeds' if distinct_seeds else 'runs'})"
    return cut(name, None if width is None else max(width - len(suffix), 8)) + suffix


def spread(values):
    """(mean, sample standard deviation, n) of the finite numbers in `values`; the deviation is None
    for fewer than two, the mean None for none."""
    finite = [float(v) for v in values if _number(v) is not None and math.isfinite(v)]
    if not finite:
        return None, None, 0
    mean = sum(finite) / len(finite)
    if len(finite) < 2:
        return mean, None, 1
    return mean, math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1)), len(finite)


def spread_text(values, digits=3):
    """'0.123 ± 0.0045' (a single value alone, '–' for none): how a group's spread reads in a table."""
    mean, std, n = spread(values)
    if std is None:
        return format_number(mean, digits)
    return f"{format_number(mean, digits)} ± {format_number(std, 2)}"


def groups_table(runs):
    """One row per seed group of two or more runs: its runs, seeds, and each final metric as
    'mean ± std' over the seeds. Empty when no runs share a config but for the seed."""
    rows = []
    for group in seed_groups(runs):
        if len(group) < 2:
            continue
        row = {"group": group_label(group, None), "runs": " ".join(f"#{r['id']}" for r in group),
               "seeds": ", ".join(str(r["config"].seed) for r in group), "n": len(group)}
        for label, column in GROUP_COLUMNS.items():
            row[column] = spread_text(metric_values(group, label))
        rows.append(row)
    return pd.DataFrame(rows, columns=["group", "runs", "seeds", "n", *GROUP_COLUMNS.values()])


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
        value = _number(value)
        out.append(value if value is not None and math.isfinite(value) else None)
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


# ---------------------------------------------------------------- sweeps
def sweep_names(summaries):
    """{sweep name: number of runs}, newest sweep first (summaries come newest first)."""
    out = {}
    for r in summaries:
        if r["sweep"]:
            out[r["sweep"]] = out.get(r["sweep"], 0) + 1
    return out


def sort_key(value):
    """Axis order: numbers by value, hidden layers by widths, words alphabetically."""
    if isinstance(value, (int, float)):
        return (0, value, ())
    return (1, 0, value) if isinstance(value, tuple) else (2, 0, (str(value),))


def sweep_axes(store, name):
    """The fields a sweep varied, in its grid's order, as the run store recorded them (None for a sweep saved
    before grids were kept). Repeats over seeds are not an axis: they are grouped."""
    grid = store.sweep_grid(name)
    return None if grid is None else [field for field, _ in grid if field != "seed" or len(grid) == 1]


def _cells(runs, names):
    """{(value of names[0], value of names[1] or None): [runs of that cell, oldest first]}."""
    cells = {}
    for r in sorted(runs, key=lambda r: r["id"]):
        key = tuple(getattr(r["config"], n) for n in names)
        cells.setdefault(key if len(names) > 1 else (key[0], None), []).append(r)
    return cells


def cell_text(cell, metric):
    """A heatmap cell's label: the metric's mean over the cell's runs, '± std' when it ran with several
    seeds, and what did not finish ('diverged', '1 of 3 diverged', '(stopped)', 'not run')."""
    if not cell:
        return "not run"
    diverged = sum(r["status"] == "diverged" for r in cell)
    counted = [r.get(metric) for r in cell if r["status"] != "diverged"]
    if diverged == len(cell):
        return "diverged"
    text = spread_text(counted) if len(cell) > 1 else format_number(_number(counted[0]), 3)
    if diverged:
        text += f"<br>{diverged} of {len(cell)} diverged"
    others = sorted({r["status"] for r in cell} - {"finished", "diverged"})
    return text + "".join(f" ({status})" for status in others)


def sweep_view(runs, names=None, metric="final_loss"):
    """The grid of a sweep's runs, for a heatmap.

    names: the swept fields, in the grid's order (sweep_axes); when None (an old sweep), the config
    fields that differ, in TrainConfig's order; at most two are drawn. Returns {"names", "x", "y",
    "z", "ids", "status", "text", "seeds"}: x and y are the axis values as labels (y is [""] for a
    one-field sweep); z[j][i] is the mean of the metric over the cell's runs (several when the sweep
    repeated each cell over seeds; a diverged run has no value: its last finite loss would swamp the
    colour scale); ids[j][i] the cell's run ids (oldest first, [] where none ran), status[j][i]
    their statuses, text[j][i] the cell's label (cell_text). seeds: the most runs of one cell."""
    configs = [r["config"] for r in runs]
    if names is None:
        names = sorted(differing_fields(configs), key=CONFIG_FIELDS.index)[:2] or ["seed"]
    names = list(names)
    axes = [sorted({getattr(c, n) for c in configs}, key=sort_key) for n in names]
    x_values, y_values = axes[0], (axes[1] if len(axes) > 1 else [None])
    cells = _cells(runs, names)
    grid = [[cells.get((x, y), []) for x in x_values] for y in y_values]
    z = [[spread([r.get(metric) for r in cell if r["status"] != "diverged"])[0] for cell in row] for row in grid]
    return {"names": names, "x": [format_value(names[0], v) for v in x_values],
            "y": [format_value(names[1], v) for v in y_values] if len(names) > 1 else [""],
            "z": z, "ids": [[[r["id"] for r in cell] for cell in row] for row in grid],
            "status": [[[r["status"] for r in cell] for cell in row] for row in grid],
            "text": [[cell_text(cell, metric) for cell in row] for row in grid],
            "seeds": max((len(cell) for cell in cells.values()), default=0)}


def sweep_caption(view):
    """What the heatmap's cells show, said under it."""
    parts = []
    if view["seeds"] > 1:
        parts.append(f"Each cell is the mean over its runs ({view['seeds']} seeds), ± their standard deviation.")
    if any(value is None for row in view["z"] for value in row):
        parts.append("Blank cells: runs that diverged (the loss blew up to a huge or non-finite value) or were not "
                     "run (a cancelled sweep).")
    return " ".join(parts)


def sweep_table(runs, names):
    """One row per cell of a sweep: the swept values, its runs, their statuses, the final metrics
    (the mean over the cell's seeds, with '± std' columns when cells ran with several seeds) and a
    link comparing the cell's runs."""
    cells = _cells(runs, names)
    repeated = any(len(cell) > 1 for cell in cells.values())
    columns = [*names, "runs", "status", "train loss", "test loss", "accuracy"]
    if repeated:
        columns[-3:] = ["train loss", "± train loss", "test loss", "± test loss", "accuracy", "± accuracy"]
    rows = []
    for key in sorted(cells, key=lambda k: tuple(sort_key(v) for v in k[:len(names)])):
        cell = cells[key]
        row = {n: format_value(n, v) for n, v in zip(names, key)}
        row.update({"runs": " ".join(f"#{r['id']}" for r in cell),
                    "status": ", ".join(f"{n} {s}" if len(cell) > 1 else s for s, n in
                                        Counter(r["status"] for r in cell).items())})
        for column, key_name in (("train loss", "final_loss"), ("test loss", "final_test_loss"),
                                 ("accuracy", "final_accuracy")):
            mean, std, _ = spread([r[key_name] for r in cell if r["status"] != "diverged"])
            row[column] = mean
            if repeated:
                row[f"± {column}"] = std
        row["link"] = compare_link([r["id"] for r in cell][:MAX_SELECTED])
        rows.append(row)
    return pd.DataFrame(rows, columns=[*columns, "link"])

