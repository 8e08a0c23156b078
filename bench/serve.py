"""Start the dashboard on a free port for a benchmark (the same way the browser tests do)."""
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def server(script="dashboard.py", db=None, cwd=ROOT, cpus=None):
    """Yield the base URL of `streamlit run script` on a free port, with its own run store, until the block ends.
    cpus: e.g. "0" holds the server, and the training workers it starts, to those cores (taskset)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = db or os.path.join(tempfile.mkdtemp(), "runs.sqlite")
    pinned = ["taskset", "-c", cpus] if cpus else []
    proc = subprocess.Popen([*pinned, sys.executable, "-m", "streamlit", "run", str(script),
                             "--server.headless", "true", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=cwd, env={**os.environ, "MICROGRAD_RUNS_DB": db},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(base + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            time.sleep(0.2)  # polling a server that is starting
        else:
            sys.exit("error: the server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def chromium_on_cores(folder, cpus):
    """A launcher that starts Chromium (and so every process it starts) on the cores `cpus` only (taskset):
    a viewer whose browser runs on their own machine, not on the server's cores."""
    path = os.path.join(folder, "chromium-on-cores")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\nexec taskset -c {cpus} /usr/bin/chromium "$@"\n')
    os.chmod(path, 0o755)
    return path


@contextlib.contextmanager
def dashboard(url=None, db=None):
    """Yield the base URL of a running dashboard: `url` if given, else a fresh server with its own run store."""
    if url:
        yield url
        return
    with server("dashboard.py", db) as base:
        yield base


@contextlib.contextmanager
def chromium_page(width=1400, height=1000):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def wait_idle(page):
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
