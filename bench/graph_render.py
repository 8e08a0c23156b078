"""How long the Graph page takes to draw the MLP(3, [4, 4, 1]) preset in Chromium.

Starts the app as tests/conftest.py does (or uses --url), opens the Graph page,
and times, 5 times, from clicking the MLP preset in the sidebar to the SVG
holding every node of the graph (script run + DOT layout in the browser).
Between runs it switches to the tiny `a + a` preset. Prints each time and the
median in ms; exits 1 when the median is over the target (1000 ms).

    python bench/graph_render.py [--url http://127.0.0.1:8501] [--runs 5] [--target-ms 1000]
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from micrograd.graph import graph_size  # noqa: E402
from micrograd.presets import build_preset  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
MLP_LABEL = "MLP(3, [4, 4, 1]) + squared error"
SMALL_LABEL = "b = a + a (why grads accumulate)"
NODES = "[data-testid='stGraphVizChart'] svg g.node"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


@contextmanager
def app_server(url=None):
    """Yield the base URL of a running app: `url`, or a `streamlit run dashboard.py` started here."""
    if url:
        yield url.rstrip("/")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "server.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.headless", "true",
             "--server.port", str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env={**os.environ, "MICROGRAD_RUNS_DB": str(Path(tmp) / "runs.sqlite")},
            stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if urllib.request.urlopen(base + "/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("error: streamlit did not start")
                time.sleep(0.2)  # polling a starting server, not timing code
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="base URL of a running dashboard (default: start one)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target-ms", type=float, default=1000.0)
    args = parser.parse_args()
    expected = sum(graph_size(build_preset("MLP(3, [4, 4, 1]) forward + loss")))

    from playwright.sync_api import sync_playwright

    with app_server(args.url) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
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
        browser.close()
    times = times[1:]
    median = statistics.median(times)
    print(f"MLP(3, [4, 4, 1]) preset, {expected} nodes: " + ", ".join(f"{t:.0f}" for t in times) + " ms")
    print(f"median {median:.0f} ms (target {args.target_ms:.0f} ms)")
    sys.exit(0 if median <= args.target_ms else 1)


if __name__ == "__main__":
    main()
