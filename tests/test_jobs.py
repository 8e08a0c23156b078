"""lab/jobs.py and lab/worker.py: runs in worker processes, stopped promptly, queued, never orphaned."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from lab import jobs
from lab.config import ConfigError, TrainConfig
from lab.runs import RunStore
from lab.sweep import parse_grid
from lab.train import train

ROOT = Path(__file__).resolve().parents[1]
LONG = TrainConfig(n=60, hidden=(4,), steps=100_000)   # minutes of work if nothing stopped it
DEADLINE = 15  # seconds: generous bounds on waits, so a broken stop fails the test instead of hanging it


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs.sqlite")


def wait_for(condition, what, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling a process, not timing code


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"  # a zombie has ended


def children(pid):
    """Process ids whose parent is pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_job_gives_the_same_run_as_training_in_process(store):
    config = TrainConfig(steps=40, hidden=(8,))
    job = jobs.TrainingJob(config, store, name="in a worker").start()
    assert job.wait(DEADLINE) and job.error is None
    expected = train(config)
    assert job.result.history["train_loss"] == expected.history["train_loss"]
    assert job.result.params == expected.params and job.result.status == "finished"
    saved = store.get(job.run_id)
    assert saved["name"] == "in a worker" and saved["history"]["train_loss"] == expected.history["train_loss"]


def test_progress_grows_while_it_trains_and_stop_saves_the_steps(store):
    job = jobs.TrainingJob(LONG, store).start()
    wait_for(lambda: job.progress()[0] > 0 and job.params is not None, "the first frame")
    job.stop()
    assert job.wait(DEADLINE) and job.error is None
    result = job.result
    assert result.status == "stopped" and 0 < result.steps_done < LONG.steps
    assert len(result.params) == len(train(LONG.replace(steps=1)).params)
    saved = store.get(job.run_id)
    assert saved["status"] == "stopped" and saved["steps_done"] == result.steps_done


def test_a_worker_trains_at_the_servers_priority(store):
    # a lower one made Linux pair a watched run with the browser on one core (lab/worker.py)
    job = jobs.TrainingJob(LONG, store).start()
    wait_for(lambda: job.progress()[0] > 0, "the first steps")
    assert os.getpriority(os.PRIO_PROCESS, job._worker.pid) == os.getpriority(os.PRIO_PROCESS, 0)
    job.stop()
    assert job.wait(DEADLINE)


def test_stop_cuts_a_step_that_takes_minutes_short(store):
    """One scalar step of this net on 5,000 samples takes minutes; Stop still ends the run."""
    huge = TrainConfig(engine="scalar", hidden=(64,) * 8, n=5000, steps=3)
    job = jobs.TrainingJob(huge, store).start()
    wait_for(lambda: job.state == "running", "the worker")
    job.stop()
    assert job.wait(DEADLINE), "the run did not end after Stop"
    assert job.error is None and job.result is None  # stopped inside the first step: nothing to keep
    assert job._worker.poll() is not None


def test_at_most_max_running_train_at_once_and_the_rest_queue(store):
    slots = jobs.SERVER_SLOTS
    running = [jobs.TrainingJob(LONG, store).start() for _ in range(jobs.MAX_RUNNING)]
    queued = jobs.TrainingJob(LONG, store).start()
    try:
        wait_for(lambda: all(j.state == "running" for j in running), "the first runs to start")
        assert queued.state == "queued" and queued.queue_position() == 1
        running[0].stop()
        wait_for(lambda: queued.state == "running", "the queued run to start")
        assert queued.queue_position() is None
    finally:
        for job in [*running, queued]:
            job.stop()
        for job in [*running, queued]:
            assert job.wait(DEADLINE)
    assert slots._value == jobs.MAX_RUNNING  # every slot was given back


def test_a_queued_job_can_be_stopped_before_it_starts(store):
    slots = threading.BoundedSemaphore(1)
    first = jobs.TrainingJob(LONG, store, slots=(slots,)).start()
    second = jobs.TrainingJob(LONG, store, slots=(slots,)).start()
    second.stop()
    assert second.wait(DEADLINE) and second.result is None and second.run_id is None
    first.stop()
    assert first.wait(DEADLINE)


def test_the_largest_scalar_run_is_refused_with_a_hint():
    largest = TrainConfig(engine="scalar", hidden=(64,) * 8, n=5000, steps=5000)
    with pytest.raises(ConfigError, match="numpy engine"):
        jobs.check_budget(largest)
    assert jobs.check_budget(TrainConfig()) < 5  # the default run is well within the budget


def test_a_bad_config_in_the_worker_is_a_message_not_a_crash(store, tmp_path):
    config = TrainConfig(dataset="csv", csv_path=str(tmp_path / "missing.csv"), steps=3)
    job = jobs.TrainingJob(config, store).start()
    assert job.wait(DEADLINE)
    assert job.result is None and "missing.csv" in job.error and "Traceback" not in job.error


PARENT = textwrap.dedent("""
    import sys, time
    from lab import jobs
    from lab.config import TrainConfig
    from lab.runs import RunStore
    job = jobs.TrainingJob(TrainConfig(n=60, hidden=(4,), steps=100_000), RunStore(sys.argv[1])).start()
    while job._worker is None or job.progress()[0] == 0:
        time.sleep(0.05)
    print(job._worker.pid, flush=True)
    time.sleep(600)
""")


def test_a_worker_stops_when_its_parent_is_killed(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "runs.sqlite")], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    worker = int(parent.stdout.readline())
    assert alive(worker)
    parent.kill()
    parent.wait()
    wait_for(lambda: not alive(worker), "the orphaned worker to end")
    [run] = RunStore(tmp_path / "runs.sqlite").list()
    assert run["status"] == "stopped" and run["steps_done"] > 0  # it saved what it had


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_a_cli_sweep_leaves_no_process_behind(tmp_path, signum):
    db = tmp_path / "runs.sqlite"
    sweep = subprocess.Popen([sys.executable, "-m", "lab", "--db", str(db), "sweep", "--grid", "seed=0,1,2,3",
                              "--steps", "100000", "--n", "60", "--hidden", "4", "--workers", "2", "--json"],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    wait_for(lambda: len(children(sweep.pid)) >= 2, "the sweep's workers", timeout=60)
    workers = children(sweep.pid)
    wait_for(lambda: all(alive(pid) for pid in workers), "the workers")
    # signalled before the workers have even imported, the cells would end with nothing to save
    wait_for(lambda: sum(r["steps_done"] > 0 for r in RunStore(db).list()) == 2, "both cells' first checkpoint",
             timeout=60)
    sweep.send_signal(signum)
    sweep.wait(timeout=DEADLINE)
    wait_for(lambda: not any(alive(pid) for pid in workers), "every worker to end")
    runs = RunStore(db).list()
    assert runs and all(r["status"] == "stopped" and r["steps_done"] < 100_000 for r in runs)
    if signum == signal.SIGTERM:
        assert sweep.returncode == 0 and len(runs) == 2  # the two running cells saved, the queued two skipped


# ---------------------------------------------------------------- a sweep from a page
SMALL = TrainConfig(steps=15, n=60, hidden=(4,))


def test_sweep_job_runs_in_the_background_and_reports(store):
    grid = parse_grid(["lr=0.1,0.5"], SMALL)
    job = jobs.SweepJob(grid, store, "bg", workers=1).start()
    assert job.wait(DEADLINE) and job.done and job.error is None
    assert job.finished == job.total == 2 and len(job.saved_ids()) == 2 and job.elapsed > 0
    assert {r["id"] for r in store.list(sweep="bg")} == set(job.saved_ids())
    assert store.sweep_grid("bg") == [("lr", ["0.1", "0.5"])]


def test_sweep_job_stop(store):
    grid = parse_grid(["seed=0,1,2"], SMALL.replace(steps=100_000))
    job = jobs.SweepJob(grid, store, "stopme", workers=1).start()
    wait_for(lambda: any(r["steps_done"] > 0 for r in store.list(sweep="stopme")), "a checkpoint of the first cell")
    job.stop()
    assert job.wait(DEADLINE) and job.stopping and job.error is None
    assert len(job.saved_ids()) == 1 and store.get(job.saved_ids()[0])["status"] == "stopped"


def test_sweep_job_reports_errors(store, tmp_path):
    grid = parse_grid(["lr=0.1"], TrainConfig(dataset="csv", csv_path=str(tmp_path / "gone.csv"), steps=2))
    job = jobs.SweepJob(grid, store, "broken", workers=1).start()
    assert job.wait(DEADLINE)
    assert "1 of 1 sweep runs failed" in job.error and "not found" in job.error


def test_a_worker_killed_before_it_saved_leaves_its_run_stopped_with_the_steps_it_sent(store, monkeypatch):
    monkeypatch.setattr(jobs, "KILL_AFTER", 0.0)  # Stop kills at once: the worker never gets to save
    job = jobs.TrainingJob(LONG, store).start()
    wait_for(lambda: job.progress()[0] > 0 and job.run_id is not None, "the first frame")
    job.stop()
    assert job.wait(DEADLINE) and job.error is None
    saved = store.get(job.run_id)
    assert saved["status"] == "stopped" and saved["steps_done"] == job.result.steps_done > 0
    assert saved["history"]["train_loss"] == job.result.history["train_loss"]
