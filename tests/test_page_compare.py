"""AppTest of pages/4_Compare.py: empty state, selection in the URL, the runs table, diff table,
curves and the side-by-side figures, and what hostile or odd stored runs cannot do."""
import base64
import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab.compare import MAX_SELECTED, train_link
from lab.config import TrainConfig
from lab.figures import run_color, smooth
from lab.runs import RunStore
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


def params_table(at):
    """The parameters table (st.dataframe without a selection keeps no key in AppTest): indexed by field."""
    [table] = [d.value for d in at.dataframe if d.value.index.name == "field"]
    return table


def texts(elements):
    """The elements' markdown, without the backslashes that escape user text (ui.escape_markdown)."""
    return re.sub(r"\\([^\w\s])", r"\1", " ".join(e.value for e in elements))


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
    loss = RunStore().get(runs[0])["history"]["train_loss"]
    assert values(figs[LOSS]["data"][0]["y"]) == pytest.approx(smooth(loss, 0.9))
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
    assert texts(at.warning) == f"Run #{runs[1]} cannot be read and is left out: its creation time 1e+20 is out of range"
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
    assert len([t for t in charts(at)[LOSS]["data"] if t["name"].endswith("(train)")]) == MAX_SELECTED
