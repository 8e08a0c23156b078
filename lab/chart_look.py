"""Streamlit's chart look written into a figure, so that the browser draws each chart once, not twice.

`st.plotly_chart(theme="streamlit")` sends its look as a plotly template. Once a chart is mounted,
Streamlit's component copies the figure (a JSON round trip) and hands the copy to `Plotly.react`.
Plotly compares a template by identity, sees a new one, and draws the whole chart again: every chart
of a page was drawn twice, which cost the Train page ~170 ms of the browser's main thread after each
click and about half of each live frame.

`figure(traces, layout)` builds a figure that the copy leaves unchanged in plotly's eyes, to draw with
`theme=None`:
- the look (Streamlit 1.67's own values, light or dark) written into the layout and every axis, under
  what the figure sets itself, as a template would be; no template;
- `layout.datarevision` set: plotly then trusts that the copy's data arrays hold the same numbers
  (every new figure is a new chart in Streamlit, mounted afresh, so the revision never has to change);
- 1-D arrays as lists: plotly.py sends numpy arrays as typed arrays, which plotly compares by identity.

What else made a figure draw twice was in the figures themselves: values plotly works out while drawing
and writes back into the figure (contour levels it picks, `autorange="reversed"`, a given range it widens
for a scaleanchor), which the copy has or lacks depending on when it was taken. Their builders give the
levels, a reversed range, and no range beside a scaleanchor. tests/test_chart_look.py checks every Train
page figure for all of this; a Chromium test that each chart is drawn once after a click.

The app's theme is light (.streamlit/config.toml); `theme="dark"` gives Streamlit's dark values.
"""
import numpy as np
import plotly.graph_objects as go

# Streamlit 1.67's chart theme, as its chart component applies it (read from the browser: light and dark)
PALETTES = {
    "light": dict(text="#808495", heading="#2F2D2B", legend="#262730", background="#FFFFFF", grid="#e6eaf1",
                  hover_border="#DCD8D4"),
    "dark": dict(text="#e6eaf1", heading="#EDEBE8", legend="#fafafa", background="#171614", grid="#31333F",
                 hover_border="#4A4742"),
}
FONT = '"Source Sans", sans-serif'


def look(theme="light", ticks=False):
    """(layout, x axis, y axis) defaults of Streamlit's chart theme ("light" or "dark"), as dicts.
    ticks: the axes have tick marks (plotly draws them for heatmaps and contours), in the grid's colour."""
    c = PALETTES.get(theme, PALETTES["light"])
    layout = dict(
        font=dict(color=c["text"], family=FONT, size=12, weight=400),
        title=dict(font=dict(family=FONT, size=16, color=c["heading"], weight="bold"), pad=dict(l=4),
                   xanchor="left", x=0),
        legend=dict(title=dict(font=dict(size=12, color=c["text"]), side="top"), valign="top",
                    bordercolor="rgba(0,0,0,0)", borderwidth=0, font=dict(size=12, color=c["legend"])),
        paper_bgcolor=c["background"], plot_bgcolor=c["background"],
        margin=dict(pad=8, r=0, l=0),
        hoverlabel=dict(bgcolor=c["background"], bordercolor=c["hover_border"],
                        font=dict(color=c["text"], family=FONT, size=12)),
    )
    # Streamlit's tick colour only where there are ticks, and not its minor grid colour: set in a layout rather than
    # a template, they turn on ticks and a minor grid (plotly takes a colour given as a wish to see the thing)
    axis = dict(zerolinecolor=c["grid"], gridcolor=c["grid"], automargin=True, tickfont=dict(color=c["text"], size=12),
                **(dict(tickcolor=c["grid"]) if ticks else {}))
    x_axis = dict(axis, showgrid=False, zeroline=False, title=dict(font=dict(color=c["text"], size=14), standoff=20))
    y_axis = dict(axis, ticklabelposition="outside", title=dict(font=dict(color=c["text"], size=14), standoff=24))
    return layout, x_axis, y_axis


def with_look(layout, theme="light", ticks=False):
    """A figure's layout (a dict) over Streamlit's look: every key the layout sets wins, as over a template; the
    axis look goes to every x and y axis it names. No template, and a data revision (see the module's docstring).
    A dict, for the figure's constructor: plotly.py validates it there ~10x faster than in update_layout()."""
    defaults, x_axis, y_axis = look(theme, ticks)
    axes = {name: x_axis if name.startswith("x") else y_axis
            for name in {"xaxis", "yaxis", *(key for key in layout if key.startswith(("xaxis", "yaxis")))}}
    return _under({**defaults, **axes, "template": None, "datarevision": 1}, layout)


def _under(defaults, own):
    """`own` (nested dicts) with `defaults` filling in what it does not set."""
    out = dict(defaults)
    for key, value in own.items():
        below = out.get(key)
        if key == "title" and isinstance(value, str):
            value = dict(text=value)
        out[key] = _under(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return out


def _lists(trace):
    """A trace (a dict) with its 1-D numpy arrays as lists, in it and in its dicts (marker, line, ...)."""
    return {key: value.tolist() if isinstance(value, np.ndarray) and value.ndim == 1
            else _lists(value) if isinstance(value, dict) else value for key, value in trace.items()}


def figure(traces, layout, theme="light", as_arrays=False):
    """A plotly figure from trace dicts and a layout dict, in Streamlit's look, to draw with
    `st.plotly_chart(..., theme=None)`: the browser draws it once (see the module's docstring).
    as_arrays: keep 1-D numpy arrays (many long curves: plotly.py validates them faster and sends them as binary,
    and plotly draws the chart a second time)."""
    ticks = any(trace.get("type") in ("heatmap", "contour") for trace in traces)
    fig = go.Figure(data=traces if as_arrays else [_lists(trace) for trace in traces],
                    layout=with_look(layout, theme, ticks))
    fig.layout.template = None  # plotly.py puts its default template in place of None at construction
    return fig
