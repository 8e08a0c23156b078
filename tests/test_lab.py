import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data import make_dataset
from lab.config import ConfigError, TrainConfig
from lab.runs import RunStore, RunStoreError
from lab.train import (decision_grid, estimate_scalar_seconds, learning_rate, make_network, predict,
                       train)

ROOT = Path(__file__).resolve().parents[1]
SMALL = TrainConfig(n=60, steps=15, hidden=(8,))


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs.sqlite")


def cli(*args, db, stdin=None):
    env = {**os.environ, "MICROGRAD_RUNS_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          input=stdin, timeout=300)


# ---- config
def test_config_validates_with_clear_messages():
    for bad, words in [(dict(lr=-0.1), "learning rate"), (dict(steps=0), "steps"),
                       (dict(activation="swish"), "activation"), (dict(hidden="8,x"), "hidden"),
                       (dict(n="many"), "n must be"), (dict(dataset="mnist"), "dataset"),
                       (dict(test_fraction=1.0), "test_fraction"), (dict(lr=float("nan")), "finite")]:
        with pytest.raises(ConfigError, match=words):
            TrainConfig(**bad)


def test_config_round_trips_through_dict_and_query():
    cfg = TrainConfig(hidden=(8, 4), lr=0.03, optimizer="adam", steps=42)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainConfig.from_dict(cfg.to_query()) == cfg
    assert TrainConfig().to_query() == {}
    with pytest.raises(ConfigError, match="unknown config field"):
        TrainConfig.from_dict({"lrr": 1})


def test_learning_rate_schedules():
    cfg = TrainConfig(lr=1.0, steps=11)
    assert learning_rate(cfg, 0) == 1.0 and learning_rate(cfg, 10) == pytest.approx(0.1)
    cos = cfg.replace(lr_schedule="cosine")
    assert learning_rate(cos, 0) == pytest.approx(1.0) and learning_rate(cos, 10) == pytest.approx(0.1)
    assert learning_rate(cfg.replace(lr_schedule="constant"), 7) == 1.0


# ---- training
def test_training_is_deterministic_and_learns():
    a, b = train(SMALL), train(SMALL)
    assert a.losses == b.losses and a.params == b.params
    assert a.status == "finished" and len(a.losses) == 15
    assert a.losses[-1] < a.losses[0]
    assert train(SMALL.replace(seed=1)).losses != a.losses


def test_default_config_solves_moons():
    result = train(TrainConfig())
    assert result.final("accuracy") >= 0.95 and result.final("test_accuracy") >= 0.9


@pytest.mark.parametrize("changes", [dict(), dict(batch_size=16, optimizer="adam", lr=0.01),
                                     dict(loss="bce", l1=1e-3, activation="tanh", momentum=0.9, lr=0.05),
                                     dict(dataset="sine", loss="mse", activation="tanh", lr=0.05),
                                     dict(dataset="lecture", hidden=(4, 4), output_activation="tanh", loss="mse",
                                          activation="tanh", test_fraction=0.0, lr=0.05)])
def test_both_engines_give_the_same_run(changes):
    cfg = SMALL.replace(**changes)
    fast, slow = train(cfg.replace(engine="numpy")), train(cfg.replace(engine="scalar"))
    assert np.allclose(fast.losses, slow.losses, rtol=1e-9, atol=0)
    assert np.allclose(fast.params, slow.params, rtol=1e-9, atol=1e-12)
    for key in ("accuracy", "test_loss", "grad_norm"):
        a = [math.nan if v is None else v for v in fast.history[key]]
        b = [math.nan if v is None else v for v in slow.history[key]]
        assert np.allclose(a, b, rtol=1e-9, equal_nan=True), key


def test_divergence_is_detected_and_history_kept():
    result = train(TrainConfig(lr=1e6, lr_schedule="constant", steps=50, loss="mse", l2=0.0))
    assert result.status == "diverged"
    assert result.diverged_at == result.steps_done + 1 <= 50
    assert all(math.isfinite(v) for v in result.losses)


def test_stop_ends_the_run_cleanly():
    calls = []
    result = train(SMALL.replace(steps=100), on_step=lambda r: calls.append(r.steps_done),
                   should_stop=lambda: len(calls) >= 7)
    assert result.status == "stopped" and result.steps_done == 7 and calls == list(range(1, 8))
    assert len(result.params) == 2 * 8 + 8 + 8 + 1


def test_make_network_is_the_configs_net_on_either_engine():
    from micrograd.nn import MLP
    from micrograd.tensor_nn import TensorMLP
    cfg = TrainConfig(hidden=(5, 3), activation="tanh", output_activation="sigmoid", seed=4)
    scalar, vector = make_network(cfg, 2, engine="scalar"), make_network(cfg, 2)
    assert isinstance(scalar, MLP) and isinstance(vector, TensorMLP)
    assert scalar.sizes == vector.sizes == [2, 5, 3, 1]
    assert [p.data for p in scalar.parameters()] == vector.flat_parameters()
    assert len(vector.flat_parameters()) == cfg.parameter_count(2) == 3 * 5 + 6 * 3 + 4
    loaded = make_network(cfg, 2, engine="scalar", params=[0.5] * cfg.parameter_count(2))
    assert all(p.data == 0.5 for p in loaded.parameters())
    x = [0.3, -0.7]
    assert scalar(x).data == pytest.approx(float(vector(np.array([x])).data[0]), abs=1e-12)
    with pytest.raises(ValueError, match="unknown engine"):
        make_network(cfg, 2, engine="gpu")


def test_scalar_time_estimate_grows_with_the_work():
    one = estimate_scalar_seconds(80, 337, 100)
    assert one > 0
    assert estimate_scalar_seconds(160, 337, 100) == pytest.approx(2 * one)
    assert estimate_scalar_seconds(80, 337, 100, passes=4) == pytest.approx(4 * one)


def test_format_hidden():
    from lab.config import format_hidden
    assert format_hidden((16, 16)) == "16-16" and format_hidden((8,)) == "8" and format_hidden(()) == "none"


def test_prediction_helpers():
    result = train(SMALL)
    X = make_dataset("moons", n=10).X
    scores = predict(SMALL, result.params, X)
    assert scores.shape == (10,)
    xs, ys, Z = decision_grid(SMALL, result.params, X, resolution=12)
    assert Z.shape == (12, 12) and xs[0] < X[:, 0].min() and ys[-1] > X[:, 1].max()


# ---- store
def test_store_round_trip_survives_reopen(store, tmp_path):
    result = train(SMALL)
    run_id = store.save(result, name="first")
    again = RunStore(tmp_path / "runs.sqlite").get(run_id)
    assert again["name"] == "first" and again["config"] == SMALL and again["status"] == "finished"
    assert again["history"]["train_loss"] == result.losses and again["params"] == result.params
    store.rename(run_id, "renamed")
    assert store.list()[0]["name"] == "renamed"
    store.delete(run_id)
    assert store.count() == 0
    with pytest.raises(RunStoreError, match="no run with id"):
        store.get(run_id)


def test_export_import_and_validation(store):
    ids = [store.save(train(SMALL)), store.save(train(SMALL.replace(seed=3)))]
    text = store.export_json(ids)
    new = store.import_json(text)
    assert len(new) == 2 and store.get(new[0])["history"] == store.get(ids[0])["history"]
    csv_text = store.export_csv(ids[:1])
    assert csv_text.splitlines()[0].startswith("run_id,name,step,train_loss") and len(csv_text.splitlines()) == 16
    doc = json.loads(text)
    for corrupt, words in [("not json", "not a JSON"), ("{}", "not a micrograd runs export"),
                           (dict(doc, runs=[dict(doc["runs"][0], params=[1.0])]), "weights"),
                           (dict(doc, runs=[dict(doc["runs"][0], status="great")]), "status"),
                           (dict(doc, runs=[dict(doc["runs"][0], config={"lr": -1})]), "bad config")]:
        with pytest.raises(RunStoreError, match=words):
            store.import_json(corrupt if isinstance(corrupt, str) else json.dumps(corrupt))
    assert store.count() == 4  # nothing half-imported


def test_corrupt_database_gives_a_clear_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(RunStoreError, match="not a SQLite database"):
        RunStore(bad)
    with pytest.raises(RunStoreError, match="cannot open|unable"):
        RunStore(tmp_path / "missing-dir" / "runs.sqlite")


def test_two_processes_save_at_once(tmp_path):
    db = tmp_path / "shared.sqlite"
    script = ("import sys; from lab.runs import RunStore; from lab.train import train\n"
              "from lab.config import TrainConfig\n"
              "s = RunStore(sys.argv[1]); r = train(TrainConfig(n=20, steps=3, hidden=(4,)))\n"
              "for i in range(15): s.save(r, name=sys.argv[2] + str(i))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(db), tag], cwd=ROOT) for tag in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    names = {r["name"] for r in RunStore(db).list()}
    assert names == {f"{t}{i}" for t in "ab" for i in range(15)}


# ---- CLI
def test_cli_train_json_and_runs(tmp_path):
    db = tmp_path / "cli.sqlite"
    out = cli("train", "--dataset", "moons", "--hidden", "8", "--steps", "20", "--lr", "0.1", "--name", "cli run",
              "--json", db=db)
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)
    assert run["status"] == "finished" and run["name"] == "cli run" and len(run["losses"]) == 20
    listed = cli("runs", "list", "--json", db=db)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run["run_id"]]
    shown = cli("runs", "show", str(run["run_id"]), db=db)
    assert "cli run" in shown.stdout and "lr" in shown.stdout
    exported = cli("runs", "export", str(run["run_id"]), "--format", "csv", db=db)
    assert exported.stdout.count("\n") == 21
    target = tmp_path / "export.json"
    assert cli("runs", "export", str(run["run_id"]), "--out", str(target), db=db).stdout == ""
    assert cli("runs", "import", str(target), db=db).returncode == 0
    refused = cli("runs", "delete", str(run["run_id"]), db=db, stdin="")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert cli("runs", "delete", str(run["run_id"]), "--yes", db=db).returncode == 0
    assert len(json.loads(cli("runs", "list", "--json", db=db).stdout)) == 1


@pytest.mark.parametrize("args", [("train", "--dataset", "mnist"), ("train", "--lr", "-1"), ("train", "--steps", "abc"),
                                  ("train", "--csv", "/no/such/file.csv"), ("train", "--bogus"),
                                  ("runs", "show", "999"),
                                  ("runs", "show", "x"), ("runs", "export", "999"), ("frobnicate",)])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args):
    out = cli(*args, db=tmp_path / "x.sqlite")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in out.stderr


def test_cli_bad_csv_and_unreadable_db(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("a,b,target\n1,2,1\n3,oops,0\n")
    out = cli("train", "--csv", str(csv), db=tmp_path / "x.sqlite")
    assert out.returncode == 2 and ("oops" in out.stderr or "row" in out.stderr.lower())
    bad_db = tmp_path / "bad.sqlite"
    bad_db.write_bytes(b"garbage" * 200)
    out = cli("runs", "list", db=bad_db)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1


def test_cli_diverged_run_is_saved_and_exits_0(tmp_path):
    db = tmp_path / "d.sqlite"
    out = cli("train", "--lr", "1e6", "--lr-schedule", "constant", "--loss", "mse", "--steps", "40", "--json", db=db)
    assert out.returncode == 0
    run = json.loads(out.stdout)
    assert run["status"] == "diverged" and run["diverged_at"] >= 1
    assert RunStore(db).get(run["run_id"])["status"] == "diverged"


def test_cli_csv_training(tmp_path):
    from data import EXAMPLE_CSVS
    out = cli("train", "--csv", str(EXAMPLE_CSVS["wavy_boundary"]), "--steps", "10", "--json", db=tmp_path / "c.sqlite")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["config"]["dataset"] == "csv"


def test_cli_db_flag_before_or_after_the_command(tmp_path):
    db = tmp_path / "flag.sqlite"
    env_db = tmp_path / "env.sqlite"
    for args in (("--db", str(db), "train", "--steps", "2"), ("train", "--steps", "2", "--db", str(db))):
        assert cli(*args, "--quiet", db=env_db).returncode == 0
    assert RunStore(db).count() == 2 and RunStore(env_db).count() == 0
    listed = cli("runs", "list", "--json", "--db", str(db), db=env_db)
    assert len(json.loads(listed.stdout)) == 2


@pytest.mark.parametrize("engine", ["scalar", "numpy"])
def test_training_steps_run_with_the_cycle_collector_paused_and_leave_it_on(engine, monkeypatch):
    """Each step runs with Python's cycle collector off (its graph has no cycles), and the run leaves
    it as it found it, also when the run diverges inside a step. The steps leave no cyclic garbage."""
    import gc

    import lab.train
    seen, during = [], []
    objective = lab.train.Model.objective

    def watched(self, *args):
        during.append(gc.isenabled())
        return objective(self, *args)
    monkeypatch.setattr(lab.train.Model, "objective", watched)
    config = TrainConfig(dataset="moons", n=20, hidden=(4,), steps=3, engine=engine)

    def should_stop():
        seen.append(gc.isenabled())  # between steps: on
        return False
    train(config, should_stop=should_stop)
    assert seen == [True, True, True] and during == [False, False, False] and gc.isenabled()

    def garbage_after(steps):  # what the collector finds after a run: setting a run up makes a little
        gc.collect()
        train(config.replace(steps=steps))
        return gc.collect()
    assert garbage_after(30) == garbage_after(3)  # ...and the steps make none
    diverged = train(config.replace(lr=1e30, steps=5))
    assert diverged.status == "diverged" and gc.isenabled()
