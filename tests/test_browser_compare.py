"""End-to-end: the Compare page in headless Chromium, against the app server's own run store."""
import re

import pytest
from playwright.sync_api import expect

from conftest import ARTIFACTS, open_page, wait_idle
from lab.config import TrainConfig
from lab.runs import RunStore
from lab.sweep import parse_grid, run_sweep
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


@pytest.fixture(scope="module")
def seed_group(app_server):
    """A sweep's cell over 3 seeds and one other run: 4 runs, 3 of them a seed group."""
    store = RunStore(app_server["db"])
    base = TrainConfig(steps=40, n=60, hidden=(8,))
    ids = run_sweep(parse_grid(["lr=0.5"], base, seeds=3), store, "browser-seeds", workers=1)
    return ids + [store.save(train(base.replace(lr=0.05, activation="tanh", hidden=(4, 4))), name="browser other")]


def test_four_runs_with_a_seed_group_show_a_band_and_parallel_coordinates(page, app_server, seed_group):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 1400, "height": 5200})  # the whole page in one window (and one picture)
    open_page(page, f"{app_server['url']}/Compare?runs={','.join(map(str, seed_group))}")
    loss = page.locator(".st-key-cmp_loss")
    expect(loss.locator("g.trace.scatter").first).to_be_attached(timeout=WAIT)
    expect(loss.locator(".legendtext").filter(has_text="lr=0.5 (3 seeds) (train)")).to_have_count(1, timeout=WAIT)
    # the seed group's ± std bands: train and test of the one group, none for the run alone
    expect(loss.locator("path.js-fill")).to_have_count(2, timeout=WAIT)
    parcoords = page.locator(".st-key-cmp_parcoords")
    expect(parcoords.locator("g.parcoords").first).to_be_attached(timeout=WAIT)
    expect(parcoords.locator("text.axis-title").filter(has_text="test accuracy")).to_have_count(1, timeout=WAIT)
    labels = parcoords.locator("text.axis-title").all_text_contents()
    assert labels[:3] == ["hidden", "activation", "lr"] and "train loss" in labels, labels
    expect(page.locator(".st-key-cmp_scatter g.trace.scatter").first).to_be_attached(timeout=WAIT)
    for run_id in seed_group:  # four boundaries side by side, each at an equal axis scale
        expect(page.locator(f".st-key-cmp_boundary_{run_id} .main-svg").first).to_be_visible(timeout=WAIT)
    page.screenshot(path=str(ARTIFACTS / "compare-seed-group.png"), full_page=True)
    for run_id in seed_group:
        x_scale, y_scale = _pixels_per_unit(page, run_id)
        assert x_scale == pytest.approx(y_scale, rel=0.02), run_id  # a circle stays a circle
    assert page.locator("[data-testid='stException']").count() == 0 and not errors, errors


def _pixels_per_unit(page, run_id):
    """How many screen pixels one data unit takes on a boundary figure's x and y axes, as plotly drew it."""
    return page.locator(f".st-key-cmp_boundary_{run_id} .js-plotly-plot").first.evaluate(
        "el => ['xaxis', 'yaxis'].map(a => el._fullLayout[a]._length / "
        "Math.abs(el._fullLayout[a].range[1] - el._fullLayout[a].range[0]))")
