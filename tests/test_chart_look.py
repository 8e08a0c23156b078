"""Streamlit's chart look written into the figures, and the Train page's figures safe from a second draw."""
import json
import re

import numpy as np
import plotly.io as pio
import pytest

from lab.chart_look import PALETTES, figure, look, with_look
from lab.config import TrainConfig
from lab.figures import boundary_figure, result_figures
from lab.train import prepare_data, train
from lab.train_view import frame


def test_the_figures_own_settings_win_and_the_look_fills_in_the_rest():
    layout = with_look(dict(title="Loss", font=dict(color="red"), xaxis=dict(title="step", showgrid=True),
                            yaxis2=dict(title="other")))
    assert layout["title"]["text"] == "Loss" and layout["title"]["font"]["weight"] == "bold"  # a string title too
    assert layout["font"] == dict(look()[0]["font"], color="red")
    assert layout["xaxis"]["showgrid"] is True and layout["xaxis"]["title"]["standoff"] == 20
    assert layout["yaxis2"]["title"] == dict(text="other", font=look()[2]["title"]["font"], standoff=24)
    assert layout["yaxis"]["gridcolor"] == PALETTES["light"]["grid"]  # an axis the layout does not name
    assert layout["template"] is None and layout["datarevision"] == 1
    assert with_look({}, "dark")["paper_bgcolor"] == PALETTES["dark"]["background"]


def test_tick_colour_only_where_plotly_draws_ticks():
    # a tick colour set in a layout (not a template) would make plotly draw ticks on every chart
    assert "tickcolor" not in figure([dict(type="scatter", x=[1, 2], y=[3, 4])], {}).layout.xaxis.to_plotly_json()
    heatmap = figure([dict(type="heatmap", z=[[1, 2], [3, 4]])], {})
    assert heatmap.layout.xaxis.tickcolor == PALETTES["light"]["grid"]


def test_one_dimensional_arrays_go_as_lists_and_grids_stay_binary():
    fig = figure([dict(type="scatter", x=np.arange(3.0), y=np.ones(3), marker=dict(color=np.arange(3.0))),
                  dict(type="heatmap", z=np.ones((2, 3)))], {})
    spec = json.loads(pio.to_json(fig))
    assert spec["data"][0]["x"] == [0.0, 1.0, 2.0] and spec["data"][0]["marker"]["color"] == [0.0, 1.0, 2.0]
    assert spec["data"][1]["z"]["shape"] == "2, 3"
    assert "template" not in spec["layout"]
    long_curve = figure([dict(type="scatter", x=np.arange(3.0))], {}, as_arrays=True)
    assert "bdata" in json.loads(pio.to_json(long_curve))["data"][0]["x"]


def train_page_figures(**changes):
    config = TrainConfig(**{"n": 60, "steps": 12, "hidden": (4, 4), **changes})
    result, data = train(config), prepare_data(config)
    figures = {f"{kind} ({when})": fig for when, step in (("live", None), ("replay", result.history["step"][-1]))
               for kind, fig in frame(config, result.params, result.history, data, step=step, live=step is None).items()
               if kind != "health" and fig is not None}
    return {**figures, **result_figures(config, list(result.params), boundary=False)}


CASES = [dict(), dict(dataset="blobs", classes=3), dict(dataset="plane"), dict(dataset="sine")]


@pytest.mark.parametrize("changes", CASES, ids=["two classes", "three classes", "regression", "1-D regression"])
def test_the_train_page_figures_hold_nothing_plotly_would_rewrite(changes):
    """What Streamlit's copy of a drawn figure must leave unchanged for plotly, or it draws the chart again."""
    for name, fig in train_page_figures(**changes).items():
        spec = pio.to_json(fig)
        layout = fig.layout
        assert '"template"' not in spec and layout.datarevision == 1, name
        assert not re.search(r'"bdata":"[^"]*"}', spec), name  # a typed array: plotly compares it by identity
        assert "reversed" not in (layout.yaxis.autorange, layout.xaxis.autorange), name
        if layout.yaxis.scaleanchor:  # plotly widens a range to keep the aspect, and writes it back
            assert layout.xaxis.range is None and layout.yaxis.range is None, name
        for trace in fig.data:
            if trace.type == "contour":  # levels plotly picks itself are written back into the figure
                assert None not in (trace.contours.start, trace.contours.end, trace.contours.size), name
        if name.startswith("loss (replay)"):  # clickable: what Streamlit sets for a selectable chart, set already
            assert (layout.clickmode, layout.hovermode, layout.dragmode) == ("event+select", "closest", "pan")


def test_the_network_diagram_is_one_pixel_per_unit_without_a_scale_anchor():
    fig = train_page_figures()["network (replay)"]
    layout = fig.layout
    assert layout.yaxis.scaleanchor is None  # plotly rewrote the range it constrained
    x_range, y_range = layout.xaxis.range, layout.yaxis.range
    assert layout.width - layout.margin.l - layout.margin.r == x_range[1] - x_range[0]
    assert layout.height - layout.margin.t - layout.margin.b == y_range[1] - y_range[0]


def test_a_regression_map_with_overflowing_outputs_still_has_finite_levels():
    Z = np.array([[0.0, np.inf], [np.nan, 2.0]])
    fig = boundary_figure(np.arange(2.0), np.arange(2.0), Z, np.zeros((2, 2)), np.array([1.0, -1.0]), "regression")
    contours = fig.data[0].contours
    assert (contours.start, contours.end) == (-1.0, 2.0) and contours.size == pytest.approx(0.2)
    flat = boundary_figure(np.arange(2.0), np.arange(2.0), np.ones((2, 2)), np.zeros((1, 2)), np.ones(1), "regression")
    assert flat.data[0].contours.size == 1.0  # one value everywhere: still a level size plotly can use
