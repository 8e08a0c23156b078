"""How much drawing live frames slows training down (issue 12: at most 20 %).

The same numpy run is trained through the dashboard twice per try, alternating: once with a
Chromium tab watching the Train page (two frames a second: the loss, the boundary, every neuron),
and once with the tab closed as soon as the run is in the store (the worker trains alone; closing
it only after the first frame let the browser load plotly beside the "alone" run). The training time is
the worker's own clock (the run's elapsed time in the store), so only the slowdown of training is
measured, not the drawing itself. Prints each try and the ratio of medians.

    python bench/live_train.py [--tries 3] [--steps 3000]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright
from serve import CHROMIUM_ARGS, ROOT, server

sys.path.insert(0, str(ROOT))
from lab.runs import RunStore  # noqa: E402

TARGET = 1.2


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
    db = os.path.join(tempfile.mkdtemp(), "runs.sqlite")
    times = {"alone": [], "watched": []}
    with server("dashboard.py", db) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for i in range(args.tries):
            for mode in ("alone", "watched"):
                seconds, steps = one_run(browser, base, db, query, watch=mode == "watched")
                times[mode].append(seconds)
                print(f"try {i + 1} {mode}: {steps} steps in {seconds:.2f} s ({steps / seconds:,.0f} steps/s)")
        browser.close()
    ratio = statistics.median(times["watched"]) / statistics.median(times["alone"])
    print(f"training time watched / alone (medians): {ratio:.2f} (target <= {TARGET})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
