"""Training runs in worker processes, watched from a thread, so a page can poll them and never freeze.

A `TrainingJob` is one run: it waits for a free slot (at most MAX_RUNNING runs train at once per
server: the machine has two cores), hands its config to a worker process (lab/worker.py), and
collects the worker's progress events into a history the page redraws from. Stop ends the run
within two seconds whatever it is doing: the worker stops at its next step, cuts a slow step
short, and is killed if it still has not ended. A `SweepJob` is a sweep in a thread, whose cells
are TrainingJobs too.

The server keeps one spare worker started, so a run starts without waiting for Python to import
numpy (about 0.3 s here)."""
import json
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from .config import ConfigError
from .train import TrainResult, estimate_seconds, load_data

ROOT = Path(__file__).resolve().parents[1]
MAX_RUNNING = 2              # runs training at once in this process's workers (2 cores)
KILL_AFTER = 1.6             # seconds after Stop before a worker that has not ended is killed
MAX_RUN_SECONDS = 600        # a run estimated to take longer is refused: it would hold a core for too long
SPARE_AFTER = 3.0            # seconds after a run ends before the next spare worker starts

SERVER_SLOTS = threading.BoundedSemaphore(MAX_RUNNING)
_waiting = []                # jobs waiting for one of SERVER_SLOTS, oldest first
_waiting_lock = threading.Lock()
_spare = None
_spare_lock = threading.Lock()


def start_worker():
    """A new worker process; it imports everything, then waits for its request on stdin."""
    return subprocess.Popen([sys.executable, "-m", "lab.worker"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def prewarm():
    """Start the spare worker now (e.g. when the Train page opens), so the first run starts at once."""
    global _spare
    with _spare_lock:
        if _spare is None or _spare.poll() is not None:
            _spare = start_worker()


def take_worker():
    """The spare worker, or a new one. The next spare starts a few seconds after this run ends (TrainingJob):
    its imports would otherwise take a core from this run and from the browser drawing its first charts."""
    global _spare
    with _spare_lock:
        worker, _spare = _spare, None
    if worker is None or worker.poll() is not None:
        worker = start_worker()
    return worker


def prewarm_later(seconds=SPARE_AFTER):
    """prewarm() in `seconds`, from a timer thread."""
    timer = threading.Timer(seconds, prewarm)
    timer.daemon = True
    timer.start()


def check_budget(config, train_set=None):
    """The run's estimated seconds; ConfigError when it would take longer than MAX_RUN_SECONDS (saying what
    to change). train_set: the run's training data when the caller has it loaded already (a page's cache)."""
    train_set = train_set or load_data(config)[0]
    seconds = estimate_seconds(config, train_set.n_features, train_set.n)
    if seconds > MAX_RUN_SECONDS:
        hint = ("the numpy engine gives the same numbers far faster, or use" if config.engine == "scalar"
                else "use")
        raise ConfigError(f"this run would take about {seconds:,.0f} s on the {config.engine} engine, more than "
                          f"this server allows ({MAX_RUN_SECONDS} s): {hint} fewer steps, samples or neurons")
    return seconds


class TrainingJob:
    """One run in a worker process. Read .state, .progress(), .params; call .stop(); .result at the end."""

    def __init__(self, config, store, name=None, sweep=None, slots=(SERVER_SLOTS,)):
        self.config, self.store_path, self.name, self.sweep = config, str(store.path), name, sweep
        self.slots = tuple(slots)       # semaphores to hold while training: the server's, and a sweep's own
        self.state = "queued"           # queued -> running -> done
        self.error = None               # a message for the user
        self.save_error = None          # the run trained but could not be saved (the result is still here)
        self.run_id = None
        self.result = None              # the final TrainResult
        self.params = None              # the latest weights the worker sent (for live drawing)
        self.task = self.n_features = None
        self.history = None
        self.training_seconds = 0.0     # the worker's own clock, from its latest frame
        self.started = time.perf_counter()
        self.elapsed = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._worker = None
        self._stderr = deque(maxlen=20)
        self._thread = threading.Thread(target=self._run, name="TrainingJob", daemon=True)

    def start(self):
        if SERVER_SLOTS in self.slots:
            with _waiting_lock:
                _waiting.append(self)
        self._thread.start()
        return self

    # ---- what a page reads
    @property
    def done(self):
        return self._done.is_set()

    @property
    def stopping(self):
        return self._stop.is_set()

    def wait(self, timeout=None):
        """True when the job has finished (within the timeout)."""
        return self._done.wait(timeout)

    def queue_position(self):
        """1 for the next job to start, None when not waiting."""
        with _waiting_lock:
            return _waiting.index(self) + 1 if self in _waiting else None

    def progress(self):
        """(steps done, a copy of the history so far or None), safe to read while it trains."""
        with self._lock:
            if not self.history or not self.history["step"]:
                return 0, None
            return len(self.history["step"]), {key: list(values) for key, values in self.history.items()}

    # ---- stopping
    def stop(self):
        """Stop the run: saved as "stopped" with the steps it has. Ends within about two seconds."""
        if self._stop.is_set():
            return
        self._stop.set()
        worker = self._worker
        if worker is not None and worker.poll() is None:
            try:
                worker.stdin.write("stop\n")
                worker.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass
            timer = threading.Timer(KILL_AFTER, self._kill)
            timer.daemon = True
            timer.start()

    def _kill(self):
        worker = self._worker
        if worker is not None and worker.poll() is None:
            worker.kill()

    # ---- the watching thread
    def _run(self):
        try:
            if self._wait_for_slot():
                try:
                    self._train()
                finally:
                    for slot in self.slots:
                        slot.release()
        except Exception as e:  # shown on the page instead of a traceback
            self.error = f"training failed: {type(e).__name__}: {e}"
        finally:
            with _waiting_lock:
                if self in _waiting:
                    _waiting.remove(self)
            self.state = "done"
            self.elapsed = time.perf_counter() - self.started
            self._done.set()
            prewarm_later()  # the next run's worker, once the page has drawn this one

    def _wait_for_slot(self):
        """Take every semaphore in self.slots, in order; False (holding none) when stopped meanwhile."""
        held = []
        for slot in self.slots:
            while not slot.acquire(timeout=0.1):
                if self._stop.is_set():
                    break
            else:
                held.append(slot)
                continue
            break
        with _waiting_lock:
            if self in _waiting:
                _waiting.remove(self)
        if self._stop.is_set() or len(held) < len(self.slots):
            for slot in held:
                slot.release()
            return False
        return True

    def _train(self):
        self.state = "running"
        self._worker = worker = take_worker()
        threading.Thread(target=self._read_stderr, args=(worker,), daemon=True).start()
        request = {"config": self.config.to_dict(), "name": self.name, "sweep": self.sweep, "db": self.store_path}
        try:
            worker.stdin.write(json.dumps(request) + "\n")
            worker.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the worker died before reading: reported below from its exit code
        if self._stop.is_set():  # Stop pressed while the worker was being started
            self._stop.clear()
            self.stop()
        done = None
        for line in worker.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            if event["event"] == "started":
                self.run_id, self.task, self.n_features = event["run_id"], event["task"], event["n_features"]
            elif event["event"] == "frame":
                self._add_frame(event)
            elif event["event"] == "done":
                done = event
        worker.wait()
        self.save_error = (done or {}).get("save_error")
        if done is None or done.get("error"):
            self.error = (done or {}).get("error") or self._crash_message(worker.returncode)
        self.result = self._final_result(done or {})
        if done is None and self.result is not None and self.run_id is not None:
            self._save_what_was_sent()

    def _save_what_was_sent(self):
        """The worker was killed before it could save (Stop, after it ignored the request): save the steps
        and weights its frames carried, so the run is "stopped" with them rather than "interrupted"."""
        from .runs import RunRecorder, RunStore, RunStoreError

        recorder = RunRecorder(RunStore(self.store_path), self.config, name=self.name, sweep=self.sweep)
        recorder.run_id = self.run_id
        try:
            recorder.finish(self.result)
        except RunStoreError as e:
            self.save_error = str(e)

    def _add_frame(self, event):
        with self._lock:
            if self.history is None:
                self.history = {key: [] for key in event["history"]}
            for key, values in event["history"].items():
                self.history[key].extend(values)
            if event["params"] is not None:
                self.params = event["params"]
            self.training_seconds = event["elapsed"]

    def _final_result(self, done):
        """The TrainResult of the run, from the worker's last event (or what it sent before it was killed)."""
        if self.history is None or (done.get("error") and not self.history["step"]):
            return None
        self.run_id = done.get("run_id", self.run_id)
        status = done.get("status", "stopped")
        params = done.get("params") or self.params or []
        return TrainResult(self.config, status, self.history, params, done.get("task", self.task),
                           done.get("n_features", self.n_features), diverged_at=done.get("diverged_at"),
                           elapsed=done.get("elapsed", self.training_seconds))

    def _crash_message(self, returncode):
        if self._stop.is_set():
            return None  # killed by Stop: the steps it sent are kept
        detail = "".join(self._stderr).strip().splitlines()[-1:] or [f"exit code {returncode}"]
        return f"the training process ended unexpectedly ({detail[0][:200]})"

    def _read_stderr(self, worker):
        for line in worker.stderr:
            self._stderr.append(line)


class StoredRun:
    """A saved run, shown like a finished TrainingJob: the Train page's results and replay of a run
    reopened from the store (its link: Train?replay=ID). Runs saved before snapshots were kept show
    their final state."""
    done, stopping, error, save_error = True, False, None, None

    def __init__(self, store, run_id):
        run = store.get(run_id)  # RunStoreError for an unknown or unreadable run
        self.run_id, self.name, self.store_path = run["id"], run["name"], str(store.path)
        self.config = run["config"]
        self.result = TrainResult(run["config"], run["status"], run["history"], run["params"], run["task"],
                                  run["n_features"], diverged_at=run["diverged_at"], elapsed=run["elapsed"])


class SweepJob:
    """A sweep run from a page: run_sweep in a thread, its cells taking the server's training slots."""

    def __init__(self, grid, store, name, workers=None, scheduler=None):
        self.grid, self.store, self.name = grid, store, name
        self.workers, self.scheduler = workers, scheduler
        self.total = len(grid.configs)
        self.finished = 0
        self.ids = [None] * self.total   # run id per cell, filled in as cells finish
        self.error = None
        self.started = time.perf_counter()
        self.elapsed = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="SweepJob", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        from data import DatasetError

        from .runs import RunStoreError
        from .sweep import run_sweep

        try:
            run_sweep(self.grid, self.store, self.name, workers=self.workers, scheduler=self.scheduler,
                      on_done=self._on_done, on_result=self._on_result, should_stop=self._stop.is_set,
                      server_slots=not self.scheduler)
        except (ConfigError, DatasetError, RunStoreError) as e:
            self.error = str(e)
        except Exception as e:  # shown on the page instead of a traceback
            self.error = f"the sweep failed: {type(e).__name__}: {e}"
        self.elapsed = time.perf_counter() - self.started
        self._done.set()

    def _on_done(self, finished, total):
        self.finished = finished

    def _on_result(self, index, run_id):
        self.ids[index] = run_id

    def saved_ids(self):
        return [i for i in self.ids if i is not None]

    def stop(self):
        self._stop.set()

    @property
    def stopping(self):
        return self._stop.is_set()

    @property
    def done(self):
        return self._done.is_set()

    def wait(self, timeout=None):
        return self._done.wait(timeout)
