"""lab/compare.py and the store/figure helpers the Compare page stands on (no Streamlit)."""
import json
import math
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd
import pytest

from lab import compare
from lab import compare_figures as figures
from lab.config import TrainConfig
from lab.figures import run_color, smooth
from lab.runs import RunRecorder, RunStore, RunStoreError
from lab.sweep import cell_name, parse_grid, run_sweep
from lab.train import train

SMALL = TrainConfig(steps=12, n=40, hidden=(4,))


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs.sqlite")


@pytest.fixture
def three(store):
    """Three runs that differ in lr, activation and dataset; returns their full records, oldest first."""
    configs = [SMALL, SMALL.replace(lr=0.1, activation="tanh"), SMALL.replace(dataset="circles", hidden=(8, 8))]
    ids = [store.save(train(c), name=name) for c, name in zip(configs, ["base", "slow tanh", None])]
    return [store.get(i) for i in ids]


# ---------------------------------------------------------------- table
def test_runs_table_has_one_row_per_run_with_the_columns(store, three):
    table = compare.runs_table(store.list())
    assert list(table.columns) == compare.TABLE_COLUMNS
    assert list(table["id"]) == [r["id"] for r in reversed(three)]  # newest first, as listed
    row = table[table["id"] == three[1]["id"]].iloc[0]
    assert row["name"] == "slow tanh" and row["activation"] == "tanh" and row["lr"] == 0.1
    assert row["architecture"] == "2-4-1" and row["steps"] == 12 and row["status"] == "finished"
    assert row["train loss"] == pytest.approx(three[1]["history"]["train_loss"][-1])
    assert row["test loss"] == pytest.approx(three[1]["history"]["test_loss"][-1])
    assert 0 <= row["accuracy"] <= 1
    assert table[table["id"] == three[2]["id"]].iloc[0]["architecture"] == "2-8-8-1"
    assert compare.runs_table([]).empty and list(compare.runs_table([]).columns) == compare.TABLE_COLUMNS


def test_filter_table(store, three):
    table = compare.runs_table(store.list())
    def ids(df):
        return sorted(df["id"])
    assert ids(compare.filter_table(table)) == ids(table)
    assert ids(compare.filter_table(table, "TANH")) == [three[1]["id"]]
    assert ids(compare.filter_table(table, "2-4-1 slow")) == [three[1]["id"]]  # every word must match
    assert ids(compare.filter_table(table, f"#{three[0]['id']}")) == [three[0]["id"]]
    assert ids(compare.filter_table(table, datasets=["circles"])) == [three[2]["id"]]
    assert compare.filter_table(table, statuses=["diverged"]).empty
    assert compare.filter_table(table, "no such run").empty
    assert compare.filter_table(compare.runs_table([]), "x", ["finished"], ["moons"]).empty


# ---------------------------------------------------------------- selection and links
def test_ids_in_the_url():
    assert compare.parse_ids("3,7") == ([3, 7], [])
    assert compare.parse_ids(" 3, 7,3,,#9 ") == ([3, 7, 9], [])
    assert compare.parse_ids("3,x,-1") == ([3], ["x", "-1"])
    assert compare.parse_ids(None) == ([], []) and compare.parse_ids("") == ([], [])
    assert compare.format_ids([3, 7]) == "3,7"
    assert compare.compare_link([3, 7]) == "Compare?runs=3,7"


def test_train_link_carries_the_config():
    config = TrainConfig(lr=0.1, hidden=(8, 8), activation="tanh", steps=300, dataset="xor")
    link = compare.train_link(config)
    assert link.startswith("Train?")
    assert TrainConfig.from_dict(dict(parse_qsl(urlsplit(link).query))) == config
    assert compare.train_link(TrainConfig()) == "Train?"


# ---------------------------------------------------------------- parameters diff
def test_config_diff_shows_only_what_differs(three):
    diff = compare.config_diff(three)
    assert list(diff.index) == ["dataset", "hidden", "activation", "lr"]
    assert list(diff.columns) == [compare.short_label(r, 30) for r in three]
    assert list(diff.loc["hidden"]) == ["4", "4", "8-8"]
    assert list(diff.loc["lr"]) == ["0.5", "0.1", "0.5"]
    full = compare.config_diff(three, show_all=True)
    assert list(full.index) == compare.CONFIG_FIELDS and full.loc["steps"].tolist() == ["12"] * 3
    assert compare.config_diff(three[:1]).index.tolist() == compare.CONFIG_FIELDS  # one run: nothing differs: all
    assert compare.config_diff([three[0], three[0]]).empty
    assert compare.differing_fields([r["config"] for r in three[:2]]) == ["activation", "lr"]


def test_the_odd_values_out_are_highlighted(three):
    diff = compare.config_diff(three)
    mask = compare.differing_cells(diff)
    assert mask.loc["lr"].tolist() == [False, True, False] and mask.loc["dataset"].tolist() == [False, False, True]
    tie = compare.differing_cells(pd.DataFrame({"a": ["8"], "b": ["16"], "c": ["16"], "d": ["8"]}))
    assert tie.iloc[0].tolist() == [False, True, True, False]  # a tie: the first run's value is the usual one
    css = compare.highlighted_diff(diff).to_html().split("</style>")[0]  # the cells with a background
    assert sorted(re.findall(r"_row(\d+)_col(\d+)", css)) == sorted(
        (str(row), str(col)) for row, col in zip(*np.nonzero(mask.to_numpy())))
    many = pd.DataFrame({f"#{i}": [str(i % 2)] for i in range(compare.MAX_DIFF_COLUMNS + 1)}, index=["seed"])
    turned = compare.highlighted_diff(many)
    assert turned.data.index.name == "run" and list(turned.data.columns) == ["seed"]  # one row per run


def test_labels_are_short_enough_for_column_headers(three):
    run = dict(three[0], name="a very long run name that goes on and on")
    assert compare.short_label(run) == f"#{run['id']} {run['name']}"[:21] + "…"
    assert compare.short_label(three[0]) == f"#{three[0]['id']} base"
    swept = dict(three[0], name="sweep-20261126-133932 lr=0.1 hidden=8", sweep="sweep-20261126-133932")  # older
    assert compare.short_label(swept) == f"#{three[0]['id']} lr=0.1 hidden=8"
    grid = parse_grid(["lr=0.1,0.5"], SMALL, seeds=2)
    named = dict(three[0], name=cell_name("sweep-1129", grid, 1), sweep="sweep-1129")  # as sweeps name runs now
    assert named["name"] == "lr=0.1 seed=1 · sweep-1129"
    assert compare.own_name(named) == "lr=0.1 seed=1" and compare.short_label(named, None).endswith(" lr=0.1 seed=1")
    assert compare.own_name(dict(named, sweep=None)) == named["name"]  # not a sweep's run: its name as it is


@pytest.mark.parametrize("value, text", [(3.3e10, "3.3e10"), (1.2e-7, "1.2e-7"), (0.0123, "0.0123"), (0.5, "0.5"),
                                         (12345.678, "12346"), (0.0, "0"), (None, "–"), (float("inf"), "∞")])
def test_numbers_read_at_any_size(value, text):
    assert compare.format_number(value) == text


def test_runs_table_shows_engine_and_data_source(store, tmp_path, monkeypatch):
    monkeypatch.setenv("MICROGRAD_RUNS_DB", str(store.path))  # where training reads an upload from
    content = "a,b,target\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(12))
    upload = store.save_upload(content.encode(), "wavy <edge>.csv")
    kept = store.save(train(TrainConfig(dataset="csv", csv_upload=upload, steps=3, hidden=(2,), engine="scalar")))
    generated = store.save(train(SMALL))
    table = compare.runs_table(store.list()).set_index("id")
    assert table.loc[kept, "dataset"] == "CSV wavy <edge>.csv" and table.loc[kept, "engine"] == "scalar"
    assert table.loc[generated, "dataset"] == "moons" and table.loc[generated, "engine"] == "numpy"
    assert compare.data_source(dict(store.get(kept), csv_name=None)) == "CSV (file not kept)"
    assert list(compare.filter_table(table.reset_index(), "wavy")["id"]) == [kept]
    assert list(compare.filter_table(table.reset_index(), datasets=["CSV wavy <edge>.csv"])["id"]) == [kept]


def test_running_and_interrupted_runs_are_listed_and_explained(store):
    config = SMALL.replace(steps=50)
    running, interrupted = RunRecorder(store, config, every=0), RunRecorder(store, config, every=0)
    for recorder in (running, interrupted):  # stopped after 4 steps and never finished: as a kill leaves it
        steps = iter(range(100))
        train(config, on_start=recorder.on_start, on_step=recorder.on_step, should_stop=lambda: next(steps) >= 4)
    interrupted.interrupt()
    store.save(train(SMALL))
    table = compare.runs_table(store.list())
    assert sorted(table["status"]) == ["finished", "interrupted", "running"]
    assert list(compare.filter_table(table, statuses=["running"])["id"]) == [running.run_id]
    assert list(compare.filter_table(table, statuses=["interrupted", "running"])["id"]) == \
        [interrupted.run_id, running.run_id]
    note = compare.status_note(table)
    assert note.startswith("Runs 1 running (still training") and "1 interrupted (their process ended" in note
    assert compare.status_note(compare.filter_table(table, statuses=["finished"])) == ""
    assert compare.progress_text(store.get(running.run_id)).startswith("still training · 4 of 50 steps")
    assert compare.progress_text(store.get(interrupted.run_id)).startswith("interrupted at step 4 of 50")


# ---------------------------------------------------------------- curves, smoothing, metrics
def test_smoothing_is_an_exponential_moving_average():
    assert smooth([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    assert smooth([1.0, 3.0, 3.0], 0.5) == [1.0, 2.0, 2.5]
    assert smooth([4.0, None, float("nan"), 2.0], 0.5) == [4.0, None, None, 3.0]  # gaps are skipped, not zeros
    values = [math.sin(i) + i / 10 for i in range(200)]
    def rough(v):
        return sum(abs(b - a) for a, b in zip(v, v[1:]))
    assert rough(smooth(values, 0.9)) < rough(smooth(values, 0.5)) < rough(values)


def test_curves_overlay_with_one_colour_per_run(three):
    fig = figures.curves_figure(three, smoothing=0.6, x_key="time", log_y=True)
    train_traces = [t for t in fig.data if t.name.endswith("(train)")]
    assert len(train_traces) == 3 and len(fig.data) == 6  # train and test per run, no band without a seed group
    for run, trace in zip(three, train_traces):
        assert trace.line.color == run_color(run["id"]) and trace.name.startswith(f"#{run['id']} ")
        assert list(trace.y) == pytest.approx(figures.smooth(run["history"]["train_loss"], 0.6, log_y=True))
        assert list(trace.x) == run["history"]["time"]
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.title.text == "wall time (s)"
    assert "in log space" in fig.layout.title.subtitle.text
    assert fig.layout.legend.y < 0 and fig.layout.height > 400  # the legend under the plot


def test_linear_smoothing_is_tensorboards_moving_average(three):
    loss = three[0]["history"]["train_loss"]
    assert list(figures.smooth(loss, 0.6)) == pytest.approx(smooth(loss, 0.6))  # lab.figures' loop, vectorised
    assert list(figures.smooth([4.0, None, float("nan"), 2.0], 0.5))[3] == 3.0  # gaps are skipped, not zeros
    assert math.isnan(figures.smooth([4.0, None, 2.0], 0.5)[1])
    assert list(figures.smooth([1.0, 2.0, 3.0], 0.0)) == [1.0, 2.0, 3.0]


def test_smoothing_zeros_on_a_log_axis_stays_readable():
    losses = [1.0, 0.5, 0.1] + [0.0] * 2000  # a hinge loss that reaches 0 and stays there
    linear = smooth(losses, 0.9)
    assert min(v for v in linear if v > 0) < 1e-54  # the old way: a curve plunging to 1e-54 on a log axis
    floor = figures.zero_floor([losses])
    assert floor == 0.01  # one decade under the smallest positive loss
    logged = figures.smooth(losses, 0.9, log_y=True, floor=floor)
    assert logged.min() == pytest.approx(floor) and logged.max() <= 1.0
    assert logged[-1] == pytest.approx(floor)  # settles at the floor, never under it
    raw = figures.smooth(losses, 0.0, log_y=True, floor=floor)
    assert list(raw[:3]) == pytest.approx([1.0, 0.5, 0.1]) and raw[3] == pytest.approx(floor)
    assert figures.zero_floor([[0.2, 0.3]]) is None and figures.zero_floor([[0.0, 0.0]]) is None
    assert figures.zero_floor([[0.0, 3e-7], [2.0]]) == pytest.approx(1e-8)


def test_a_log_loss_chart_with_zeros_says_where_they_are(store):
    run = store.get(store.save(train(TrainConfig(steps=120, l2=0.0, loss="hinge", noise=0.05))))
    assert 0.0 in run["history"]["train_loss"]  # this config drives the hinge loss to exactly 0
    fig = figures.curves_figure([run], smoothing=0.9, log_y=True)
    smallest = min(min(v for v in trace.y if v == v) for trace in fig.data)
    positive = min(v for v in run["history"]["train_loss"] + run["history"]["test_loss"] if v and v > 0)
    floor = figures.zero_floor([run["history"]["train_loss"], run["history"]["test_loss"]])
    assert positive / 100 < floor <= positive / 10  # a round number a decade or so under the smallest loss
    assert floor * (1 - 1e-9) <= smallest < floor * 1.1  # zeros drawn at the floor, never under it (no 1e-54)
    note = fig.layout.title.subtitle.text
    assert "smoothed (moving average, weight 0.9) in log space" in note and "a value of 0 is drawn at 1e-" in note
    assert not figures.curves_figure([run]).layout.title.subtitle.text  # raw values: nothing to say


# ---------------------------------------------------------------- seed groups
@pytest.fixture
def seeded(store):
    """A 2-cell sweep repeated over 3 seeds (6 runs) and one run of its own; full records, oldest first."""
    run_sweep(parse_grid(["lr=0.5,0.05"], SMALL, seeds=3), store, "seeded", workers=1)
    store.save(train(SMALL.replace(activation="tanh")), name="alone")
    return [store.get(r["id"]) for r in reversed(store.list())]


def cell(runs, lr):
    """The runs of the `seeded` sweep's cell with this learning rate."""
    return [r for r in runs if r["sweep"] == "seeded" and r["config"].lr == lr]


def test_seed_groups_put_runs_that_differ_only_by_seed_together(seeded):
    groups = compare.seed_groups(seeded)
    assert [len(g) for g in groups] == [3, 3, 1]
    for group in groups[:2]:
        assert len({r["config"].lr for r in group}) == 1 and [r["config"].seed for r in group] == [0, 1, 2]
    assert compare.has_seed_groups(seeded) and not compare.has_seed_groups(seeded[:1] + seeded[-1:])
    assert compare.group_label(groups[0]) == "lr=0.5 (3 seeds)"  # the names without their seed=N
    assert compare.group_label(groups[2]) == compare.short_label(groups[2][0], 36)
    twins = [dict(seeded[-1], id=90, name="a"), dict(seeded[-1], id=91, name="b")]  # same seed: repeats
    assert compare.group_label(twins) == "#90,#91 (2 runs)"


def test_spread_is_the_mean_and_sample_std():
    assert compare.spread([1.0, 2.0, 3.0]) == (2.0, 1.0, 3)
    assert compare.spread([2.0, None, float("nan"), "x"]) == (2.0, None, 1)
    assert compare.spread([]) == (None, None, 0)
    assert compare.spread_text([1.0, 2.0, 3.0]) == "2 ± 1"
    assert compare.spread_text([0.0123, 0.0125]) == "0.0124 ± 1.4e-4"
    assert compare.spread_text([3.3e10]) == "3.3e10" and compare.spread_text([None]) == "–"


def test_groups_table_gives_each_groups_spread(seeded):
    table = compare.groups_table(seeded)
    assert list(table["group"]) == ["lr=0.5 (3 seeds)", "lr=0.05 (3 seeds)"]  # the run alone is no group
    assert list(table["n"]) == [3, 3] and list(table["seeds"]) == ["0, 1, 2", "0, 1, 2"]
    first = cell(seeded, 0.5)
    assert table["runs"][0] == " ".join(f"#{r['id']}" for r in sorted(first, key=lambda r: r["config"].seed))
    assert table["train loss"][0] == compare.spread_text([r["final_loss"] for r in first])
    assert " ± " in table["train loss"][0]
    assert compare.groups_table(seeded[-1:]).empty


def test_a_seed_group_is_one_mean_curve_with_a_band(seeded):
    fig = figures.curves_figure(seeded)
    bands = [t for t in fig.data if t.fill == "toself"]
    lines = [t for t in fig.data if t.fill != "toself"]
    assert len(bands) == 4 and len(lines) == 6  # train and test: a band for each group's, none for the run alone
    group = cell(seeded, 0.5)
    [mean] = [t for t in lines if t.name == "lr=0.5 (3 seeds) (train)"]
    losses = np.array([r["history"]["train_loss"] for r in group])
    assert list(mean.y) == pytest.approx(losses.mean(axis=0))
    [band] = [t for t in bands if t.legendgroup == mean.name]
    steps = len(mean.x)
    assert list(band.y[:steps]) == pytest.approx(losses.mean(axis=0) + losses.std(axis=0, ddof=1))
    assert list(band.y[steps:]) == pytest.approx((losses.mean(axis=0) - losses.std(axis=0, ddof=1))[::-1])
    assert "band: mean ± 1 std over the seeds" in fig.layout.title.subtitle.text
    assert not any(t.fill == "toself" for t in figures.curves_figure(seeded, band=False).data)
    assert len(figures.curves_figure(seeded, grouped=False).data) == 14  # every run its own pair of lines


def test_a_group_band_on_a_log_axis_is_around_the_geometric_mean(seeded):
    group = cell(seeded, 0.5)
    [mean] = [t for t in figures.curves_figure(group, log_y=True).data if t.name == "lr=0.5 (3 seeds) (train)"]
    logs = np.log10([r["history"]["train_loss"] for r in group])
    assert list(mean.y) == pytest.approx(10 ** logs.mean(axis=0))


def test_groups_of_runs_of_different_lengths_average_what_there_is(seeded):
    group = cell(seeded, 0.5)
    short = dict(group[0], history={k: v[:5] for k, v in group[0]["history"].items()})  # stopped after 5 steps
    lines, _ = figures.curve_lines([short, *group[1:]])
    [train] = [line for line in lines if line["name"].endswith("(train)")]
    assert len(train["y"]) == SMALL.steps and not np.isnan(train["y"]).any()
    later = np.mean([r["history"]["train_loss"][-1] for r in group[1:]])
    assert train["y"][-1] == pytest.approx(later)  # after step 5: the mean of the two that went on


def test_more_curves_chart_every_stored_history(three):
    for chart, key in (("gradient norm", "grad_norm"), ("learning rate", "lr"), ("accuracy", "test_accuracy")):
        fig = figures.curves_figure(three, chart)
        assert fig.layout.title.text == figures.CHARTS[chart][0]
        drawn = [t for t in fig.data if t.line.dash == ("dot" if key == "test_accuracy" else "solid")]
        assert len(drawn) == len(three)
        for trace, run in zip(drawn, three):
            assert list(trace.y) == pytest.approx(run["history"][key])
    assert figures.curves_figure(three, "accuracy", log_y=True).layout.yaxis.type != "log"  # never for accuracy
    assert figures.curves_figure(three, "gradient norm", log_y=True).layout.yaxis.type == "log"


# ---------------------------------------------------------------- parallel coordinates and scatter
def test_axes_of_numbers_words_and_layer_widths():
    lr = figures.axis("lr", [0.001, 0.01, 0.1], "lr")
    assert lr["kind"] == "log" and lr["values"] == pytest.approx([-3, -2, -1])
    assert lr["ticktext"] == ["0.001", "0.01", "0.1"] and lr["tickvals"] == pytest.approx([-3, -2, -1])
    assert figures.axis("lr", [0.1, 0.5], "lr")["kind"] == "linear"  # 5x is not decades
    hidden = figures.axis("hidden", [(16, 16), (4,), (8,)], "hidden")
    assert hidden["kind"] == "category" and hidden["ticktext"] == ["4", "8", "16-16"]  # by width, not as text
    assert hidden["values"] == [2, 0, 1] and hidden["tickvals"] == [0, 1, 2]
    activation = figures.axis("activation", ["tanh", "relu", "tanh"], "activation")
    assert activation["ticktext"] == ["relu", "tanh"] and activation["values"] == [1, 0, 1]
    l2 = figures.axis("l2", [0.0, 1e-4, 1e-2], "l2")
    assert l2["kind"] == "log" and l2["ticktext"] == ["0", "0.0001", "0.01"]
    assert l2["values"][0] < l2["values"][1]  # 0 sits under the smallest positive value


def test_metric_axes_read_at_any_size_and_mark_missing_values():
    loss = figures.axis("train loss", [3.3e10, 1e-5, 0.2, None])
    assert loss["kind"] == "log" and "3.3e10" not in loss["ticktext"]  # ticks at decades...
    assert "1e10" in loss["ticktext"] and "1e-5" in loss["ticktext"]  # ...written as format_number does
    assert loss["ticktext"][0] == "n/a" and loss["values"][3] == loss["tickvals"][0] < min(loss["values"][:3])
    accuracy = figures.axis("train accuracy", [0.8, 0.85, 0.97])
    assert accuracy["kind"] == "linear" and accuracy["tickvals"] == pytest.approx([0.8, 0.85, 0.9, 0.95])
    assert figures.nice_ticks(0.26, 0.71) == pytest.approx([0.3, 0.4, 0.5, 0.6, 0.7])
    assert figures.spans_decades([0.01, 0.5]) and not figures.spans_decades([0.1, 0.5, None, 0.0])


def test_parallel_coordinates_of_the_runs(store, three):
    runs = three + [store.get(store.save(train(SMALL.replace(lr=0.01, hidden=(8, 8)))))]
    fig = figures.parcoords_figure(runs, "final test loss")
    [trace] = fig.data
    assert trace.type == "parcoords"
    labels = [d.label for d in trace.dimensions]
    assert labels == ["data", "hidden", "activation", "lr", "train loss", "test loss", "train accuracy",
                      "test accuracy"]  # the hyperparameters that differ, then the final metrics
    dims = {d.label: d for d in trace.dimensions}
    assert list(dims["hidden"].ticktext) == ["4", "8-8"] and list(dims["activation"].ticktext) == ["relu", "tanh"]
    assert list(dims["data"].ticktext) == ["circles", "moons"]
    assert list(dims["lr"].ticktext) == ["0.01", "0.1", "0.5"]  # 50x: a log axis, a tick at each value
    assert list(dims["lr"].values) == pytest.approx([math.log10(r["config"].lr) for r in runs])
    assert list(trace.line.color) == list(dims["test loss"].values)  # coloured by the chosen metric
    assert trace.line.colorbar.title.text == "final test loss"
    assert "log scale: lr" in fig.layout.title.subtitle.text


def test_csv_runs_differ_by_their_files_name_not_its_hash(three):
    def from_csv(run, digit, name):
        return dict(run, config=run["config"].replace(dataset="csv", csv_upload=digit * 64), csv_name=name)
    runs = [from_csv(three[0], "a", "wavy.csv"), from_csv(three[1], "b", "<b>spiral</b>.csv")]
    data = figures.parallel_axes(runs)[0]
    assert data["label"] == "data" and data["ticktext"] == ["CSV &lt;b&gt;spiral&lt;/b&gt;.csv", "CSV wavy.csv"]
    assert compare.config_diff(runs).loc["csv_upload"].tolist() == ["CSV wavy.csv", "CSV <b>spiral</b>.csv"]  # no hash


def test_scatter_of_a_hyperparameter_against_a_metric(store, seeded):
    runs = seeded + [store.get(store.save(train(SMALL.replace(lr=0.005))))]
    fig = figures.scatter_figure(runs, "lr", "final train loss")
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == "lr (log scale)"  # 0.005 to 0.5
    points = [t for t in fig.data if t.marker.symbol != "diamond-open"]
    assert [(t.x[0], t.y[0]) for t in points] == [(r["config"].lr, r["final_loss"]) for r in runs]
    means = [t for t in fig.data if t.marker.symbol == "diamond-open"]
    assert [t.name for t in means] == ["lr=0.5 (3 seeds)", "lr=0.05 (3 seeds)"]
    group = [r["final_loss"] for r in cell(seeded, 0.5)]
    assert fig.layout.yaxis.type == "linear" and means[0].y[0] == pytest.approx(np.mean(group))
    assert means[0].error_y.array[0] == pytest.approx(np.std(group, ddof=1))
    spread_out = [dict(r, final_loss=loss) for r, loss in zip(cell(seeded, 0.5), [1e-3, 1e-2, 1e-1])]
    logged = figures.scatter_figure(spread_out + cell(seeded, 0.05), "lr", "final train loss")
    [mean] = [t for t in logged.data if t.marker.symbol == "diamond-open" and t.name.startswith("lr=0.5")]
    assert logged.layout.yaxis.type == "log" and mean.y[0] == pytest.approx(1e-2)  # a log axis: the geometric mean
    assert mean.error_y.array[0] == pytest.approx(0.1 - 0.01) and mean.error_y.arrayminus[0] == pytest.approx(0.009)
    words = figures.scatter_figure(runs, "activation", "final test accuracy", grouped=False)
    assert words.layout.xaxis.type == "category" and list(words.layout.xaxis.categoryarray) == ["relu", "tanh"]
    assert words.layout.yaxis.type == "linear" and len(words.data) == len(runs)
    assert figures.hyperparameter_fields(runs)[:2] == ["lr", "activation"]  # what differs first


def test_metric_bars_per_seed_group(seeded):
    fig = figures.metric_bars(seeded, "final train loss")
    [bars] = fig.data
    assert len(bars.x) == 3 and bars.x[0].startswith(f"#{cell(seeded, 0.5)[0]['id']} +2 seeds<br>")
    group = [r["final_loss"] for r in cell(seeded, 0.5)]
    assert bars.y[0] == pytest.approx(np.mean(group)) and bars.error_y.array[0] == pytest.approx(np.std(group, ddof=1))
    assert bars.customdata[0] == compare.spread_text(group) and bars.x[0].endswith(compare.spread_text(group))
    assert len(figures.metric_bars(seeded, "final train loss", grouped=False).data[0].x) == 7


def test_metric_values(three):
    assert compare.metric_values(three, "final train loss") == [r["final_loss"] for r in three]
    assert compare.metric_values(three, "final test accuracy") == [r["history"]["test_accuracy"][-1] for r in three]
    assert compare.metric_values(three, "training time (s)") == [r["elapsed"] for r in three]
    broken = [dict(three[0], final_loss=None, history={"test_accuracy": [None, None]})]
    assert compare.metric_values(broken, "final train loss") == [None]
    assert compare.metric_values(broken, "final test accuracy") == [None]


def test_loss_span(three):
    assert 0 < compare.loss_span(three) < 3
    assert compare.loss_span([{"history": {"train_loss": [1e-4, 1e4, None]}}]) == pytest.approx(8)
    assert compare.loss_span([]) == 0


def test_figure_problem_never_opens_a_csv_and_explains_divergence(store, tmp_path, three, monkeypatch):
    assert compare.figure_problem(three[0]) is None
    content = "a,b,target\n" + "".join(f"{i},{i % 3},{'x' if i % 2 else 'y'}\n" for i in range(12))
    csv = tmp_path / "two.csv"
    csv.write_text(content)
    from_a_path = store.get(store.save(train(TrainConfig(dataset="csv", csv_path=str(csv), steps=3, hidden=(2,)))))
    monkeypatch.setenv("MICROGRAD_RUNS_DB", str(store.path))  # where training reads an upload from
    kept = TrainConfig(dataset="csv", csv_upload=store.save_upload(content.encode(), "two.csv"), steps=3, hidden=(2,))
    from_the_store = store.get(store.save(train(kept)))

    def touched(*args, **kwargs):
        raise AssertionError("figure_problem looked at the file system")
    with monkeypatch.context() as patch:
        for method in ("is_file", "exists", "stat", "open", "read_bytes", "read_text"):
            patch.setattr(Path, method, touched)
        assert "trained on a CSV file that the run store does not keep" in compare.figure_problem(from_a_path)
        assert compare.figure_problem(from_the_store) is None  # the store's own copy of the upload is drawn
    diverged = store.get(store.save(train(SMALL.replace(lr=1e6, l2=0.0, steps=30))))
    problem = compare.figure_problem(diverged)
    assert diverged["status"] == "diverged" and "diverged" in problem and "infinite" not in problem


def test_odd_stored_values_are_flagged_not_fatal(store, three):
    summaries = store.list()
    odd = [dict(summaries[0], created=1e20), dict(summaries[1], final_loss="lots"), summaries[2]]
    table = compare.runs_table(odd)
    assert len(table) == 3 and table["created"].isna().tolist() == [True, False, False]
    assert math.isnan(table["train loss"][1])
    problems = compare.odd_runs(odd)
    assert set(problems) == {odd[0]["id"], odd[1]["id"]}
    assert "creation time '1e+20' is not a date" in problems[odd[0]["id"]]
    assert "final loss 'lots' is not a number" in problems[odd[1]["id"]]
    assert compare.created_time(float("nan")) is None and compare.created_time(0).year in (1969, 1970)


def test_unreadable_runs_are_left_out_with_a_reason(store, three):
    runs, problems = compare.load_runs(store, [three[0]["id"], 999])
    assert [r["id"] for r in runs] == [three[0]["id"]] and "no run with id 999" in problems[999]


def test_names_are_escaped_for_plotly(three):
    run = dict(three[0], name="<b id=x>hi</b>")
    pair = [run, three[1]]
    for fig in (figures.curves_figure(pair), figures.scatter_figure(pair, "lr", "final train loss"),
                figures.metric_bars(pair, "final train loss")):
        shown = json.dumps(fig.to_plotly_json()["data"])
        assert "<b id=x>" not in shown and "&lt;b id=x&gt;hi" in shown
    assert "<b" not in json.dumps(figures.parcoords_figure(pair).to_plotly_json())  # one line per run, no names
    assert compare.plotly_text("a & <i>b</i>") == "a &amp; &lt;i&gt;b&lt;/i&gt;"


def test_selection_from_a_link_is_capped_and_checked(three):
    known = {r["id"] for r in three}
    ids = [r["id"] for r in three]
    assert compare.selection(compare.format_ids(ids), known) == (ids, [])
    selected, warnings = compare.selection(f"{ids[0]},999,998", known)
    assert selected == ids[:1] and warnings == ["Runs #999, #998 from the link are not in the store (deleted?) "
                                                "and were left out."]
    many = ",".join(str(i) for i in range(1, compare.MAX_SELECTED + 11))
    selected, warnings = compare.selection(many, set(range(1, 100)))
    assert selected == list(range(1, compare.MAX_SELECTED + 1))
    assert warnings[0].startswith(f"The link names {compare.MAX_SELECTED + 10} runs")
    assert compare.parse_ids("3," + "9" * 19) == ([3], ["9" * 19])  # too long for SQLite: junk, not an id


def test_import_runs_reports_instead_of_raising(store, three):
    assert compare.import_runs(store, b"\xff\xfe") == ([], "it is not a text file: expected a JSON export")
    assert compare.import_runs(store, b"[" * 100_000 + b"]" * 100_000)[0] == []
    new, problem = compare.import_runs(store, store.export_json([three[0]["id"]]).encode())
    assert problem is None and len(new) == 1


def test_boundaries_keep_equal_axes_except_for_csv_features():
    from lab.figures import result_figures
    run = train(SMALL)
    boundary = result_figures(SMALL, run.params)["boundary"]
    assert boundary.layout.yaxis.scaleanchor == "x" and boundary.layout.yaxis.scaleratio == 1


def test_configured_scheduler_comes_only_from_the_server(monkeypatch):
    from lab.sweep import configured_scheduler
    monkeypatch.delenv("MICROGRAD_DASK_SCHEDULER", raising=False)
    assert configured_scheduler() is None
    monkeypatch.setenv("MICROGRAD_DASK_SCHEDULER", " tcp://10.0.0.5:8786 ")
    assert configured_scheduler() == "tcp://10.0.0.5:8786"
    monkeypatch.setenv("MICROGRAD_DASK_SCHEDULER", "")
    assert configured_scheduler() is None


# ---------------------------------------------------------------- sweeps
def test_sweep_view_lays_the_runs_on_the_grid(store):
    grid = parse_grid(["lr=0.5,0.05", "hidden=8,4"], SMALL)
    ids = run_sweep(grid, store, "g", workers=1)
    runs = store.list(sweep="g")
    assert compare.sweep_axes(store, "g") == ["lr", "hidden"]  # the grid's order, as the store keeps it
    view = compare.sweep_view(runs, names=compare.sweep_axes(store, "g"))
    assert view["names"] == ["lr", "hidden"]
    assert compare.sweep_view(runs)["names"] == ["hidden", "lr"]  # an old sweep: TrainConfig's order
    assert view["x"] == ["0.05", "0.5"] and view["y"] == ["4", "8"]  # sorted values
    by_id = {r["id"]: r for r in runs}
    for j, hidden in enumerate([(4,), (8,)]):
        for i, lr in enumerate([0.05, 0.5]):
            [run_id] = view["ids"][j][i]
            run = by_id[run_id]
            assert run["config"].lr == lr and run["config"].hidden == hidden
            assert view["z"][j][i] == run["final_loss"]
    assert sorted(i for row in view["ids"] for cell in row for i in cell) == sorted(ids)
    assert view["seeds"] == 1 and "mean" not in compare.sweep_caption(view)
    table = compare.sweep_table(runs, view["names"])
    assert list(table["link"]) == [f"Compare?runs={by_id[i]['id']}" for i in [ids[3], ids[2], ids[1], ids[0]]]
    assert list(table.columns) == ["lr", "hidden", "runs", "status", "train loss", "test loss", "accuracy", "link"]
    assert list(table["train loss"]) == [by_id[i]["final_loss"] for i in [ids[3], ids[2], ids[1], ids[0]]]


def test_a_sweep_over_seeds_shows_each_cells_mean_and_spread(store):
    run_sweep(parse_grid(["lr=0.5,0.05"], SMALL, seeds=3), store, "s3", workers=1)
    runs = store.list(sweep="s3")
    assert compare.sweep_axes(store, "s3") == ["lr"]  # the seeds are grouped, not an axis
    view = compare.sweep_view(runs, names=["lr"])
    assert view["x"] == ["0.05", "0.5"] and view["seeds"] == 3
    for i, lr in enumerate([0.05, 0.5]):
        cell = [r for r in runs if r["config"].lr == lr]
        losses = [r["final_loss"] for r in cell]
        assert sorted(view["ids"][0][i]) == sorted(r["id"] for r in cell)
        assert view["z"][0][i] == pytest.approx(np.mean(losses))  # the mean, not the newest run
        assert view["text"][0][i] == compare.spread_text(losses) and " ± " in view["text"][0][i]
    assert "mean over its runs (3 seeds)" in compare.sweep_caption(view)
    table = compare.sweep_table(runs, ["lr"])
    assert list(table.columns) == ["lr", "runs", "status", "train loss", "± train loss", "test loss", "± test loss",
                                   "accuracy", "± accuracy", "link"]
    assert list(table["status"]) == ["3 finished", "3 finished"]
    cell = [r for r in runs if r["config"].lr == 0.05]
    assert table["± train loss"][0] == pytest.approx(np.std([r["final_loss"] for r in cell], ddof=1))
    assert table["link"][0] == compare.compare_link(sorted(r["id"] for r in cell))
    diverged = [dict(cell[0], status="diverged", final_loss=1e9), *cell[1:]]
    assert compare.cell_text(diverged, "final_loss").endswith("<br>1 of 3 diverged")
    mean = compare.sweep_view(diverged, names=["lr"])["z"][0][0]
    assert mean == pytest.approx(np.mean([r["final_loss"] for r in cell[1:]]))  # 1e9 left out


def test_sweep_view_one_field_and_gaps(store):
    ids = run_sweep(parse_grid(["seed=2,0,1"], SMALL), store, "seeds", workers=1)
    runs = store.list(sweep="seeds")
    view = compare.sweep_view(runs, metric="final_test_loss")
    assert view["names"] == ["seed"] and view["x"] == ["0", "1", "2"] and view["y"] == [""]
    assert view["z"][0][2] == store.get(ids[0])["final_test_loss"]
    gap = compare.sweep_view([r for r in runs if r["id"] != ids[2]], names=["seed"])  # seed=1 was cancelled
    assert gap["x"] == ["0", "2"]
    seed = {r["config"].seed: r for r in runs}  # column i of the view is seed i
    odd = [dict(seed[0], status="diverged", final_loss=1e9), dict(seed[1], status="stopped"), seed[2]]
    labels = compare.sweep_view(odd, names=["seed"])
    assert labels["text"][0][0] == "diverged" and labels["z"][0][0] is None  # 1e9 would swamp the colours
    assert labels["text"][0][1] == f"{compare.format_number(seed[1]['final_loss'], 3)} (stopped)"
    assert labels["text"][0][2] == compare.format_number(seed[2]["final_loss"], 3)
    assert labels["z"][0][2] == seed[2]["final_loss"]
    assert "Blank cells" in compare.sweep_caption(labels)
    assert compare.sweep_names(store.list()) == {"seeds": 3}


# ---------------------------------------------------------------- import validation
def test_export_then_import_round_trip(store, three):
    ids = [r["id"] for r in three]
    new = store.import_json(store.export_json(ids))
    assert len(new) == 3
    for old_id, new_id in zip(ids, new):
        a, b = store.get(old_id), store.get(new_id)
        same = lambda run: {k: v for k, v in run.items() if k not in ("id", "snapshots")}  # noqa: E731
        assert same(a) == same(b)
        assert a["snapshots"] and b["snapshots"] == {}  # an export carries no replay: the run shows its end


@pytest.mark.parametrize("change, message", [
    (lambda run: run.pop("history"), "missing field 'history'"),
    (lambda run: run["history"].pop("lr"), "history must have exactly the keys"),
    (lambda run: run["history"]["train_loss"].append(1.0), "different lengths"),
    (lambda run: run["history"]["train_loss"].__setitem__(0, "low"), "history values must be numbers"),
    (lambda run: run.update(params=run["params"][:-1]), "expected 17 weights"),
    (lambda run: run["params"].__setitem__(0, "w"), "the weights must be numbers"),
    (lambda run: run["config"].update(lr=-1), "bad config: the learning rate must be positive"),
    (lambda run: run["config"].update(colour="red"), "unknown config field"),
    (lambda run: run.update(status="great"), "status must be one of"),
    (lambda run: run.update(task="poetry"), "task must be classification or regression"),
    (lambda run: run.update(final_loss="0.1"), "final_loss must be a number"),
    (lambda run: run.update(n_features="many"), "n_features must be an integer"),
])
def test_import_rejects_bad_runs_with_a_clear_message(store, three, change, message):
    doc = json.loads(store.export_json([three[0]["id"], three[1]["id"]]))
    change(doc["runs"][1])
    before = store.count()
    with pytest.raises(RunStoreError, match=message) as error:
        store.import_json(json.dumps(doc))
    assert str(error.value).startswith("run #2 in the file")
    assert store.count() == before  # nothing half-imported


@pytest.mark.parametrize("text, message", [
    ("", "not a JSON file"), ("{oops", "not a JSON file"), ("[1, 2]", "not a micrograd runs export"),
    ('{"format": "other", "runs": []}', "not a micrograd runs export"),
    ('{"format": "micrograd-runs", "runs": [3]}', "run #1 in the file is not an object"),
])
def test_import_rejects_files_that_are_not_exports(store, text, message):
    with pytest.raises(RunStoreError, match=message):
        store.import_json(text)


def test_every_offered_sweep_example_is_a_valid_grid():
    for field, text in compare.SWEEP_EXAMPLES.items():
        grid = parse_grid([f"{field}={text}"], TrainConfig())
        assert len(grid.configs) == len(text.split(",")), field
