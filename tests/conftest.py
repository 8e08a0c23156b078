import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
sys.path.insert(0, str(ROOT))
ARTIFACTS.mkdir(parents=True, exist_ok=True)
# tests never touch a user's runs.sqlite
os.environ["MICROGRAD_RUNS_DB"] = str(ARTIFACTS / "default-runs.sqlite")


@pytest.fixture
def run_store(tmp_path, monkeypatch):
    """A fresh, empty run store for the test (the env var is what pages and the CLI read)."""
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv("MICROGRAD_RUNS_DB", str(path))
    return path


def opened(app, runs=None):
    """Run an AppTest page (with ?runs= when given: the Compare and Runs pages' selection); it must not raise."""
    if runs is not None:
        app.query_params["runs"] = runs
    at = app.run()
    assert not at.exception, at.exception
    return at


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db, log_path, timeout=60):
    """`streamlit run dashboard.py` on a free port with its own run store; returns (process, base URL)
    once its health check answers. The session's app_server, and tests that need a server of their own
    (one they signal), start it this way."""
    port = free_port()
    with open(log_path, "w") as log:  # the server keeps its own copy of the file
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.headless", "true",
             "--server.port", str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env={**os.environ, "MICROGRAD_RUNS_DB": str(db)}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"streamlit did not start; see {log_path}")
        time.sleep(0.2)  # polling a server that is starting, not timing code


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The dashboard on a free port, with its own run store, for the whole session; yields its URL and store."""
    db = tmp_path_factory.mktemp("server") / "runs.sqlite"
    proc, url = start_server(db, ARTIFACTS / "streamlit-server.log")
    yield {"url": url, "db": db}
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: the browser tests must run in CI (tests/run.sh installs it)")
        pytest.skip(f"{CHROMIUM} is not installed (bash tests/run.sh installs it)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a page's first draw can take seconds on a busy 2-core machine
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


def open_page(page, url):
    """Load a Streamlit page and wait until its script has finished running."""
    page.goto(url)
    wait_idle(page)


def wait_idle(page, timeout=60_000):
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
