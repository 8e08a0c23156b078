"""Plotly figures built from training results: pure functions, no Streamlit.

Classes are always shown by their names (a CSV's, or the labels of a generated set), never by
the numbers the network is trained on, so -1/+1 and 0/1 cannot get mixed up on one page.
"""
import numpy as np
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, qualitative

from micrograd.tensor_losses import class_indices

from .chart_look import figure
from .train import (accuracy, class_accuracy, confusion, decision_grid, predict, predicted_classes, prepare_data,
                    r2_score, rmse, softmax)

PALETTE = qualitative.Plotly + qualitative.D3
BASE = dict(margin=dict(l=60, r=20, t=50, b=50), height=360,
            legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
# for figures Streamlit themes (the Compare page's): a big template costs ~50 ms of deepcopy each
LAYOUT = dict(BASE, template=go.layout.Template())


def run_color(run_id):
    """The same colour for a run on every chart."""
    return PALETTE[int(run_id) % len(PALETTE)]


def smooth(values, weight):
    """TensorBoard-style exponential moving average (weight 0: raw), skipping gaps."""
    out, last = [], None
    for v in values:
        if v is None or not np.isfinite(v):
            out.append(None)
            continue
        last = v if last is None else weight * last + (1 - weight) * v
        out.append(last)
    return out


def loss_figure(curves, log_y=False, x_key="step", smoothing=0.0, title="Loss", as_arrays=False, show_penalty=False,
                clickable=False, marked_step=None):
    """curves: [{"name", "history", "color"}]; draws the data loss on the training set (solid) and on
    the test set (dotted): the same quantity, so the two lines can be compared. show_penalty adds
    the L1/L2 penalty the optimiser also minimises (dash-dot; runs without one draw no line).

    as_arrays: hand plotly numpy arrays instead of lists, for many long curves: it validates
    them about 8x faster and sends them as binary ({"dtype", "bdata"} in the figure's JSON).
    clickable: every point of the curves can be clicked (selected), e.g. to replay that step. Plotly selects
    markers, never bare lines, so the curves get transparent markers (at most one drawn: the rest cost nothing;
    the hover label keeps the line's colour). marked_step: a dashed line at that step."""
    traces = []
    lines = [("train_loss", "solid", "train"), ("test_loss", "dot", "test")]
    if show_penalty:
        lines.append(("penalty", "dashdot", "penalty"))
    for c in curves:
        h = c["history"]
        xs = np.asarray(h[x_key], dtype=float) if as_arrays else h[x_key]
        for key, dash, suffix in lines:
            ys = h.get(key) or []
            if not any(v for v in ys if v is not None):  # absent, None or all zero (no penalty): no line
                continue
            ys = smooth(ys, smoothing)
            what = "penalty" if key == "penalty" else f"{suffix} data loss"
            trace = dict(type="scatter", x=xs, y=np.array(ys, dtype=float) if as_arrays else ys, mode="lines",
                         name=f"{c['name']} ({suffix})", line=dict(color=c.get("color"), dash=dash),
                         hovertemplate=f"{what} %{{y:.4g}}<br>{x_key} %{{x:.4g}}<extra>{c['name']}</extra>")
            if clickable:
                trace.update(mode="lines+markers", marker=dict(size=2, color="rgba(0,0,0,0)", maxdisplayed=1),
                             hoverlabel=dict(bgcolor=c.get("color")))
            traces.append(trace)
    y_title = "data loss" + (" and penalty" if show_penalty else " (penalty not included)")
    layout = dict(BASE, title=title, xaxis=dict(title="step" if x_key == "step" else "wall time (s)"),
                  yaxis=dict(title=y_title + (" (log scale)" if log_y else ""), type="log" if log_y else "linear"))
    if clickable:  # what Streamlit sets for a chart whose points can be selected, set here: see chart_look
        layout.update(clickmode="event+select", hovermode="closest", dragmode="pan")
    if marked_step is not None:
        layout.update(shapes=[dict(type="line", x0=marked_step, x1=marked_step, xref="x", y0=0, y1=1, yref="y domain",
                                   line=dict(color="#444", dash="dash", width=1))],
                      annotations=[dict(x=marked_step, y=0, xref="x", yref="y domain", text=f"step {marked_step}",
                                        showarrow=False, xanchor="right", yanchor="bottom")])
    return figure(traces, layout, as_arrays=as_arrays)


def metrics_figure(curves, task, x_key="step", title=None):
    """What the loss means: accuracy on the training (solid) and test (dotted) sets for classification,
    R^2 (solid) and RMSE (dotted, right axis) on the test set for regression. Stored runs from before
    these were recorded draw what they have."""
    fig = go.Figure()
    classify = task == "classification"
    lines = ([("accuracy", "solid", "train accuracy", "y"), ("test_accuracy", "dot", "test accuracy", "y")]
             if classify else [("test_r2", "solid", "test R²", "y"), ("test_rmse", "dot", "test RMSE", "y2")])
    for c in curves:
        h = c["history"]
        for key, dash, what, axis in lines:
            ys = h.get(key) or []
            if not any(v is not None for v in ys):
                continue
            fig.add_trace(go.Scatter(x=h[x_key], y=ys, mode="lines", name=f"{c['name']} ({what})", yaxis=axis,
                                     line=dict(color=c.get("color"), dash=dash),
                                     hovertemplate=f"{what} %{{y:.4g}}<br>{x_key} %{{x:.4g}}"
                                                   f"<extra>{c['name']}</extra>"))
    if classify:
        fig.update_layout(yaxis=dict(title="accuracy", tickformat=".0%", range=[0, 1.02]))
    else:
        fig.update_layout(yaxis=dict(title="R² (1 is a perfect fit)"),
                          yaxis2=dict(title="RMSE (target units)", overlaying="y", side="right", showgrid=False))
    fig.update_layout(title=title or ("Accuracy" if classify else "Fit on the test set"),
                      xaxis_title="step" if x_key == "step" else "wall time (s)", **LAYOUT)
    return fig


def series_figure(series, title, y_title, x_title="step", log_y=False):
    """Several named lines over steps: series = [(name, xs, ys, color)]."""
    fig = go.Figure()
    for name, xs, ys, color in series:
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers" if len(xs) <= 40 else "lines", name=name,
                                 line=dict(color=color)))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, **LAYOUT)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def class_colors(k):
    """One colour per class: blue for the +1 class and red for the -1 class of two (the colours of the
    score map), a qualitative palette for more."""
    return ["#d62728", "#1f77b4"] if k == 2 else list(qualitative.D3[:k])


def _mix(color, weight):
    """`color` (hex) blended towards white: weight 1 is the colour, 0 is white."""
    r, g, b = hex_to_rgb(color)
    return "rgb({}, {}, {})".format(*(round(255 - weight * (255 - v)) for v in (r, g, b)))


def _class_axis(class_names):
    return dict(title="true class", tickvals=list(range(len(class_names))), ticktext=list(class_names),
                range=[-0.6, len(class_names) - 0.4], zeroline=False)


def predictions_figure(task, scores, y, title="Predictions vs targets", class_names=None):
    """Regression: prediction against target. Two classes scored by one output: the score against the
    true class (jittered), the decision threshold at 0. k outputs (softmax): the probability the network
    gives each sample's true class, with chance (1/k) marked. Points are green when the prediction is right."""
    scores, y = np.asarray(scores, dtype=float), np.asarray(y, dtype=float)
    if task == "regression":
        lo, hi = float(min(scores.min(), y.min())), float(max(scores.max(), y.max()))
        return figure([dict(type="scatter", x=y, y=scores, mode="markers", name="samples",
                            marker=dict(size=6, opacity=0.7),
                            hovertemplate="target %{x:.3g}<br>prediction %{y:.3g}<extra></extra>"),
                       dict(type="scatter", x=[lo, hi], y=[lo, hi], mode="lines", name="y = x",
                            line=dict(dash="dash", color="gray"))],
                      dict(BASE, title=title, xaxis=dict(title="target"), yaxis=dict(title="prediction")))
    names = list(class_names or (("-1", "+1") if scores.ndim == 1 else map(str, range(scores.shape[1]))))
    truth = class_indices(y)
    predicted = predicted_classes(scores)
    if scores.ndim == 1:
        shown, y_title, threshold, threshold_name = scores, "network score", 0.0, "decision threshold (score 0)"
    else:
        shown = softmax(scores)[np.arange(len(truth)), truth]
        y_title, threshold, threshold_name = "probability of the true class", 1.0 / len(names), "chance (1/k)"
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(truth))
    text = [names[i] for i in predicted]
    traces = []
    for ok, name, color in ((True, "correct", "#2ca02c"), (False, "wrong", "#d62728")):
        m = (predicted == truth) == ok
        traces.append(dict(type="scatter", x=truth[m] + jitter[m], y=shown[m], mode="markers", name=name,
                           text=[t for t, keep in zip(text, m) if keep], marker=dict(color=color, size=6, opacity=0.75),
                           hovertemplate="predicted %{text}<br>" + y_title + " %{y:.3g}<extra></extra>"))
    # the threshold is a legend entry, not an annotation the points could hide
    traces.append(dict(type="scatter", x=[-0.6, len(names) - 0.4], y=[threshold, threshold], mode="lines",
                       name=threshold_name, line=dict(dash="dash", color="gray"), hoverinfo="skip"))
    y_axis = dict(title=y_title, **(dict(range=[-0.02, 1.02], tickformat=".0%") if scores.ndim == 2 else {}))
    return figure(traces, dict(BASE, title=title, xaxis=_class_axis(names), yaxis=y_axis))


def confusion_figure(matrix, classes=("-1", "+1")):
    """k x k counts, rows the true class and columns the predicted one, labelled with the class names."""
    labels = [str(c) for c in classes]
    heatmap = dict(type="heatmap", z=matrix, x=labels, y=labels, colorscale="Blues", showscale=False, text=matrix,
                   texttemplate="%{text}", textfont=dict(size=18 if len(labels) <= 4 else 13),
                   hovertemplate="true %{y}<br>predicted %{x}<br>%{z} samples<extra></extra>")
    # the first class on top: a reversed range, not autorange="reversed", which plotly rewrites once drawn
    return figure([heatmap], dict(BASE, title="Confusion matrix", height=300 + 25 * max(len(labels) - 2, 0),
                                  xaxis=dict(title="predicted", type="category"),
                                  yaxis=dict(title="true", type="category", range=[len(labels) - 0.5, -0.5])))


def class_accuracy_figure(class_names, accuracies, title="Accuracy per class"):
    """A bar per class: the share of its samples predicted as it (no bar for a class without samples)."""
    bars = dict(type="bar", x=[str(c) for c in class_names], y=[None if a is None else a for a in accuracies],
                marker=dict(color=class_colors(len(accuracies))),
                text=["no samples" if a is None else f"{a:.0%}" for a in accuracies],
                textposition="outside", hovertemplate="class %{x}<br>accuracy %{y:.1%}<extra></extra>")
    return figure([bars], dict(BASE, title=title, height=300, showlegend=False,
                               xaxis=dict(title="true class", type="category"),
                               yaxis=dict(title="accuracy", tickformat=".0%", range=[0, 1.12])))


def boundary_figure(xs, ys, Z, X, y, task, title="Decision boundary", feature_names=("x1", "x2"), class_names=None,
                    equal_axes=True):
    """Network output over the input plane (the data's own two columns), with the data points on top.

    Z (len(ys), len(xs)): one score per point (two classes: its sign is the class; regression: the
    output). Z (len(ys), len(xs), k): k logits; each point is coloured by its predicted class, pale
    where the network is unsure (probability 1/k) and full where it is sure. equal_axes: one unit is
    as long on both axes (a circle stays a circle, at any figure width); off for features in
    different units."""
    traces = []
    Z, y = np.asarray(Z, dtype=float), np.asarray(y, dtype=float)
    if task == "classification":
        k = Z.shape[2] if Z.ndim == 3 else 2
        names = list(class_names or (("-1", "+1") if k == 2 else map(str, range(k))))
        colors = class_colors(k)
        if Z.ndim == 3:
            probabilities = softmax(Z.reshape(-1, k))
            predicted = probabilities.argmax(axis=1)
            confidence = probabilities.max(axis=1)
            shade = np.clip((confidence - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 0.999)
            scale = []
            for j, color in enumerate(colors):  # class j owns [j/k, (j+1)/k]: pale to full
                scale += [[j / k, _mix(color, 0.12)], [(j + 1) / k, _mix(color, 0.75)]]
            traces.append(dict(type="heatmap", x=xs, y=ys, z=(predicted + shade).reshape(Z.shape[:2]), zmin=0, zmax=k,
                               colorscale=scale, showscale=False, name="predicted class",
                               customdata=confidence.reshape(Z.shape[:2]),
                               text=np.array(names, dtype=object)[predicted].reshape(Z.shape[:2]).tolist(),
                               hovertemplate="predicted %{text}<br>probability %{customdata:.0%}<extra></extra>"))
        else:  # every contour level given (with its size): plotly writes levels it picks itself back into the figure
            traces.append(dict(type="contour", x=xs, y=ys, z=Z, colorscale="RdBu", zmid=0, opacity=0.75,
                               showscale=True, contours=dict(start=-2, end=2, size=0.5), colorbar=dict(title="score"),
                               hovertemplate="score %{z:.3g}<extra></extra>"))
            traces.append(dict(type="contour", x=xs, y=ys, z=Z, showscale=False, hoverinfo="skip", name="boundary",
                               contours=dict(start=0, end=0, size=1, coloring="lines"),
                               line=dict(width=2, color="black")))
        truth = class_indices(y)
        symbols = ["diamond", "circle", "square", "triangle-up", "x", "star", "cross", "pentagon", "hexagon",
                   "star-diamond"]
        for j in range(k):
            m = truth == j
            traces.append(dict(type="scatter", x=X[m, 0], y=X[m, 1], mode="markers", name=f"class {names[j]}",
                               marker=dict(color=colors[j], size=8, symbol=symbols[j % len(symbols)],
                                           line=dict(color="black", width=1))))
    else:
        # one colour scale for the output and the targets, its levels given (plotly writes levels it picks back)
        values = np.concatenate([Z.ravel(), y.ravel()])
        values = values[np.isfinite(values)]
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        size = (high - low) / 15 if high > low else 1.0
        traces.append(dict(type="contour", x=xs, y=ys, z=Z, colorscale="Viridis", colorbar=dict(title="output"),
                           contours=dict(start=low, end=high, size=size), zmin=low, zmax=high,
                           hovertemplate="output %{z:.3g}<extra></extra>"))
        traces.append(dict(type="scatter", x=X[:, 0], y=X[:, 1], mode="markers", name="samples",
                           marker=dict(color=y, colorscale="Viridis", cmin=low, cmax=high, size=7,
                                       line=dict(color="white", width=1))))
    x_axis, y_axis = dict(title=feature_names[0]), dict(title=feature_names[1])
    if equal_axes:  # plotly fits the grid itself: a range given here it would widen, and write back once drawn
        y_axis.update(scaleanchor="x", scaleratio=1)
    else:
        x_axis.update(range=[xs[0], xs[-1]])
        y_axis.update(range=[ys[0], ys[-1]])
    return figure(traces, dict(BASE, title=title, height=420, xaxis=x_axis, yaxis=y_axis))


def fit_figure(X, y, grid_x, grid_pred, title="Fit", feature_name="x"):
    """1-D regression: the data and the network's curve."""
    samples = dict(type="scatter", x=X[:, 0], y=y, mode="markers", name="samples", marker=dict(size=6, opacity=0.7))
    curve = dict(type="scatter", x=grid_x, y=grid_pred, mode="lines", name="network", line=dict(width=3))
    return figure([samples, curve],
                  dict(BASE, title=title, xaxis=dict(title=feature_name), yaxis=dict(title="target / prediction")))


def bar_figure(names, values, colors, title, y_title):
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=colors,
                           text=[f"{v:.3g}" if v is not None else "-" for v in values], textposition="outside"))
    fig.update_layout(title=title, yaxis_title=y_title, xaxis_title="run", showlegend=False, **LAYOUT)
    return fig


def heatmap_figure(x_values, y_values, Z, x_title, y_title, title, text=None, z_title="final loss"):
    fig = go.Figure(go.Heatmap(x=[str(v) for v in x_values], y=[str(v) for v in y_values], z=Z, colorscale="Viridis_r",
                               colorbar=dict(title=z_title), text=text,
                               texttemplate="%{z:.3g}" if text is None else "%{text}",
                               hovertemplate=f"{x_title} %{{x}}<br>{y_title} %{{y}}<br>{z_title} %{{z:.4g}}"
                                             "<extra></extra>"))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, xaxis_type="category",
                      yaxis_type="category", **LAYOUT)
    return fig


def result_figures(config, params, title_prefix="", boundary=True):
    """What a trained network does on its data, as named figures: "predictions", and for
    classification "confusion" and "class_accuracy", and for 1-D or 2-D data "boundary"
    (boundary=False: not that one, for a page that draws its own).

    Pure: regenerates the data from the config, so a saved run can be redrawn. Every class
    is shown by its name (a CSV's class names, or the labels of a generated set)."""
    data = prepare_data(config)
    train_set, test_set = data.train, data.test
    shown = test_set if test_set is not None else train_set
    where = "test set" if test_set is not None else "training set"
    scores = predict(config, params, shown.X, data=data)
    figures = {"predictions": predictions_figure(shown.task, scores, shown.y, class_names=shown.class_names,
                                                 title=f"{title_prefix}Predictions vs targets ({where})")}
    if shown.task == "classification":
        k = shown.n_classes
        figures["confusion"] = confusion_figure(confusion(scores, shown.y, k), classes=shown.class_names)
        figures["class_accuracy"] = class_accuracy_figure(shown.class_names, class_accuracy(scores, shown.y, k),
                                                          title=f"{title_prefix}Accuracy per class ({where})")
    if not boundary:
        return figures
    X_all = np.vstack([train_set.X] + ([test_set.X] if test_set is not None else []))
    y_all = np.concatenate([train_set.y] + ([test_set.y] if test_set is not None else []))
    if train_set.n_features == 2:
        xs, ys, Z = decision_grid(config, params, X_all, data=data)
        kind = "Decision boundary" if train_set.task == "classification" else "Network output"
        figures["boundary"] = boundary_figure(xs, ys, Z, X_all, y_all, train_set.task, title=f"{title_prefix}{kind}",
                                              feature_names=train_set.feature_names, class_names=train_set.class_names,
                                              equal_axes=config.dataset != "csv")  # generated data: same units
    elif train_set.n_features == 1:
        grid = np.linspace(X_all[:, 0].min() - 0.3, X_all[:, 0].max() + 0.3, 200)
        figures["boundary"] = fit_figure(X_all, y_all, grid, predict(config, params, grid[:, None], data=data),
                                         title=f"{title_prefix}Network fit", feature_name=train_set.feature_names[0])
    return figures


def result_metrics(config, params):
    """The numbers that go with result_figures, for a page to show next to them: which split they are
    measured on ("where"), accuracy and per-class accuracy {class name: share or None} for
    classification, R^2 and RMSE (in the targets' units) for regression, and how the inputs were
    prepared ("standardized", "features": the network's inputs)."""
    data = prepare_data(config)
    shown = data.test if data.test is not None else data.train
    scores = predict(config, params, shown.X, data=data)
    out = {"where": "test set" if data.test is not None else "training set", "task": shown.task,
           "standardized": data.preprocessing.standardized,
           "features": data.preprocessing.features or shown.feature_names, "class_names": shown.class_names}
    if shown.task == "classification":
        out["accuracy"] = accuracy(scores, shown.y)
        out["class_accuracy"] = dict(zip(shown.class_names, class_accuracy(scores, shown.y, shown.n_classes)))
    else:
        out["r2"], out["rmse"] = r2_score(scores, shown.y), rmse(scores, shown.y)
    return out
