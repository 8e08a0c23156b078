"""How long the Graph page takes to draw the MLP(3, [4, 4, 1]) preset in Chromium.

Starts the app as tests/conftest.py does (or uses --url), opens the Graph page,
and times, 5 times, from clicking the MLP preset in the sidebar to the SVG
holding every node of the graph (script run + DOT layout in the browser).
Between runs it switches to the tiny `a + a` preset. Prints each time and the
median in ms; exits 1 when the median is over the target (1000 ms).

    python bench/graph_render.py [--url http://127.0.0.1:8501] [--runs 5] [--target-ms 1000]
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from micrograd.graph import graph_size  # noqa: E402
from micrograd.presets import build_preset  # noqa: E402
from serve import chromium_page, dashboard  # noqa: E402

MLP_LABEL = "MLP(3, [4, 4, 1]) + squared error"
SMALL_LABEL = "b = a + a (why grads accumulate)"
NODES = "[data-testid='stGraphVizChart'] svg g.node"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="base URL of a running dashboard (default: start one)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target-ms", type=float, default=1000.0)
    args = parser.parse_args()
    expected = sum(graph_size(build_preset("MLP(3, [4, 4, 1]) forward + loss")))

    with dashboard(args.url) as url, chromium_page() as page:
        page.goto(f"{url}/Graph")
        page.wait_for_selector(IDLE)
        radio = page.locator(".st-key-w_graph_source")
        times = []
        for _ in range(args.runs + 1):                 # the first run warms up caches and the DOT renderer
            radio.get_by_text(SMALL_LABEL, exact=True).click()
            page.wait_for_function(f"document.querySelectorAll(\"{NODES}\").length == 3")
            page.wait_for_selector(IDLE)
            start = time.perf_counter()
            radio.get_by_text(MLP_LABEL, exact=True).click()
            page.wait_for_function(f"document.querySelectorAll(\"{NODES}\").length == {expected}", polling="raf")
            times.append((time.perf_counter() - start) * 1000)
            page.wait_for_selector(IDLE)
    times = times[1:]
    median = statistics.median(times)
    print(f"MLP(3, [4, 4, 1]) preset, {expected} nodes: " + ", ".join(f"{t:.0f}" for t in times) + " ms")
    print(f"median {median:.0f} ms (target {args.target_ms:.0f} ms)")
    sys.exit(0 if median <= args.target_ms else 1)


if __name__ == "__main__":
    main()
