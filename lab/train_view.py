"""What the Train page draws: the data before training, every live frame, a replayed step, and what to warn about.

The page stays a short script: these functions take a config, a history and a weight snapshot and
return plotly figures and sentences. They never import Streamlit, so every picture the page shows
is tested without a browser. A frame is drawn from a snapshot of the weights the worker process
sent, never from the network that is training, so drawing never slows training down.
"""
import math

import numpy as np
from plotly.colors import sample_colorscale

from .figures import boundary_figure, fit_figure, loss_figure
from .network_view import health_summary, network_figure, neuron_health
from .train import decision_grid, predict

# A live frame is sent to the browser more than twice a second: coarser than a replayed one, so the browser draws
# it fast (plotly draws each data point as its own SVG element: 2,000 of them took ~100 ms a frame)
LIVE = dict(boundary=36, maps=12, curve_points=400, points=300)
STILL = dict(boundary=60, maps=20, curve_points=None, points=None)
TRAIN_COLOR, TEST_COLOR = "#1f77b4", "#ff7f0e"
CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                "#17becf")


def all_points(data):
    """(X, y) of the training and test sets together: what the boundary is drawn over.
    data: the run's PreparedData (lab.train.prepare_data), here and below."""
    train_set, test_set = data.train, data.test
    if test_set is None:
        return train_set.X, train_set.y
    return np.vstack([train_set.X, test_set.X]), np.concatenate([train_set.y, test_set.y])


def class_labels(dataset):
    """[(label value, name)] of a classification dataset: -1/+1 for two classes, 0..k-1 for more."""
    names = list(dataset.class_names or ())
    if dataset.n_classes == 2:
        names = names or ["-1", "+1"]
        return [(1.0, str(names[1])), (-1.0, str(names[0]))]
    return [(float(i), str(name)) for i, name in enumerate(names or map(str, range(dataset.n_classes)))]


def class_color(index, k):
    return CLASS_COLORS[index % len(CLASS_COLORS)] if k > 2 else ("#08306b", "#cb181d")[index]


def data_svg(config, data, width=560, height=400):
    """The data before any training as an SVG picture (train points filled, test points hollow; classes
    coloured, regression targets as colour, or as the height for 1-D inputs). None for wider inputs.

    Why a picture and not a chart: it needs no chart library in the browser, so a fresh tab shows the data
    at once (plotly's 4.7 MB script would hold the whole page up while it loads: DESIGN.md)."""
    train_set, test_set = data.train, data.test
    if train_set.n_features not in (1, 2):
        return None
    parts = [(train_set, True)] + ([(test_set, False)] if test_set is not None else [])
    if train_set.n_features == 1:
        points = [(d.X[:, 0], d.y, d.y, filled) for d, filled in parts]
        axis_titles = (train_set.feature_names[0], "target")
    else:
        points = [(d.X[:, 0], d.X[:, 1], d.y, filled) for d, filled in parts]
        axis_titles = tuple(train_set.feature_names[:2])
    xs = np.concatenate([p[0] for p in points])
    ys = np.concatenate([p[1] for p in points])
    left, right, top, bottom = 56, 16, 50, 46
    span_x, span_y = np.ptp(xs) or 1.0, np.ptp(ys) or 1.0
    if train_set.n_features == 2 and config.dataset != "csv":  # generated data: the same units on both axes
        span_x = span_y = max(span_x, span_y * (width - left - right) / (height - top - bottom))
        span_y = span_x * (height - top - bottom) / (width - left - right)
    x0 = (xs.min() + xs.max() - span_x * 1.1) / 2
    y0 = (ys.min() + ys.max() - span_y * 1.1) / 2

    def px(x):
        return left + (x - x0) / (span_x * 1.1) * (width - left - right)

    def py(y):
        return height - bottom - (y - y0) / (span_y * 1.1) * (height - top - bottom)

    regression = train_set.task == "regression"
    low, high = float(train_set.y.min()), float(np.ptp(train_set.y) or 1.0)
    labels = [] if regression else class_labels(train_set)
    colors = {label: class_color(i, len(labels)) for i, (label, _) in enumerate(labels)}
    out = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
           f'font-size="12"><rect x="{left}" y="{top}" width="{width - left - right}" '
           f'height="{height - top - bottom}" fill="white" stroke="#ccc"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="bold">The data: {train_set.n} training and '
           f'{_n(test_set)} test samples</text>',
           f'<text x="{(left + width - right) / 2}" y="{height - 10}" text-anchor="middle">'
           f'{_xml(axis_titles[0])}</text>',
           f'<text x="14" y="{(top + height - bottom) / 2}" text-anchor="middle" '
           f'transform="rotate(-90 14 {(top + height - bottom) / 2})">{_xml(axis_titles[1])}</text>']
    for tick_x in _ticks(x0, x0 + span_x * 1.1):
        out.append(f'<text x="{px(tick_x):.1f}" y="{height - bottom + 16}" text-anchor="middle" fill="#666">'
                   f'{tick_x:g}</text>')
    for tick_y in _ticks(y0, y0 + span_y * 1.1):
        out.append(f'<text x="{left - 6}" y="{py(tick_y) + 4:.1f}" text-anchor="end" fill="#666">{tick_y:g}</text>')
    for px_values, py_values, targets, filled in points:
        for x, y, target in zip(px_values, py_values, targets):
            if regression:
                color = sample_colorscale("Viridis", [(float(target) - low) / high])[0]
            else:
                color = colors.get(float(target), "#555")
            fill = color if filled else "white"
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{fill}" stroke="{color}" '
                       f'stroke-width="1.5"/>')
    legend = [("train (filled)", True), ("test (hollow)", False)] if test_set is not None else []
    if not regression:
        legend = [(name, colors[label]) for label, name in labels] + legend
    x = left + 6
    for text, mark in legend:  # one line under the title, left to right
        color = mark if isinstance(mark, str) else "#555"
        fill = "white" if mark is False else color
        out.append(f'<circle cx="{x}" cy="{top - 12}" r="4" fill="{fill}" stroke="{color}" stroke-width="1.5"/>'
                   f'<text x="{x + 8}" y="{top - 8}">{_xml(text)}</text>')
        x += 7 * len(text) + 30
    out.append("</svg>")
    return "".join(out)


def _ticks(low, high, count=5):
    """About `count` round tick values between low and high."""
    step = 10 ** math.floor(math.log10((high - low) / count))
    step *= min((m for m in (1, 2, 5, 10) if (high - low) / (step * m) <= count), default=10)
    return [round(v, 10) for v in np.arange(math.ceil(low / step) * step, high, step)]


def _xml(text):
    """Text for an SVG picture: a file's column names are user text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _n(test_set):
    return 0 if test_set is None else test_set.n


def some_points(X, y, at_most=None):
    """(X, y) with at most `at_most` of the points, evenly spread over them (None: all)."""
    if at_most is None or len(X) <= at_most:
        return X, y
    keep = np.linspace(0, len(X) - 1, at_most).round().astype(int)
    return X[keep], y[keep]


def boundary(config, params, data, title, resolution=STILL["boundary"], points=None):
    """The network's output over the input plane (2-D) or its curve (1-D), with the data (at most `points` of
    it, evenly spread, the title says so; None: all); None for wider inputs."""
    train_set = data.train
    X, y = all_points(data)
    shown_X, shown_y = some_points(X, y, points)
    if len(shown_X) < len(X):
        title += f" ({len(shown_X):,} of {len(X):,} points shown)"
    if train_set.n_features == 2:
        xs, ys, Z = decision_grid(data.config, params, X, resolution=resolution, data=data)  # over all points
        return boundary_figure(xs, ys, Z, shown_X, shown_y, train_set.task, title=title,
                               feature_names=train_set.feature_names, class_names=train_set.class_names,
                               equal_axes=config.dataset != "csv")
    if train_set.n_features == 1:
        grid = np.linspace(X[:, 0].min() - 0.3, X[:, 0].max() + 0.3, 200)
        return fit_figure(shown_X, shown_y, grid, predict(data.config, params, grid[:, None], data=data),
                          title=title, feature_name=train_set.feature_names[0])
    return None


def settle_margins(figure):
    """The figure with margins wide enough for its axis titles, tick labels and colour bar as Streamlit draws them.

    With narrower ones plotly widens them itself, by drawing the whole chart a second time: a fifth of the
    browser's work for each live frame, and part of every chart drawn after a click. (Wider labels than these
    still get room: plotly widens the margins then, as before.)"""
    colorbar = any(trace.type in ("contour", "heatmap") and trace.showscale is not False for trace in figure.data)
    figure.layout.margin.update(l=84, r=90 if colorbar else 20, t=50, b=75)
    return figure


def thin(history, points):
    """Every k-th entry of a history (and its last), at most about `points` of them; None: all."""
    n = len(history["step"])
    if points is None or n <= points:
        return history
    keep = list(range(0, n, math.ceil(n / points)))
    keep += [n - 1] if keep[-1] != n - 1 else []
    return {key: [values[i] for i in keep] for key, values in history.items()}


def loss_chart(history, step=None, log_y=False, title="Loss per step", points=None, clickable=False):
    """Train and test loss over the steps so far (thinned to about `points`); a marker line at `step`.
    clickable: every point of the curves can be clicked (selected), e.g. to replay that step."""
    return loss_figure([{"name": "this run", "history": thin(history, points), "color": TRAIN_COLOR}], log_y=log_y,
                       title=title, show_penalty=any(history.get("penalty") or []), clickable=clickable,
                       marked_step=step)


def frame(config, params, history, data, step=None, log_y=False, live=False):
    """Everything one frame shows, from one weight snapshot: {"loss", "boundary", "network", "health"}.
    `step` marks the snapshot's step on the loss curve (replay); params None: only the loss so far.
    live: a frame drawn while training, coarser (LIVE) so two a second stay light for the browser."""
    detail = LIVE if live else STILL
    where = f"step {step}" if step is not None else f"step {len(history['step'])}" if history else "start"
    out = {"loss": settle_margins(loss_chart(history, step, log_y, points=detail["curve_points"],
                                             clickable=step is not None)) if history and history["step"]
           else None, "boundary": None, "network": None, "health": ""}
    if params is None or not all(map(math.isfinite, params)):
        return out
    train_set, inputs = data.train, data.preprocessing.inputs  # the network's inputs: features, standardized
    kind = "Decision boundary" if train_set.task == "classification" else "Network output"
    out["boundary"] = boundary(config, params, data, f"{kind} at {where}", detail["boundary"], detail["points"])
    if out["boundary"] is not None:
        settle_margins(out["boundary"])
    X, y = all_points(data)
    names = data.preprocessing.features or train_set.feature_names
    X_inputs = inputs(train_set.X)
    health = neuron_health(data.config, params, X_inputs)  # once, for the diagram and the caption
    out["network"] = network_figure(data.config, params, X, y, features=inputs, feature_names=names,
                                    X_inputs=X_inputs, health=health,
                                    title=f"Every neuron at {where}: its output over the input plane"
                                    if train_set.n_features == 2 else f"Every neuron at {where}: its outputs",
                                    resolution=detail["maps"])
    if config.hidden:
        out["health"] = health_summary(health)
    return out


def progress_text(steps_done, total, seconds):
    """'Training… step 120 of 1,000 · about 7 s left', the time left from the pace so far."""
    text = f"Training… step {steps_done:,} of {total:,}"
    if steps_done and seconds > 0:
        left = seconds / steps_done * (total - steps_done)
        text += f" · about {left:,.0f} s left" if left >= 1 else " · almost done"
    return text


def nearest(steps, x):
    """The snapshot step closest to x (a clicked point of the loss curve)."""
    return min(steps, key=lambda s: abs(s - x))


def clicked_step(steps, points):
    """The snapshot step to replay for the points a click selected on the loss curve (plotly selection points,
    each with its "x", the step); None when nothing was selected or nothing can be replayed."""
    xs = [point["x"] for point in points or () if isinstance(point.get("x"), (int, float))]
    return nearest(steps, xs[0]) if xs and steps else None


def about_the_numbers(result, data):
    """One sentence on what the curves and numbers measure, for under the charts."""
    penalty = result.final("penalty")
    text = "Train and test curves are the same quantity, the data loss; "
    text += (f"the L1/L2 penalty is not in them (its last value: {penalty:.3g})." if penalty
             else "no L1/L2 penalty was used.")
    if data.preprocessing.standardized:
        text += " Inputs were standardized (mean 0, std 1) on the training split."
    if data.preprocessing.features:
        text += f" The network's inputs: {', '.join(data.preprocessing.features)}."
    return text


def run_warnings(result, data):
    """What a run's numbers alone do not say: a network that learned nothing (constant output),
    or accuracy at chance while the loss blew up. Sentences for the page; [] when all is well."""
    if not result.params or result.status == "diverged" or not all(map(math.isfinite, result.params)):
        return []
    train_set = data.train
    scores = predict(data.config, result.params, train_set.X, data=data)
    warnings = []
    if np.all(np.ptp(scores, axis=0) < 1e-9 * max(1.0, float(np.max(np.abs(scores))))):
        warnings.append(f"The network's output is the same for every sample ({np.ravel(scores)[0]:.3g}): it learned "
                        "nothing (dead units, or a learning rate so large the weights blew up). Try a smaller "
                        "learning rate.")
    if train_set.task == "classification":
        chance = max(np.mean(train_set.y == label) for label, _ in class_labels(train_set))
        accuracy = result.final("accuracy")
        losses = [v for v in result.history["train_loss"] if v is not None]
        if accuracy is not None and accuracy <= chance + 0.02 and losses and losses[-1] > 10 * losses[0]:
            warnings.append(f"Accuracy is {accuracy:.0%}, what always guessing one class gives, and the loss grew "
                            f"from {losses[0]:.3g} to {losses[-1]:.3g}: training failed. Try a smaller learning rate.")
    return warnings
