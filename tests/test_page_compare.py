"""AppTest of pages/4_Compare.py: empty state, selection in the URL, the runs table, diff table,
curves (seed groups with their band), parallel coordinates and scatter, the side-by-side figures,
and what hostile or odd stored runs cannot do."""
import base64
import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import opened
from lab.compare import MAX_DIFF_COLUMNS, MAX_SELECTED, train_link
from lab.compare_figures import smooth, zero_floor
from lab.config import TrainConfig
from lab.figures import run_color
from lab.runs import RunRecorder, RunStore
from lab.sweep import parse_grid, run_sweep
from lab.train import train

ROOT = Path(__file__).resolve().parents[1]
SMALL = TrainConfig(steps=10, n=40, hidden=(4,))
LOSS = "Loss: train (solid) and test (dotted)"


def page_app(path):
    """A page of the app, started from its home page as `streamlit run dashboard.py` does (so that
    st.page_link to the other pages works)."""
    return AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).switch_page(path)


@pytest.fixture
def app(run_store, monkeypatch):
    monkeypatch.chdir(ROOT)
    return page_app("pages/4_Compare.py")


@pytest.fixture
def runs(run_store):
    """Three saved runs (lr and activation differ for the second; the third is on circles); their ids."""
    store = RunStore(run_store)
    configs = [SMALL, SMALL.replace(lr=0.1, activation="tanh"), SMALL.replace(dataset="circles")]
    return [store.save(train(c), name=n) for c, n in zip(configs, ["first", "second", "third"])]


def values(data):
    """A trace's x or y as a list, whether plotly sent a list or a binary array."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def charts(at):
    """{figure title: plotly figure dict} of the plotly charts on the page."""
    figures = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    return {fig["layout"]["title"]["text"]: fig for fig in figures}


def page_text(at):
    """Everything the page says, as sent to the browser: texts, tables and chart specs."""
    parts = [str(e.value) for kind in ("markdown", "caption", "info", "warning", "error", "success", "title")
             for e in at.get(kind)]
    parts += [d.value.to_csv() for d in at.dataframe] + [el.proto.spec for el in at.get("plotly_chart")]
    return "\n".join(parts)


def unescaped(text):
    """Markdown as the reader sees it, without the backslashes that escape user text (ui.escape_markdown)."""
    return re.sub(r"\\([^\w\s])", r"\1", str(text))


def static_table(at, index_name):
    """An st.table (which reads its cells as Markdown, so they come escaped) by its index's name, as shown."""
    [table] = [t.value for t in at.table if t.value.index.name == index_name]
    table = table.map(unescaped)
    table.columns, table.index = [unescaped(c) for c in table.columns], [unescaped(i) for i in table.index]
    return table


def params_table(at):
    """The parameters table: one row per config field (one column per run)."""
    return static_table(at, "field")


def texts(elements):
    """The elements' markdown, without the backslashes that escape user text (ui.escape_markdown)."""
    return unescaped(" ".join(e.value for e in elements))


def test_empty_store_explains_what_to_do(app):
    at = opened(app)
    assert at.title[0].value == "📊 Compare runs"
    assert "No saved runs yet" in texts(at.info)
    assert not charts(at) and not at.dataframe
    assert "[Open the Train page](Train)" in texts(at.markdown) and "[Import runs](Runs)" in texts(at.markdown)


def test_table_lists_runs_and_nothing_is_selected(app, runs):
    at = opened(app)
    [table] = at.dataframe
    assert list(table.value["id"]) == runs[::-1] and list(table.value["name"]) == ["third", "second", "first"]
    assert "Tick one or more rows" in texts(at.info)
    assert not charts(at)


def test_selection_from_the_url_draws_the_comparison(app, runs):
    a, b, _ = runs
    at = opened(app, f"{a},{b}")
    figs = charts(at)
    assert {LOSS, "Final train loss", f"#{a} Decision boundary", f"#{a} Predictions vs targets (test set)",
            f"#{b} Decision boundary", f"#{b} Predictions vs targets (test set)"} <= set(figs)
    train_traces = [t for t in figs[LOSS]["data"] if t["name"].endswith("(train)")]
    assert [t["name"] for t in train_traces] == [f"#{a} first (train)", f"#{b} second (train)"]
    assert [t["line"]["color"] for t in train_traces] == [run_color(a), run_color(b)]  # the same colours...
    bars = figs["Final train loss"]["data"][0]
    assert list(bars["marker"]["color"]) == [run_color(a), run_color(b)]  # ...everywhere
    assert f"Compare?runs={a},{b}" in texts(at.markdown)
    assert f"[re-run this config]({train_link(RunStore().get(b)['config'])})" in texts(at.caption)
    assert at.dataframe[0].value.shape[0] == 3  # the table still lists every run
    [link] = at.get("page_link")  # export, rename and delete are on the Runs page, with this selection
    assert link.proto.page == "Runs" and link.proto.query_string == f"runs={a}%2C{b}"


def test_parameters_table_shows_only_the_differences(app, runs):
    a, b, c = runs
    at = opened(app, f"{a},{b},{c}")
    diff = params_table(at)
    assert list(diff.index) == ["dataset", "activation", "lr"]
    assert list(diff.loc["lr"]) == ["0.5", "0.1", "0.5"]
    at = at.toggle(key="cmp_show_all").set_value(True).run()
    assert "steps" in params_table(at).index


def test_controls_change_the_loss_chart(app, runs):
    at = opened(app, f"{runs[0]}")
    at.slider(key="cmp_smoothing").set_value(0.9)
    at.toggle(key="cmp_log_y").set_value(True)
    at.segmented_control(key="cmp_x").set_value("time")
    at.selectbox(key="cmp_metric").set_value("final test loss")
    at = at.run()
    figs = charts(at)
    assert figs[LOSS]["layout"]["yaxis"]["type"] == "log"
    assert figs[LOSS]["layout"]["xaxis"]["title"]["text"] == "wall time (s)"
    history = RunStore().get(runs[0])["history"]
    floor = zero_floor([history["train_loss"], history["test_loss"]])
    assert values(figs[LOSS]["data"][0]["y"]) == pytest.approx(smooth(history["train_loss"], 0.9, True, floor))
    assert "smoothed (moving average, weight 0.9) in log space" in figs[LOSS]["layout"]["title"]["subtitle"]["text"]
    assert values(figs[LOSS]["data"][0]["x"]) == RunStore().get(runs[0])["history"]["time"]
    assert "Final test loss" in figs and "Final train loss" not in figs


def test_unknown_ids_in_the_link_are_dropped_with_a_warning(app, runs):
    at = opened(app, f"{runs[0]},999,oops")
    assert "Run #999 from the link is not in the store" in texts(at.warning)
    assert at.query_params["runs"] == [str(runs[0])] or at.query_params["runs"] == str(runs[0])


def test_search_filters_the_table(app, runs):
    at = opened(app)
    at = at.text_input(key="cmp_search").input("tanh").run()
    assert list(at.dataframe[0].value["id"]) == [runs[1]]
    at = at.multiselect(key="cmp_dataset").set_value(["circles"]).run()
    assert at.dataframe[0].value.empty


def test_a_run_whose_csv_is_gone_still_shows_its_curves(app, run_store, tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,target\n" + "".join(f"{i},{i % 4},{i % 2}\n" for i in range(16)))
    run_id = RunStore().save(train(TrainConfig(dataset="csv", csv_path=str(csv), steps=3, hidden=(2,))))
    csv.unlink()
    at = opened(app, str(run_id))
    assert "trained on a CSV file that the run store does not keep" in texts(at.info)
    assert LOSS in charts(at) and f"#{run_id} Decision boundary" not in charts(at)


# ---------------------------------------------------------------- hostile or odd stored runs
def test_html_in_a_run_name_is_shown_as_text(app, run_store):
    run_id = RunStore().save(train(SMALL), name="<b id=x>hi</b> [link](javascript:alert(1))")
    at = opened(app, str(run_id))
    sent = " ".join(e.value for kind in ("markdown", "caption") for e in at.get(kind))
    assert "&lt;b id=x&gt;hi&lt;/b&gt;" in sent  # shown literally...
    assert "<b" not in sent and "](javascript" not in sent  # ...never as a tag or a link
    assert not at.get("html")  # and nothing goes through st.html
    legend = [t["name"] for t in charts(at)[LOSS]["data"]]
    assert all("<b" not in name for name in legend) and any("&lt;b id=x&gt;" in name for name in legend)


def test_a_stored_csv_path_is_never_opened(app, run_store, tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("MARKER-7f3a secret line\n1,2,3\n")
    export = json.loads(RunStore().export_json([RunStore().save(train(SMALL))]))
    export["runs"][0]["config"].update(dataset="csv", csv_path=str(secret))  # as an imported file can say
    [run_id] = RunStore().import_json(json.dumps(export))
    opened_paths = []
    monkeypatch.setattr("lab.train.load_csv", lambda path, *args, **kwargs: opened_paths.append(path))
    at = opened(app, str(run_id))
    assert not opened_paths
    assert "MARKER-7f3a" not in page_text(at)
    assert LOSS in charts(at) and f"#{run_id} Decision boundary" not in charts(at)  # its curves, not its data
    assert "trained on a CSV file that the run store does not keep" in texts(at.info)


def test_a_run_with_an_odd_stored_value_is_flagged_not_fatal(app, runs, run_store):
    with sqlite3.connect(run_store) as db:
        db.execute("UPDATE runs SET created = 1e20 WHERE id = ?", (runs[1],))
    at = opened(app, f"{runs[0]},{runs[1]}")
    assert texts(at.warning) == (f"Run #{runs[1]} cannot be read and is left out: its creation time 1e+20 is out of "
                                 "range")
    assert len(at.dataframe[0].value) == 2 and LOSS in charts(at)


def test_huge_losses_are_readable_in_the_table(app, runs, run_store):
    with sqlite3.connect(run_store) as db:
        db.execute("UPDATE runs SET final_loss = 3.3e10 WHERE id = ?", (runs[0],))
    at = opened(app)
    shown = at.dataframe[0].proto.arrow_data.styler.display_values
    assert b"3.3e10" in shown and b"33000000000" not in shown
    assert at.dataframe[0].value["train loss"].max() == 3.3e10  # still a number: it sorts as one


def test_a_diverged_run_is_not_called_infinite(app, run_store):
    run_id = RunStore().save(train(SMALL.replace(lr=1e6, l2=0.0, steps=30)))
    at = opened(app, str(run_id))
    assert "diverged" in texts(at.info) and "infinite" not in texts(at.info)


def test_side_by_side_boundaries_keep_equal_axes(app, runs):
    at = opened(app, ",".join(map(str, runs)))
    for run_id in runs:
        layout = charts(at)[f"#{run_id} Decision boundary"]["layout"]
        assert layout["yaxis"]["scaleanchor"] == "x" and layout["yaxis"]["scaleratio"] == 1


def test_a_link_selects_at_most_the_cap(app, run_store):
    result = train(SMALL)
    ids = [RunStore().save(result, name=f"copy {i}") for i in range(MAX_SELECTED + 5)]
    at = opened(app, ",".join(map(str, ids)) + "," + "9" * 5000)  # and an "id" too long for SQLite
    assert f"The link names {MAX_SELECTED + 5} runs" in texts(at.warning)
    assert str(at.query_params["runs"]).strip("[]'") == ",".join(map(str, ids[:MAX_SELECTED]))
    [mean] = [t for t in charts(at)[LOSS]["data"] if t["name"].endswith("(train)")]  # one config: one group
    assert mean["name"].startswith(f"#{ids[0]},#{ids[1]},") and mean["name"].endswith(f"({MAX_SELECTED} runs) (train)")
    at = at.toggle(key="cmp_group").set_value(False).run()
    assert len([t for t in charts(at)[LOSS]["data"] if t["name"].endswith("(train)")]) == MAX_SELECTED


# ---------------------------------------------------------------- seed groups, parallel coordinates, more curves
@pytest.fixture
def seeded(run_store):
    """One config over 3 seeds (a sweep's cell) and a run of another config; their ids, the group's first."""
    store = RunStore(run_store)
    group = run_sweep(parse_grid(["lr=0.5"], SMALL, seeds=3), store, "s3", workers=1)
    return group + [store.save(train(SMALL.replace(activation="tanh")), name="other")]


def test_a_seed_group_shows_its_mean_with_a_band_and_its_spread(app, seeded):
    at = opened(app, ",".join(map(str, seeded)))
    loss = charts(at)[LOSS]
    bands = [t for t in loss["data"] if t.get("fill") == "toself"]
    assert [t["legendgroup"] for t in bands] == ["lr=0.5 (3 seeds) (train)", "lr=0.5 (3 seeds) (test)"]
    names = [t["name"] for t in loss["data"] if t.get("fill") != "toself"]
    assert names == ["lr=0.5 (3 seeds) (train)", "lr=0.5 (3 seeds) (test)", f"#{seeded[3]} other (train)",
                     f"#{seeded[3]} other (test)"]
    assert "band: mean ± 1 std over the seeds" in loss["layout"]["title"]["subtitle"]["text"]
    groups = static_table(at, "group")
    assert list(groups.index) == ["lr=0.5 (3 seeds)"] and groups["n"].tolist() == ["3"]
    assert groups["runs"].iloc[0] == " ".join(f"#{i}" for i in seeded[:3]) and " ± " in groups["train loss"].iloc[0]
    bars = charts(at)["Final train loss"]["data"][0]
    assert [name.split("<br>")[0] for name in bars["x"]] == [f"#{seeded[0]} +2 seeds", f"#{seeded[3]}"]
    assert bars["error_y"]["visible"] and " ± " in bars["x"][0]
    at = at.toggle(key="cmp_band").set_value(False).run()
    assert not any(t.get("fill") == "toself" for t in charts(at)[LOSS]["data"])
    at = at.toggle(key="cmp_group").set_value(False).run()
    assert len([t for t in charts(at)[LOSS]["data"] if t["name"].endswith("(train)")]) == 4
    assert "cmp_band" not in [t.key for t in at.toggle]  # a band needs groups


def test_runs_without_a_seed_sibling_offer_no_grouping(app, runs):
    at = opened(app, ",".join(map(str, runs)))
    assert "cmp_group" not in [t.key for t in at.toggle] and not [t for t in at.table if t.value.index.name == "group"]


def test_four_runs_show_parallel_coordinates_and_a_scatter(app, runs, run_store):
    ids = runs + [RunStore().save(train(SMALL.replace(lr=0.01, hidden=(8, 8))), name="fourth")]
    at = opened(app, ",".join(map(str, ids)))
    [parcoords] = charts(at)["Hyperparameters and final metrics"]["data"]
    assert parcoords["type"] == "parcoords"
    labels = [d["label"] for d in parcoords["dimensions"]]
    assert labels[:4] == ["data", "hidden", "activation", "lr"] and "train loss" in labels
    hidden = parcoords["dimensions"][1]
    assert hidden["ticktext"] == ["4", "8-8"]  # layer widths as people write them
    at = at.selectbox(key="cmp_colour").set_value("final test accuracy").run()
    [parcoords] = charts(at)["Hyperparameters and final metrics"]["data"]
    assert parcoords["line"]["colorbar"]["title"]["text"] == "final test accuracy"
    scatter = charts(at)["Final train loss against lr"]  # what differs comes first
    assert scatter["layout"]["xaxis"]["type"] == "log"  # lr from 0.01 to 0.5
    at.selectbox(key="cmp_scatter_x").set_value("activation")
    at = at.selectbox(key="cmp_scatter_y").set_value("final test loss").run()
    scatter = charts(at)["Final test loss against activation"]
    assert scatter["layout"]["xaxis"]["type"] == "category" and scatter["layout"]["xaxis"]["categoryarray"] == [
        "relu", "tanh"]


def test_one_run_has_no_parallel_coordinates(app, runs):
    at = opened(app, str(runs[0]))
    assert "Hyperparameters and final metrics" not in charts(at) and LOSS in charts(at)


def test_more_curves_show_the_other_stored_histories(app, runs):
    at = opened(app, f"{runs[0]},{runs[1]}")
    accuracy = charts(at)["Accuracy: train (solid) and test (dotted)"]
    assert len(accuracy["data"]) == 4 and accuracy["layout"]["yaxis"]["tickformat"] == ".0%"
    at = at.segmented_control(key="cmp_more").set_value("gradient norm").run()
    gradient = charts(at)["Gradient norm (of all weights, before each update)"]
    assert values(gradient["data"][0]["y"]) == pytest.approx(RunStore().get(runs[0])["history"]["grad_norm"])
    at = at.segmented_control(key="cmp_more").set_value("learning rate").run()
    schedule = charts(at)["Learning rate (after the schedule)"]
    assert values(schedule["data"][1]["y"]) == pytest.approx(RunStore().get(runs[1])["history"]["lr"])


def test_the_parameters_table_highlights_what_differs(app, runs):
    at = opened(app, ",".join(map(str, runs)))
    [table] = [t for t in at.table if t.value.index.name == "field"]
    css = table.proto.arrow_data.styler.styles
    assert "background-color" in css
    highlighted = set(re.findall(r"row(\d+)_col(\d+)", css))
    diff = params_table(at)
    expected = {(str(row), str(col)) for row, field in enumerate(diff.index)
                for col, value in enumerate(diff.loc[field])
                if list(diff.loc[field]).count(value) == 1}  # three runs: the odd one out in each row
    assert highlighted == expected and expected
    assert "Highlighted: the values that differ" in texts(at.caption)


def test_many_runs_give_one_parameters_row_per_run(app, run_store):
    store = RunStore()
    ids = [store.save(train(SMALL.replace(lr=lr)), name=f"lr {lr}") for lr in (0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8)]
    assert len(ids) > MAX_DIFF_COLUMNS
    at = opened(app, ",".join(map(str, ids)))
    table = static_table(at, "run")
    assert list(table.columns) == ["lr"] and len(table) == len(ids)
    assert table.index[0] == f"#{ids[0]} lr 0.1" and table["lr"].tolist()[-1] == "0.8"


def test_a_hostile_name_in_the_parameters_table_is_text(app, run_store):
    store = RunStore()
    a = store.save(train(SMALL), name="[click](javascript:alert(1)) <img src=x>")
    b = store.save(train(SMALL.replace(lr=0.1)), name="plain")
    at = opened(app, f"{a},{b}")
    [table] = [t for t in at.table if t.value.index.name == "field"]
    header = table.value.columns[0]
    assert "](javascript" not in header and "<img" not in header  # escaped: st.table reads Markdown and HTML
    assert unescaped(header).startswith(f"#{a} [click](javascript:")  # shown as the text it is


def test_running_and_interrupted_runs_show_in_the_table_and_filters(app, run_store):
    store = RunStore()
    config = SMALL.replace(steps=40)
    recorders = [RunRecorder(store, config, name=name, every=0) for name in ("still going", "killed")]
    for recorder in recorders:  # 3 steps checkpointed, never finished: as a kill leaves it
        steps = iter(range(100))
        train(config, on_start=recorder.on_start, on_step=recorder.on_step, should_stop=lambda: next(steps) >= 3)
    recorders[1].interrupt()
    at = opened(app)
    assert sorted(at.dataframe[0].value["status"]) == ["interrupted", "running"]
    caption = texts(at.caption)
    assert "1 running (still training" in caption and "1 interrupted (their process ended" in caption
    status = at.multiselect(key="cmp_status")
    assert status.format_func("running") == "running (1)" and status.format_func("finished") == "finished (0)"
    at = status.set_value(["interrupted"]).run()
    assert list(at.dataframe[0].value["id"]) == [recorders[1].run_id]
    at = opened(app, f"{recorders[0].run_id},{recorders[1].run_id}")
    assert "still training · 3 of 40 steps so far" in texts(at.caption)
    assert "interrupted at step 3 of 40" in texts(at.caption)
    assert LOSS in charts(at)


def test_each_compared_run_links_to_its_replay(app, runs):
    at = opened(app, f"{runs[0]},{runs[1]}")
    links = " ".join(m.value for m in at.markdown)
    assert f"Train?replay={runs[0]}" in links and f"Train?replay={runs[1]}" in links
