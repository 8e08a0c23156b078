"""What every neuron computes: activation maps, neuron health and the network diagram, from a weight snapshot.

TensorFlow Playground's best idea is to draw each neuron as a small picture of its output over the
input plane, wired to the next layer by lines whose colour and width are the weights. This module
computes that picture for any flat weight vector (the live frames of a run, or a replayed snapshot)
with plain numpy: nothing here needs gradients, so there is no autograd graph to build.

Weights are flat, in MLP.parameters() order: for each layer, for each neuron, its weights then its bias.
"""
import numpy as np

from micrograd.nn import check_activation

from .chart_look import figure

MAX_SHOWN = 16          # neurons drawn per layer; the rest are counted
SATURATED_AT = 3.0      # |pre-activation| beyond which tanh and sigmoid are flat
SATURATED_SHARE = 0.5   # a unit is saturated when that holds on more than this share of the points
MAP_RESOLUTION = 20     # a neuron's map is MAP_RESOLUTION x MAP_RESOLUTION points

ACTIVATION_FUNCTIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),  # = 1 / (1 + e^-z), without overflow
}


def layer_sizes(config, n_features, n_params):
    """[inputs, hidden..., outputs]; the output width is what the weights leave after the hidden layers."""
    sizes = [n_features, *config.hidden]
    used = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    n_out, rest = divmod(n_params - used, sizes[-1] + 1)
    if n_out < 1 or rest:
        raise ValueError(f"{n_params} weights do not fit a {'-'.join(map(str, sizes))}-k network")
    return [*sizes, n_out]


def layers_of(params, sizes):
    """[(W, b), ...] per layer, W of shape (outputs, inputs), from flat weights in parameters() order."""
    params = np.asarray(params, dtype=float)
    layers, at = [], 0
    for nin, nout in zip(sizes, sizes[1:]):
        block = params[at:at + (nin + 1) * nout].reshape(nout, nin + 1)
        layers.append((block[:, :nin], block[:, nin]))
        at += (nin + 1) * nout
    return layers


def forward_layers(config, params, inputs):
    """[(pre-activations, activations), ...] per layer (hidden layers, then the output) for rows of inputs."""
    inputs = np.asarray(inputs, dtype=float)
    sizes = layer_sizes(config, inputs.shape[1], len(params))
    layers = layers_of(params, sizes)
    out, x = [], inputs
    for i, (W, b) in enumerate(layers):
        name = config.activation if i < len(layers) - 1 else config.output_activation
        with np.errstate(over="ignore", invalid="ignore"):
            pre = x @ W.T + b
            x = ACTIVATION_FUNCTIONS[check_activation(name)](pre)
        out.append((pre, x))
    return out


def plane_grid(X, resolution=MAP_RESOLUTION, margin=0.5):
    """(xs, ys, points): a grid over the plane covering the 2-D points X, row-major (y outer)."""
    X = np.asarray(X, dtype=float)
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])


def neuron_maps(config, params, X, resolution=MAP_RESOLUTION, features=None):
    """(xs, ys, maps): maps[l] has shape (neurons, resolution, resolution), the activation of every neuron of
    layer l (the last: the network's output) over the plane of the 2-D points X. `features` maps plane points
    to the network's inputs when they are not (x1, x2) themselves."""
    xs, ys, points = plane_grid(X, resolution)
    inputs = features(points) if features is not None else points
    maps = [act.T.reshape(-1, resolution, resolution) for _, act in forward_layers(config, params, inputs)]
    return xs, ys, maps


def neuron_health(config, params, X_inputs):
    """Per hidden layer: {"size", "dead": [indices], "saturated": [indices]} over the training inputs.

    Dead: a ReLU that is zero on every training point (no gradient flows through it: it never recovers).
    Saturated: a tanh/sigmoid whose |pre-activation| exceeds SATURATED_AT on most points (its slope is ~0)."""
    health = []
    for pre, _ in forward_layers(config, params, X_inputs)[:-1]:
        dead, saturated = [], []
        if config.activation == "relu":
            dead = [int(i) for i in np.flatnonzero(np.all(pre <= 0, axis=0))]
        elif config.activation in ("tanh", "sigmoid"):
            share = np.mean(np.abs(pre) > SATURATED_AT, axis=0)
            saturated = [int(i) for i in np.flatnonzero(share > SATURATED_SHARE)]
        health.append({"size": pre.shape[1], "dead": dead, "saturated": saturated})
    return health


def health_summary(health):
    """'layer 1: 3 of 16 dead · layer 2: all healthy' for a caption."""
    parts = []
    for i, layer in enumerate(health, 1):
        bad = [f"{len(layer[k])} of {layer['size']} {k}" for k in ("dead", "saturated") if layer[k]]
        parts.append(f"layer {i}: {', '.join(bad) if bad else 'all healthy'}")
    return " · ".join(parts)


# ---- the diagram: every neuron on one pair of axes, so the browser lays out one plot, not fifty
CELL, ROW, COLUMN = 44, 52, 190   # px: a map's side, the distance between rows and between layers


def diagram_size(n_columns, n_rows):
    """(width, height) in px of the plot area holding n_columns layers of up to n_rows neurons."""
    return COLUMN * (n_columns - 1) + CELL, ROW * n_rows


def _cell(column, row, n_rows):
    """Box (x0, x1, y0, y1) of a neuron in the diagram's coordinates (px from the bottom left): columns left to
    right, rows top to bottom."""
    x0 = column * COLUMN
    y1 = ROW * n_rows - row * ROW - (ROW - CELL) / 2
    return x0, x0 + CELL, y1 - CELL, y1


def _shown(n):
    return min(n, MAX_SHOWN)


def network_figure(config, params, X, y=None, features=None, feature_names=None, X_inputs=None,
                   title="The network: every neuron's output over the input plane", resolution=MAP_RESOLUTION,
                   health=None):
    """Playground's diagram: one small heatmap per neuron (a histogram of its outputs when the inputs are not 2-D),
    layer by layer, joined by the weights (blue positive, orange negative, wider = larger; hover gives the value).
    Dead and saturated hidden units are outlined (red, orange). X: the 2-D points (or the inputs when not 2-D);
    X_inputs: the training inputs the network sees (features of X), for the health counts and the histograms.
    health: neuron_health() of these weights on X_inputs when the caller has it already (default: computed here).

    Every trace sits on one pair of axes at its neuron's place (a heatmap's x and y are its cell's coordinates):
    fifty subplots made the browser take most of a second to redraw each live frame. The figure is built from
    plain dicts and validated by plotly once, for the same reason on the server."""
    X = np.asarray(X, dtype=float)
    X_inputs = np.asarray(X_inputs if X_inputs is not None else (features(X) if features else X), dtype=float)
    sizes = layer_sizes(config, X_inputs.shape[1], len(params))
    plane = X.shape[1] == 2
    health = health if health is not None else neuron_health(config, params, X_inputs)
    if plane:
        xs, ys, maps = neuron_maps(config, params, X, resolution, features=features)
        _, _, points = plane_grid(X, resolution)
        inputs = features(points) if features else points
        maps = [inputs.T.reshape(-1, len(ys), len(xs)), *maps]
    else:
        maps = [X_inputs, *(act for _, act in forward_layers(config, params, X_inputs))]
    names = list(feature_names or [f"x{i + 1}" for i in range(sizes[0])])
    n_columns, n_rows = len(sizes), max(_shown(n) for n in sizes)
    width, height = diagram_size(n_columns, n_rows)
    traces, shapes, annotations, centres = [], [], [], []
    for column, size in enumerate(sizes):
        centres.append([])
        offset = (n_rows - _shown(size)) / 2  # centre short layers vertically
        for row in range(_shown(size)):
            x0, x1, y0, y1 = _cell(column, row + offset, n_rows)
            label = names[row] if column == 0 else f"layer {column} neuron {row + 1}"
            if column == len(sizes) - 1:
                label = "output" if size == 1 else f"output {row + 1}"
            if plane:
                # the cell's place as a start and a step, not two arrays: fewer arrays for plotly to check
                traces.append(dict(type="heatmap", z=maps[column][row], x0=x0, dx=(x1 - x0) / (len(xs) - 1),
                                   y0=y0, dy=(y1 - y0) / (len(ys) - 1), colorscale="RdBu", zmid=0,
                                   showscale=False, name=label, hovertemplate=f"{label}<br>%{{z:.3g}}<extra></extra>"))
            else:
                traces.append(_histogram(maps[column][:, row], (x0, x1, y0, y1), label))
            centres[-1].append((x0, x1, (y0 + y1) / 2))
            if 0 < column < len(sizes) - 1:
                layer = health[column - 1]
                colour = "#d62728" if row in layer["dead"] else "#ff7f0e" if row in layer["saturated"] else None
                if colour:
                    shapes.append(dict(type="rect", x0=x0 - 2, x1=x1 + 2, y0=y0 - 2, y1=y1 + 2,
                                       line=dict(color=colour, width=3)))
        heading = "inputs" if column == 0 else "output" if column == len(sizes) - 1 else \
            f"layer {column} · {config.activation}"
        if 0 < column < len(sizes) - 1:
            layer = health[column - 1]
            heading += "".join(f"<br>{len(layer[k])} {k}" for k in ("dead", "saturated") if layer[k])
        if size > MAX_SHOWN:
            heading += f"<br>{size - MAX_SHOWN} more not shown"
        annotations.append(dict(x=column * COLUMN + CELL / 2, y=height, text=heading, showarrow=False,
                                yanchor="bottom", font=dict(size=11)))
    weight_shapes, weight_hover = _weight_lines(params, sizes, centres)
    traces, shapes = [weight_hover, *traces], weight_shapes + shapes  # the lines under the maps and outlines
    # one unit is one pixel on both axes: the plot area is as large as the ranges, so the maps stay square without
    # a scaleanchor (whose range plotly rewrites once drawn, which made the browser draw the diagram twice)
    axis, pad = dict(visible=False, fixedrange=True), 4
    margin = dict(l=40, r=40, t=110, b=20)
    layout = dict(title=dict(text=title), width=width + 2 * pad + margin["l"] + margin["r"],
                  height=height + 2 * pad + margin["t"] + margin["b"], showlegend=False, autosize=False, margin=margin,
                  plot_bgcolor="white", shapes=shapes, annotations=annotations,
                  xaxis=dict(range=[-pad, width + pad], **axis), yaxis=dict(range=[-pad, height + pad], **axis))
    return figure(traces, layout)


def _histogram(values, box, label, bins=20):
    """A neuron's outputs over the training points as bars drawn inside its cell."""
    x0, x1, y0, y1 = box
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=bins) if values.size else (np.zeros(bins), np.linspace(0, 1, bins + 1))
    scale = (y1 - y0) / max(counts.max(), 1)
    step = (x1 - x0) / bins
    return dict(type="bar", x=x0 + step * (np.arange(bins) + 0.5), y=counts * scale, base=y0, width=step * 0.9,
                marker=dict(color="#4c78a8"), name=label, customdata=np.column_stack([edges[:-1], edges[1:], counts]),
                hovertemplate=f"{label}<br>%{{customdata[0]:.3g}} to %{{customdata[1]:.3g}}: "
                              f"%{{customdata[2]}} points<extra></extra>")


def _weight_lines(params, sizes, centres):
    """The weights as lines between the cells: colour = sign, width = size (four bands), hover = value.

    (shapes, hover trace): each band is one SVG path of many segments, a layout shape under the maps. As line
    traces with gaps between segments, plotly drew one path per segment: a third of the diagram's drawing time."""
    layers = layers_of(params, sizes)
    largest = max((float(np.max(np.abs(W))) for W, _ in layers if W.size), default=1.0) or 1.0
    bands = {}  # (sign, width) -> SVG path segments
    hover_x, hover_y, hover_text = [], [], []
    for column, (W, _) in enumerate(layers):
        for j, (left, _, y_to) in enumerate(centres[column + 1]):
            for i, (_, right, y_from) in enumerate(centres[column]):
                w = float(W[j, i])
                if not np.isfinite(w):
                    continue
                width = 1 + int(3.99 * abs(w) / largest)  # 1 to 4
                bands.setdefault((w >= 0, width), []).append(f"M{right:g},{y_from:g}L{left:g},{y_to:g}")
                hover_x.append((right + left) / 2)
                hover_y.append((y_from + y_to) / 2)
                hover_text.append(f"w = {w:.3g}")
    shapes = [dict(type="path", path="".join(segments), layer="below", opacity=0.35 + 0.15 * width,
                   line=dict(color="#1f77b4" if positive else "#ff7f0e", width=width))
              for (positive, width), segments in sorted(bands.items())]
    # one invisible marker per weight carries its hover label; plotly still hovers every point when it draws
    # only one of them (maxdisplayed), and a net of 16-wide layers has hundreds: their SVG was most of the redraw
    hover = dict(type="scatter", x=np.array(hover_x), y=np.array(hover_y), mode="markers",
                 marker=dict(size=6, opacity=0, maxdisplayed=1), text=hover_text,
                 hovertemplate="%{text}<extra></extra>", showlegend=False, name="weights")
    return shapes, hover
