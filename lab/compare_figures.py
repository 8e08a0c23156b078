"""Plotly figures of the Compare page: the curves of many runs, with runs that differ only by seed
drawn as one mean curve and a ± std band; hyperparameters against final metrics (parallel
coordinates and a scatter); the final metrics of runs and seed groups. Pure functions, no Streamlit.

Two choices, said on the charts too:
- On a log axis, curves are smoothed in log space (an average of log10(value)) and a value of 0 is
  drawn at a power of ten a decade under the smallest positive value. A plain moving average of a loss that reaches
  0 decays like 0.9**k and, drawn on a log axis, plunges to 1e-54 although no loss was that small.
  A seed group's band on a log axis is likewise ± 1 std of log10(value) around its geometric mean.
- Parallel coordinates have only linear numeric axes: categories (activation, hidden "16-16") sit at
  0, 1, 2… with their names as tick labels, and values that span decades are drawn as log10(value)
  with ticks labelled in the values themselves."""
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb

from .compare import (CONFIG_FIELDS, GROUP_COLUMNS, cut, data_source, differing_fields, format_number, group_label,
                      metric_values, plotly_text, seed_groups, short_label, sort_key, spread, spread_text)
from .figures import LAYOUT, run_color
from .sweep import format_value

CHARTS = {  # chart -> title, y axis title, whether a log axis makes sense, [(history key, legend suffix, dash)]
    "loss": ("Loss: train (solid) and test (dotted)", "loss", True,
             [("train_loss", "train", "solid"), ("test_loss", "test", "dot")]),
    "accuracy": ("Accuracy: train (solid) and test (dotted)", "accuracy", False,
                 [("accuracy", "train", "solid"), ("test_accuracy", "test", "dot")]),
    "gradient norm": ("Gradient norm (of all weights, before each update)", "gradient norm", True,
                      [("grad_norm", "", "solid")]),
    "learning rate": ("Learning rate (after the schedule)", "learning rate", True, [("lr", "", "solid")]),
}
MORE_CHARTS = ("accuracy", "gradient norm", "learning rate")  # the histories drawn under the loss
PARALLEL_METRICS = ("final train loss", "final test loss", "final accuracy (train)", "final test accuracy")
FIRST_FIELDS = ("lr", "hidden", "activation", "optimizer", "batch_size", "l2")  # the scatter's usual suspects
DECADES = 1.5     # values whose largest is at least 10**DECADES (~32) times their smallest get a log axis
MAX_TICKS = 6     # a hyperparameter with at most this many distinct values gets a tick at each
BETTER_HIGH = ("final accuracy (train)", "final test accuracy")
BETTER_SCALE = [[0, "#d62728"], [0.5, "#9467bd"], [1, "#1f77b4"]]  # red (worse) to blue (better): no pale end


def _rgba(color, alpha):
    red, green, blue = hex_to_rgb(color)
    return f"rgba({red}, {green}, {blue}, {alpha})"


# ---------------------------------------------------------------- curves
def zero_floor(value_lists):
    """Where a value of 0 (or below) is drawn on a log axis: the power of ten a decade under the
    smallest positive value of all the lists (6.5e-5 -> 1e-6); None when no value is 0 or below (or
    none is positive)."""
    values = np.array([v for values in value_lists for v in values if v is not None], dtype=float)
    values = values[np.isfinite(values)]
    if not (values <= 0).any() or not (values > 0).any():
        return None
    return 10 ** (math.floor(math.log10(values[values > 0].min())) - 1)


def smooth(values, weight, log_y=False, floor=None):
    """TensorBoard's exponential moving average (weight 0: the raw values), skipping gaps (None, NaN).

    log_y: the average of log10(value), with values of 0 or below at `floor` (dropped without one),
    returned as values again; so a smoothed curve never falls under its smallest raw value."""
    raw = np.array([np.nan if v is None else v for v in values], dtype=float)
    raw[~np.isfinite(raw)] = np.nan
    if log_y:
        raw = np.where(raw > 0, raw, np.nan if floor is None else floor) if raw.size else raw
        raw = np.log10(raw, where=~np.isnan(raw), out=np.full_like(raw, np.nan))
    if weight > 0 and raw.size:
        gaps = np.isnan(raw)
        raw = pd.Series(raw).ewm(alpha=1 - weight, adjust=False, ignore_na=True).mean().to_numpy(copy=True)
        raw[gaps] = np.nan
    return 10 ** raw if log_y else raw


def _stack(series):
    """Curves of different lengths as rows of one array, NaN where a curve has ended."""
    out = np.full((len(series), max((len(s) for s in series), default=0)), np.nan)
    for row, values in zip(out, series):
        row[:len(values)] = values
    return out


def _mean_std(rows, log_y):
    """Per step: the mean of the rows and their sample std (0 where one row has a value), in log10 space
    when log_y (a geometric mean), back as values: (mean, low, high)."""
    values = np.log10(rows) if log_y else rows
    counts = (~np.isnan(values)).sum(axis=0)
    mean = np.nansum(values, axis=0) / np.maximum(counts, 1)
    squares = np.nansum((values - mean) ** 2, axis=0)
    std = np.sqrt(squares / np.maximum(counts - 1, 1))
    mean[counts == 0] = np.nan
    low, high = mean - std, mean + std
    return (10 ** mean, 10 ** low, 10 ** high) if log_y else (mean, low, high)


def curve_lines(runs, chart="loss", x_key="step", smoothing=0.0, log_y=False, grouped=True):
    """The lines of a curves chart: [{"name", "color", "dash", "x", "y", "low", "high", "runs"}];
    a seed group (grouped) is one line, the mean of its runs, with low/high one std either side
    (None for a single run). Returns (lines, the floor where zeros are drawn or None)."""
    keys = CHARTS[chart][3]
    log_y = log_y and CHARTS[chart][2]
    floor = zero_floor(r["history"].get(key) or [] for r in runs for key, _, _ in keys) if log_y else None
    lines = []
    for group in seed_groups(runs) if grouped else [[r] for r in runs]:
        label = plotly_text(group_label(group))
        for key, suffix, dash in keys:
            series = [smooth(r["history"].get(key) or [], smoothing, log_y, floor) for r in group]
            if all(np.isnan(s).all() for s in series):
                continue
            longest = max(group, key=lambda r: len(r["history"]["step"]))
            x = np.nanmean(_stack([np.array(r["history"][x_key], dtype=float) for r in group]), axis=0) \
                if x_key == "time" and len(group) > 1 else np.array(longest["history"][x_key], dtype=float)
            mean, low, high = _mean_std(_stack(series), log_y) if len(group) > 1 else (series[0], None, None)
            lines.append({"name": f"{label} ({suffix})" if suffix else label, "color": run_color(group[0]["id"]),
                          "dash": dash, "x": x[:len(mean)], "y": mean, "low": low, "high": high,
                          "runs": [r["id"] for r in group]})
    return lines, floor


def curve_note(smoothing, log_y, floor, band):
    """What the chart does to the raw values, in one line ('' when nothing)."""
    notes = []
    if smoothing > 0:
        notes.append(f"smoothed (moving average, weight {smoothing:g}){' in log space' if log_y else ''}")
    if floor is not None:
        notes.append(f"a value of 0 is drawn at {format_number(floor)}")
    if band:
        notes.append("band: mean ± 1 std over the seeds" + (" (of log10 values: geometric mean)" if log_y else ""))
    return " · ".join(notes)


def curves_figure(runs, chart="loss", x_key="step", smoothing=0.0, log_y=False, grouped=True, band=True):
    """One history of the runs (CHARTS: loss, accuracy, gradient norm, learning rate) over steps or
    wall time; seed groups as their mean with a ± std band (band), what was done said under the title."""
    title, y_title, can_log, _ = CHARTS[chart]
    log_y = log_y and can_log
    lines, floor = curve_lines(runs, chart, x_key, smoothing, log_y, grouped)
    banded = band and any(line["low"] is not None for line in lines)
    fig = go.Figure()
    for line in lines:
        if banded and line["low"] is not None:
            keep = ~np.isnan(line["y"])
            x, low, high = line["x"][keep], line["low"][keep], line["high"][keep]
            fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([high, low[::-1]]),
                                     fill="toself", fillcolor=_rgba(line["color"], 0.22 if line["dash"] == "solid"
                                                                    else 0.12),
                                     line=dict(width=0), hoverinfo="skip", showlegend=False,
                                     legendgroup=line["name"], name=f"{line['name']} ± std"))
        seeds = f" · mean of {len(line['runs'])} seeds" if len(line["runs"]) > 1 else ""
        fig.add_trace(go.Scatter(x=line["x"], y=line["y"], mode="lines", name=line["name"],
                                 legendgroup=line["name"], line=dict(color=line["color"], dash=line["dash"]),
                                 hovertemplate=f"{y_title} %{{y:.4g}}{seeds}<br>{x_key} %{{x:.4g}}"
                                               f"<extra>{line['name']}</extra>"))
    note = curve_note(smoothing, log_y, floor, banded)
    fig.update_layout(title=dict(text=title, subtitle=dict(text=note)) if note else title,
                      xaxis_title="step" if x_key == "step" else "wall time (s)",
                      yaxis_title=y_title + (" (log scale)" if log_y else ""), **LAYOUT)
    if log_y:
        fig.update_yaxes(type="log", exponentformat="e")  # 1e-6, as the note and the tables write it (not 1μ)
    if chart == "accuracy":
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return legend_below(fig, len(lines))


def legend_below(fig, n_entries):
    """Several lines: the legend under the plot, the plot taller by the legend's rows. Many: a
    scrolling legend at the right instead."""
    top = 80 if fig.layout.title.subtitle.text else 50
    if n_entries > 12:
        fig.update_layout(height=560, margin=dict(l=60, r=20, t=top, b=50),
                          legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02))
        return fig
    rows = math.ceil(n_entries / 3)
    fig.update_layout(height=400 + 22 * rows, margin=dict(l=60, r=20, t=top, b=90 + 22 * rows),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0,
                                  entrywidth=0.33, entrywidthmode="fraction"))
    return fig


def compact(fig, columns, page_width=940):
    """A data figure fitted to one of `columns` side-by-side columns of a page about `page_width` px
    wide (Streamlit's wide layout in a 1400 px window): legend below, no colour bar when the columns
    are narrow. A figure with an equal axis scale (a circle stays a circle) keeps it by shrinking its
    plot area, not by widening an axis's range, and is made as tall as a column's width and the
    data's shape need (no empty bands)."""
    height = 400
    if fig.layout.yaxis.scaleanchor == "x":
        fig.update_xaxes(constrain="domain")
        fig.update_yaxes(constrain="domain")
        grid = next((t for t in fig.data if t.type == "contour"), None)
        if grid is not None:
            aspect = (max(grid.y) - min(grid.y)) / max(max(grid.x) - min(grid.x), 1e-12)
            plot_width = page_width / columns - 66  # less the figure's side margins and the gap between columns
            height = int(min(max(plot_width * aspect, 80), 420)) + 160  # + title, axis titles and legend
    fig.update_layout(height=height, margin=dict(l=50, r=10, t=50, b=60), title_font_size=14,
                      legend=dict(orientation="h", yanchor="top", y=-0.22 * 400 / height, xanchor="left", x=0))
    if columns > 2:
        fig.update_traces(showscale=False, selector=dict(type="contour"))
    return fig


# ---------------------------------------------------------------- axes of hyperparameters and metrics
def spans_decades(values):
    """Whether the positive values span DECADES orders of magnitude or more (then a log axis reads better)."""
    positive = [v for v in values if v is not None and v > 0]
    return len(positive) > 1 and max(positive) >= 10 ** DECADES * min(positive)


def nice_ticks(low, high, count=6):
    """About `count` round values (1, 2, 2.5 or 5 times a power of ten apart) from low to high."""
    if not high > low:
        return [low]
    raw = (high - low) / (count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step + 1e-9) + 1)]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def axis(label, values, field=None):
    """One axis of the parallel coordinates and the scatter, from the runs' raw values (a config
    field's, when `field` names it, else a metric's or a label's).

    Returns {"label", "field", "kind", "values", "raw", "tickvals", "ticktext"}: kind is "category"
    (text or layer widths: positions 0, 1, 2… in sorted order), "log" (numbers spanning decades:
    positions are log10(value), a value of 0 a decade under the smallest positive one) or "linear";
    values are the positions on a linear scale, tickvals and ticktext their labels. A missing value
    (None: a diverged run's loss) sits one step under the others, labelled 'n/a'."""
    present = [v for v in values if v is not None]
    if present and all(_is_number(v) for v in present):
        kind, position, tickvals, ticktext = _number_axis(present, field)
    else:
        categories = sorted(set(present), key=sort_key)
        kind, position = "category", categories.index
        tickvals = list(range(len(categories)))
        ticktext = [plotly_text(format_value(field, v)) for v in categories]  # a CSV's name is user text
    positions = [None if v is None else float(position(v)) for v in values]
    if None in positions:
        known = [p for p in positions if p is not None]
        missing = (min(known) - max(1.0, 0.15 * (max(known) - min(known)))) if known else 0.0
        positions = [missing if p is None else p for p in positions]
        tickvals, ticktext = [missing, *tickvals], ["n/a", *ticktext]
    return {"label": label, "field": field, "kind": kind, "values": positions, "raw": list(values),
            "tickvals": tickvals, "ticktext": ticktext}


def _number_axis(values, field):
    """(kind, position of a value, tick positions, tick labels) of an axis of numbers. A hyperparameter's
    few values get a tick each (as people write them: 0.01, 16); a metric gets round ticks (decades
    on a log axis), written as format_number does."""
    distinct = sorted(set(values))
    at_values = field is not None and len(distinct) <= MAX_TICKS
    if not spans_decades(values):
        ticks = distinct if at_values else nice_ticks(min(values), max(values))
        return "linear", float, ticks, [format_value(field, v) if field else format_number(v, 3) for v in ticks]
    zero_at = math.floor(math.log10(min(v for v in values if v > 0))) - 1

    def position(v):
        return math.log10(v) if v > 0 else zero_at
    if at_values:
        return "log", position, [position(v) for v in distinct], [format_value(field, v) for v in distinct]
    decades = list(range(math.ceil(position(min(values))), math.floor(position(max(values))) + 1))
    ticktext = [format_number(10 ** v, 3) for v in decades]
    if min(values) <= 0:
        decades, ticktext = [zero_at, *decades], ["0", *ticktext]
    return "log", position, decades, ticktext


def _field_order(field):
    return FIRST_FIELDS.index(field) if field in FIRST_FIELDS else len(FIRST_FIELDS) + CONFIG_FIELDS.index(field)


def hyperparameter_fields(runs=()):
    """The config fields a scatter can put on its x axis (not a CSV's path or hash): those that differ
    between `runs` first."""
    differing = sorted(differing_hyperparameters(runs) if runs else [], key=_field_order)
    return differing + [f for f in CONFIG_FIELDS if f not in ("csv_path", "csv_upload", *differing)]


def differing_hyperparameters(runs):
    """The config fields whose values differ between the runs (not a CSV's path or hash: see data_axis)."""
    return [f for f in differing_fields([r["config"] for r in runs]) if f not in ("csv_path", "csv_upload")]


def parallel_axes(runs):
    """The axes of the parallel coordinates: where the data came from when it differs (the dataset, or
    the CSV file's name), each other hyperparameter that differs, then each final metric that at
    least one run has."""
    sources = [data_source(r) for r in runs]
    axes = [axis("data", sources)] if len(set(sources)) > 1 else []
    axes += [axis(field, [getattr(r["config"], field) for r in runs], field)
             for field in differing_hyperparameters(runs) if field != "dataset"]
    for label in PARALLEL_METRICS:
        values = metric_values(runs, label)
        if any(v is not None for v in values):
            axes.append(dict(axis(GROUP_COLUMNS[label], values), metric=label))  # short: 'train loss'
    return axes


def parcoords_figure(runs, color_metric="final train loss"):
    """Parallel coordinates of the runs (one line each): hyperparameters that differ, then final
    metrics, each line coloured by `color_metric` (bright: better)."""
    axes = parallel_axes(runs)
    colour = next((a for a in axes if a.get("metric") == color_metric), None) or axis(color_metric, [0] * len(runs))
    dimensions = [dict(label=a["label"], values=a["values"], tickvals=a["tickvals"], ticktext=a["ticktext"],
                       range=_range(a["values"] + a["tickvals"])) for a in axes]
    fig = go.Figure(go.Parcoords(
        dimensions=dimensions, labelangle=0, labelside="top",
        line=dict(color=colour["values"], colorscale=BETTER_SCALE, reversescale=color_metric not in BETTER_HIGH,
                  showscale=True, colorbar=dict(title=dict(text=color_metric, side="right"),
                                                tickvals=colour["tickvals"], ticktext=colour["ticktext"]))))
    log = [a["label"] for a in axes if a["kind"] == "log"]
    note = (f"{len(runs)} runs, one line each · colour: {color_metric} (blue: better, red: worse)"
            + (f" · log scale: {', '.join(log)}" if log else ""))
    fig.update_layout(title=dict(text="Hyperparameters and final metrics", subtitle=dict(text=note)),
                      **{**LAYOUT, "height": 460, "margin": dict(l=70, r=40, t=150, b=30)})
    return fig


def _range(positions):
    low, high = min(positions), max(positions)
    return [low, high] if high > low else [low - 0.5, high + 0.5]


def scatter_figure(runs, field, metric, grouped=True):
    """A hyperparameter (a config field) against a final metric, one point per run in its colour; a
    seed group (grouped) as its mean with a ± std bar in the legend, its runs as small points of its
    colour. Log axes where the values span decades, categories in sorted order."""
    x_axis = axis(field, [getattr(r["config"], field) for r in runs], field)
    y_values = metric_values(runs, metric)
    y_axis = axis(metric, y_values)
    fig = go.Figure()
    drawn = [i for i, v in enumerate(y_values) if v is not None]
    groups = seed_groups(runs) if grouped and field != "seed" else [[r] for r in runs]
    group_of = {r["id"]: group for group in groups for r in group}

    def x_of(i):
        return _axis_value(x_axis, i)
    for i in drawn:
        run, group = runs[i], group_of[runs[i]["id"]]
        alone = len(group) == 1
        fig.add_trace(go.Scatter(
            x=[x_of(i)], y=[_axis_value(y_axis, i)], mode="markers", name=plotly_text(short_label(run, 30)),
            showlegend=alone, legendgroup=None if alone else plotly_text(group_label(group, 30)),
            marker=dict(color=run_color(group[0]["id"]), size=11 if alone else 7, opacity=1 if alone else 0.7,
                        line=dict(color="white", width=1)),
            hovertemplate=f"{field} %{{x}}<br>{metric} {format_number(y_values[i])}"
                          f"<extra>{plotly_text(short_label(run, 40))}</extra>"))
    index = {r["id"]: i for i, r in enumerate(runs)}
    for group in groups:
        values = [y_values[index[r["id"]]] for r in group]
        mean, std, n = spread(values)
        if n < 2:
            continue
        if y_axis["kind"] == "log":
            logs = [math.log10(v) for v in values if v is not None and v > 0]
            mean_log, std_log, _ = spread(logs)
            mean, minus, plus = 10 ** mean_log, 10 ** mean_log - 10 ** (mean_log - std_log), \
                10 ** (mean_log + std_log) - 10 ** mean_log
        else:
            minus = plus = std
        fig.add_trace(go.Scatter(
            x=[x_of(index[group[0]["id"]])], y=[mean], mode="markers", name=plotly_text(group_label(group, 30)),
            legendgroup=plotly_text(group_label(group, 30)),
            marker=dict(color=run_color(group[0]["id"]), size=15, symbol="diamond-open", line=dict(width=3)),
            error_y=dict(type="data", array=[plus], arrayminus=[minus], thickness=2, width=8),
            hovertemplate=f"mean {spread_text(values)} over {n} seeds<extra>{plotly_text(group_label(group, 40))}"
                          "</extra>"))
    missing = len(runs) - len(drawn)
    note = f"{missing} run{'s' if missing != 1 else ''} without a {metric} not drawn" if missing else ""
    fig.update_layout(title=dict(text=f"{metric.capitalize()} against {field}", subtitle=dict(text=note)),
                      **{**LAYOUT, "height": 420, "margin": dict(l=70, r=20, t=80 if note else 60, b=60)})
    legend_below(fig, len(fig.data))
    _style_axis(fig.update_xaxes, x_axis)
    _style_axis(fig.update_yaxes, y_axis)
    return fig


def _axis_value(spec, i):
    """Run i's value on a plotly axis of `spec`'s kind: its label (category), else the value itself (on a
    log axis, a value of 0 at its floor)."""
    position, raw = spec["values"][i], spec["raw"][i]
    if spec["kind"] == "category":
        return spec["ticktext"][spec["tickvals"].index(position)]
    return 10 ** position if spec["kind"] == "log" and not raw > 0 else raw


def _style_axis(update, spec):
    title = spec["label"] + (" (log scale)" if spec["kind"] == "log" else "")
    if spec["kind"] == "category":
        update(title=title, type="category", categoryorder="array", categoryarray=spec["ticktext"])
    elif spec["kind"] == "log":
        update(title=title, type="log", tickvals=[10 ** v for v in spec["tickvals"]], ticktext=spec["ticktext"])
    else:
        update(title=title, type="linear", tickvals=spec["tickvals"], ticktext=spec["ticktext"])


# ---------------------------------------------------------------- final metrics
def metric_bars(runs, metric, grouped=True):
    """A final metric per run, or per seed group (grouped) as the mean with a ± std bar; a log axis when
    the values span decades."""
    groups = seed_groups(runs) if grouped else [[r] for r in runs]
    names, means, errors, texts, colors, hovers = [], [], [], [], [], []
    for group in groups:
        values = metric_values(group, metric)
        mean, std, n = spread(values)
        text = spread_text(values) if n > 1 else format_number(mean, 3)
        name = f"#{group[0]['id']}" if len(group) == 1 else f"#{group[0]['id']} +{len(group) - 1} seeds"
        names.append(f"{name}<br>{text}")  # the value under the bar: above it, an error bar would cross it
        means.append(mean)
        errors.append(std or 0.0)
        texts.append(text)
        colors.append(run_color(group[0]["id"]))
        hovers.append(plotly_text(cut(group_label(group, None), 60)))
    log_y = spans_decades(means)
    fig = go.Figure(go.Bar(x=names, y=means, marker_color=colors, customdata=texts, hovertext=hovers,
                           hovertemplate="%{hovertext}<br>%{customdata}<extra></extra>",
                           error_y=dict(type="data", array=errors, visible=any(errors))))
    fig.update_layout(title=metric.capitalize(), yaxis_title=metric + (" (log scale)" if log_y else ""),
                      xaxis_title="run" if len(groups) == len(runs) else "run or seed group", showlegend=False,
                      **LAYOUT)
    fig.update_xaxes(type="category")  # "#12" is a name, not a number
    if log_y:
        fig.update_yaxes(type="log", exponentformat="e")
    return fig

