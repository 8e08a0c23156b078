"""One training run in its own process: `python -m lab.worker`.

Why a process: the scalar engine is pure Python and holds the GIL. Trained in a thread of the
Streamlit server, one big run stalled every other user's page, could not be stopped mid-step
and kept its memory after it ended. A worker process owns exactly one run:

- it reads one request (a JSON line: config, run name, sweep, store path) from stdin,
- writes the run to the store as it goes (`running`, checkpoints, then the final status),
- and reports progress as JSON lines on stdout (`started`, `frame`s, then `done`).

Stopping: the parent writes `stop` or closes stdin, or sends SIGTERM. The run stops at its next
step and is saved as `stopped`; a step still running a second later is cut short (its weights are
the last frame's). When the parent dies, stdin closes and the run stops the same way, so a worker
never outlives its parent. The server keeps one spare worker started (imports done), so a click
on Train does not wait for Python to start.
"""
import _thread
import json
import math
import os
import signal
import sys
import threading
import time

from data import DatasetError

from .config import ConfigError, TrainConfig
from .runs import ENV_VAR, RunRecorder, RunStore, RunStoreError
from .train import train

FRAME_SECONDS = 0.2          # at most this often a `frame` event (history so far, weights for live drawing)
CUT_SHORT_AFTER = 1.0        # a step still running this long after Stop is interrupted
MAX_FRAME_WEIGHTS = 20_000   # bigger nets send no weights in frames (nothing draws them live)


class CutShort(Exception):
    """Raised in the training thread when a step does not end soon enough after Stop."""


def emit(event, **fields):
    """One event line to the parent. When the parent is gone, the run goes on to be saved, unheard."""
    try:
        sys.stdout.write(json.dumps({"event": event, **fields}, allow_nan=False, default=_plain) + "\n")
        sys.stdout.flush()
    except OSError:  # BrokenPipeError: the parent died (stdin's end stops the run)
        sys.stdout = open(os.devnull, "w")


def _plain(value):
    return float(value)  # numpy scalars


def finite(values):
    """JSON has no inf or NaN: a diverged loss is sent (and stored) as null."""
    return [v if v is None or math.isfinite(v) else None for v in values]


class Run:
    """The state of the run this worker trains, shared by the stop watchers and the training loop."""

    def __init__(self, request):
        self.config = TrainConfig(**request["config"])  # not from_dict: the parent is trusted (the server, the CLI)
        self.store = RunStore(request["db"])
        self.recorder = RunRecorder(self.store, self.config, name=request.get("name"), sweep=request.get("sweep"))
        self.stop = threading.Event()
        self.latest = None         # the TrainResult so far
        self.snapshot = None       # weights after the latest frame's step
        self.sent = 0              # history entries already sent
        self.last_frame = 0.0
        self.training = False

    def request_stop(self):
        """Stop at the next step; cut the current step short if it takes too long."""
        if self.stop.is_set():
            return
        self.stop.set()
        timer = threading.Timer(CUT_SHORT_AFTER, lambda: self.training and _thread.interrupt_main())
        timer.daemon = True
        timer.start()

    def on_start(self, result):
        """The data is loaded and the network built: the run's row exists in the store from now on."""
        self.latest = result
        self.recorder.on_start(result)
        emit("started", run_id=self.recorder.run_id, task=result.task, n_features=result.n_features)

    def on_step(self, result):
        self.latest = result
        self.recorder.on_step(result)
        now = time.monotonic()
        if now - self.last_frame >= FRAME_SECONDS or result.steps_done == self.config.steps:
            self.last_frame = now
            self.send_frame(result)

    def send_frame(self, result):
        n = result.steps_done
        params = result.live_params() if result.live_params is not None else result.params
        self.snapshot = params
        history = {key: finite(values[self.sent:n]) if key != "step" else values[self.sent:n]
                   for key, values in result.history.items()}
        self.sent = n
        emit("frame", steps=n, elapsed=result.elapsed, history=history,
             params=finite(params) if len(params) <= MAX_FRAME_WEIGHTS else None)


def watch_stdin(run):
    """A `stop` line or the end of stdin (the parent stopped us or died) stops the run."""
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    run.request_stop()


def serve(request):
    run = Run(request)
    signal.signal(signal.SIGTERM, lambda *_: run.request_stop())
    signal.signal(signal.SIGINT, lambda *_: _cut_short(run))
    threading.Thread(target=watch_stdin, args=(run,), daemon=True).start()
    run.training = True
    with run.recorder:  # an unexpected error leaves the run "interrupted" in the store, with its checkpoints
        try:
            result = train(run.config, on_start=run.on_start, on_step=run.on_step, should_stop=run.stop.is_set)
        except CutShort:
            run.training = False
            if run.latest is None:  # cut short while loading the data: nothing was written
                emit("done", status="stopped", run_id=None)
            else:  # the history up to the last frame sent, with that frame's weights
                result = run.latest
                result.status, result.params = "stopped", run.snapshot or result.live_params()
                result.history = {key: values[:run.sent] for key, values in result.history.items()}
                result.live_params = None
                finish(run, result)
            os._exit(0)  # now, without freeing the half-built graph of the cut step object by object
    run.training = False
    finish(run, result)


def finish(run, result):
    """Send what is left of the history, save the run, and say `done`."""
    if result.steps_done > run.sent:
        run.send_frame(result)
    try:
        run_id, save_error = run.recorder.finish(result), None
    except RunStoreError as e:
        run_id, save_error = run.recorder.run_id, str(e)
    emit("done", run_id=run_id, status=result.status, diverged_at=result.diverged_at, elapsed=result.elapsed,
         task=result.task, n_features=result.n_features, params=finite(result.params), save_error=save_error)


def _cut_short(run):
    if run.training:
        raise CutShort


def main():
    # No os.nice here. At nice 5 (or 2), Linux paired the worker with the busy browser on one core (balanced by
    # weight: 335 + 1024 against 1024) and a watched run on one 2-core machine trained at 0.55-0.6x its speed in
    # most tries (bench/live_train.py: 1.71-1.74x the time watched; at nice 0 1.14-1.19x, with a click no slower).
    line = sys.stdin.readline()
    if not line:
        return 0  # a spare worker that was never used
    try:
        request = json.loads(line)
        os.environ[ENV_VAR] = request["db"]  # an uploaded CSV is read from this run store
        serve(request)
    except RunStoreError as e:
        emit("done", error=str(e), save_error=str(e))
    except (ConfigError, DatasetError) as e:
        emit("done", error=str(e))
    except MemoryError:
        emit("done", error="the run ran out of memory: choose a smaller network or fewer samples")
    except Exception as e:  # shown on the page instead of a traceback
        emit("done", error=f"training failed: {type(e).__name__}: {e}")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # the run is saved and reported: skip the interpreter's teardown, CPU the page needs now
