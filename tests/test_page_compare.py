"""AppTest of pages/4_Compare.py: empty state, selection in the URL, diff table, rename, delete,
import and export, and a sweep from the Sweep tab."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab.compare import train_link
from lab.config import TrainConfig
from lab.figures import run_color, smooth
from lab.runs import RunStore
from lab.train import train

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "pages" / "4_Compare.py"
SMALL = TrainConfig(steps=10, n=40, hidden=(4,))


@pytest.fixture
def app(run_store, monkeypatch):
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(PAGE), default_timeout=60)


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
    """{key: plotly figure dict} of the plotly charts on the page."""
    return {el.proto.id.split("-", 3)[-1]: json.loads(el.proto.spec) for el in at.get("plotly_chart")}


def params_table(at):
    """The parameters table (st.dataframe without a selection keeps no key in AppTest): indexed by field."""
    [table] = [d.value for d in at.dataframe if d.value.index.name == "field"]
    return table


def texts(elements):
    return " ".join(e.value for e in elements)


def opened(app, runs=None):
    if runs is not None:
        app.query_params["runs"] = runs
    at = app.run()
    assert not at.exception, at.exception
    return at


def test_empty_store_explains_what_to_do(app):
    at = opened(app)
    assert at.title[0].value == "📊 Compare runs"
    assert "No saved runs yet" in texts(at.info)
    assert not charts(at) and not at.dataframe
    assert at.get("file_uploader")  # importing is possible from the empty state
    assert "[Open the Train page](Train)" in texts(at.markdown)


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
    assert {"cmp_loss", "cmp_bars", f"cmp_boundary_{a}", f"cmp_predictions_{a}", f"cmp_boundary_{b}",
            f"cmp_predictions_{b}"} <= set(figs)
    train_traces = [t for t in figs["cmp_loss"]["data"] if t["name"].endswith("(train)")]
    assert [t["name"] for t in train_traces] == [f"#{a} first (train)", f"#{b} second (train)"]
    assert [t["line"]["color"] for t in train_traces] == [run_color(a), run_color(b)]  # the same colours...
    assert list(figs["cmp_bars"]["data"][0]["marker"]["color"]) == [run_color(a), run_color(b)]  # ...everywhere
    assert f"Compare?runs={a},{b}" in texts(at.markdown)
    assert f"[re-run this config]({train_link(RunStore().get(b)['config'])})" in texts(at.caption)
    assert at.dataframe[0].value.shape[0] == 3  # the table still lists every run


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
    assert figs["cmp_loss"]["layout"]["yaxis"]["type"] == "log"
    assert figs["cmp_loss"]["layout"]["xaxis"]["title"]["text"] == "wall time (s)"
    loss = RunStore().get(runs[0])["history"]["train_loss"]
    assert values(figs["cmp_loss"]["data"][0]["y"]) == pytest.approx(smooth(loss, 0.9))
    assert values(figs["cmp_loss"]["data"][0]["x"]) == RunStore().get(runs[0])["history"]["time"]
    assert figs["cmp_bars"]["layout"]["title"]["text"] == "Final test loss"


def test_unknown_ids_in_the_link_are_dropped_with_a_warning(app, runs):
    at = opened(app, f"{runs[0]},999,oops")
    assert "Run #999 from the link is not in the store" in texts(at.warning)
    assert at.query_params["runs"] == [str(runs[0])] or at.query_params["runs"] == str(runs[0])


def test_rename(app, runs):
    a, b, _ = runs
    at = opened(app, f"{a},{b}")
    at.selectbox(key="cmp_manage").set_value(b).run()
    at.text_input(key=f"cmp_name_{b}").input("renamed run")
    at = at.button(key="cmp_rename").click().run()
    assert RunStore().get(b)["name"] == "renamed run"
    assert "Renamed run" in texts(at.success)
    assert f"#{b} renamed run (train)" in [t["name"] for t in charts(at)["cmp_loss"]["data"]]


def test_delete_asks_for_confirmation(app, runs):
    a, b, _ = runs
    at = opened(app, f"{a},{b}")
    at = at.button(key="cmp_delete").click().run()  # deletes run a, the first in the "Run" box
    assert "cannot be undone" in texts(at.warning)
    at = at.button(key="cmp_delete_no").click().run()
    assert "cannot be undone" not in texts(at.warning) and RunStore().count() == 3
    at = at.button(key="cmp_delete").click().run()
    at = at.button(key="cmp_delete_yes").click().run()
    assert not at.exception
    assert RunStore().count() == 2 and a not in [r["id"] for r in RunStore().list()]
    assert f"Deleted run #{a}" in texts(at.success)
    assert str(at.query_params["runs"]).strip("[]'") == str(b)
    assert f"cmp_boundary_{a}" not in charts(at) and f"cmp_boundary_{b}" in charts(at)


def test_import_of_a_bad_file_shows_an_error(app, runs):
    at = opened(app)
    at.file_uploader(key="cmp_import").set_value(("runs.json", b"{oops", "application/json"))
    at = at.run()
    assert not at.exception
    assert "**runs.json** was not imported: not a JSON file" in texts(at.error)
    at.file_uploader(key="cmp_import").set_value(("wrong.json", b'{"format": "x"}', "application/json"))
    assert "not a micrograd runs export" in texts(at.run().error)
    at.file_uploader(key="cmp_import").set_value(("pic.json", b"\xff\xd8\xff", "application/json"))
    assert "**pic.json** was not imported: it is not a text file" in texts(at.run().error)
    assert "**pic.json** was not imported" in texts(at.run().error)  # still explained while the file is there
    assert RunStore().count() == 3


def test_import_of_an_export_adds_and_selects_the_runs(app, runs):
    export = RunStore().export_json(runs[:2]).encode()
    at = opened(app)
    at.file_uploader(key="cmp_import").set_value(("runs.json", export, "application/json"))
    at = at.run()
    assert not at.exception and RunStore().count() == 5
    assert "Imported 2 run(s)" in texts(at.success)
    assert str(at.query_params["runs"]).strip("[]'") == "4,5"
    at = at.run()  # the upload is still there: it is not imported twice
    assert RunStore().count() == 5


def test_export_buttons_for_the_selection(app, runs):
    at = opened(app, f"{runs[0]},{runs[1]}")
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download 2 selected runs as CSV", "Download 2 selected runs as JSON"]


def test_run_whose_csv_is_gone(app, run_store, tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,target\n" + "".join(f"{i},{i % 4},{i % 2}\n" for i in range(16)))
    run_id = RunStore().save(train(TrainConfig(dataset="csv", csv_path=str(csv), steps=3, hidden=(2,))))
    csv.unlink()
    at = opened(app, str(run_id))
    assert "The CSV file of this run is gone (data.csv)" in texts(at.info)
    assert "cmp_loss" in charts(at) and f"cmp_boundary_{run_id}" not in charts(at)


def test_search_filters_the_table(app, runs):
    at = opened(app)
    at = at.text_input(key="cmp_search").input("tanh").run()
    assert list(at.dataframe[0].value["id"]) == [runs[1]]
    at = at.multiselect(key="cmp_dataset").set_value(["circles"]).run()
    assert at.dataframe[0].value.empty


def test_sweep_tab_runs_a_grid_and_links_back(app, runs):
    at = opened(app)
    at.session_state["compare_view"] = "Sweep"
    at = at.run()
    assert "from the defaults" in texts(at.caption)
    at.number_input(key="sw_workers").set_value(1)  # in this process: light for the test machine
    at.text_input(key="sw_values1_lr").input("0.1, 0.5")
    at.text_input(key="sw_values2_hidden").input("2, 4")
    at.text_input(key="sw_name").input("page-sweep")
    at = at.run()
    assert "4 runs (2 × 2: lr × hidden)" in texts(at.caption)
    at = at.button(key="sw_run").click().run()
    assert not at.exception
    job = at.session_state["sweep_job"]
    assert job.wait(timeout=120)
    at = at.run()
    assert "Sweep **page-sweep**: 4 runs" in texts(at.success)
    heat = charts(at)["sw_heatmap"]["data"][0]
    assert heat["x"] == ["0.1", "0.5"] and heat["y"] == ["2", "4"]
    [table] = [d.value for d in at.dataframe]
    assert list(table["link"]) == [f"Compare?runs={i}" for i in sorted(job.saved_ids())]
    at = at.button(key="sw_compare").click().run()
    assert at.session_state["compare_view"] == "Runs"
    assert sorted(map(int, str(at.query_params["runs"]).strip("[]'").split(","))) == sorted(job.saved_ids())
    assert "cmp_loss" in charts(at)


def test_sweep_tab_explains_a_bad_grid(app):
    at = opened(app)
    at.session_state["compare_view"] = "Sweep"
    at = at.run()
    at = at.text_input(key="sw_values1_lr").input("0.1, fast").run()
    assert "lr=fast: lr must be a number" in texts(at.error)
    assert at.button(key="sw_run").disabled
