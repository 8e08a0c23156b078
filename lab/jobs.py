"""Work in a background thread (a training run, a sweep), so a page can poll it and never freeze."""
import threading
import time

from data import DatasetError

from .config import ConfigError
from .runs import RunStoreError
from .train import train

EXPECTED_ERRORS = (ConfigError, DatasetError, RunStoreError)


class BackgroundJob:
    """Runs self.work(should_stop) in a daemon thread; errors become a message in self.error."""
    what = "the job"

    def __init__(self):
        self.error = None           # a message for the user
        self.started = time.perf_counter()
        self.elapsed = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        try:
            self.work(self._stop.is_set)
        except EXPECTED_ERRORS as e:
            self.error = str(e)
        except Exception as e:  # shown on the page instead of a traceback
            self.error = f"{self.what} failed: {type(e).__name__}: {e}"
        self.elapsed = time.perf_counter() - self.started
        self._done.set()

    def work(self, should_stop):
        raise NotImplementedError

    def stop(self):
        self._stop.set()

    cancel = stop

    @property
    def cancelled(self):
        return self._stop.is_set()

    @property
    def done(self):
        return self._done.is_set()

    def wait(self, timeout=None):
        """True when the job has finished (within the timeout)."""
        return self._done.wait(timeout)


class TrainingJob(BackgroundJob):
    what = "training"

    def __init__(self, config, store, name=None):
        super().__init__()
        self.config, self.store, self.name = config, store, name
        self.live = None            # the TrainResult as it grows, set by the training thread
        self.result = None          # the final TrainResult
        self.run_id = None

    def work(self, should_stop):
        self.result = train(self.config, on_step=self._on_step, should_stop=should_stop)
        try:
            self.run_id = self.store.save(self.result, name=self.name)
        except RunStoreError as e:
            self.error = f"the run finished but could not be saved: {e}"

    def _on_step(self, result):
        self.live = result

    def progress(self):
        """(steps done, history copy) of the run so far, safe to read while it trains."""
        live = self.result or self.live
        if live is None:
            return 0, None
        h = live.history
        n = min(len(v) for v in h.values())
        return n, {k: v[:n] for k, v in h.items()}
