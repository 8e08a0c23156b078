"""How long Next / Prev take on the Graph page's MLP(3, [4, 4, 1]) preset in Chromium (issue 17: <= 0.5 s).

What a student waits for is the drawing: from the click on "Next ▶" (or "◀ Prev") to the graph showing
the new step, i.e. exactly the step's node in amber and exactly the nodes it adds to in green (two steps can
process the same node: the seed and the output's own op). That covers the script run, sending the page to
the browser and whatever the browser does to the drawing (the graphviz layout of the DOT, when the DOT
changes).

Two numbers, each a median:
- fresh tab: a new browser tab opens the Graph page, chooses the MLP preset, waits until it is drawn, and
  the first Next is timed (then one Prev). Repeated in --tabs new tabs; the first click in a tab is what a
  student meets first.
- warm tab: in one tab, --clicks Next clicks then --clicks Prev clicks, each timed.
And the floor, measured in the same run: a bare Streamlit page whose Next button only changes a line of
text (a rerun's round trip on this machine, under its current load).

Starts the app as tests/conftest.py does (or uses --url). A script, not a test: prints the figures and
exits 1 when a median is over --target-ms.

    python bench/graph_render.py [--url http://127.0.0.1:8501] [--tabs 5] [--clicks 8] [--target-ms 500]
"""
import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from micrograd.backprop import backward_steps  # noqa: E402
from micrograd.graph import graph_size  # noqa: E402
from micrograd.presets import build_preset  # noqa: E402
from serve import CHROMIUM_ARGS, dashboard, server, wait_idle  # noqa: E402

MLP_LABEL = "MLP(3, [4, 4, 1]) + squared error"
NODES = "[data-testid='stGraphVizChart'] svg g.node"
COLOURS = {"rgb(255, 213, 79)": "amber", "rgb(200, 230, 201)": "green"}  # HIGHLIGHT_COLOR, CHILD_COLOR
# "amber:n12 green:n3,n7": the DOT names (the <title> of each SVG node) of the boxes drawn amber and green,
# whatever colours them (a fill attribute in the SVG or a CSS rule)
COLOURED = f"""() => {{
    const colours = {COLOURS};
    const found = {{amber: [], green: []}};
    for (const g of document.querySelectorAll("{NODES}")) {{
        const name = g.querySelector('title').textContent, shape = g.querySelector('polygon, ellipse, path');
        const colour = shape && colours[getComputedStyle(shape).fill];
        if (colour && !name.endsWith('op')) found[colour].push(name);
    }}
    return 'amber:' + found.amber.sort().join() + ' green:' + found.green.sort().join();
}}"""


def step_boxes():
    """{k: "amber:... green:..." as COLOURED reads it at backward step k} for the MLP preset (k >= 1)."""
    root = build_preset("MLP(3, [4, 4, 1]) forward + loss")
    index = {v: i for i, v in enumerate(root.topological_order())}
    expected = {}
    for k, step in enumerate(backward_steps(root), 1):
        green = sorted({f"n{index[child]}" for child, _ in step.contributions if child is not step.node})
        expected[k] = f"amber:n{index[step.node]} green:{','.join(green)}"
    return expected


def timed_click(page, button, box):
    """Seconds from clicking `button` until the drawing shows `box` (step_boxes' text of the new step)."""
    start = time.perf_counter()
    page.get_by_role("button", name=button).click()
    page.wait_for_function(f"(({COLOURED})()) === '{box}'", polling="raf")
    elapsed = time.perf_counter() - start
    wait_idle(page)
    return elapsed


BARE_PAGE = """import streamlit as st
st.session_state.setdefault("k", 0)
st.button("Next ▶", on_click=lambda: st.session_state.update(k=st.session_state.k + 1))
st.markdown(f"step {st.session_state.k}.")
"""


@contextlib.contextmanager
def bare_page():
    """The URL of a bare Streamlit page (BARE_PAGE) served on a free port."""
    folder = tempfile.mkdtemp()
    script = Path(folder) / "bare.py"
    script.write_text(BARE_PAGE)
    with server(script, cwd=folder) as url:
        yield url


def floor_clicks(browser, clicks):
    """Seconds per Next click on the bare page, in one tab."""
    times = []
    with bare_page() as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        wait_idle(page)
        for k in range(1, clicks + 2):
            start = time.perf_counter()
            page.get_by_role("button", name="Next ▶").click()
            page.wait_for_function(f"document.body.innerText.includes('step {k}.')", polling="raf")
            times.append(time.perf_counter() - start)
            wait_idle(page)
        context.close()
    return times[1:]                                           # the first click loads the page's chunks


def open_mlp(browser, url, expected_nodes):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/Graph")
    wait_idle(page)
    page.locator(".st-key-w_graph_source").get_by_text(MLP_LABEL, exact=True).click()
    page.wait_for_function(f"document.querySelectorAll(\"{NODES}\").length == {expected_nodes}")
    wait_idle(page)
    return context, page


def show(name, seconds, target_ms):
    ms = [s * 1000 for s in seconds]
    median = statistics.median(ms)
    print(f"{name:<28} median {median:6.0f} ms   ({', '.join(f'{m:.0f}' for m in ms)})")
    return median <= target_ms


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="base URL of a running dashboard (default: start one)")
    parser.add_argument("--tabs", type=int, default=5, help="fresh tabs, one first Next and Prev timed in each")
    parser.add_argument("--clicks", type=int, default=8, help="Next clicks, then as many Prev, in the warm tab")
    parser.add_argument("--target-ms", type=float, default=500.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    expected = sum(graph_size(build_preset("MLP(3, [4, 4, 1]) forward + loss")))
    box = step_boxes()
    fresh_next, fresh_prev, warm_next, warm_prev = [], [], [], []
    with dashboard(args.url) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context, page = open_mlp(browser, url, expected)      # warms the server's caches, not timed
        context.close()
        for _ in range(args.tabs):
            context, page = open_mlp(browser, url, expected)
            fresh_next.append(timed_click(page, "Next ▶", box[1]))
            fresh_next.append(timed_click(page, "Next ▶", box[2]))
            fresh_prev.append(timed_click(page, "◀ Prev", box[1]))
            context.close()
        context, page = open_mlp(browser, url, expected)
        timed_click(page, "Next ▶", box[1])                    # the tab's first click: counted as fresh above
        for k in range(2, args.clicks + 2):
            warm_next.append(timed_click(page, "Next ▶", box[k]))
        for k in range(args.clicks, 0, -1):
            warm_prev.append(timed_click(page, "◀ Prev", box[k]))
        context.close()
        floor = floor_clicks(browser, args.clicks)
        browser.close()
    print(f"Graph page, MLP(3, [4, 4, 1]) preset ({expected} nodes): click to the new step drawn")
    ok = [show("fresh tab, Next (1st, 2nd)", fresh_next, args.target_ms),
          show("fresh tab, Prev", fresh_prev, args.target_ms),
          show("warm tab, Next", warm_next, args.target_ms),
          show("warm tab, Prev", warm_prev, args.target_ms)]
    show("floor: bare page, Next", floor, float("inf"))
    print(f"target {args.target_ms:.0f} ms: {'met' if all(ok) else 'NOT met'}")
    sys.exit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
