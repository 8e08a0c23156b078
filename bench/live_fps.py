"""How many live frames a second the Train page shows while a numpy run trains (issue 12: at least two).

A fresh Chromium tab opens the Train page, clicks Train on a run of many seconds and watches the live
boundary chart until the run ends. A frame counts when the chart plotly has drawn holds other data than
the one before (its title names the step, the sum of its map changes), so a redraw of the same data is not
a frame. It prints the frames per second over the run, the gaps between frames, and the time the server
spends on one frame: the figures (lab.train_view.frame, live) and their JSON, measured in this process on
the same run's history and weights, as the page's live_view computes them.

    python bench/live_fps.py [--tries 3] [--query "steps=5000&n=2000&hidden=32,32&lr=0.1&lr_schedule=constant"]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import plotly.io as pio
from playwright.sync_api import sync_playwright
from threadpoolctl import threadpool_limits
from serve import CHROMIUM_ARGS, ROOT, server

sys.path.insert(0, str(ROOT))
from lab import train_view  # noqa: E402
from lab.config import TrainConfig  # noqa: E402
from lab.train import prepare_data, train  # noqa: E402

TARGET = 2.0
QUERY = "steps=5000&n=2000&hidden=32,32&lr=0.1&lr_schedule=constant"

# In the page: on every animation frame, a signature of the live boundary chart as drawn (its title and the
# sum of its map); a new signature is a frame, recorded with its time.
WATCH = r"""() => {
    window.liveFrames = [];
    let last = null;
    const look = () => {
        const chart = document.querySelector(".st-key-live_boundary .js-plotly-plot");
        const data = chart && chart._fullData, layout = chart && chart._fullLayout;
        if (data && layout && chart.querySelector(".main-svg")) {
            const map = data.find(trace => trace.type === "contour" || trace.type === "heatmap");
            let sum = 0;
            if (map) for (const row of Array.from(map.z)) for (const v of Array.from(row)) sum += v;
            // Streamlit's theme wraps the title in <b> once more on a second pass: the same frame
            const signature = String(layout.title && layout.title.text).replace(/<\/?b>/g, "") + " " + sum;
            if (signature !== last) {
                last = signature;
                window.liveFrames.push({t: performance.now(), title: layout.title.text});
            }
        }
        requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
}"""


def one_run(browser, base, query):
    """(frames per second while training, the gaps between frames in s, the seconds watched)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(600_000)
    page.goto(f"{base}/Train?{query}")
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
    page.evaluate(WATCH)
    page.get_by_role("button", name="Train").first.click()
    page.wait_for_selector("[data-testid='stProgress']")
    page.wait_for_selector("text=Saved as run")  # the run has ended: the live frames are gone
    frames = page.evaluate("window.liveFrames")
    context.close()
    times = [f["t"] / 1000 for f in frames]
    if len(times) < 2:
        return 0.0, [], 0.0
    watched = times[-1] - times[0]
    gaps = [b - a for a, b in zip(times, times[1:])]
    return (len(times) - 1) / watched, gaps, watched


def server_ms_per_frame(query, repeats=20):
    """Median ms to compute one live frame's figures and their JSON, at a few points of the same run, on one
    BLAS thread as in the server (ui.py)."""
    threadpool_limits(limits=1, user_api="blas")
    config = TrainConfig.from_dict(dict(pair.split("=") for pair in query.split("&")))
    result = train(config)
    data = prepare_data(config)
    times = []
    for i in range(repeats):
        n = max(1, len(result.history["step"]) * (i + 1) // repeats)
        history = {key: values[:n] for key, values in result.history.items()}
        start = time.perf_counter()
        frame = train_view.frame(config, result.params, history, data, live=True)
        for key in ("loss", "boundary", "network"):
            if frame[key] is not None:
                pio.to_json(frame[key], validate=False)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--query", default=QUERY, help="the Train page's settings for the run")
    args = parser.parse_args()
    print(f"server: {server_ms_per_frame(args.query):.0f} ms per live frame (figures and their JSON, median)")
    rates = []
    db = os.path.join(tempfile.mkdtemp(), "runs.sqlite")
    with server("dashboard.py", db) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for i in range(args.tries):
            rate, gaps, watched = one_run(browser, base, args.query)
            rates.append(rate)
            gaps_text = (f"gaps median {statistics.median(gaps):.2f} s, longest {max(gaps):.2f} s" if gaps
                         else "no frames")
            print(f"try {i + 1}: {rate:.2f} frames/s over {watched:.1f} s ({gaps_text}); "
                  f"load {os.getloadavg()[0]:.2f}")
        browser.close()
    print(f"live frames per second (median of {args.tries}): {statistics.median(rates):.2f} (target >= {TARGET})")
    return 0 if statistics.median(rates) >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
