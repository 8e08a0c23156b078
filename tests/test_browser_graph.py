"""End-to-end: the Graph page in headless Chromium draws the MLP preset's SVG with every node."""
import pytest
from playwright.sync_api import expect

from conftest import ARTIFACTS, open_page, wait_idle
from micrograd.graph import graph_size
from micrograd.presets import build_preset

pytestmark = pytest.mark.browser
NODES = "[data-testid='stGraphVizChart'] svg g.node"


def test_mlp_preset_svg_has_every_node(page, app_server):
    page.set_viewport_size({"width": 1400, "height": 2400})
    open_page(page, f"{app_server['url']}/Graph")
    values, ops = graph_size(build_preset("MLP(3, [4, 4, 1]) forward + loss"))
    page.locator(".st-key-w_graph_source").get_by_text("MLP(3, [4, 4, 1]) + squared error", exact=True).click()
    page.wait_for_function(f"document.querySelectorAll(\"{NODES}\").length == {values + ops}")
    wait_idle(page)
    expect(page.locator(NODES)).to_have_count(values + ops)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator(f"{NODES} polygon[fill='#ffd54f']").count() == 0      # step 0: nothing processed yet
    page.screenshot(path=str(ARTIFACTS / "graph-mlp.png"), full_page=True)


def test_step_through_and_gradient_check_in_the_browser(page, app_server):
    page.set_viewport_size({"width": 1400, "height": 2400})
    open_page(page, f"{app_server['url']}/Graph")
    values, ops = graph_size(build_preset("L = (a*b + c)*f"))
    expect(page.locator(NODES)).to_have_count(values + ops)
    thumb = page.locator(".st-key-w_graph_step_L input[type='range']")
    for k in range(1, 4):      # one click per rerun: clicks sent during a run merge into one
        page.get_by_role("button", name="Next ▶").click()
        expect(thumb).to_have_value(str(k))
        wait_idle(page)
    expect(page.get_by_text("Step 3 of 4")).to_be_visible()
    # the processed node (d) and its op circle are amber
    expect(page.locator(f"{NODES} [fill='#ffd54f']")).to_have_count(2)
    expect(page.locator("[data-testid='stGraphVizChart'] svg").get_by_text("grad ?")).to_have_count(2)
    page.get_by_role("button", name="Check gradients").click()
    wait_idle(page)
    expect(page.get_by_text("All 4 gradients agree")).to_be_visible()
    expect(page.locator("[data-testid='stDataFrame'] canvas").first).to_be_visible()
    page.wait_for_timeout(500)  # the table paints its canvas after it appears; only for the screenshot
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "graph-L-step3.png"), full_page=True)


def test_the_page_css_still_reaches_the_chart(page, app_server):
    """The page styles the graph through how Streamlit renders it (the `stGraphVizChart` test id, the SVG
    inside): font sizes of the DOT source, and full width with sideways scrolling unless fitting. This
    fails when a Streamlit upgrade changes that, instead of the page silently losing its styling."""
    open_page(page, f"{app_server['url']}/Graph")
    page.locator(".st-key-w_graph_source").get_by_text("MLP(3, [4, 4, 1]) + squared error", exact=True).click()
    values, ops = graph_size(build_preset("MLP(3, [4, 4, 1]) forward + loss"))
    page.wait_for_function(f"document.querySelectorAll(\"{NODES}\").length == {values + ops}")
    wait_idle(page)
    box_text = ".st-key-graph_box svg g.node:not(:has(ellipse)) text"
    circle_text = ".st-key-graph_box svg g.node:has(ellipse) text"
    assert page.eval_on_selector(box_text, "e => getComputedStyle(e).fontSize") == "11px"
    assert page.eval_on_selector(circle_text, "e => getComputedStyle(e).fontSize") == "10px"
    svg_width = "b => b.querySelector('g.node').ownerSVGElement.getBoundingClientRect().width"
    sizes = f"b => [({svg_width})(b), b.clientWidth, b.scrollWidth]"
    svg_width, box_width, scroll_width = page.eval_on_selector(".st-key-graph_box", sizes)
    assert svg_width > box_width and scroll_width > box_width  # full size, scrolled sideways
    page.locator(".st-key-w_graph_fit_mlp label").click()  # fit: the graph shrinks to the page width
    wait_idle(page)
    page.wait_for_function("(() => { const b = document.querySelector('.st-key-graph_box');"
                           " const n = b && b.querySelector('g.node');"
                           " return n && n.ownerSVGElement.getBoundingClientRect().width <= b.clientWidth + 1; })()")
