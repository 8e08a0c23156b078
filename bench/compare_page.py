"""How fast is the Compare page with many saved runs, and how much faster is a parallel sweep?

    python bench/compare_page.py [--runs 200] [--repeats 5] [--browser] [--sweep]

Page: fills a temporary run store with --runs runs (a dozen trained configs saved over and
over under different names and sweeps, 100 to 1,000 steps each), then times AppTest runs of
pages/4_Compare.py: the script's whole run, server side, as a browser session would rerun it.
Each scenario gets a fresh AppTest; its first run ("cold": the data figures of the selected
runs are computed) and the median of --repeats reruns ("warm": a widget changed, figures
cached) are reported in ms. A run with an empty store and one with a single run are the
baselines. --browser also times real page loads in headless Chromium, from navigation to every
chart drawn, against a one-run store and the big one (needs /usr/bin/chromium).

Sweep (--sweep): a 2 x 2 grid (lr x hidden) of --sweep-steps (4,000) step runs on two moons, serial
(one process, workers=1) against the default process pool (one worker per core), and on a
Dask LocalCluster with one single-threaded worker process per core; wall time in seconds.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAGE = "pages/4_Compare.py"


def fill(path, n):
    from lab.config import TrainConfig
    from lab.runs import RunStore
    from lab.train import train

    store = RunStore(path)
    configs = [TrainConfig(dataset=d, lr=lr, hidden=h, activation=a, steps=s)
               for d, lr, h, a, s in [("moons", 0.5, (16, 16), "relu", 1000), ("moons", 0.1, (8,), "tanh", 300),
                                      ("circles", 0.5, (16, 16), "relu", 500), ("xor", 0.2, (8, 8), "relu", 400),
                                      ("spiral", 0.5, (32, 32), "relu", 1000), ("blobs", 0.1, (4,), "sigmoid", 100),
                                      ("moons", 1.0, (16,), "relu", 200), ("circles", 0.05, (8, 8), "tanh", 600),
                                      ("sine", 0.05, (16, 16), "tanh", 500), ("plane", 0.05, (8,), "relu", 300),
                                      ("xor", 3.0, (16, 16), "relu", 200), ("moons", 0.3, (16, 16), "relu", 800)]]
    results = [train(c) for c in configs]
    for i in range(n):
        store.save(results[i % len(results)], name=f"run {i:03d}", sweep=f"sweep-{i // 20}" if i % 3 == 0 else None)
    return store


def time_page(db, query, repeats):
    """(cold ms, median warm ms) of AppTest runs of the Compare page with ?runs=query."""
    os.environ["MICROGRAD_RUNS_DB"] = db
    main = sys.modules["__main__"]  # AppTest installs the page as __main__: put this script back afterwards,
    try:                            # or processes spawned later (Dask's workers) would re-run the page
        return _time_page(query, repeats)
    finally:
        sys.modules["__main__"] = main


def _time_page(query, repeats):
    from streamlit.testing.v1 import AppTest

    # from the home page, as `streamlit run dashboard.py` starts it: the page links to the other pages
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120).switch_page(PAGE)
    if query:
        at.query_params["runs"] = query
    start = time.perf_counter()
    at.run()
    cold = time.perf_counter() - start
    assert not at.exception, at.exception
    warm = []
    for i in range(repeats):
        if query:
            at.slider(key="cmp_smoothing").set_value(0.1 * (i % 5))  # a real rerun: the user moved a slider
        start = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    return cold * 1000, statistics.median(warm) * 1000


def bench_page(args):
    tmp = Path(tempfile.mkdtemp())
    empty = str(tmp / "empty.sqlite")
    single = fill(str(tmp / "one.sqlite"), 1)
    store = fill(str(tmp / "many.sqlite"), args.runs)
    ids = [r["id"] for r in store.list()]
    time_page(empty, "", 1)  # imports Streamlit, plotly and the page's modules once: not counted
    scenarios = [("empty store", empty, ""), ("1 run, selected", single.path, "1"),
                 (f"{args.runs} runs, none selected", store.path, ""),
                 (f"{args.runs} runs, 2 selected", store.path, ",".join(map(str, ids[:2]))),
                 (f"{args.runs} runs, 4 selected", store.path, ",".join(map(str, ids[:4]))),
                 (f"{args.runs} runs, 20 selected", store.path, ",".join(map(str, ids[:20])))]
    print(f"Compare page, AppTest script run (ms); warm = median of {args.repeats} reruns")
    print(f"{'scenario':<28} {'cold':>8} {'warm':>8}")
    for label, db, query in scenarios:
        cold, warm = time_page(db, query, args.repeats)
        print(f"{label:<28} {cold:8.0f} {warm:8.0f}")
    if args.browser:
        bench_browser(single, store, ids)


def bench_browser(single, store, ids, tries=3):
    sys.path.insert(0, str(ROOT / "bench"))
    from serve import chromium_page, dashboard, wait_idle

    print(f"\nheadless Chromium: navigation to every chart drawn (ms), median of {tries} loads after a first one")
    print(f"{'scenario':<28} {'median':>8}")
    scenarios = [(single, [("1 run, none selected", "", 0), ("1 run, selected", "1", 4)]),
                 (store, [(f"{len(ids)} runs, none selected", "", 0),
                          (f"{len(ids)} runs, 2 selected", ",".join(map(str, ids[:2])), 6),
                          (f"{len(ids)} runs, 4 selected", ",".join(map(str, ids[:4])), 10)])]
    for db, loads in scenarios:
        with dashboard(db=db.path) as base, chromium_page() as page:
            for label, query, charts in loads:
                times = []
                for _ in range(tries + 1):
                    start = time.perf_counter()
                    page.goto(f"{base}/Compare" + (f"?runs={query}" if query else ""))
                    wait_idle(page)
                    page.wait_for_selector("[data-testid='stDataFrame']")
                    page.wait_for_function("document.querySelectorAll(\"[data-testid='stPlotlyChart'] .main-svg\")"
                                           f".length >= {charts}")
                    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                    times.append(time.perf_counter() - start)
                print(f"{label:<28} {statistics.median(times[1:]) * 1000:8.0f}")


def bench_sweep(args):
    from lab.config import TrainConfig
    from lab.runs import RunStore
    from lab.sweep import default_workers, parse_grid, run_sweep

    store = RunStore(Path(tempfile.mkdtemp()) / "sweep.sqlite")
    grid = parse_grid(["lr=0.1,0.5", "hidden=16-16,32-32"], TrainConfig(steps=args.sweep_steps))
    cores = default_workers()
    print(f"\nsweep of {len(grid.configs)} runs x {grid.base.steps} steps (moons, 2-16-16-1 / 2-32-32-1), "
          f"{cores} cores")
    timings = {}
    for label, kwargs in [("serial (workers=1)", dict(workers=1)), (f"process pool ({cores} workers)", {})]:
        start = time.perf_counter()
        run_sweep(grid, store, label, **kwargs)
        timings[label] = time.perf_counter() - start
    try:
        from distributed import LocalCluster
    except ImportError:
        LocalCluster = None
    if LocalCluster is not None:
        with LocalCluster(n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            start = time.perf_counter()
            run_sweep(grid, store, "dask", scheduler=cluster.scheduler_address)
            timings[f"Dask LocalCluster ({cores} workers)"] = time.perf_counter() - start
    serial = timings["serial (workers=1)"]
    for label, seconds in timings.items():
        print(f"{label:<32} {seconds:6.2f} s  ({serial / seconds:.2f}x serial)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--browser", action="store_true", help="also time page loads in headless Chromium")
    parser.add_argument("--sweep", action="store_true", help="also time a sweep: serial, processes, Dask")
    parser.add_argument("--sweep-steps", type=int, default=4000, help="steps of each sweep run (default: 4000)")
    args = parser.parse_args()
    bench_page(args)
    if args.sweep:
        bench_sweep(args)


if __name__ == "__main__":
    main()
