"""How much drawing live frames slows training down (issue 12: at most 20 %).

The same numpy run is trained through the dashboard three times per try, in turn:
- alone: the tab is closed as soon as the run is in the store, so no frame is drawn (closing it only
  after the first frame let the browser load plotly beside the "alone" run);
- watched, the browser on its own core: a Chromium tab watches the Train page (two frames a second:
  the loss, the boundary, every neuron), Chromium held to CPU 1 by taskset. This stands for a viewer
  whose browser runs on their own machine: training then shares the server's cores only with the
  server's own drawing (the figures of each frame);
- watched, all on two cores: the same, with Chromium free to use both cores of this 2-core machine,
  so that training also competes with the browser drawing the charts.
The training time is the worker's own clock (the run's elapsed time in the store): only the slowdown
of training is measured, not the drawing itself. Prints each try and the ratios of medians.

    python bench/live_train.py [--tries 3] [--steps 3000]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright
from serve import CHROMIUM_ARGS, ROOT, chromium_on_cores, server

sys.path.insert(0, str(ROOT))
from lab.runs import RunStore  # noqa: E402

TARGET = 1.2
BROWSER_CPU = 1  # the core Chromium is held to in the "own core" mode


def one_run(browser, base, db, query, watch):
    """The run's training seconds (the worker's clock), watched by a tab or not."""
    store = RunStore(db)
    before = {r["id"] for r in store.list()}
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(300_000)
    page.goto(f"{base}/Train?{query}")
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
    page.get_by_role("button", name="Train").first.click()
    deadline = time.monotonic() + 600
    if watch:
        page.wait_for_selector("text=Saved as run")
    else:  # close the tab as soon as the worker has started the run: no frames drawn, no plotly loading beside it
        while not [r for r in store.list() if r["id"] not in before]:
            if time.monotonic() > deadline:
                sys.exit("error: the run did not start")
            time.sleep(0.05)  # polling the store
        context.close()
    while True:
        runs = [r for r in store.list() if r["id"] not in before and r["status"] != "running"]
        if runs:
            break
        if time.monotonic() > deadline:
            sys.exit("error: the run did not finish")
        time.sleep(0.2)  # polling the store
    if watch:
        context.close()
    [run] = runs
    return run["elapsed"], run["steps_done"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    query = f"steps={args.steps}&n=2000&hidden=32,32&lr=0.1&lr_schedule=constant"
    folder = tempfile.mkdtemp()
    db = os.path.join(folder, "runs.sqlite")
    modes = {"alone": "alone", "own core": "watched, the browser on its own core",
             "shared": "watched, all on two cores"}
    times = {mode: [] for mode in modes}
    with server("dashboard.py", db) as base, sync_playwright() as p:
        pinned = chromium_on_cores(folder, BROWSER_CPU)
        browsers = {"free": p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS),
                    "pinned": p.chromium.launch(executable_path=pinned, args=CHROMIUM_ARGS)}
        for i in range(args.tries):
            for mode, label in modes.items():
                browser = browsers["pinned" if mode == "own core" else "free"]
                seconds, steps = one_run(browser, base, db, query, watch=mode != "alone")
                times[mode].append(seconds)
                print(f"try {i + 1} {label}: {steps} steps in {seconds:.2f} s ({steps / seconds:,.0f} steps/s)")
        for browser in browsers.values():
            browser.close()
    alone = statistics.median(times["alone"])
    ratios = {mode: statistics.median(times[mode]) / alone for mode in ("own core", "shared")}
    print(f"training time watched / alone (medians), the browser on its own core: {ratios['own core']:.2f} "
          f"(target <= {TARGET})")
    print(f"training time watched / alone (medians), all on two cores: {ratios['shared']:.2f} "
          f"(the browser's drawing competes with training too)")
    return 0 if max(ratios.values()) <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
