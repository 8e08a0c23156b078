"""AppTest of pages/6_Runs.py: pick runs (from a Compare link), export them, rename or delete one,
import an export."""
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import opened
from lab.compare import MAX_SELECTED
from lab.config import TrainConfig
from lab.runs import RunStore
from lab.train import train

ROOT = Path(__file__).resolve().parents[1]
SMALL = TrainConfig(steps=10, n=40, hidden=(4,))


@pytest.fixture
def app(run_store, monkeypatch):
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).switch_page("pages/6_Runs.py")


@pytest.fixture
def runs(run_store):
    store = RunStore(run_store)
    return [store.save(train(SMALL.replace(seed=i)), name=n) for i, n in enumerate(["first", "second", "third"])]


def texts(elements):
    """The elements' markdown, without the backslashes that escape user text (ui.escape_markdown)."""
    return re.sub(r"\\([^\w\s])", r"\1", " ".join(e.value for e in elements))


def test_the_runs_of_a_link_are_picked_and_can_be_exported(app, runs):
    at = opened(app, f"{runs[0]},{runs[1]}")
    assert at.title[0].value == "🗂️ Runs"
    assert at.multiselect(key="runs_picked").value == runs[:2]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download 2 runs as CSV", "Download 2 runs as JSON"]
    at.multiselect(key="runs_picked").unselect(runs[0]).run()
    assert str(at.query_params["runs"]).strip("[]'") == str(runs[1])  # the address follows the picks


def test_nothing_picked_explains_what_to_do(app, runs):
    at = opened(app)
    assert not at.get("download_button") and "Pick runs above" in texts(at.caption)


def test_rename(app, runs):
    a, b, _ = runs
    at = opened(app, f"{a},{b}")
    at.selectbox(key="runs_manage").set_value(b).run()
    at.text_input(key=f"runs_name_{b}").input("renamed <i>run</i>")
    at = at.button(key="runs_rename").click().run()
    assert RunStore().get(b)["name"] == "renamed <i>run</i>"
    assert "Renamed run" in texts(at.success) and "<i>" not in at.success[0].value  # the name is escaped


def test_delete_asks_for_confirmation(app, runs):
    a, b, _ = runs
    at = opened(app, f"{a},{b}")
    at = at.button(key="runs_delete").click().run()  # deletes run a, the first in the "Run" box
    assert "cannot be undone" in texts(at.warning)
    at = at.button(key="runs_delete_no").click().run()
    assert "cannot be undone" not in texts(at.warning) and RunStore().count() == 3
    at = at.button(key="runs_delete").click().run()
    at = at.button(key="runs_delete_yes").click().run()
    assert not at.exception
    assert RunStore().count() == 2 and a not in [r["id"] for r in RunStore().list()]
    assert f"Deleted run #{a}" in texts(at.success)
    assert at.multiselect(key="runs_picked").value == [b]
    assert str(at.query_params["runs"]).strip("[]'") == str(b)


def test_import_of_a_bad_file_shows_an_error(app, runs):
    at = opened(app)
    at.file_uploader(key="runs_import").set_value(("runs.json", b"{oops", "application/json"))
    at = at.run()
    assert not at.exception
    assert "**runs.json** was not imported: not a JSON file" in texts(at.error)
    at.file_uploader(key="runs_import").set_value(("wrong.json", b'{"format": "x"}', "application/json"))
    assert "not a micrograd runs export" in texts(at.run().error)
    at.file_uploader(key="runs_import").set_value(("pic.json", b"\xff\xd8\xff", "application/json"))
    assert "**pic.json** was not imported: it is not a text file" in texts(at.run().error)
    assert "**pic.json** was not imported" in texts(at.run().error)  # still explained while the file is there
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    at.file_uploader(key="runs_import").set_value(("deep.json", deep, "application/json"))
    at = at.run()
    assert not at.exception and "**deep.json** was not imported" in texts(at.error)
    assert RunStore().count() == 3


def test_import_of_an_export_adds_and_picks_the_runs(app, runs):
    export = RunStore().export_json(runs[:2]).encode()
    at = opened(app)
    at.file_uploader(key="runs_import").set_value(("<b>runs</b>.json", export, "application/json"))
    at = at.run()
    assert not at.exception and RunStore().count() == 5
    assert "Imported 2 run(s) from **&lt;b&gt;runs&lt;/b&gt;.json**: 4,5" in texts(at.success)
    assert at.multiselect(key="runs_picked").value == [4, 5]
    [link] = at.get("page_link")
    assert link.proto.page == "Compare" and link.proto.query_string == "runs=4%2C5"
    at = at.run()  # the upload is still there: it is not imported twice
    assert RunStore().count() == 5


def test_importing_thousands_of_runs_picks_only_the_cap(app, runs):
    doc = json.loads(RunStore().export_json(runs[:1]))
    doc["runs"] *= MAX_SELECTED + 30
    at = opened(app)
    at.file_uploader(key="runs_import").set_value(("many.json", json.dumps(doc).encode(), "application/json"))
    at = at.run()
    assert RunStore().count() == 3 + MAX_SELECTED + 30
    assert len(at.multiselect(key="runs_picked").value) == MAX_SELECTED
    assert f"the first {MAX_SELECTED} are picked" in texts(at.success)
