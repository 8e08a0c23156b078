"""Hyperparameter sweeps: a grid of one or two fields, trained in parallel processes (or on Dask).

Every cell of the grid is an ordinary run: the same `train()` as the Train page and the CLI,
saved in the run store tagged with the sweep's name. The default backend is a
ProcessPoolExecutor (spawn) sized to the cores; `scheduler="tcp://host:8786"` sends the cells
to a Dask distributed cluster instead (dask is imported only then; its workers must be able to
`import lab`, e.g. started from this repository's folder)."""
import gc
import itertools
import multiprocessing.context
import os
import re
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, fields
from multiprocessing import spawn

from data import DatasetError

from .config import ConfigError, TrainConfig
from .train import train

SWEEPABLE = tuple(f.name for f in fields(TrainConfig) if f.name not in ("csv_path", "dataset", "engine"))
MAX_CELLS = 64
POLL = 0.1            # seconds between checks of should_stop while cells train
DASK_STOP_CHECK = 0.5  # a Dask worker asks the scheduler whether to stop at most this often
WORKER_NAME = "micrograd-sweep-"


class SweepError(ConfigError):
    """Some cells of a sweep failed (the others were saved)."""


@dataclass
class SweepGrid:
    base: TrainConfig
    names: list           # one or two field names
    values: list          # one list of values per name
    configs: list         # one TrainConfig per cell, row-major over the values

    @property
    def cells(self):
        return list(itertools.product(*self.values))

    def label(self, index):
        """'lr=0.1 hidden=16-16' for the cell at `index`."""
        return cell_label(self.names, self.cells[index])


def format_value(name, value):
    """A swept value as people write it: 0.1, 16-16 (hidden layers), none (no hidden layer)."""
    if name == "hidden":
        return "-".join(map(str, value)) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def cell_label(names, cell):
    return " ".join(f"{n}={format_value(n, v)}" for n, v in zip(names, cell))


def parse_values(name, text):
    """'0.01,0.1' -> ['0.01', '0.1']; for hidden, layers are joined with '-': '8,16-16' -> ['8', '16,16']."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    return [p.replace("-", ",") for p in parts] if name == "hidden" else parts


def make_grid(base, axes):
    """axes: [(field, [values...]), ...] with one or two fields. Values may be strings ('0.1')."""
    if not 1 <= len(axes) <= 2:
        raise ConfigError("a sweep takes one or two hyperparameters")
    names = [name for name, _ in axes]
    for name in names:
        if name not in SWEEPABLE:
            raise ConfigError(f"cannot sweep {name!r}; choose from: {', '.join(SWEEPABLE)}")
    if len(set(names)) != len(names):
        raise ConfigError("sweep two different hyperparameters")
    values = []
    for name, vals in axes:
        normalised = []
        for v in vals:
            try:
                value = getattr(base.replace(**{name: v}), name)  # '0.1' -> 0.1, '16,16' -> (16, 16)
            except ConfigError as e:
                raise ConfigError(f"{name}={v}: {e}") from None
            if value not in normalised:
                normalised.append(value)
        if not normalised:
            raise ConfigError(f"{name} needs at least one value")
        values.append(normalised)
    cells = list(itertools.product(*values))
    if len(cells) > MAX_CELLS:
        raise ConfigError(f"the grid has {len(cells)} runs; at most {MAX_CELLS}")
    configs = [base.replace(**dict(zip(names, cell))) for cell in cells]
    return SweepGrid(base, names, values, configs)


def parse_grid(specs, base):
    """CLI form: ['lr=0.01,0.1', 'hidden=8,16-16']."""
    axes = []
    for spec in specs:
        name, sep, text = spec.partition("=")
        if not sep:
            raise ConfigError(f"--grid takes FIELD=V1,V2,...; got {spec!r}")
        name = name.strip().replace("-", "_")
        axes.append((name, parse_values(name, text)))
    return make_grid(base, axes)


def configured_scheduler():
    """The Dask scheduler address this server is configured with (MICROGRAD_DASK_SCHEDULER), or None.
    The only address the Sweep page uses: a browser never chooses where the server connects."""
    return os.environ.get("MICROGRAD_DASK_SCHEDULER", "").strip() or None


def default_workers():
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def train_one(config, dataset=None, should_stop=None):
    return train(config, should_stop=should_stop, dataset=dataset)


def run_sweep(grid, store, name, workers=None, scheduler=None, dataset=None, on_done=None, should_stop=None,
              on_result=None):
    """Train every config of the grid in parallel; save each run tagged with `name`.

    on_done(done, total) after each cell; on_result(index, run_id) after each saved run;
    should_stop() is polled while the cells train: when it turns true, cells not started are
    cancelled and running ones stop at their next step (saved as "stopped").
    Returns the run ids in grid order (None for a cell that was cancelled). When cells fail,
    the others are saved first and then SweepError says which failed and why."""
    total = len(grid.configs)
    ids, failures = [None] * total, []
    finished = 0
    if workers is not None and int(workers) < 1:
        raise ConfigError("workers must be 1 or more")

    def record(index, result=None, error=None):
        nonlocal finished
        finished += 1
        if error is not None:
            failures.append(f"{grid.label(index)}: {error}")
        elif result is not None and not (result.status == "stopped" and result.steps_done == 0):
            ids[index] = store.save(result, name=f"{name} {grid.label(index)}", sweep=name)
            if on_result:
                on_result(index, ids[index])
        if on_done:
            on_done(finished, total)

    if scheduler:
        _run_on_dask(grid.configs, scheduler, dataset, record, should_stop)
    else:
        workers = max(1, min(int(workers or default_workers()), total))
        runner = _run_serial if workers == 1 else _run_in_processes
        runner(grid.configs, workers, dataset, record, should_stop)
    if failures:
        saved = sum(i is not None for i in ids)
        raise SweepError(f"{len(failures)} of {total} sweep runs failed ({saved} saved as sweep {name!r}); "
                         f"first: {failures[0]}")
    return ids


def _describe(error):
    """A failed cell's message: bad input as is, a crash with its exception type."""
    return str(error) if isinstance(error, (ConfigError, DatasetError)) else f"{type(error).__name__}: {error}"


def _run_serial(configs, workers, dataset, record, should_stop):
    """One worker: train in this process (no start-up cost), one cell after another."""
    for i, config in enumerate(configs):
        if should_stop is not None and should_stop():
            break
        try:
            result = train_one(config, dataset, should_stop)
        except Exception as e:
            record(i, error=_describe(e))
        else:
            record(i, result)


# ---- worker processes
_STOP = None  # in a worker process: the sweep's stop Event


def _init_worker(stop):
    global _STOP
    _STOP = stop


def _train_in_worker(config, dataset):
    return train_one(config, dataset, _STOP.is_set if _STOP is not None else None)


class _WorkerProcess(multiprocessing.context.SpawnProcess):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = WORKER_NAME + self.name


class _WorkerContext(multiprocessing.context.SpawnContext):
    """spawn (a fresh interpreter per worker: safe inside a threaded server like Streamlit), with
    worker processes that do not re-run the parent's __main__ (see _preparation_data)."""
    Process = _WorkerProcess


def _preparation_data(name, original=spawn.get_preparation_data):
    """multiprocessing.spawn.get_preparation_data, minus the parent's __main__ for sweep workers."""
    data = original(name)
    if str(name).startswith(WORKER_NAME):
        # A spawned child first re-runs the parent's __main__. Inside Streamlit that is the app script
        # (dashboard.py): every worker would import Streamlit and run the home page, seconds per worker.
        # The workers need nothing from __main__ (they run lab.sweep._train_in_worker), so skip it.
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


def _run_in_processes(configs, workers, dataset, record, should_stop):
    spawn.get_preparation_data = _preparation_data  # changes nothing for processes not named WORKER_NAME...
    context = _WorkerContext()
    stop = context.Event()  # inherited by the workers; running cells check it every step
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(stop,)) as pool:
        futures = {pool.submit(_train_in_worker, c, dataset): i for i, c in enumerate(configs)}
        pending = set(futures)
        def cancel():  # queued cells never start; running ones stop at their next step
            stop.set()
            for future in pending:
                future.cancel()

        try:
            while pending:
                done, pending = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=futures.get):
                    if future.cancelled():
                        continue
                    error = future.exception()
                    record(futures[future], None if error else future.result(), _describe(error) if error else None)
                if not stop.is_set() and should_stop is not None and should_stop():
                    cancel()  # and go on collecting the stopped cells
        finally:  # an error here (the store, Ctrl-C): do not wait for the whole grid
            cancel()


# ---- Dask
def _train_on_dask(config, dataset, stop_name):
    """Runs on a Dask worker: trains one cell, asking the scheduler now and then whether to stop."""
    from distributed import Event

    stop, last = Event(stop_name), [0.0, False]

    def should_stop():
        now = time.monotonic()
        if now - last[0] >= DASK_STOP_CHECK:
            last[0], last[1] = now, stop.is_set()
        return last[1]

    return train_one(config, dataset, should_stop)


def _run_on_dask(configs, scheduler, dataset, record, should_stop):
    scheme, _, rest = scheduler.rpartition("://")
    if scheme in ("", "tcp", "tls", "ws", "wss") and not re.fullmatch(r"[^\s/]+:\d+", rest):
        raise ConfigError(f"the Dask scheduler address should look like tcp://host:8786, not {scheduler!r}")
    try:
        from distributed import Client, Event
    except ImportError:
        raise ConfigError("running on a Dask cluster needs dask[distributed]: pip install 'dask[distributed]'") from None
    problem = None
    try:
        # not the default client: in a worker sharing this process (a LocalCluster with processes=False)
        # get_client() would otherwise find it, and still find it once it is closed
        client = Client(scheduler, timeout=10, set_as_default=False)
    except Exception as e:  # OSError, TimeoutError, ValueError for a malformed address
        problem = str(e)
    if problem is not None:
        gc.collect()  # free the half-made client now: at exit its __del__ would hang for 20 s
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {problem}")
    with client:
        stop = Event(f"micrograd-sweep-stop-{uuid.uuid4().hex}", client=client)
        futures = {client.submit(_train_on_dask, c, dataset, stop.name, pure=False): i for i, c in enumerate(configs)}
        pending, finished = set(futures), threading.Event()
        for future in futures:
            future.add_done_callback(lambda _: finished.set())
        try:
            while pending:
                finished.wait(POLL)
                finished.clear()
                for future in sorted((f for f in pending if f.done()), key=futures.get):
                    pending.discard(future)
                    if future.status == "cancelled":
                        continue
                    if future.status == "error":
                        error = future.exception()
                        message = _describe(error)
                        if isinstance(error, ModuleNotFoundError):
                            message += " (the Dask workers must be able to import this project: start them from its folder)"
                        record(futures[future], error=message)
                    else:
                        record(futures[future], future.result())
                if should_stop is not None and should_stop() and not stop.is_set():
                    stop.set()  # running cells stop at their next check; queued ones stop before their first step
        finally:
            if pending:  # an error here: stop the cells still on the cluster
                stop.set()
                client.cancel(list(pending))
