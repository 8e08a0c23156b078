"""`python -m lab train` in a real process: kill -9, SIGTERM, a locked store, bad seeds, a CSV that goes away."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data import EXAMPLE_CSVS
from lab.figures import result_figures
from lab.runs import RunStore, RunStoreError

ROOT = Path(__file__).resolve().parents[1]
LONG_RUN = ("--engine", "scalar", "--steps", "100000", "--checkpoint-every", "0.2", "--quiet")  # minutes of work


def cli(*args, db, env=None):
    return subprocess.run([sys.executable, "-m", "lab", *args, "--db", str(db)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def start_training(db, *args):
    return subprocess.Popen([sys.executable, "-m", "lab", "train", *LONG_RUN, *args, "--db", str(db)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def first_checkpoint(proc, db, timeout=120):
    """Poll the store until the training process has checkpointed at least one step; that run."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the training process ended early: {proc.communicate()}")
        try:
            listed = RunStore(db).list() if db.exists() else []
        except RunStoreError:
            listed = []  # the file exists, its tables not yet
        if listed and listed[0]["steps_done"] > 0:
            return listed[0]
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no checkpoint appeared in the store")
        time.sleep(0.05)  # polling another process, not timing code


def test_kill_9_leaves_an_interrupted_run_with_its_steps(tmp_path):
    db = tmp_path / "runs.sqlite"
    proc = start_training(db, "--name", "killed")
    running = first_checkpoint(proc, db)
    assert running["status"] == "running" and running["name"] == "killed"
    proc.kill()  # SIGKILL: no handler runs
    proc.communicate()
    run = RunStore(db).get(running["id"])
    assert run["status"] == "interrupted" and run["steps_done"] >= running["steps_done"] > 0
    assert len(run["history"]["train_loss"]) == run["steps_done"] and len(run["params"]) == 337
    listed = cli("runs", "list", db=db)
    assert listed.returncode == 0 and "interrupted" in listed.stdout and "killed" in listed.stdout
    shown = json.loads(cli("runs", "show", str(run["id"]), "--json", db=db).stdout)
    assert shown["status"] == "interrupted" and shown["steps_done"] == run["steps_done"]


def test_sigterm_saves_the_run_as_stopped(tmp_path):
    db = tmp_path / "runs.sqlite"
    proc = start_training(db, "--json")
    running = first_checkpoint(proc, db)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    printed = json.loads(out)
    assert printed["status"] == "stopped" and printed["run_id"] == running["id"]
    run = RunStore(db).get(running["id"])
    assert run["status"] == "stopped" and 0 < running["steps_done"] <= run["steps_done"] < 100_000
    assert RunStore(db).count() == 1


def test_a_locked_store_loses_nothing_the_run_comes_out_as_json(tmp_path):
    db = tmp_path / "runs.sqlite"
    RunStore(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock for longer than the timeout
    try:
        out = cli("train", "--steps", "5", "--name", "held back", "--quiet", db=db,
                  env={"MICROGRAD_RUNS_TIMEOUT": "0.1", "MICROGRAD_RUNS_BACKOFF": "0.01"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("error: the run finished but could not be saved") and "locked" in line
    assert "written to stdout" in line and "runs import" in line
    doc = json.loads(out.stdout)
    assert doc["format"] == "micrograd-runs" and len(doc["runs"][0]["history"]["step"]) == 5
    assert RunStore(db).count() == 0
    saved = tmp_path / "unsaved.json"
    saved.write_text(out.stdout)
    assert cli("runs", "import", str(saved), db=db).returncode == 0
    [run] = RunStore(db).list()
    assert run["name"] == "held back" and run["status"] == "finished" and run["steps_done"] == 5


@pytest.mark.parametrize("args", [("--seed", "-1"), ("--data-seed", "-1"),
                                  ("--data-seed", "-1", "--test-fraction", "0"),
                                  ("--name", "x" * 500), ("--checkpoint-every", "0")],
                         ids=["seed", "data-seed", "data-seed-no-split", "long-name", "no-checkpoints"])
def test_bad_train_flags_are_one_error_line(tmp_path, args):
    out = cli("train", "--steps", "2", *args, db=tmp_path / "runs.sqlite")
    assert out.returncode == 2, out.stderr
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("error: ") and "Traceback" not in out.stderr


def test_a_cli_run_on_a_csv_keeps_its_data_in_the_store(tmp_path, monkeypatch):
    db = tmp_path / "runs.sqlite"
    csv = tmp_path / "wavy.csv"
    csv.write_bytes(EXAMPLE_CSVS["wavy_boundary"].read_bytes())
    out = cli("train", "--csv", str(csv), "--steps", "5", "--json", db=db)
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    assert printed["config"]["csv_path"] == "" and len(printed["config"]["csv_upload"]) == 64
    assert printed["data_available"] is True and printed["csv_name"] == "wavy.csv"
    csv.unlink()  # the run no longer needs the file
    monkeypatch.setenv("MICROGRAD_RUNS_DB", str(db))
    run = RunStore().get(printed["run_id"])
    assert "boundary" in result_figures(run["config"], run["params"])


def test_an_unsaved_run_goes_to_a_named_file_when_stdout_is_a_terminal(tmp_path, monkeypatch):
    from lab.__main__ import write_unsaved

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", Terminal())
    where = write_unsaved('{"format": "micrograd-runs", "runs": []}')
    assert Path(where).parent == tmp_path and json.loads(Path(where).read_text())["runs"] == []
