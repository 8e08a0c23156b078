"""Plotly figures built from training results: pure functions, no Streamlit."""
import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from .train import confusion, decision_grid, load_data, predict

PALETTE = qualitative.Plotly + qualitative.D3
# Streamlit themes the charts; a big template costs ~50 ms of deepcopy each
LAYOUT = dict(template=go.layout.Template(), margin=dict(l=60, r=20, t=50, b=50), height=360,
              legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))


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


def loss_figure(curves, log_y=False, x_key="step", smoothing=0.0, title="Loss", as_arrays=False):
    """curves: [{"name", "history", "color"}]; draws train (solid) and test (dotted) loss.

    as_arrays: hand plotly numpy arrays instead of lists, for many long curves: it validates
    them about 8x faster and sends them as binary ({"dtype", "bdata"} in the figure's JSON)."""
    fig = go.Figure()
    for c in curves:
        h = c["history"]
        xs = np.asarray(h[x_key], dtype=float) if as_arrays else h[x_key]
        for key, dash, suffix in (("train_loss", "solid", "train"), ("test_loss", "dot", "test")):
            ys = h.get(key) or []
            if not any(v is not None for v in ys):
                continue
            ys = smooth(ys, smoothing)
            fig.add_trace(go.Scatter(x=xs, y=np.array(ys, dtype=float) if as_arrays else ys, mode="lines",
                                     name=f"{c['name']} ({suffix})",
                                     line=dict(color=c.get("color"), dash=dash),
                                     hovertemplate=f"{suffix} loss %{{y:.4g}}<br>{x_key} %{{x:.4g}}"
                                                   f"<extra>{c['name']}</extra>"))
    fig.update_layout(title=title, xaxis_title="step" if x_key == "step" else "wall time (s)",
                      yaxis_title="loss" + (" (log scale)" if log_y else ""), **LAYOUT)
    if log_y:
        fig.update_yaxes(type="log")
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


def predictions_figure(task, scores, y, title="Predictions vs targets"):
    fig = go.Figure()
    if task == "regression":
        lo, hi = float(min(scores.min(), y.min())), float(max(scores.max(), y.max()))
        fig.add_trace(go.Scatter(x=y, y=scores, mode="markers", name="samples", marker=dict(size=6, opacity=0.7),
                                 hovertemplate="target %{x:.3g}<br>prediction %{y:.3g}<extra></extra>"))
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x",
                                 line=dict(dash="dash", color="gray")))
        fig.update_layout(xaxis_title="target", yaxis_title="prediction")
    else:
        rng = np.random.default_rng(0)
        jitter = rng.uniform(-0.15, 0.15, len(y))
        correct = np.where(scores > 0, 1.0, -1.0) == y
        for ok, name, color in ((True, "correct", "#2ca02c"), (False, "wrong", "#d62728")):
            m = correct == ok
            fig.add_trace(go.Scatter(x=y[m] + jitter[m], y=scores[m], mode="markers", name=name,
                                     marker=dict(color=color, size=6, opacity=0.75),
                                     hovertemplate="label %{x:.0f}<br>score %{y:.3g}<extra></extra>"))
        fig.add_hline(y=0, line_dash="dash", line_color="gray", annotation_text="decision threshold")
        fig.update_layout(xaxis=dict(title="true label", tickvals=[-1, 1], range=[-1.6, 1.6]),
                          yaxis_title="network score")
    fig.update_layout(title=title, **LAYOUT)
    return fig


def confusion_figure(matrix, classes=("-1", "+1")):
    labels = [str(c) for c in classes]
    fig = go.Figure(go.Heatmap(z=matrix, x=labels, y=labels, colorscale="Blues", showscale=False,
                               text=matrix, texttemplate="%{text}", textfont=dict(size=18),
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{z} samples<extra></extra>"))
    fig.update_layout(title="Confusion matrix", xaxis=dict(title="predicted", type="category"),
                      yaxis=dict(title="true", autorange="reversed", type="category"),
                      **{**LAYOUT, "height": 300})
    return fig


def boundary_figure(xs, ys, Z, X, y, task, title="Decision boundary", feature_names=("x1", "x2"), equal_axes=True):
    """Network output over the input plane, with the data points on top. equal_axes: one unit is
    as long on both axes (a circle stays a circle, at any figure width); off for features in
    different units."""
    fig = go.Figure()
    if task == "classification":
        fig.add_trace(go.Contour(x=xs, y=ys, z=Z, colorscale="RdBu", zmid=0, opacity=0.75, showscale=True,
                                 contours=dict(start=-2, end=2, size=0.5), colorbar=dict(title="score"),
                                 hovertemplate="score %{z:.3g}<extra></extra>"))
        fig.add_trace(go.Contour(x=xs, y=ys, z=Z, showscale=False, contours=dict(start=0, end=0, coloring="lines"),
                                 line=dict(width=2, color="black"), hoverinfo="skip", name="boundary"))
        for label, color, symbol, name in ((1.0, "#08306b", "circle", "+1"), (-1.0, "#fff5f0", "diamond", "-1")):
            m = y == label
            fig.add_trace(go.Scatter(x=X[m, 0], y=X[m, 1], mode="markers", name=f"class {name}",
                                     marker=dict(color=color, size=8, symbol=symbol,
                                                 line=dict(color="black", width=1))))
    else:
        fig.add_trace(go.Contour(x=xs, y=ys, z=Z, colorscale="Viridis", colorbar=dict(title="output"),
                                 hovertemplate="output %{z:.3g}<extra></extra>"))
        fig.add_trace(go.Scatter(x=X[:, 0], y=X[:, 1], mode="markers", name="samples",
                                 marker=dict(color=y, colorscale="Viridis", size=7,
                                             line=dict(color="white", width=1))))
    fig.update_layout(title=title, xaxis_title=feature_names[0], yaxis_title=feature_names[1],
                      **{**LAYOUT, "height": 420})
    if equal_axes:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def fit_figure(X, y, grid_x, grid_pred, title="Fit", feature_name="x"):
    """1-D regression: the data and the network's curve."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=X[:, 0], y=y, mode="markers", name="samples", marker=dict(size=6, opacity=0.7)))
    fig.add_trace(go.Scatter(x=grid_x, y=grid_pred, mode="lines", name="network", line=dict(width=3)))
    fig.update_layout(title=title, xaxis_title=feature_name, yaxis_title="target / prediction", **LAYOUT)
    return fig


def bar_figure(names, values, colors, title, y_title):
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=colors, textposition="outside",
                           text=[f"{v:.3g}" if v is not None else "-" for v in values]))
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


def result_figures(config, params, title_prefix=""):
    """What a trained network does on its data, as named figures plus the confusion counts.

    Pure: regenerates the data from the config, so a saved run can be redrawn."""

    train_set, test_set = load_data(config)
    shown = test_set if test_set is not None else train_set
    where = "test set" if test_set is not None else "training set"
    scores = predict(config, params, shown.X)
    figures = {"predictions": predictions_figure(shown.task, scores, shown.y,
                                                 title=f"{title_prefix}Predictions vs targets ({where})")}
    if shown.task == "classification":
        figures["confusion"] = confusion_figure(confusion(scores, shown.y), classes=shown.classes or ("-1", "+1"))
    X_all = np.vstack([train_set.X] + ([test_set.X] if test_set is not None else []))
    y_all = np.concatenate([train_set.y] + ([test_set.y] if test_set is not None else []))
    if train_set.n_features == 2:
        xs, ys, Z = decision_grid(config, params, X_all)
        kind = "Decision boundary" if train_set.task == "classification" else "Network output"
        figures["boundary"] = boundary_figure(xs, ys, Z, X_all, y_all, train_set.task, title=f"{title_prefix}{kind}",
                                              feature_names=train_set.feature_names,
                                              equal_axes=config.dataset != "csv")  # generated data: same units
    elif train_set.n_features == 1:
        grid = np.linspace(X_all[:, 0].min() - 0.3, X_all[:, 0].max() + 0.3, 200)
        figures["boundary"] = fit_figure(X_all, y_all, grid, predict(config, params, grid[:, None]),
                                         title=f"{title_prefix}Network fit", feature_name=train_set.feature_names[0])
    return figures
