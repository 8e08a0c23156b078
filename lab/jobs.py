"""A training run in a background thread, so a page can poll it and never freeze."""
import threading
import time

from data import DatasetError

from .config import ConfigError
from .runs import RunStoreError
from .train import train


class TrainingJob:
    def __init__(self, config, store, name=None):
        self.config, self.store, self.name = config, store, name
        self.live = None            # the TrainResult as it grows, set by the training thread
        self.result = None          # the final TrainResult
        self.run_id = None
        self.error = None           # a message for the user
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="training", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        try:
            self.result = train(self.config, on_step=self._on_step, should_stop=self._stop.is_set)
        except (ConfigError, DatasetError) as e:
            self.error = str(e)
        except Exception as e:  # shown on the page instead of a traceback
            self.error = f"training failed: {type(e).__name__}: {e}"
        if self.result is not None:
            try:
                self.run_id = self.store.save(self.result, name=self.name)
            except RunStoreError as e:
                self.error = f"the run finished but could not be saved: {e}"
        self._done.set()

    def _on_step(self, result):
        self.live = result

    def stop(self):
        self._stop.set()

    @property
    def done(self):
        return self._done.is_set()

    def wait(self, timeout=None):
        """True when the job has finished (within the timeout)."""
        return self._done.wait(timeout)

    def progress(self):
        """(steps done, history copy) of the run so far, safe to read while it trains."""
        live = self.result or self.live
        if live is None:
            return 0, None
        h = live.history
        n = min(len(v) for v in h.values())
        return n, {k: v[:n] for k, v in h.items()}
