"""Hyperparameter sweeps: a grid of one or two fields, trained in parallel processes (or on Dask).

Every cell of the grid is an ordinary run: the same `train()` as the Train page and the CLI,
saved in the run store tagged with the sweep's name. Locally each cell is a TrainingJob, the
same worker process a Train click uses (lab/jobs.py), as many at once as there are cores; so a
sweep started from the dashboard neither patches multiprocessing nor holds the server's GIL, and
stopping it (or killing its parent) leaves no process behind. `scheduler="tcp://host:8786"`
sends the cells to a Dask distributed cluster instead (dask is imported only then)."""
import asyncio
import gc
import itertools
import os
import pkgutil
import re
import tempfile
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path

from data import DatasetError

from .config import ConfigError, TrainConfig, format_hidden
from .runs import RunStoreError, load_upload
from .train import train

SWEEPABLE = tuple(f.name for f in fields(TrainConfig) if f.name not in ("csv_path", "csv_upload", "dataset", "engine"))
MAX_CELLS = 64         # runs in one sweep (cells x seeds)
MAX_SEEDS = 20
POLL = 0.1             # seconds between checks of should_stop while cells train
KILL_WAIT = 5.0        # seconds to wait for a stopped cell's worker to save and end
DASK_STOP_CHECK = 0.5  # a Dask worker asks the scheduler whether to stop at most this often
DASK_CONNECT_TIMEOUT = 5  # seconds: an address that is not a Dask scheduler fails fast
SCHEDULER_ENV = "MICROGRAD_DASK_SCHEDULER"


class SweepError(ConfigError):
    """Some cells of a sweep failed (the others were saved)."""


@dataclass
class SweepGrid:
    base: TrainConfig
    names: list           # one or two field names
    values: list          # one list of values per name
    configs: list         # one TrainConfig per run: row-major over the values, each cell `seeds` times
    seeds: int = 1        # runs per cell, with seeds base.seed, base.seed + 1, ...

    @property
    def cells(self):
        return list(itertools.product(*self.values))

    def label(self, index):
        """'lr=0.1 hidden=16-16' for the run at `index` (with ' seed=1' when cells repeat over seeds)."""
        text = cell_label(self.names, self.cells[index // self.seeds])
        return f"{text} seed={self.configs[index].seed}" if self.seeds > 1 else text

    def axes(self):
        """[(field, [values as people write them]), ...], and ("seed", [...]) when cells repeat: what the
        store keeps of a sweep's grid."""
        axes = [(name, [format_value(name, v) for v in values]) for name, values in zip(self.names, self.values)]
        if self.seeds > 1:
            axes.append(("seed", [str(self.base.seed + i) for i in range(self.seeds)]))
        return axes


def format_value(name, value):
    """A swept value as people write it: 0.1, 16-16 (hidden layers), none (no hidden layer)."""
    if name == "hidden":
        return format_hidden(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def cell_label(names, cell):
    return " ".join(f"{n}={format_value(n, v)}" for n, v in zip(names, cell))


def parse_values(name, text):
    """'0.01,0.1' -> ['0.01', '0.1']; for hidden, layers are joined with '-': '8,16-16' -> ['8', '16,16']."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    return [p.replace("-", ",") for p in parts] if name == "hidden" else parts


def make_grid(base, axes, seeds=1):
    """axes: [(field, [values...]), ...] with one or two fields. Values may be strings ('0.1').
    seeds > 1 repeats every cell with seeds base.seed, base.seed + 1, ... (grouped on the Compare page)."""
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
    if not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"seeds must be a whole number from 1 to {MAX_SEEDS}")
    if seeds > 1 and "seed" in names:
        raise ConfigError("sweep the seed either as a grid axis or with seeds, not both")
    cells = list(itertools.product(*values))
    if len(cells) * seeds > MAX_CELLS:
        raise ConfigError(f"the grid has {len(cells) * seeds} runs; at most {MAX_CELLS}")
    configs = [base.replace(**dict(zip(names, cell)), **({"seed": base.seed + i} if seeds > 1 else {}))
               for cell in cells for i in range(seeds)]
    return SweepGrid(base, names, values, configs, seeds)


def parse_grid(specs, base, seeds=1):
    """CLI form: ['lr=0.01,0.1', 'hidden=8,16-16']."""
    axes = []
    for spec in specs:
        name, sep, text = spec.partition("=")
        if not sep:
            raise ConfigError(f"--grid takes FIELD=V1,V2,...; got {spec!r}")
        name = name.strip().replace("-", "_")
        axes.append((name, parse_values(name, text)))
    return make_grid(base, axes, seeds)


def default_workers():
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def train_one(config, dataset=None, should_stop=None):
    return train(config, should_stop=should_stop, dataset=dataset)


def configured_scheduler():
    """The Dask scheduler this server may use (the SCHEDULER_ENV variable), or None.

    Only the server's own configuration names a scheduler: a Dask client unpickles what the
    scheduler sends, so an address typed in a browser would let its owner run code here."""
    return os.environ.get(SCHEDULER_ENV, "").strip() or None


def run_sweep(grid, store, name, workers=None, scheduler=None, dataset=None, on_done=None, should_stop=None,
              on_result=None, server_slots=False):
    """Train every config of the grid in parallel; save each run tagged with `name`.

    on_done(done, total) after each cell; on_result(index, run_id) after each saved run;
    should_stop() is polled while the cells train: when it turns true, cells not started are
    skipped and running ones stop at their next step (saved as "stopped").
    Locally every cell is a TrainingJob (a worker process that saves its own run), `workers` of them
    training at once; with server_slots (a sweep started from a page) they also take the server's
    training slots, so sweeps and Train clicks share its cores.
    Returns the run ids in grid order (None for a cell that was skipped). When cells fail,
    the others are saved first and then SweepError says which failed and why."""
    total = len(grid.configs)
    ids, failures = [None] * total, []
    finished = 0
    if workers is not None and int(workers) < 1:
        raise ConfigError("workers must be 1 or more")

    def record(index, run_id=None, result=None, error=None):
        nonlocal finished
        finished += 1
        if error is not None:
            failures.append(f"{grid.label(index)}: {error}")
        if result is not None and not (result.status == "stopped" and result.steps_done == 0):
            run_id = store.save(result, name=cell_name(name, grid, index), sweep=name)
        if run_id is not None:
            ids[index] = run_id
            if on_result:
                on_result(index, run_id)
        if on_done:
            on_done(finished, total)

    store.save_sweep(name, grid.axes())  # the Compare page reads the grid from here, not from run names
    if scheduler:
        if dataset is None and grid.base.csv_upload:  # a cluster cannot read this store: send the data along
            dataset = load_upload(grid.base.csv_upload, store.path)
        _run_on_dask(grid.configs, scheduler, dataset, record, should_stop)
    else:
        workers = max(1, min(int(workers or default_workers()), total))
        from .jobs import SERVER_SLOTS

        slots = (threading.BoundedSemaphore(workers), *((SERVER_SLOTS,) if server_slots else ()))
        _run_in_workers(grid, store, name, slots, record, should_stop)
    if failures:
        saved = sum(i is not None for i in ids)
        raise SweepError(f"{len(failures)} of {total} sweep runs failed ({saved} saved as sweep {name!r}); "
                         f"first: {failures[0]}")
    return ids


def cell_name(name, grid, index):
    """A sweep run's name leads with what differs: 'lr=0.1 hidden=8 · sweep-20261129-0730'."""
    return f"{grid.label(index)} · {name}"


def _describe(error):
    """A failed cell's message: bad input as is, a crash with its exception type."""
    return str(error) if isinstance(error, (ConfigError, DatasetError)) else f"{type(error).__name__}: {error}"


def _run_in_workers(grid, store, name, slots, record, should_stop):
    """Each cell in its own worker process (lab/worker.py), as many at once as the `slots` semaphores allow.

    The workers save their runs themselves; stopping the sweep stops them all (each saves what
    it has as "stopped"), and a worker whose parent dies stops on its own: none outlives this."""
    from .jobs import TrainingJob  # lab.jobs imports this module

    jobs = [TrainingJob(config, store, name=cell_name(name, grid, i), sweep=name, slots=slots).start()
            for i, config in enumerate(grid.configs)]
    pending = dict(enumerate(jobs))
    try:
        while pending:
            for index in sorted(pending):
                job = pending[index]
                if job.done:
                    del pending[index]
                    if job.save_error:
                        raise RunStoreError(job.save_error)
                    record(index, run_id=job.run_id, error=job.error)
            if pending:
                if should_stop is not None and should_stop():
                    for job in pending.values():
                        job.stop()
                next(iter(pending.values())).wait(POLL)
    finally:  # an error here (the store, Ctrl-C): stop every cell still training
        for job in pending.values():
            job.stop()
        for job in pending.values():
            job.wait(KILL_WAIT)


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


PROJECT_PACKAGES = ("lab", "micrograd", "data")
ROOT = Path(__file__).resolve().parents[1]


def project_zip(folder):
    """A zip of this project's packages. Client.upload_file sends it to the scheduler and every worker
    (and to workers that join later) and puts it on their path: a cluster needs only the runtime
    packages installed, not this repository. The scheduler needs it too: it unpickles the tasks."""
    path = Path(folder) / "micrograd_lab.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in PROJECT_PACKAGES:
            for file in sorted((ROOT / package).rglob("*.py")):
                archive.write(file, file.relative_to(ROOT).as_posix())
    return path


def _ship_project(client, scheduler):
    """Upload the project's code, then import it on the scheduler and the workers (pkgutil.resolve_name:
    a stdlib function, so the check itself needs nothing shipped). A cluster missing a runtime package
    is one clear ConfigError naming it, instead of Dask's "error during deserialization"."""
    probe = "lab.sweep:PROJECT_PACKAGES"  # importing lab.sweep imports every runtime package a cell needs
    with tempfile.TemporaryDirectory() as folder:
        try:
            client.upload_file(str(project_zip(folder)))
        except ImportError:
            pass  # said below, with the name of what is missing
    try:
        client.run_on_scheduler(pkgutil.resolve_name, probe)
        answers = list(client.run(pkgutil.resolve_name, probe, on_error="return").values())
    except ImportError as e:
        answers = [e]
    for answer in answers:
        if isinstance(answer, ImportError):
            missing = getattr(answer, "name", None) or str(answer)
            raise ConfigError(f"the Dask cluster at {scheduler} cannot import {missing!r}: install this project's "
                              f"runtime packages (requirements.txt) on the scheduler and every worker")


def _probe_scheduler(address):
    """None when something at `address` completes Dask's handshake within DASK_CONNECT_TIMEOUT, else why not.

    Client(address, timeout=...) bounds only the TCP connect: a port that accepts and then says
    nothing (not a Dask scheduler) would hang it for good, so shake hands first, with a deadline."""
    from distributed.comm import connect

    async def handshake():
        comm = await asyncio.wait_for(connect(address, timeout=DASK_CONNECT_TIMEOUT), DASK_CONNECT_TIMEOUT)
        await comm.close()

    try:
        # in a thread of its own: the caller's thread may already run an event loop (a test, a notebook)
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, handshake()).result()
    except (asyncio.TimeoutError, TimeoutError):
        return f"no Dask scheduler answered within {DASK_CONNECT_TIMEOUT} s"
    except Exception as e:  # OSError: refused, unreachable; ValueError: a malformed address
        return str(e) or type(e).__name__
    return None


def _run_on_dask(configs, scheduler, dataset, record, should_stop):
    scheme, _, rest = scheduler.rpartition("://")
    if scheme in ("", "tcp", "tls", "ws", "wss") and not re.fullmatch(r"[^\s/]+:\d+", rest):
        raise ConfigError(f"the Dask scheduler address should look like tcp://host:8786, not {scheduler!r}")
    try:
        from distributed import Client, Event
    except ImportError:
        raise ConfigError("running on a Dask cluster needs dask[distributed]: "
                          "pip install 'dask[distributed]'") from None
    problem = _probe_scheduler(scheduler)
    try:
        if problem is not None:
            raise ConfigError(problem)
        # not the default client: in a worker sharing this process (a LocalCluster with processes=False)
        # get_client() would otherwise find it, and still find it once it is closed
        client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)
    except Exception as e:  # OSError, TimeoutError, ValueError for a malformed address
        problem = str(e) or type(e).__name__
    if problem is not None:
        gc.collect()  # free the half-made client now: at exit its __del__ would hang for 20 s
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {problem}")
    with client:
        _ship_project(client, scheduler)
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
                        record(futures[future], error=_describe(error))
                    else:
                        record(futures[future], result=future.result())
                if should_stop is not None and should_stop() and not stop.is_set():
                    stop.set()  # running cells stop at their next check; queued ones stop before their first step
        finally:
            if pending:  # an error here: stop the cells still on the cluster
                stop.set()
                client.cancel(list(pending))
