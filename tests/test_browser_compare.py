"""End-to-end: the Compare page in headless Chromium, against the app server's own run store."""
import re

import pytest
from playwright.sync_api import expect

from conftest import ARTIFACTS, open_page, wait_idle
from lab.config import TrainConfig
from lab.runs import RunStore
from lab.train import train

pytestmark = pytest.mark.browser
ROW = 35  # px: the height of a header or a row in Streamlit's data grid
WAIT = 60_000  # ms: plotly draws after the script has finished; generous for a busy machine


@pytest.fixture(scope="module")
def two_runs(app_server):
    store = RunStore(app_server["db"])
    configs = [TrainConfig(steps=30, n=60, hidden=(8,)),
               TrainConfig(steps=30, n=60, hidden=(8,), lr=0.1, activation="tanh")]
    return [store.save(train(c), name=f"browser run {i}") for i, c in enumerate(configs, 1)]


def train_traces(page):
    chart = page.locator(".st-key-cmp_loss")
    expect(chart.locator("g.trace.scatter").first).to_be_attached(timeout=WAIT)
    return chart.locator(".legendtext").filter(has_text="(train)")


def test_two_runs_from_the_url_give_two_train_curves(page, app_server, two_runs):
    a, b = two_runs
    open_page(page, f"{app_server['url']}/Compare?runs={a},{b}")
    assert page.locator("[data-testid='stException']").count() == 0
    chart = page.locator(".st-key-cmp_loss")
    expect(chart.locator("g.trace.scatter")).to_have_count(4, timeout=WAIT)  # train and test per run
    expect(train_traces(page)).to_have_count(2, timeout=WAIT)
    assert train_traces(page).all_text_contents() == [f"#{a} browser run 1 (train)", f"#{b} browser run 2 (train)"]
    expect(page.locator(f".st-key-cmp_boundary_{a} .main-svg").first).to_be_visible(timeout=WAIT)
    page.screenshot(path=str(ARTIFACTS / "compare-two-runs.png"), full_page=True)


def test_ticking_rows_in_the_table_selects_runs_and_updates_the_url(page, app_server, two_runs):
    a, b = two_runs
    open_page(page, f"{app_server['url']}/Compare")
    grid = page.locator("[data-testid='stDataFrame']").first
    expect(grid).to_be_visible(timeout=WAIT)
    expect(page.locator(".st-key-cmp_loss")).to_have_count(0, timeout=WAIT)
    box = grid.bounding_box()
    ids = [int(t) for t in _visible_ids(page, app_server)]
    for run_id in (a, b):  # the row-marker column, at the left of each row
        page.mouse.click(box["x"] + 18, box["y"] + ROW + ROW * ids.index(run_id) + ROW / 2)
        wait_idle(page)
    page.wait_for_url(re.compile(rf"runs=({a}|{b})(%2C|,)({a}|{b})$"), timeout=WAIT)  # either order
    expect(train_traces(page)).to_have_count(2, timeout=WAIT)
    assert page.locator("[data-testid='stException']").count() == 0


def _visible_ids(page, app_server):
    """Run ids in the table's order (newest first, as the store lists them)."""
    return [r["id"] for r in RunStore(app_server["db"]).list()]


def test_html_in_a_run_name_is_shown_as_text(page, app_server):
    store = RunStore(app_server["db"])
    run_id = store.save(train(TrainConfig(steps=5, n=40, hidden=(2,))), name="<b id=x>hi</b>")
    open_page(page, f"{app_server['url']}/Compare?runs={run_id}")
    expect(page.get_by_text(f"#{run_id} <b id=x>hi</b>").first).to_be_visible(timeout=WAIT)
    assert page.locator("b#x").count() == 0 and page.locator("#x").count() == 0
    assert page.locator("[data-testid='stException']").count() == 0
