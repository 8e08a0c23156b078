"""End-to-end availability (issue 18): one user's training never stalls the server for the others.

Training runs in worker processes (lab/jobs.py, lab/worker.py). Here, in the real app in headless
Chromium: another user's page and the health endpoint keep answering while a long scalar run
trains, Stop ends that run and its process, SIGTERM or SIGKILL to the server ends a running sweep's
workers (saved as stopped) instead of finishing its cells, and a run beyond the time budget is refused.

Deadlines are generous bounds for a busy 2-core machine: a broken stop fails the test instead of
hanging it; nothing here measures speed."""
import os
import re
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import ARTIFACTS, open_page, start_server, wait_idle
from lab.runs import RunStore

pytestmark = pytest.mark.browser

DEADLINE = 60             # seconds: generous bounds on waits
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BUSY_CPU_SECONDS = 2.0    # a worker that used this much CPU is training (an idle spare uses ~0.2 s to import)
# ~490 s of scalar work by the budget's estimate (under MAX_RUN_SECONDS), ~0.5 s a step: it trains until stopped
LONG_SCALAR = "engine=scalar&n=200&steps=1000&hidden=32,32"
LARGEST_SCALAR = "engine=scalar&hidden=64,64,64,64,64,64,64,64&n=5000&steps=5000"


def wait_for(condition, what, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)  # polling processes and a store, not timing code


# ---------------------------------------------------------------- processes, from /proc
def _stat(pid):
    """The fields of /proc/PID/stat after the command name, or None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid):
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has ended


def descendants(pid):
    """Process ids below pid: its children, their children, ..."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(entry.name)) is not None:
            parents.setdefault(int(stat[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def is_worker(pid):
    try:
        return b"lab.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def cpu_seconds(pid):
    stat = _stat(pid)
    return 0.0 if stat is None else (int(stat[11]) + int(stat[12])) / CLOCK_TICKS  # utime + stime


def training_workers(server_pid):
    """The server's worker processes that are training (not the idle spare kept for the next click)."""
    return [pid for pid in descendants(server_pid)
            if is_worker(pid) and alive(pid) and cpu_seconds(pid) >= BUSY_CPU_SECONDS]


def server_pid(port):
    """The streamlit server started on `port` (the session fixture does not hand out its process)."""
    wanted = f"--server.port\0{port}\0".encode()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and wanted in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except OSError:
            continue
    pytest.fail(f"no streamlit server runs on port {port}")


def health_answers(url, times=5):
    """The health endpoint answers each of several requests (a liveness bound, not a speed assertion)."""
    for _ in range(times):
        assert urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok"


# ---------------------------------------------------------------- a server of the test's own
# ---------------------------------------------------------------- the tests
def test_a_long_run_does_not_stall_another_user_and_stop_ends_its_process(browser, page, app_server):
    url, store = app_server["url"], RunStore(app_server["db"])
    server = server_pid(int(url.rsplit(":", 1)[1]))
    before = {run["id"] for run in store.list()}
    open_page(page, f"{url}/Train?{LONG_SCALAR}")
    assert page.locator("[data-testid='stException']").count() == 0
    busy_before = set(training_workers(server))  # e.g. a run another test stopped, still ending
    page.get_by_role("button", name=re.compile("Train")).click()
    expect(page.get_by_text(re.compile(r"step [1-9][\d,]* of 1,000"))).to_be_visible(timeout=DEADLINE * 1000)
    wait_for(lambda: len(set(training_workers(server)) - busy_before) == 1, "the run's worker process to train")
    [worker] = set(training_workers(server)) - busy_before
    page.screenshot(path=str(ARTIFACTS / "availability-training.png"), full_page=True)

    other = browser.new_context(viewport={"width": 1400, "height": 1000})  # another user: its own session
    try:
        second = other.new_page()
        second.set_default_timeout(DEADLINE * 1000)
        open_page(second, f"{url}/Train")
        expect(second.get_by_role("button", name=re.compile("Train"))).to_be_enabled()
        assert second.locator("[data-testid='stException']").count() == 0
        health_answers(url)
        second.screenshot(path=str(ARTIFACTS / "availability-other-user.png"), full_page=True)
    finally:
        other.close()
    assert alive(worker), "the run ended before it was stopped: pick a longer run"

    page.get_by_role("button", name=re.compile("Stop")).click()
    expect(page.get_by_text(re.compile(r"Stopped after \d+ of 1000 steps"))).to_be_visible(timeout=DEADLINE * 1000)
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "availability-stopped.png"), full_page=True)
    wait_for(lambda: not alive(worker), "the stopped run's worker process to end")  # its memory goes with it
    [run] = [run for run in store.list() if run["id"] not in before]
    assert run["status"] == "stopped" and 0 < run["steps_done"] < 1000


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_the_server_stops_a_running_sweep(browser, tmp_path, signum):
    """SIGTERM (or SIGKILL) to the server ends the sweep's workers, which save their runs as stopped,
    instead of the sweep finishing all its cells; the cells still queued never start."""
    db = tmp_path / "runs.sqlite"
    server, url = start_server(db, ARTIFACTS / f"streamlit-sweep-server-{signum.name}.log")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    processes = []
    try:
        page = context.new_page()
        page.set_default_timeout(DEADLINE * 1000)
        open_page(page, f"{url}/Sweep")
        # cells of 100,000 numpy steps on 3,000 samples: minutes each, two at a time, two more queued
        choose(page, "sw_field1", "steps")
        set_text(page, "sw_values1_steps", "100000, 99999")
        choose(page, "sw_field2", "n")
        set_text(page, "sw_values2_n", "3000, 3001")
        expect(page.get_by_text(re.compile(r"4 runs \(2 × 2: steps × n\)"))).to_be_visible()
        page.get_by_role("button", name=re.compile("Run sweep")).click()
        expect(page.get_by_text(re.compile(r"0 of 4 runs done"))).to_be_visible()
        wait_for(lambda: len(training_workers(server.pid)) == 2, "two cells training in worker processes")
        wait_for(lambda: sum(run["status"] == "running" for run in RunStore(db).list()) == 2,
                 "the two training cells in the store")
        page.screenshot(path=str(ARTIFACTS / f"availability-sweep-{signum.name}.png"), full_page=True)
        processes = descendants(server.pid)
        assert sum(is_worker(pid) for pid in processes) >= 2

        server.send_signal(signum)
        wait_for(lambda: not any(alive(pid) for pid in [server.pid, *processes]),
                 "the server and every worker process to end")
    finally:
        context.close()
        if server.poll() is None:
            server.kill()
        server.wait(timeout=DEADLINE)
        for pid in processes:  # after a failure: leave no orphan of this test training for minutes
            if alive(pid) and is_worker(pid):
                os.kill(pid, signal.SIGKILL)
    runs = RunStore(db).list()
    assert len(runs) == 2  # the two cells that were training; the queued two never started
    for run in runs:
        assert run["status"] == "stopped", run["status"]
        assert 0 < run["steps_done"] < run["config"].steps


def choose(page, key, option):
    """Pick `option` in the selectbox with widget key `key`."""
    page.locator(f".st-key-{key}").get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(page.locator(f".st-key-{key}").get_by_role("combobox")).to_have_value(option)
    wait_idle(page)


def set_text(page, key, text):
    box = page.locator(f".st-key-{key} input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value(text)
    wait_idle(page)


def test_the_largest_scalar_run_is_refused_in_the_browser(page, app_server):
    open_page(page, f"{app_server['url']}/Train?{LARGEST_SCALAR}")
    expect(page.get_by_text(re.compile("[Tt]oo big"))).to_be_visible()
    expect(page.get_by_text(re.compile("numpy engine"))).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Train"))).to_be_disabled()
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "availability-refused.png"), full_page=True)
