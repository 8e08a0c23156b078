"""AppTest of pages/5_Sweep.py: a grid trained from the page, its heatmap and links (a sweep over seeds
shows each cell's mean and spread), and the Dask scheduler: only the server's own setting, never an
address from the browser."""
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab import compare
from lab.config import TrainConfig
from lab.runs import RunStore
from lab.sweep import parse_grid
from lab.sweep import run_sweep as train_sweep

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app(run_store, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("MICROGRAD_DASK_SCHEDULER", raising=False)
    return AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).switch_page("pages/5_Sweep.py")


def texts(elements):
    """The elements' markdown, without the backslashes that escape user text (ui.escape_markdown)."""
    return re.sub(r"\\([^\w\s])", r"\1", " ".join(e.value for e in elements))


def charts(at):
    """{figure title: plotly figure dict} of the plotly charts on the page."""
    figures = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    return {fig["layout"]["title"]["text"]: fig for fig in figures}


def run_sweep(at, name="page-sweep"):
    at.number_input(key="sw_workers").set_value(1)  # in this process: light for the test machine
    at.text_input(key="sw_values1_lr").input("0.1, 0.5")
    at.text_input(key="sw_values2_hidden").input("2, 4")
    at.text_input(key="sw_name").input(name)
    at = at.run()
    assert "4 runs (2 × 2: lr × hidden) in this process" in texts(at.caption)
    at = at.button(key="sw_run").click().run()
    assert not at.exception
    job = at.session_state["sweep_job"]
    assert job.wait(timeout=120)
    return at.run(), job


def test_a_sweep_runs_a_grid_and_links_to_its_runs(app):
    at = app.run()
    assert at.title[0].value == "🧪 Sweep hyperparameters" and "from the defaults" in texts(at.caption)
    at, job = run_sweep(at)
    assert "Sweep **page-sweep**: 4 runs" in texts(at.success)
    heat = charts(at)["Final train loss over the grid of page-sweep"]["data"][0]
    assert heat["x"] == ["0.1", "0.5"] and heat["y"] == ["2", "4"]
    [table] = [d.value for d in at.dataframe]
    assert sorted(table["link"]) == sorted(f"Compare?runs={i}" for i in job.saved_ids())
    [link] = at.get("page_link")
    assert link.proto.page == "Compare" and link.proto.label == "Compare these 4 runs"
    linked = link.proto.query_string.removeprefix("runs=").split("%2C")
    assert sorted(map(int, linked)) == sorted(job.saved_ids())


def test_the_base_config_comes_from_the_train_page(app):
    app.session_state["config"] = TrainConfig(hidden=(3,), activation="tanh", steps=7)
    at = app.run()
    assert "from the Train page" in texts(at.caption) and "hidden 3 · tanh" in texts(at.caption)


def test_a_bad_grid_is_explained(app):
    at = app.run()
    at = at.text_input(key="sw_values1_lr").input("0.1, fast").run()
    assert "lr=fast: lr must be a number" in texts(at.error)
    assert at.button(key="sw_run").disabled


def test_the_browser_never_chooses_a_scheduler(app):
    app.query_params["scheduler"] = "tcp://attacker.example:8786"
    app.session_state["sw_scheduler"] = "tcp://attacker.example:8786"  # the old text input's key
    at = app.run()
    assert not any("scheduler" in w.label.lower() or "dask" in w.label.lower() for w in at.text_input)
    assert "none configured on this server" in texts(at.caption)
    at, job = run_sweep(at, "local")
    assert job.scheduler is None and job.error is None


def test_the_server_scheduler_is_shown_read_only(app, monkeypatch):
    monkeypatch.setenv("MICROGRAD_DASK_SCHEDULER", "tcp://10.0.0.5:8786")
    at = app.run()
    assert not any("10.0.0.5" in str(w.value) for w in at.text_input)  # nothing to edit...
    assert "on the server's Dask cluster at tcp://10.0.0.5:8786" in texts(at.caption)  # ...only shown
    at = at.toggle(key="sw_on_cluster").set_value(False).run()
    assert "on the server's Dask cluster" not in texts(at.caption)


def test_a_sweep_over_seeds_shows_each_cells_mean_and_spread(app, run_store):
    store = RunStore(run_store)
    ids = train_sweep(parse_grid(["lr=0.5,0.05"], TrainConfig(steps=8, n=40, hidden=(4,)), seeds=3), store, "s3",
                      workers=1)
    at = app.run()
    heat = charts(at)["Final train loss over the grid of s3"]["data"][0]
    assert heat["x"] == ["0.05", "0.5"]
    runs = {r["id"]: r for r in store.list(sweep="s3")}
    for i, lr in enumerate([0.05, 0.5]):
        losses = [r["final_loss"] for r in runs.values() if r["config"].lr == lr]
        assert heat["z"][0][i] == pytest.approx(sum(losses) / 3)  # the cell's mean, not its newest run
        assert heat["text"][0][i] == compare.spread_text(losses)
    assert "Each cell is the mean over its runs (3 seeds)" in texts(at.caption)
    [table] = [d.value for d in at.dataframe]
    assert list(table["lr"]) == ["0.05", "0.5"] and "± train loss" in table
    assert sorted(i for cell in table["runs"] for i in cell.replace("#", "").split()) == sorted(map(str, ids))
    [link] = at.get("page_link")
    assert link.proto.label == "Compare these 6 runs"
