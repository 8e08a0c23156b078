"""lab/compare.py and the store/figure helpers the Compare page stands on (no Streamlit)."""
import json
import math
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from lab import compare
from lab.config import TrainConfig
from lab.figures import loss_figure, run_color, smooth
from lab.runs import RunStore, RunStoreError
from lab.sweep import parse_grid, run_sweep
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


def test_labels_are_short_enough_for_column_headers(three):
    run = dict(three[0], name="a very long run name that goes on and on")
    assert compare.short_label(run) == f"#{run['id']} {run['name']}"[:21] + "…"
    assert compare.short_label(three[0]) == f"#{three[0]['id']} base"
    swept = dict(three[0], name="sweep-20261126-133932 lr=0.1 hidden=8", sweep="sweep-20261126-133932")
    assert compare.short_label(swept) == f"#{three[0]['id']} lr=0.1 hidden=8"


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
    fig = loss_figure(compare.curves(three), smoothing=0.6, x_key="time", log_y=True)
    train_traces = [t for t in fig.data if t.name.endswith("(train)")]
    assert len(train_traces) == 3 and len(fig.data) == 6  # train and test per run
    for run, trace in zip(three, train_traces):
        assert trace.line.color == run_color(run["id"]) and trace.name.startswith(f"#{run['id']} ")
        assert list(trace.y) == pytest.approx(smooth(run["history"]["train_loss"], 0.6))
        assert list(trace.x) == run["history"]["time"]
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.title.text == "wall time (s)"
    fast = loss_figure(compare.curves(three), smoothing=0.6, x_key="time", as_arrays=True)
    for slow_trace, fast_trace in zip(fig.data, fast.data):
        assert list(fast_trace.y) == pytest.approx(list(slow_trace.y)) and list(fast_trace.x) == list(slow_trace.x)
    wide = compare.legend_below(fig, len(fig.data))
    assert wide.layout.legend.y < 0 and wide.layout.height > 400


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
    [curve] = compare.curves([run])
    assert "<" not in curve["name"] and "&lt;b id=x&gt;hi" in curve["name"]
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
            run = by_id[view["ids"][j][i]]
            assert run["config"].lr == lr and run["config"].hidden == hidden
            assert view["z"][j][i] == run["final_loss"]
    assert sorted(i for row in view["ids"] for i in row) == sorted(ids)
    table = compare.sweep_table(runs, view["names"])
    assert list(table["link"]) == [f"Compare?runs={by_id[i]['id']}" for i in [ids[3], ids[2], ids[1], ids[0]]]
    assert list(table.columns[:2]) == ["lr", "hidden"]


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
    assert labels["text"][0][1] == f"{seed[1]['final_loss']:.3g} (stopped)"
    assert labels["text"][0][2] == f"{seed[2]['final_loss']:.3g}" and labels["z"][0][2] == seed[2]["final_loss"]
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
