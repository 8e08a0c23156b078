"""The Train page against a bare Streamlit page, in fresh browser tabs, as a new user arrives.

Both servers run side by side; every try opens each page in a new browser context (an empty cache:
the page's scripts, and plotly's 4.7 MB, load as for a first visit), alternating the two so that
machine noise hits both alike. Two figures, each a ratio of medians to the bare page's (issue 12):

1. open: navigation until the page is interactive (the script has run, no loading skeleton is left,
   Train is enabled). Target <= 1.5x the bare page.
2. click: Train (the defaults) until every final chart is drawn. Target <= 1.2x the bare page, whose
   button draws the same four kinds of charts from numbers computed once (bench/bare_train.py).

Two setups (--setup): "shared", everything on this machine's cores, as CI has it, where the Train page's
browser parses plotly while the same two cores train the run and build its charts; and "split", the
servers (and the training workers they start) held to one core and Chromium to the other, as for a
user whose browser runs on their own machine. Both pages get the same setup in a run.

--against DIR also serves the dashboard of another checkout (e.g. a `git worktree` of the last commit) and
visits it in every try too: two versions compared in one run, as this machine's noise needs (the same code
measured 1.16x to 1.29x in different runs).

    python bench/train_page.py [--tries 5] [--setup shared|split] [--against DIR]
"""
import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright
from serve import CHROMIUM_ARGS, chromium_on_cores, server

READY = """() => document.querySelector("[data-testid='stApp'][data-test-script-state='notRunning']")
    && !document.querySelector("[data-testid='stSkeleton']")
    && [...document.querySelectorAll("button")].some(b => /Train/.test(b.innerText) && !b.disabled)"""
# a chart counts once plotly has drawn it (its first .main-svg: each chart has two or three of them)
CHARTS_DRAWN = """n => [...document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")]
        .filter(chart => chart.querySelector(".main-svg")).length >= n
    && document.querySelector("[data-testid='stApp'][data-test-script-state='notRunning']")"""
TRAIN_CHARTS = 6  # loss, boundary, every neuron, predictions, confusion matrix, accuracy per class


def one_visit(browser, url, charts):
    """(seconds to interactive, seconds from the click to every chart drawn) in a fresh context."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(READY)
    opened = time.perf_counter() - start
    start = time.perf_counter()
    page.get_by_role("button", name="Train").first.click()
    page.wait_for_function(CHARTS_DRAWN, arg=charts)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    clicked = time.perf_counter() - start
    context.close()
    return opened, clicked


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--setup", choices=["shared", "split"], default="shared")
    parser.add_argument("--against", metavar="DIR", help="another checkout's dashboard, visited in every try too")
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    split = args.setup == "split"
    server_cpus, chromium = ("0", chromium_on_cores(folder, "1")) if split else (None, "/usr/bin/chromium")
    with contextlib.ExitStack() as stack:
        pages = {"bare": (stack.enter_context(server("bench/bare_train.py", os.path.join(folder, "bare.sqlite"),
                                                     cpus=server_cpus)), 4),
                 "train": (stack.enter_context(server("dashboard.py", os.path.join(folder, "runs.sqlite"),
                                                      cpus=server_cpus)) + "/Train", TRAIN_CHARTS)}
        if args.against:
            pages["against"] = (stack.enter_context(server("dashboard.py", os.path.join(folder, "against.sqlite"),
                                                           cwd=args.against, cpus=server_cpus)) + "/Train",
                                TRAIN_CHARTS)
        p = stack.enter_context(sync_playwright())
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for url, charts in pages.values():
            one_visit(browser, url, charts)  # warm the servers' imports and caches (not counted)
        results = {name: [] for name in pages}
        for i in range(args.tries):
            for name, (url, charts) in pages.items():
                results[name].append(one_visit(browser, url, charts))
            print(f"try {i + 1}: " + "; ".join(f"{name} open {tries[-1][0]:.2f} s, click {tries[-1][1]:.2f} s"
                                              for name, tries in results.items()))
        browser.close()
    medians = {name: [statistics.median(t[k] for t in tries) for k in (0, 1)] for name, tries in results.items()}
    open_ratio = medians["train"][0] / medians["bare"][0]
    click_ratio = medians["train"][1] / medians["bare"][1]
    print(f"setup: {args.setup}")
    print(f"| page | open (s) | click to final charts (s) |\n|---|---|---|\n"
          f"| bare Streamlit page | {medians['bare'][0]:.2f} | {medians['bare'][1]:.2f} |\n"
          f"| Train page | {medians['train'][0]:.2f} | {medians['train'][1]:.2f} |\n"
          f"| ratio (target) | {open_ratio:.2f} (<= 1.5) | {click_ratio:.2f} (<= 1.2) |")
    # each try's Train visit right after its bare one: their ratio cancels the machine's slow spells
    paired = sorted(t[1] / b[1] for t, b in zip(results["train"], results["bare"]))
    quartiles = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
    print(f"click ratio of each try's pair: median {statistics.median(paired):.2f}, "
          f"quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}, range {paired[0]:.2f}-{paired[-1]:.2f}")
    if args.against:
        print(f"{args.against}: open {medians['against'][0] / medians['bare'][0]:.2f}, "
              f"click {medians['against'][1] / medians['bare'][1]:.2f} (ratios to the bare page, the same tries)")
    return 0 if open_ratio <= 1.5 and click_ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
