"""End-to-end: the real app in headless Chromium."""
import re

import pytest
from playwright.sync_api import expect

from conftest import ARTIFACTS, open_page, wait_idle
from lab.train import snapshot_steps
from lab.train_view import nearest

pytestmark = pytest.mark.browser
PAGES = ["", "Train", "Graph", "Zero-grad_bug", "Compare", "Sweep", "Runs"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_without_an_exception(page, app_server, path):
    open_page(page, f"{app_server['url']}/{path}")
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("h1").count() >= 1
    page.screenshot(path=str(ARTIFACTS / f"page-{path or 'home'}.png"), full_page=True)


PREFETCHED = """() => performance.getEntriesByType("resource")
    .some(entry => entry.name.includes("/static/js/PlotlyChart.") && entry.initiatorType === "link")"""


def test_train_page_trains_and_the_loss_falls(page, app_server):
    open_page(page, f"{app_server['url']}/Train")
    page.wait_for_function(PREFETCHED)  # the page asked for plotly's script by a prefetch link, not by a chart
    # set a slider with the keyboard: focus the thumb of "Steps" and step it up
    thumb = page.locator(".st-key-w_steps input[type='range']")
    thumb.wait_for(state="attached")
    before = int(thumb.get_attribute("value"))
    thumb.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelector(\".st-key-w_steps input[type='range']\").value == '%d'"
                           % (before + 20))
    page.wait_for_url(re.compile(f"steps={before + 20}"))  # the config went into the URL, so the script saw it
    wait_idle(page)
    page.get_by_role("button", name=re.compile("Train")).click()
    page.wait_for_selector("text=Saved as run", timeout=60_000)
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Final loss")
    final = float(metric.locator("[data-testid='stMetricValue']").inner_text())
    delta = metric.locator("[data-testid='stMetricDelta']").inner_text()
    start = final - float(delta.split()[0])
    assert final < start
    # loss curve, decision boundary, every neuron, predictions vs targets, confusion matrix
    expect(page.locator("[data-testid='stPlotlyChart']")).to_have_count(6)
    expect(page.locator("[data-testid='stPlotlyChart'] .main-svg").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "train-after.png"), full_page=True)


def test_zero_grad_page_draws_both_loops(page, app_server):
    open_page(page, f"{app_server['url']}/Zero-grad_bug")
    assert page.locator("[data-testid='stException']").count() == 0
    loss = page.locator(".st-key-zg_loss [data-testid='stPlotlyChart'], [data-testid='stPlotlyChart']").first
    expect(loss.locator("g.trace.scatter")).to_have_count(3)  # correct, buggy, accumulation
    legend = " ".join(loss.locator("g.legend text.legendtext").all_text_contents())
    assert "correct" in legend and "buggy" in legend
    for line in loss.locator("g.trace.scatter path.js-line").all():
        assert len(line.get_attribute("d") or "") > 20  # a drawn curve, not an empty path
    expect(page.locator("[data-testid='stGraphVizChart'] svg g.node").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "zero-grad.png"), full_page=True)


def test_long_run_shows_a_live_chart_and_stops(page, app_server):
    open_page(page, f"{app_server['url']}/Train?steps=5000&engine=scalar")  # minutes of work: it must stay live
    page.get_by_role("button", name=re.compile("Train")).click()
    expect(page.locator("[data-testid='stProgress']")).to_be_visible()
    live = page.locator("[data-testid='stPlotlyChart'] .main-svg").first
    expect(live).to_be_visible()  # the live loss curve is drawn while training goes on
    expect(page.locator(".st-key-train button")).to_be_disabled()  # and looks it while the run goes on
    page.get_by_role("button", name=re.compile("Stop")).click()
    expect(page.get_by_text(re.compile(r"Stopped after \d+ of 5000 steps"))).to_be_visible()
    expect(page.locator(".st-key-train button")).to_be_enabled()
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "train-stopped.png"), full_page=True)


def test_settings_survive_a_visit_to_other_pages(page, app_server):
    """Streamlit forgets the widgets of a page it does not draw, and the sidebar's page links drop the
    Train page's URL settings: the settings come back, and the Graph page draws that net."""
    open_page(page, f"{app_server['url']}/Train?hidden=4,4&activation=tanh")
    nav = page.locator("[data-testid='stSidebarNav']")
    nav.get_by_role("link", name="Graph", exact=True).click()
    wait_idle(page)
    page.locator(".st-key-w_graph_source").get_by_text("The net from the Train page", exact=True).click()
    expect(page.get_by_text(re.compile(r"MLP\(2, \[4, 4, 1\]\), tanh hidden"))).to_be_visible()
    nav.get_by_role("link", name=re.compile("Zero.grad bug")).click()
    wait_idle(page)
    nav.get_by_role("link", name="Train", exact=True).click()
    page.wait_for_url(re.compile(r"hidden=4(%2C|,)4"))
    wait_idle(page)
    assert "activation=tanh" in page.url
    expect(page.locator(".st-key-w_activation").get_by_role("combobox")).to_have_value("tanh")
    assert page.locator(".st-key-w_width input[type='range']").get_attribute("value") == "4"
    assert page.locator("[data-testid='stException']").count() == 0


CHART_TITLES = """() => [...document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")]
    .map(chart => [chart.layout.title && chart.layout.title.text || "", chart.data.map(trace => trace.type)])"""


def chart_titles(page):
    """[(title, [trace types])] of the plotly charts the browser has drawn, from plotly's own data
    (Streamlit's theme wraps titles in <b>: the tags are dropped)."""
    return [(re.sub(r"</?b>", "", title), types) for title, types in page.evaluate(CHART_TITLES)]


def train_to_the_end(page, url):
    """Open the Train page at url, press Train, wait for the saved run's six charts; their (title, types)."""
    open_page(page, url)
    page.get_by_role("button", name=re.compile("Train")).click()
    expect(page.get_by_text("Saved as run")).to_be_visible()
    wait_idle(page)
    expect(page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot")).to_have_count(6)
    return chart_titles(page)


# Per chart: plotly's finished passes (plotly_afterplot, also sent by a pass that redraws nothing) and how often the
# path of its axis frame was set, which a full draw does once. (plotly puts `emit` on each chart's div: the
# accessor wraps it before the page's scripts run.)
COUNT_DRAWS = """
window.drawPasses = new WeakMap(); window.axisFrames = new WeakMap();
Object.defineProperty(HTMLDivElement.prototype, "emit", {configurable: true, get() { return this.wrappedEmit; },
    set(emit) { this.wrappedEmit = function (name) {
        if (name === "plotly_afterplot") window.drawPasses.set(this, (window.drawPasses.get(this) || 0) + 1);
        return emit.apply(this, arguments); }; }});
new MutationObserver(records => records.forEach(record => {
    const chart = record.target.closest(".js-plotly-plot");
    if (chart && record.target.matches(".xlines-above")) {
        window.axisFrames.set(chart, (window.axisFrames.get(chart) || 0) + 1);
    }
})).observe(document, {subtree: true, attributes: true, attributeFilter: ["d"]});
"""
CHARTS = "[...document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')]"


def test_every_chart_is_drawn_once_after_a_click(page, app_server):
    # Streamlit hands plotly a copy of each figure once it is mounted: a second pass, which must find nothing to
    # redraw (lab/chart_look.py). Before, all six charts were drawn twice.
    page.add_init_script(COUNT_DRAWS)
    train_to_the_end(page, f"{app_server['url']}/Train?hidden=4,4")
    page.wait_for_function(f"() => {CHARTS}.every(chart => window.drawPasses.get(chart) >= 2)")
    assert page.evaluate(f"() => {CHARTS}.map(chart => window.axisFrames.get(chart))") == [1] * 6


def test_the_boundary_and_the_neurons_redraw_while_it_trains(page, app_server):
    # minutes of numpy work (the budget allows it): the frames, not the end of the run, end the test
    open_page(page, f"{app_server['url']}/Train?steps=5000&n=5000&hidden=64,64&lr=0.05&lr_schedule=constant")
    page.get_by_role("button", name=re.compile("Train")).click()
    expect(page.locator("[data-testid='stProgress']")).to_be_visible()
    seen, neurons = set(), set()
    for _ in range(400):  # at most about 40 s of frames
        titles = [title for title, _ in chart_titles(page)]
        seen |= {t for t in titles if t.startswith("Decision boundary at step")}  # one title per frame
        # read over the frames too: each frame mounts the charts afresh, so one look can fall between two
        neurons |= {t for t in titles if t.startswith("Every neuron at step")}
        if (len(seen) >= 3 and neurons) or not page.locator("[data-testid='stProgress']").count():
            break
        page.wait_for_timeout(100)  # polling the browser's charts, not timing code
    assert page.locator("[data-testid='stProgress']").count(), "the run ended before three frames were seen"
    assert len(seen) >= 3, seen  # three different steps drawn while training went on
    assert neurons  # and every neuron, in the same frames
    page.screenshot(path=str(ARTIFACTS / "train-live.png"), full_page=True)
    page.get_by_role("button", name=re.compile("Stop")).click()
    # generous: on a busy 2-core machine the browser itself can take many seconds to send the click
    expect(page.get_by_text(re.compile(r"Stopped after \d+ of 5000 steps"))).to_be_visible(timeout=120_000)


def test_every_neuron_is_drawn_and_the_replay_slider_moves_the_boundary(page, app_server):
    charts = train_to_the_end(page, f"{app_server['url']}/Train?hidden=4,4&steps=200")
    maps = sum(types.count("heatmap") + types.count("contour") for title, types in charts
               if not title.startswith("Confusion"))
    assert maps >= 9  # 2 inputs + 4 + 4 + 1 neurons, and the boundary's contours
    assert any(t == "Decision boundary at step 200" for t, _ in charts)
    # the weights: SVG paths under the maps, one segment per weight of the 2-4-4-1 net (8 + 16 + 4 = 28)
    segments = page.evaluate("""() => [...document.querySelectorAll(".st-key-network .layer-subplot .shapelayer path")]
        .reduce((n, path) => n + (path.getAttribute("d").match(/M/g) || []).length, 0)""")
    assert segments == 28
    slider = page.locator(".st-key-w_replay input[type='range']")
    slider.focus()
    page.keyboard.press("Home")  # back to the first step
    page.wait_for_function("""() => [...document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")]
        .some(chart => /Decision boundary at step 1(<|$)/.test(chart.layout.title.text || ""))""")
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "train-replay.png"), full_page=True)


def test_a_three_class_run_draws_its_classes(page, app_server):
    charts = dict(train_to_the_end(page, f"{app_server['url']}/Train?dataset=spiral&classes=3&hidden=16&steps=100"))
    boundary = next(types for title, types in charts.items() if title.startswith("Decision boundary"))
    assert boundary.count("scatter") == 3  # one trace of points per class
    assert any(title.startswith("Accuracy per class") for title in charts)
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "train-three-classes.png"), full_page=True)


LOSS_POINT = """step => {  // where the train loss curve passes `step`, in page pixels, from plotly's own axes
    const chart = document.querySelector(".st-key-final_loss .js-plotly-plot");
    const layout = chart._fullLayout, trace = chart._fullData[0], box = chart.getBoundingClientRect();
    const xs = Array.from(trace.x), i = xs.findIndex(x => x >= step);
    return {x: box.left + layout._size.l + layout.xaxis.d2p(xs[i]),
            y: box.top + layout._size.t + layout.yaxis.d2p(Array.from(trace.y)[i])};
}"""
HOVERED_STEP = """() => {  // the step of the loss curve's point under the mouse, as plotly found it (null: none yet)
    const chart = document.querySelector(".st-key-final_loss .js-plotly-plot");
    return chart && chart._hoverdata && chart._hoverdata.length ? chart._hoverdata[0].x : null;
}"""
BOUNDARY = """() => {  // the boundary chart's title and the sum of its map (the contour's grid)
    const chart = document.querySelector(".st-key-boundary .js-plotly-plot");
    const rows = Array.from(chart._fullData.find(trace => trace.type === "contour").z);
    return [chart.layout.title.text, rows.reduce((sum, row) => sum + Array.from(row).reduce((a, b) => a + b, 0), 0)];
}"""


def test_clicking_a_point_of_the_loss_curve_replays_that_step(page, app_server):
    train_to_the_end(page, f"{app_server['url']}/Train?hidden=4,4&steps=200")
    slider = page.locator(".st-key-w_replay [data-testid='stSliderThumbValue']")
    expect(slider).to_have_text("200")  # a finished run opens at its end
    title, before = page.evaluate(BOUNDARY)
    assert "at step 200" in title
    page.locator(".st-key-final_loss").scroll_into_view_if_needed()
    point = page.evaluate(LOSS_POINT, 51)
    page.mouse.move(point["x"], point["y"])  # plotly picks the point under the mouse on its hover...
    clicked = page.wait_for_function(HOVERED_STEP).json_value()
    page.mouse.down()  # ...and a click without a move selects it: Streamlit's on_select reruns the page
    page.mouse.up()
    step = nearest(snapshot_steps(200), clicked)  # the run keeps 100 snapshots: every other step
    assert abs(step - 51) <= 3
    expect(slider).to_have_text(str(step))
    page.wait_for_function(f"""() => {{ const chart = document.querySelector(".st-key-boundary .js-plotly-plot");
        return chart && /at step {step}(<|$)/.test(chart.layout.title.text || ""); }}""")
    title, after = page.evaluate(BOUNDARY)
    assert after != before  # the boundary of another snapshot, not only a new title
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "train-clicked-step.png"), full_page=True)
