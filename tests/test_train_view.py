"""lab/train_view.py: what the Train page draws, checked without a browser."""
import re

import numpy as np
import pytest

from data import load_csv
from lab import train_view
from lab.config import TrainConfig
from lab.train import prepare_data, train


def data_of(config, dataset=None):
    return prepare_data(config, dataset)


def test_csv_class_names_and_regression_colours_in_the_picture():
    content = "a,b,kind\n" + "".join(f"{i},{i % 3},{'cat' if i % 2 else 'dog'}\n" for i in range(20))
    dataset = load_csv(content.encode(), name="pets")
    config = TrainConfig(dataset="csv", csv_upload="ab" * 32, test_fraction=0.0)
    svg = train_view.data_svg(config, data_of(config, dataset))
    assert all(f">{name}</text>" in svg for name in dataset.class_names) and "test (hollow)" not in svg
    sine = TrainConfig(dataset="sine")
    assert ">target</text>" in train_view.data_svg(sine, data_of(sine))  # 1-D: the target is the height
    plane = TrainConfig(dataset="plane", n=30)
    colours = set(re.findall(r'<circle [^>]*stroke="([^"]+)"', train_view.data_svg(plane, data_of(plane))))
    assert len(colours) > 10  # the targets as a colour scale, not two class colours


def test_a_frame_draws_the_snapshot_it_is_given():
    config = TrainConfig(hidden=(4, 4), steps=40)
    result = train(config)
    data = data_of(config)
    early = train_view.frame(config, result.snapshots[1], result.history, data, step=1)
    late = train_view.frame(config, result.params, result.history, data)
    [early_contour, *_] = [t for t in early["boundary"].data if t.type == "contour"]
    [late_contour, *_] = [t for t in late["boundary"].data if t.type == "contour"]
    assert not np.allclose(early_contour.z, late_contour.z)  # a different snapshot, a different picture
    assert early["boundary"].layout.title.text == "Decision boundary at step 1"
    assert len([t for t in early["network"].data if t.type == "heatmap"]) == 2 + 4 + 4 + 1
    assert [s.x0 for s in early["loss"].layout.shapes] == [1]  # the replayed step marked on the loss curve
    assert late["loss"].layout.shapes == () and late["health"].startswith("layer 1:")


def test_a_frame_without_weights_or_with_diverged_ones_draws_only_the_loss():
    config = TrainConfig(steps=5)
    result = train(config)
    assert train_view.frame(config, None, result.history, data_of(config))["boundary"] is None
    nan = [float("nan")] * len(result.params)
    out = train_view.frame(config, nan, result.history, data_of(config))
    assert out["loss"] is not None and out["boundary"] is None and out["network"] is None


def test_progress_text_gives_the_time_left_from_the_pace_so_far():
    assert train_view.progress_text(0, 100, 0.0) == "Training… step 0 of 100"
    assert train_view.progress_text(25, 100, 5.0) == "Training… step 25 of 100 · about 15 s left"
    assert train_view.progress_text(99, 100, 1.0).endswith("almost done")


def test_nearest_snapshot():
    assert train_view.nearest([1, 11, 21], 14.2) == 11 and train_view.nearest([1, 11, 21], 17) == 21
    assert train_view.nearest([1, 11, 21], -5) == 1 and train_view.nearest([1, 11, 21], 900) == 21


def test_a_click_on_the_loss_curve_picks_the_nearest_snapshot():
    steps = [1, 11, 21]
    assert train_view.clicked_step(steps, [{"x": 14.2, "y": 0.3, "curve_number": 0}]) == 11
    assert train_view.clicked_step(steps, [{"x": 19, "y": 0.1}, {"x": 2, "y": 0.9}]) == 21  # the first point
    assert train_view.clicked_step(steps, []) is None  # a click off the curves clears the selection
    assert train_view.clicked_step([], [{"x": 5}]) is None  # a run without snapshots has nothing to replay
    assert train_view.clicked_step(steps, [{"y": 0.2}]) is None  # a point without a step


def test_the_replay_loss_curve_can_be_clicked_and_the_live_one_is_not():
    config = TrainConfig(steps=30)
    result = train(config)
    data = data_of(config)
    replay = train_view.frame(config, result.params, result.history, data, step=30)["loss"]
    live = train_view.frame(config, result.params, result.history, data, live=True)["loss"]
    # plotly selects a clicked point only on a trace with markers: every curve has them, transparent
    assert replay.data and all("markers" in t.mode for t in replay.data)
    assert {t.marker.color for t in replay.data} == {"rgba(0,0,0,0)"}
    assert all(t.mode == "lines" for t in live.data)


def test_a_dead_network_is_flagged_and_a_good_one_is_not():
    good = train(TrainConfig())
    assert train_view.run_warnings(good, data_of(good.config)) == []
    dead = train(TrainConfig(lr=10.0, steps=100))
    warnings = train_view.run_warnings(dead, data_of(dead.config))
    assert dead.status == "finished" and warnings
    assert any("same for every sample" in w or "training failed" in w for w in warnings)


@pytest.mark.parametrize("dataset", ["sine", "plane"])
def test_regression_frames(dataset):
    config = TrainConfig(dataset=dataset, lr=0.03, steps=10, hidden=(3,))
    result = train(config)
    out = train_view.frame(config, result.params, result.history, data_of(config))
    assert out["boundary"].layout.title.text == "Network output at step 10"


def test_the_data_picture_needs_no_chart_library():
    config = TrainConfig(n=50)
    svg = train_view.data_svg(config, data_of(config))
    assert svg.startswith("<svg") and svg.count("<circle") == 50 + 4  # every sample, and the legend's four marks
    assert svg.count('r="4" fill="white"') == 10 + 1  # the test samples and the legend's hollow mark
    assert "The data: 40 training and 10 test samples" in svg
    sine = TrainConfig(dataset="sine", n=30)
    assert train_view.data_svg(sine, data_of(sine)).count("<circle") == 30 + 2
    content = "a,b,c,target\n" + "".join(f"{i},{i % 3},{i % 5},{i % 2}\n" for i in range(20))
    config = TrainConfig(dataset="csv", csv_upload="ab" * 32)
    assert train_view.data_svg(config, data_of(config, load_csv(content.encode(), name="wide"))) is None


def test_column_names_in_the_picture_are_escaped():
    content = 'x<b>,"y&z",target\n' + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(10))
    dataset = load_csv(content.encode(), name="hostile")
    config = TrainConfig(dataset="csv", csv_upload="ab" * 32)
    svg = train_view.data_svg(config, data_of(config, dataset))
    assert "<b>" not in svg and "x&lt;b&gt;" in svg and "y&amp;z" in svg


def test_live_frames_are_lighter_than_replayed_ones():
    config = TrainConfig(hidden=(4,), steps=2000)
    result = train(config)
    data = data_of(config)
    live = train_view.frame(config, result.params, result.history, data, live=True)
    still = train_view.frame(config, result.params, result.history, data)
    assert len(live["loss"].data[0].x) <= 601 < len(still["loss"].data[0].x) == 2000
    assert live["loss"].data[0].x[-1] == 2000  # thinned, but up to the last step
    assert [t.z.shape for t in live["network"].data if t.type == "heatmap"][0] == (12, 12)
    assert len(live["boundary"].data[0].z) < len(still["boundary"].data[0].z)


def test_three_classes_and_input_features():
    config = TrainConfig(dataset="spiral", classes=3, n=90, hidden=(8,), steps=30, features="x1,x2,x1*x2")
    result = train(config)
    data = data_of(config)
    svg = train_view.data_svg(config, data)
    assert svg.count('stroke="#2ca02c"') >= 30  # the third class has its own colour
    out = train_view.frame(config, result.params, result.history, data)
    heatmaps = [t for t in out["network"].data if t.type == "heatmap"]
    assert len(heatmaps) == 3 + 8 + 3  # three inputs (x1, x2, x1*x2), eight hidden, three outputs
    assert [t.name for t in heatmaps[:3]] == ["x1", "x2", "x1*x2"]
    assert out["boundary"].layout.title.text == "Decision boundary at step 30"


def test_a_live_frame_shows_some_points_of_a_big_set_and_the_grid_still_covers_them_all():
    config = TrainConfig(n=2000, steps=3, hidden=(4,))
    result = train(config)
    data = data_of(config)
    live = train_view.frame(config, result.params, result.history, data, live=True)["boundary"]
    still = train_view.frame(config, result.params, result.history, data, step=3)["boundary"]
    shown = sum(len(t.x) for t in live.data if t.type == "scatter")
    assert shown == train_view.LIVE["points"] and f"({shown:,} of 2,000 points shown)" in live.layout.title.text
    assert sum(len(t.x) for t in still.data if t.type == "scatter") == 2000 and "shown" not in still.layout.title.text
    [live_map, *_] = [t for t in live.data if t.type == "contour"]
    [still_map, *_] = [t for t in still.data if t.type == "contour"]
    assert np.isclose(live_map.x[0], still_map.x[0]) and np.isclose(live_map.y[-1], still_map.y[-1])  # same plane
    X = np.arange(20.0).reshape(10, 2)
    some, labels = train_view.some_points(X, np.arange(10), 4)
    assert len(some) == 4 and some[0][0] == 0 and some[-1][0] == 18 and list(labels) == [0, 3, 6, 9]


def test_charts_get_margins_for_their_labels_so_plotly_does_not_redraw_to_widen_them():
    config = TrainConfig(steps=5)
    result = train(config)
    frame = train_view.frame(config, result.params, result.history, data_of(config), step=5)
    assert frame["boundary"].layout.margin.r == 90  # room for the colour bar
    assert frame["loss"].layout.margin.r == 20 and frame["loss"].layout.margin.b == 75
