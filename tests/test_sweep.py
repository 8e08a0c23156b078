"""lab/sweep.py: grids, parallel sweeps (processes and Dask), cancel, failures and the CLI."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lab.config import ConfigError, TrainConfig
from lab.runs import RunStore, RunStoreError
from lab.sweep import (MAX_CELLS, SCHEDULER_ENV, SweepError, cell_label, configured_scheduler, make_grid, parse_grid,
                       run_sweep)
from lab.train import train
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
SMALL = TrainConfig(steps=15, n=60, hidden=(4,))


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs.sqlite")


def same_run(saved, result):
    """A saved run holds exactly what training that config alone gives (wall time aside)."""
    for key in ("step", "train_loss", "test_loss", "accuracy", "test_accuracy", "grad_norm", "lr"):
        assert saved["history"][key] == result.history[key], key
    assert saved["params"] == result.params
    assert saved["status"] == result.status


# ---------------------------------------------------------------- grids
def test_grid_parses_and_normalises_values():
    grid = parse_grid(["lr=0.01, 0.1", "hidden=8,16-16,none"], SMALL)
    assert grid.names == ["lr", "hidden"]
    assert grid.values == [[0.01, 0.1], [(8,), (16, 16), ()]]
    assert len(grid.configs) == 6
    assert grid.configs[1] == SMALL.replace(lr=0.01, hidden=(16, 16))  # row-major: the last field varies fastest
    assert grid.label(1) == "lr=0.01 hidden=16-16"
    assert cell_label(["hidden"], [()]) == "hidden=none"
    assert parse_grid(["activation=tanh,relu,tanh"], SMALL).values == [["tanh", "relu"]]  # duplicates once
    assert parse_grid(["data-seed=1,2"], SMALL).names == ["data_seed"]


@pytest.mark.parametrize("specs, message", [
    (["lr"], "FIELD=V1,V2"),
    (["dataset=moons,xor"], "cannot sweep 'dataset'"),
    (["lr=0.1", "lr=0.5"], "two different"),
    (["lr=0.1", "seed=1", "n=50"], "one or two"),
    (["lr=0.1,fast"], "lr=fast: lr must be a number"),
    (["lr=-1"], "learning rate must be positive"),
    (["activation=relu,swish"], "unknown activation 'swish'"),
    (["hidden=8,x"], "hidden=x"),
    (["seed=", "lr=0.1"], "seed needs at least one value"),
    ([f"seed={','.join(map(str, range(9)))}", f"n={','.join(map(str, range(10, 18)))}"], f"at most {MAX_CELLS}"),
])
def test_bad_grids_are_explained(specs, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid(specs, SMALL)


def test_make_grid_takes_values_directly():
    grid = make_grid(SMALL, [("seed", [0, 1]), ("optimizer", ["sgd", "adam"])])
    assert [(c.seed, c.optimizer) for c in grid.configs] == [(0, "sgd"), (0, "adam"), (1, "sgd"), (1, "adam")]


def test_seeds_repeat_every_cell():
    grid = parse_grid(["lr=0.1,0.5"], SMALL.replace(seed=7), seeds=3)
    assert [(c.lr, c.seed) for c in grid.configs] == [(0.1, 7), (0.1, 8), (0.1, 9), (0.5, 7), (0.5, 8), (0.5, 9)]
    assert grid.label(4) == "lr=0.5 seed=8"
    assert grid.axes() == [("lr", ["0.1", "0.5"]), ("seed", ["7", "8", "9"])]
    assert parse_grid(["hidden=8,16-16"], SMALL).axes() == [("hidden", ["8", "16-16"])]


@pytest.mark.parametrize("seeds, message", [(0, "seeds must be a whole number from 1"),
                                            (21, "seeds must be a whole number from 1 to 20")])
def test_bad_seed_counts(seeds, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid(["lr=0.1"], SMALL, seeds=seeds)
    with pytest.raises(ConfigError, match="either as a grid axis or with seeds"):
        parse_grid(["seed=0,1"], SMALL, seeds=2)
    with pytest.raises(ConfigError, match="the grid has 66 runs; at most 64"):
        parse_grid(["lr=" + ",".join(str(i / 100) for i in range(1, 12))], SMALL, seeds=6)


# ---------------------------------------------------------------- sweeps
@pytest.mark.parametrize("workers", [2, 1], ids=["processes", "serial"])
def test_sweep_results_equal_running_each_config_alone(store, workers):
    grid = parse_grid(["lr=0.05,0.5", "activation=tanh,relu"], SMALL)
    progress = []
    ids = run_sweep(grid, store, "grid-a", workers=workers, on_done=lambda done, total: progress.append((done, total)))
    assert progress[-1] == (4, 4) and [d for d, _ in progress] == [1, 2, 3, 4]
    assert len(ids) == 4 and None not in ids
    for run_id, config in zip(ids, grid.configs):
        saved = store.get(run_id)
        assert saved["config"] == config and saved["sweep"] == "grid-a"
        assert saved["name"] == f"lr={config.lr:g} activation={config.activation} · grid-a"  # what differs first
        same_run(saved, train(config))
    assert {r["id"] for r in store.list(sweep="grid-a")} == set(ids)


def test_cancel_stops_running_cells_and_skips_the_rest(store):
    long = SMALL.replace(steps=100_000)  # minutes of work per cell, if nothing stopped it
    grid = parse_grid(["seed=0,1,2,3,4,5"], long)
    ids = run_sweep(grid, store, "cancelled", workers=2,  # stop once a cell has checkpointed some steps
                    should_stop=lambda: any(r["steps_done"] > 0 for r in store.list(sweep="cancelled")))
    runs = store.list(sweep="cancelled")
    assert runs, "the cells that were training are saved as stopped"
    assert all(r["status"] == "stopped" and 0 < r["steps_done"] < 100_000 for r in runs)
    assert ids.count(None) >= 4  # at most two cells (one per worker) started
    assert sorted(i for i in ids if i is not None) == sorted(r["id"] for r in runs)


def test_cancel_in_a_serial_sweep(store):
    grid = parse_grid(["seed=0,1,2"], SMALL.replace(steps=100_000))
    calls = []
    ids = run_sweep(grid, store, "serial-cancel", workers=1, should_stop=lambda: calls.append(1) or len(calls) > 20)
    assert ids[1:] == [None, None] and store.get(ids[0])["status"] == "stopped"
    assert 0 < store.get(ids[0])["steps_done"] < 100_000


def test_failed_cells_are_reported_and_the_others_saved(store, tmp_path):
    csv = tmp_path / "line.csv"
    csv.write_text("x,target\n" + "".join(f"{i / 10},{i / 5}\n" for i in range(20)))  # a regression CSV
    base = TrainConfig(dataset="csv", csv_path=str(csv), steps=5, hidden=(4,))
    grid = parse_grid(["loss=auto,hinge"], base)
    with pytest.raises(SweepError, match=r"1 of 2 sweep runs failed \(1 saved as sweep 'mixed'\); "
                                         r"first: loss=hinge: hinge needs class labels"):
        run_sweep(grid, store, "mixed", workers=2)
    [run] = store.list(sweep="mixed")
    assert run["config"].loss == "auto" and run["status"] == "finished"


def test_a_store_error_stops_the_other_cells(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    grid = parse_grid(["steps=5,100000,100000"], SMALL)  # one quick cell, then minutes of work
    (tmp_path / "runs.sqlite").unlink()
    (tmp_path / "runs.sqlite").mkdir()  # the store can no longer be written
    with pytest.raises(RunStoreError):
        run_sweep(grid, store, "broken", workers=2)


def test_bad_worker_count(store):
    with pytest.raises(ConfigError, match="workers must be 1 or more"):
        run_sweep(parse_grid(["lr=0.1"], SMALL), store, "x", workers=0)


# ---------------------------------------------------------------- Dask
def start_dask(args, cwd, env):
    return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def end_processes(processes):
    """Workers first (a worker whose scheduler is gone keeps trying to reconnect), then the scheduler."""
    for process in reversed(processes):
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory):
    """A real `dask scheduler` and two `dask worker` processes that cannot import this project:
    started from an empty folder with no PYTHONPATH, so the sweep must ship its code to them."""
    pytest.importorskip("distributed")
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask-cluster")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = [start_dask(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
                            folder, env)]
    processes += [start_dask(["worker", address, "--nthreads", "1", "--dashboard-address", ":0",
                              "--local-directory", str(folder / f"worker-{i}")], folder, env) for i in range(2)]
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            assert client.run(os.getcwd) and set(client.run(os.getcwd).values()) == {str(folder)}
        yield address
    finally:
        end_processes(processes)


def test_sweep_on_a_dask_cluster_equals_running_each_config_alone(store, dask_scheduler):
    grid = parse_grid(["lr=0.05,0.5", "hidden=4,8-8"], SMALL)
    ids = run_sweep(grid, store, "on-dask", scheduler=dask_scheduler)
    assert None not in ids
    for run_id, config in zip(ids, grid.configs):
        same_run(store.get(run_id), train(config))


def test_cancel_a_dask_sweep(store, dask_scheduler):
    grid = parse_grid(["seed=0,1,2"], SMALL.replace(steps=100_000))
    polls = []  # the sweep asks about ten times a second: stop after about two seconds of training
    ids = run_sweep(grid, store, "dask-cancel", scheduler=dask_scheduler,
                    should_stop=lambda: polls.append(1) or len(polls) > 20)
    saved = [i for i in ids if i is not None]
    assert saved and all(store.get(i)["status"] == "stopped" for i in saved)  # two workers: two cells had started


def test_a_cluster_missing_a_runtime_package_is_one_clear_error(store, tmp_path):
    """A scheduler and worker whose Python cannot import threadpoolctl (a module of that name that fails)."""
    pytest.importorskip("distributed")
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "threadpoolctl.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'threadpoolctl'\", name='threadpoolctl')\n")
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PYTHONPATH": str(shadow)}
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = [start_dask(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
                            tmp_path, env),
                 start_dask(["worker", address, "--nthreads", "1", "--dashboard-address", ":0"], tmp_path, env)]
    try:
        with pytest.raises(ConfigError, match=r"cannot import 'threadpoolctl': install this project's runtime"):
            run_sweep(parse_grid(["lr=0.1"], SMALL), store, "x", scheduler=address)
    finally:
        end_processes(processes)


def test_a_port_that_is_not_a_scheduler_fails_fast(store):
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts connections, never speaks Dask
        address = "tcp://127.0.0.1:%d" % server.getsockname()[1]
        with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
            run_sweep(parse_grid(["lr=0.1"], SMALL), store, "x", scheduler=address)


def test_the_page_scheduler_comes_only_from_the_environment(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert configured_scheduler() is None
    monkeypatch.setenv(SCHEDULER_ENV, " tcp://10.0.0.5:8786 ")
    assert configured_scheduler() == "tcp://10.0.0.5:8786"


@pytest.mark.parametrize("address, message", [
    ("nonsense", "should look like tcp://host:8786, not 'nonsense'"),
    ("tcp://localhost", "should look like tcp://host:8786"),
])
def test_malformed_scheduler_address(store, address, message):
    with pytest.raises(ConfigError, match=message):
        run_sweep(parse_grid(["lr=0.1"], SMALL), store, "x", scheduler=address)


# ---------------------------------------------------------------- CLI
def cli(*args, db):
    return subprocess.run([sys.executable, "-m", "lab", "--db", str(db), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_cli_sweep_json(tmp_path):
    db = tmp_path / "cli.sqlite"
    out = cli("sweep", "--grid", "lr=0.1,0.5", "--grid", "hidden=4,8-8", "--steps", "10", "--n", "60",
              "--workers", "2", "--name", "cli-sweep", "--json", db=db)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["sweep"] == "cli-sweep" and len(doc["runs"]) == 4
    configs = [(r["config"]["lr"], r["config"]["hidden"]) for r in doc["runs"]]
    assert configs == [(0.1, [4]), (0.1, [8, 8]), (0.5, [4]), (0.5, [8, 8])]
    assert all(r["status"] == "finished" and len(r["losses"]) == 10 for r in doc["runs"])
    assert RunStore(db).count() == 4


def test_cli_sweep_on_dask(tmp_path, dask_scheduler):
    """Four cells through the CLI on the real cluster (its processes cannot import this project)."""
    db = tmp_path / "d.sqlite"
    out = cli("sweep", "--grid", "lr=0.1,0.5", "--grid", "hidden=4,8", "--steps", "5", "--scheduler", dask_scheduler,
              "--name", "on-the-cluster", db=db)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.strip().splitlines()) == 4 and "lr=0.5 hidden=8" in out.stdout
    runs = RunStore(db).list(sweep="on-the-cluster")
    assert len(runs) == 4 and all(r["status"] == "finished" for r in runs)
    assert RunStore(db).sweep_grid("on-the-cluster") == [("lr", ["0.1", "0.5"]), ("hidden", ["4", "8"])]


def test_cli_sweep_with_seeds(tmp_path):
    out = cli("sweep", "--grid", "lr=0.1,0.5", "--seeds", "2", "--steps", "5", "--n", "40", "--json",
              db=tmp_path / "s.sqlite")
    assert out.returncode == 0, out.stderr
    runs = json.loads(out.stdout)["runs"]
    assert [(r["config"]["lr"], r["config"]["seed"]) for r in runs] == [(0.1, 0), (0.1, 1), (0.5, 0), (0.5, 1)]
    assert runs[1]["name"].startswith("lr=0.1 seed=1 · sweep-")


@pytest.mark.parametrize("args, message", [
    (["--grid", "lr=0.1", "--seeds", "x"], "error: --seeds takes a whole number"),
    (["--grid", "lr=0.1", "--seeds", "0"], "error: seeds must be a whole number from 1"),
    (["--grid", "lr=0.1,x"], "error: lr=x: lr must be a number"),
    (["--grid", "engine=numpy"], "error: cannot sweep 'engine'"),
    (["--grid", "lr=0.1", "--scheduler", "nonsense"], "error: the Dask scheduler address should look like"),
    (["--grid", "lr=0.1", "--csv", "/no/such.csv"], "error: file not found: /no/such.csv"),
])
def test_cli_sweep_errors_are_one_line(tmp_path, args, message):
    out = cli("sweep", "--steps", "3", *args, db=tmp_path / "e.sqlite")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith(message)
    assert len([line for line in out.stderr.splitlines() if line.startswith("error:")]) == 1
