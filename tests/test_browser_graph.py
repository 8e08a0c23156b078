"""End-to-end: the Graph page in headless Chromium. The drawing is laid out once per graph and each backward
step is a style sheet on it (micrograd.graph.step_style), so what a student sees is checked here: computed
colours and visible texts, the step's node scrolled into view, toggles that match the drawing."""
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect

from conftest import ARTIFACTS, open_page, wait_idle
from micrograd.backprop import backward_steps
from micrograd.graph import dot_ids, graph_size, svg_id
from micrograd.presets import build_preset

pytestmark = pytest.mark.browser
NODES = "[data-testid='stGraphVizChart'] svg g.node"
MLP = "MLP(3, [4, 4, 1]) forward + loss"
AMBER, RED = "rgb(255, 213, 79)", "rgb(211, 47, 47)"
# ids of the boxes and circles filled with a colour, and the texts a student can see, read from the page
FILLED = f"""colour => [...document.querySelectorAll("{NODES}")]
    .filter(g => getComputedStyle(g.querySelector('polygon, ellipse')).fill === colour)
    .map(g => g.id)"""
VISIBLE_TEXTS = f"""() => [...document.querySelectorAll("{NODES} text")]
    .filter(t => getComputedStyle(t).visibility === 'visible').map(t => t.textContent.trim())"""
# is the element with this id inside the graph box's visible part and inside the window?
IN_VIEW = """id => { const node = document.getElementById(id), box = document.querySelector('.st-key-graph_box');
    if (!node || !box) return false;
    const n = node.getBoundingClientRect(), b = box.getBoundingClientRect();
    return n.left >= b.left && n.right <= b.left + box.clientWidth && n.top >= b.top
        && n.bottom <= b.top + box.clientHeight && n.top >= 0 && n.bottom <= window.innerHeight; }"""


def choose(page, label):
    page.locator(".st-key-w_graph_source").get_by_text(label, exact=True).click()
    wait_idle(page)


def wait_nodes(page, n):
    page.wait_for_function(f"document.querySelectorAll(\"{NODES}\").length == {n}")
    wait_idle(page)


def test_mlp_preset_svg_has_every_node(page, app_server):
    page.set_viewport_size({"width": 1400, "height": 2400})
    open_page(page, f"{app_server['url']}/Graph")
    values, ops = graph_size(build_preset(MLP))
    choose(page, "MLP(3, [4, 4, 1]) + squared error")
    wait_nodes(page, values + ops)
    expect(page.locator(NODES)).to_have_count(values + ops)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.evaluate(FILLED, AMBER) == []                  # step 0: nothing processed yet
    assert "?" in page.evaluate(VISIBLE_TEXTS)
    page.screenshot(path=str(ARTIFACTS / "graph-mlp.png"), full_page=True)


def test_step_through_and_gradient_check_in_the_browser(page, app_server):
    page.set_viewport_size({"width": 1400, "height": 2400})
    open_page(page, f"{app_server['url']}/Graph")
    root = build_preset("L = (a*b + c)*f")
    values, ops = graph_size(root)
    expect(page.locator(NODES)).to_have_count(values + ops)
    thumb = page.locator(".st-key-w_graph_step_L input[type='range']")
    for k in range(1, 4):      # one click per rerun: clicks sent during a run merge into one
        page.get_by_role("button", name="Next ▶").click()
        expect(thumb).to_have_value(str(k))
        wait_idle(page)
    expect(page.get_by_text("Step 3 of 4")).to_be_visible()
    d = svg_id(dot_ids(root)[backward_steps(root)[2].node])
    page.wait_for_function(f"(({FILLED})('{AMBER}')).sort().join() === '{d},{d}op'")   # d and its op circle
    texts = page.evaluate(VISIBLE_TEXTS)
    assert texts.count("?") == 2 and "-2.0000" in texts and "6.0000" not in texts   # a and b: not known yet
    page.get_by_role("button", name="Check gradients").click()
    wait_idle(page)
    expect(page.get_by_text("All 4 gradients agree")).to_be_visible()
    expect(page.locator("[data-testid='stDataFrame'] canvas").first).to_be_visible()
    page.get_by_role("button", name="Next ▶").click()
    expect(thumb).to_have_value("4")
    wait_idle(page)
    page.wait_for_function(f"!(({VISIBLE_TEXTS})()).includes('?')")      # the end: every grad is known
    assert "6.0000" in page.evaluate(VISIBLE_TEXTS)
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "graph-L-step4.png"), full_page=True)


def test_the_step_node_is_scrolled_into_view(page, app_server):
    """The MLP's drawing is far wider than the page: each step's node must come into view by itself."""
    open_page(page, f"{app_server['url']}/Graph")
    root = build_preset(MLP)
    steps, ids = backward_steps(root), dot_ids(root)
    choose(page, "MLP(3, [4, 4, 1]) + squared error")
    wait_nodes(page, sum(graph_size(root)))
    slider = page.locator(".st-key-w_graph_step_mlp input[type='range']")
    for k in range(1, 4):
        page.get_by_role("button", name="Next ▶").click()
        wait_idle(page)
        page.wait_for_function(f"({IN_VIEW})('{svg_id(ids[steps[k - 1].node])}')")
    slider.focus()
    page.keyboard.press("End")                                 # a far jump, then one step back
    wait_idle(page)
    expect(slider).to_have_value(str(len(steps)))
    for k in (len(steps), len(steps) - 1):
        if k < len(steps):
            page.get_by_role("button", name="◀ Prev").click()
            wait_idle(page)
        node = svg_id(ids[steps[k - 1].node])
        page.wait_for_function(f"({IN_VIEW})('{node}')")
        assert node in page.evaluate(FILLED, AMBER)
    page.screenshot(path=str(ARTIFACTS / "graph-mlp-followed.png"))


def test_toggles_show_what_is_drawn(page, app_server):
    """A run stopped by a bad expression skips the sidebar's toggles; they must come back showing
    the drawing's state (they showed OFF over a shrunk graph), and a too-big net's forced one-box-per-
    neuron drawing must show ON."""
    open_page(page, f"{app_server['url']}/Graph")
    choose(page, "Type an expression")
    box = page.locator(".st-key-w_graph_expr input")
    for text in ["", "a+b", "", "tanh(x1*w1 + x2*w2 + x3*w3 + b) + 1", "", "a*b"]:
        box.fill(text)
        box.press("Enter")
        wait_idle(page)
        if text:
            page.wait_for_selector(NODES)
            # the toggle and the drawing's style arrive in one run but reach the page a moment apart:
            # wait (up to the deadline) until they agree, and fail if they never do
            in_step = f"""() => {{
                const g = document.querySelector("{NODES}");
                const fit = document.querySelector(".st-key-w_graph_fit_expr input");
                return g && fit && fit.checked === (getComputedStyle(g.ownerSVGElement).maxWidth !== 'none');
            }}"""
            try:
                page.wait_for_function(in_step, timeout=10_000)
            except PlaywrightTimeout:
                pytest.fail(f"{text}: the 'fit' toggle does not show what is drawn")
    choose(page, "The net from the Train page")
    wait_idle(page)
    page.wait_for_selector(f"{NODES}:has-text('L1 N0')")  # the net's drawing, not the expression's still there
    collapse = page.locator(".st-key-w_graph_collapse input")
    assert collapse.is_checked() and collapse.is_disabled()
    # its neurons, top to bottom: N0 ... N15 in each hidden layer (they came as N5…N0, N15…N6)
    tops = page.evaluate(f"""() => Object.fromEntries([...document.querySelectorAll("{NODES}")]
        .map(g => [g.querySelector('text').textContent, g.getBoundingClientRect().top]))""")
    for layer in (1, 2):
        column = [tops[f"L{layer} N{n}"] for n in range(16)]
        assert column == sorted(column), layer
    page.screenshot(path=str(ARTIFACTS / "graph-train-net.png"))


def test_changing_direction_redraws_the_graph(page, app_server):
    """The browser's graphviz redraws a changed DOT in place; some shapes (zero-width separator lines)
    broke that redraw, leaving the old drawing under the new setting."""
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    open_page(page, f"{app_server['url']}/Graph")
    choose(page, "Neuron o = tanh(x1·w1 + x2·w2 + b)")
    page.wait_for_selector(NODES)
    shape = f"() => {{ const s = document.querySelector(\"{NODES}\").ownerSVGElement.viewBox.baseVal; " \
            "return s.height > s.width ? 'tall' : 'wide'; }"
    page.wait_for_function(f"({shape})() === 'wide'")
    for direction, expected in (("Top ↓ bottom", "tall"), ("Left → right", "wide")):
        page.locator(".st-key-w_graph_rankdir").get_by_text(direction).click()
        wait_idle(page)
        page.wait_for_function(f"({shape})() === '{expected}'")
    assert not [e for e in errors if "attribute d" in e]


def test_a_non_finite_value_is_explained_and_outlined(page, app_server):
    open_page(page, f"{app_server['url']}/Graph")
    choose(page, "Type an expression")
    box = page.locator(".st-key-w_graph_expr input")
    box.fill("a + 1/(a - a)")
    box.press("Enter")
    wait_idle(page)
    expect(page.get_by_text("is ∞: it divides 1 by 0")).to_be_visible()
    page.wait_for_function(f"""[...document.querySelectorAll("{NODES}")].some(g =>
        g.textContent.includes('1/(a - a)') && getComputedStyle(g.querySelector('polygon:last-of-type')).stroke
        === '{RED}')""")
    page.screenshot(path=str(ARTIFACTS / "graph-non-finite.png"))


def test_the_page_css_still_reaches_the_chart(page, app_server):
    """The page styles the graph through how Streamlit renders it (the `stGraphVizChart` test id, the SVG
    inside): font sizes of the DOT source, and full width with sideways scrolling unless fitting. This
    fails when a Streamlit upgrade changes that, instead of the page silently losing its styling."""
    open_page(page, f"{app_server['url']}/Graph")
    choose(page, "MLP(3, [4, 4, 1]) + squared error")
    wait_nodes(page, sum(graph_size(build_preset(MLP))))
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
