"""The run store's security and durability (issue 18): imports checked field by field, no file path
ever read back, runs recorded while they train, retries on a locked store, uploads kept by hash."""
import builtins
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lab.run_import as run_import
import lab.runs as runs
from data import DatasetError
from lab import compare
from lab.config import ConfigError, TrainConfig
from lab.figures import result_figures
from lab.runs import RunRecorder, RunStore, RunStoreError, result_to_json
from lab.train import train

ROOT = Path(__file__).resolve().parents[1]
SMALL = TrainConfig(n=40, steps=6, hidden=(4,))
CSV = b"a,b,target\n" + b"".join(f"{i},{i % 3},{'x' if i % 2 else 'y'}\n".encode() for i in range(12))
# the schema of the store before schema 2, as it created its file (an old store must still open)
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, created REAL NOT NULL, status TEXT NOT NULL,
    config TEXT NOT NULL, task TEXT NOT NULL, n_features INTEGER NOT NULL, steps_done INTEGER NOT NULL,
    diverged_at INTEGER, elapsed REAL NOT NULL, final_loss REAL, final_test_loss REAL, final_accuracy REAL,
    sweep TEXT, history TEXT NOT NULL, params TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created);
"""


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs.sqlite")


@pytest.fixture(scope="module")
def small_run():
    return train(SMALL)


@pytest.fixture
def no_waiting(monkeypatch):
    """Retries without real pauses; returns the list of pauses asked for."""
    pauses = []
    monkeypatch.setattr(runs, "_sleep", pauses.append)
    return pauses


@pytest.fixture
def opened_files(monkeypatch):
    """Every path opened by Python code from here on."""
    seen = []
    real_open, real_read_bytes = builtins.open, Path.read_bytes

    def spy_open(file, *args, **kwargs):
        seen.append(str(file))
        return real_open(file, *args, **kwargs)

    def spy_read_bytes(self):
        seen.append(str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(Path, "read_bytes", spy_read_bytes)
    return seen


def old_store(path, rows):
    """A store file written by the schema-1 code: its table, and rows as its save() wrote them."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(OLD_SCHEMA)
    for row in rows:
        db.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    db.commit()
    db.close()


def old_row(result, config_dict=None, **changes):
    h = result.history
    row = dict(name="old run", created=time.time(), status=result.status,
               config=json.dumps(config_dict or result.config.to_dict()), task=result.task,
               n_features=result.n_features, steps_done=len(h["step"]), diverged_at=None, elapsed=result.elapsed,
               final_loss=h["train_loss"][-1], final_test_loss=h["test_loss"][-1], final_accuracy=h["accuracy"][-1],
               sweep=None, history=json.dumps(h), params=json.dumps(result.params))
    return {**row, **changes}


def export_doc(store, result, **config_changes):
    doc = json.loads(store.export_json([store.save(result)]))
    doc["runs"][0]["config"].update(config_changes)
    return doc


# ---------------------------------------------------------------- schema migration
def test_a_store_of_the_old_schema_opens_and_its_runs_still_open(tmp_path, small_run):
    path = tmp_path / "old.sqlite"
    secret = tmp_path / "secret.csv"
    secret.write_text("a,b,target\n1,2,0\n3,4,1\n")
    csv_config = {**SMALL.to_dict(), "dataset": "csv", "csv_path": str(secret)}
    old_store(path, [old_row(small_run), old_row(small_run, csv_config, name="csv run")])
    store = RunStore(path)
    listed = store.list()
    assert [r["id"] for r in listed] == [2, 1] and not store.unreadable
    first = store.get(1)
    assert first["config"] == SMALL and first["history"] == small_run.history and first["status"] == "finished"
    assert first["data_available"] is True and first["snapshots"] == {}  # no replay: it shows its end
    csv_run = store.get(2)
    assert csv_run["config"].csv_path == "" and csv_run["data_available"] is False  # the path is never handed out
    assert store.save(small_run) == 3
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == runs.SCHEMA_VERSION
    assert RunStore(path).count() == 3  # opening it again: nothing to migrate


def test_a_runs_weight_snapshots_are_kept_for_replay(store):
    result = train(SMALL.replace(steps=150))
    run = store.get(store.save(result))
    assert sorted(run["snapshots"]) == sorted(result.snapshots) and len(run["snapshots"]) == 100
    assert run["snapshots"][150] == result.snapshots[150].tolist()


def test_an_old_store_opened_read_only_says_what_to_do(tmp_path, small_run):
    old_store(tmp_path / "old.sqlite", [old_row(small_run)])
    with pytest.raises(RunStoreError, match="made by an older version and is opened read-only"):
        RunStore(tmp_path / "old.sqlite", read_only=True)
    assert RunStore(tmp_path / "old.sqlite").count() == 1


def test_one_bad_stored_row_is_flagged_not_fatal(tmp_path, small_run):
    path = tmp_path / "old.sqlite"
    bad_seed = {**SMALL.to_dict(), "seed": -1}  # the old import took this
    old_store(path, [old_row(small_run, name="fine"), old_row(small_run, created=1e20), old_row(small_run, bad_seed)])
    store = RunStore(path)
    listed = store.list()
    assert [r["name"] for r in listed] == ["fine"]
    assert [i for i, _ in store.unreadable] == [3, 2] and "out of range" in dict(store.unreadable)[2]
    assert len(compare.runs_table(listed)) == 1  # 1e20 made datetime.fromtimestamp raise for every user
    with pytest.raises(RunStoreError, match="run #2 cannot be read"):
        store.get(2)
    store.delete(2)
    assert store.count() == 2


# ---------------------------------------------------------------- imports
def test_an_imported_csv_path_is_never_read(store, small_run, tmp_path, opened_files):
    secret = tmp_path / "secret.csv"
    secret.write_text("a,b,target\n1,2,0\n3,4,1\n")
    doc = export_doc(store, small_run, dataset="csv", csv_path=str(secret))
    [run_id] = store.import_json(json.dumps(doc))
    run = store.get(run_id)
    assert run["config"].dataset == "csv" and run["config"].csv_path == ""
    assert run["history"] == small_run.history and run["params"] == small_run.params  # the results stay
    assert run["data_available"] is False and compare.figure_problem(run)
    with pytest.raises(ConfigError, match="no CSV data"):
        result_figures(run["config"], run["params"])
    assert str(secret) not in opened_files


@pytest.mark.parametrize("change, message", [
    (lambda run: run.update(created=1e20), "created must be a time"),
    (lambda run: run.update(created=-5), "created must be a time"),
    (lambda run: run.update(created="yesterday"), "created must be a time"),
    (lambda run: run.update(name="n" * 5000), "name must be text of at most 200"),
    (lambda run: run.update(name="bad\x1b[2Jname"), "name must be text"),
    (lambda run: run.update(sweep=["x"]), "sweep must be null or text"),
    (lambda run: run.update(n_features=True), "n_features must be an integer"),
    (lambda run: run.update(n_features=0), "n_features must be an integer"),
    (lambda run: run.update(elapsed=-1), "elapsed must be a number"),
    (lambda run: run.update(final_accuracy=3), "final_accuracy must be between 0 and 1"),
    (lambda run: run.update(diverged_at=0), "diverged_at must be null or a step"),
    (lambda run: run.update(steps_done=99), "steps_done is 99 but the history has 6 steps"),
    (lambda run: run.update(colour="red"), "unknown field 'colour'"),
    (lambda run: run["history"].update(step=[1, 2, 3, 4, 5, 7]), "history step must count"),
    (lambda run: run["history"].update(lr="fast"), "history values must be lists"),
    (lambda run: run["config"].update(hidden=[[4]]), "bad config: 'hidden'"),
    (lambda run: run["config"].update(dataset="m" * 10**6), "bad config: 'dataset'"),
    (lambda run: run["config"].update(seed=-1), "bad config: seed must be a whole number"),
    (lambda run: run["config"].update(csv_upload="../../etc/passwd"), "bad config: csv_upload must be the sha256"),
])
def test_import_checks_every_field_and_names_it(store, small_run, change, message):
    doc = export_doc(store, small_run)
    change(doc["runs"][0])
    before = store.count()
    with pytest.raises(RunStoreError) as error:
        store.import_json(json.dumps(doc))
    assert str(error.value).startswith(f"run #1 in the file: {message}")
    assert len(str(error.value)) < 300 and store.count() == before


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")], ids=["NaN", "Infinity", "-Infinity"])
def test_import_refuses_non_finite_numbers(store, small_run, value):
    doc = export_doc(store, small_run)
    doc["runs"][0]["history"]["train_loss"][2] = value  # json.dumps writes NaN / Infinity, which json.loads reads
    with pytest.raises(RunStoreError, match=r"history values must be numbers \(finite\) or null: train_loss at pos"):
        store.import_json(json.dumps(doc))
    doc = export_doc(store, small_run)
    doc["runs"][0]["params"][0] = value
    with pytest.raises(RunStoreError, match="the weights must be numbers"):
        store.import_json(json.dumps(doc))


def test_a_running_export_imports_as_interrupted(store, small_run):
    doc = export_doc(store, small_run)
    doc["runs"][0]["status"] = "running"
    [run_id] = store.import_json(json.dumps(doc))
    assert store.get(run_id)["status"] == "interrupted"


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000,
                                  json.dumps({"format": "micrograd-runs", "runs": [[[[[[[[1]]]]]]]]})],
                         ids=["deep-list", "deep-object", "eight-levels"])
def test_deeply_nested_files_are_refused_cleanly(store, text):
    with pytest.raises(RunStoreError, match="nested too deeply"):
        store.import_json(text)


def test_one_import_holds_a_limited_number_of_runs(store, small_run):
    doc = export_doc(store, small_run)
    doc["runs"] *= run_import.MAX_IMPORT_RUNS + 1
    with pytest.raises(RunStoreError, match=f"holds 501 runs; one import takes at most {run_import.MAX_IMPORT_RUNS}"):
        store.import_json(json.dumps(doc))
    assert store.count() == 1


def test_history_lengths_and_totals_are_capped(store, small_run, monkeypatch):
    doc = export_doc(store, small_run)
    monkeypatch.setattr(run_import, "MAX_STEPS", 5)
    with pytest.raises(RunStoreError, match="history has 6 steps; a run has at most 5"):
        store.import_json(json.dumps(doc))
    monkeypatch.setattr(run_import, "MAX_STEPS", 100)
    monkeypatch.setattr(run_import, "MAX_IMPORT_STEPS", 10)
    doc["runs"] *= 2
    with pytest.raises(RunStoreError, match="12 steps in all; one import takes at most 10"):
        store.import_json(json.dumps(doc))
    assert store.count() == 1


# ---------------------------------------------------------------- recording a run while it trains
def test_a_run_is_in_the_store_as_running_before_its_first_step(store):
    seen = []
    recorder = RunRecorder(store, SMALL, name="live", every=3600)

    def on_step(result):
        if result.steps_done == 1:
            seen.append(store.get(recorder.run_id))
        recorder.on_step(result)

    result = train(SMALL, on_start=recorder.on_start, on_step=on_step)
    [running] = seen
    assert running["status"] == "running" and running["steps_done"] == 0 and running["name"] == "live"
    assert recorder.finish(result) == running["id"] and store.count() == 1
    final = store.get(running["id"])
    assert final["status"] == "finished" and final["history"] == result.history and final["params"] == result.params


def test_checkpoints_hold_the_steps_and_weights_so_far(store):
    recorder = RunRecorder(store, SMALL, every=0)  # every step
    snapshots = []

    def on_step(result):
        recorder.on_step(result)
        snapshots.append(store.get(recorder.run_id))

    result = train(SMALL, on_step=on_step)  # no on_start: the first step writes the row
    assert [s["steps_done"] for s in snapshots] == list(range(1, 7))
    assert all(s["status"] == "running" and len(s["params"]) == len(result.params) for s in snapshots)
    assert snapshots[2]["history"]["train_loss"] == result.history["train_loss"][:3]
    assert snapshots[-1]["params"] != snapshots[0]["params"]


def test_a_failure_in_training_leaves_the_run_interrupted(store):
    def explode(result):
        recorder.on_step(result)
        if result.steps_done == 3:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        with RunRecorder(store, SMALL, every=0) as recorder:
            train(SMALL, on_start=recorder.on_start, on_step=explode)
    run = store.get(recorder.run_id)
    assert run["status"] == "interrupted" and run["steps_done"] == 3


def test_a_running_row_whose_process_is_gone_is_interrupted(store):
    recorder = RunRecorder(store, SMALL, every=3600)
    train(SMALL.replace(steps=2), on_start=recorder.on_start)
    assert store.get(recorder.run_id)["status"] == "running"  # its owner, this process, lives
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host, boot, _, _ = runs.current_owner().split(" ")
    owners = {f"{host} {boot} {gone.pid} 1": "interrupted",                        # a dead process here
              f"{host} another-boot {os.getpid()} 1": "interrupted",             # before this machine restarted
              "elsewhere - 7 1": "running"}                                     # another machine, fresh heartbeat
    for owner, status in owners.items():
        with sqlite3.connect(store.path) as db:
            db.execute("UPDATE runs SET owner = ?, heartbeat = ? WHERE id = ?", (owner, time.time(), recorder.run_id))
        assert store.get(recorder.run_id)["status"] == status, owner
        assert store.list()[0]["status"] == status
    with sqlite3.connect(store.path) as db:  # another machine that stopped checkpointing long ago
        db.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time() - 2 * runs.STALE_AFTER, recorder.run_id))
    assert store.get(recorder.run_id)["status"] == "interrupted"


# ---------------------------------------------------------------- a locked or read-only store
@pytest.fixture
def locked(store):
    """A second connection holding the store's write lock (BEGIN EXCLUSIVE) until released."""
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield holder
    if holder.in_transaction:
        holder.execute("ROLLBACK")
    holder.close()


def test_a_lock_held_longer_than_the_timeout_loses_nothing(store, small_run, locked, monkeypatch):
    store.timeout = 0.05
    pauses = []

    def pause_then_release(seconds):
        pauses.append(seconds)
        if len(pauses) == 2:
            locked.execute("ROLLBACK")  # the other program lets go after two timeouts

    monkeypatch.setattr(runs, "_sleep", pause_then_release)
    recorder = RunRecorder(store, SMALL, every=0)
    result = train(SMALL, on_start=recorder.on_start, on_step=recorder.on_step)
    assert recorder.run_id is None and "locked" in recorder.error  # checkpoints failed; training went on
    run_id = recorder.finish(result)
    assert len(pauses) == 2 and pauses[1] == 2 * pauses[0]
    saved = store.get(run_id)
    assert saved["status"] == "finished" and saved["history"] == result.history


def test_save_retries_too(store, small_run, locked, monkeypatch):
    store.timeout = 0.05
    monkeypatch.setattr(runs, "_sleep", lambda seconds: locked.in_transaction and locked.execute("ROLLBACK"))
    assert store.get(store.save(small_run))["history"] == small_run.history


def test_a_store_that_stays_locked_fails_only_after_retrying(store, small_run, locked, no_waiting):
    store.timeout = 0.05
    recorder = RunRecorder(store, SMALL)
    with pytest.raises(RunStoreError, match="is locked by another program"):
        recorder.finish(small_run)
    assert len(no_waiting) == runs.SAVE_ATTEMPTS - 1
    text = result_to_json(small_run, name="kept")  # what a program offers instead: an importable export
    locked.execute("ROLLBACK")
    [run_id] = store.import_json(text)
    kept = store.get(run_id)
    assert kept["name"] == "kept" and kept["history"] == small_run.history and kept["params"] == small_run.params


def test_a_read_only_store_says_so(tmp_path, small_run, no_waiting):
    RunStore(tmp_path / "runs.sqlite").save(small_run)
    read_only = RunStore(tmp_path / "runs.sqlite", read_only=True)
    assert read_only.count() == 1
    with pytest.raises(RunStoreError, match="is read-only"):
        read_only.save(small_run)
    with pytest.raises(RunStoreError, match="is read-only"):
        read_only.save_upload(CSV, "data.csv")
    assert len(no_waiting) == runs.SAVE_ATTEMPTS - 1


# ---------------------------------------------------------------- the store file itself
def test_a_deleted_store_is_an_error_not_a_new_empty_store(tmp_path, small_run):
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    store.save(small_run)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(RunStoreError, match="is gone .deleted or moved."):
        RunStore(path)
    with pytest.raises(RunStoreError, match="is gone"):
        store.list()
    with pytest.raises(RunStoreError, match="is gone"):
        store.save(small_run)
    assert not path.exists()


def test_a_replaced_store_is_an_error(tmp_path, small_run):
    path = tmp_path / "runs.sqlite"
    RunStore(path).save(small_run)
    path.unlink()
    subprocess.run([sys.executable, "-c", f"from lab.runs import RunStore; RunStore({str(path)!r})"], cwd=ROOT,
                   check=True)  # another program makes a new, empty store there
    with pytest.raises(RunStoreError, match="was replaced by another file"):
        RunStore(path)


# ---------------------------------------------------------------- uploads
def files_in(folder):
    return sorted(p.name for p in Path(folder).rglob("*") if p.is_file())


def test_an_upload_is_kept_once_in_the_store_and_nowhere_else(run_store):
    store = RunStore()
    digest = runs.save_upload(CSV, "../../my data.csv")
    assert digest == store.save_upload(CSV, "again.csv") and len(digest) == 64
    assert store.uploads_size() == len(CSV) and store.upload(digest) == ("my data.csv", CSV)
    assert files_in(run_store.parent) == sorted(p.name for p in run_store.parent.glob("runs.sqlite*"))


def test_a_bad_upload_is_never_stored(run_store):
    store = RunStore()
    with pytest.raises(DatasetError, match="Row 3"):
        store.save_upload(b"a,target\n1,0\nx,1\n", "bad.csv")
    with pytest.raises(DatasetError, match="at most 8 MB"):
        store.save_upload(b"0" * (runs.MAX_UPLOAD_BYTES + 1), "big.csv")
    assert store.uploads_size() == 0


def test_a_run_on_an_upload_redraws_from_the_store_and_takes_it_along_when_deleted(run_store):
    store = RunStore()
    digest = store.save_upload(CSV, "two.csv")
    config = TrainConfig(dataset="csv", csv_upload=digest, steps=3, hidden=(2,))
    first, second = store.save(train(config)), store.save(train(config.replace(seed=1)))
    run = store.get(first)
    assert run["data_available"] is True and run["csv_name"] == "two.csv"
    assert "boundary" in result_figures(run["config"], run["params"])
    store.delete(first)
    assert store.uploads_size() == len(CSV)  # the second run still uses it
    store.delete(second)
    assert store.uploads_size() == 0


def test_uploads_count_against_a_total_cap(run_store, monkeypatch):
    store = RunStore()
    monkeypatch.setattr(runs, "MAX_UPLOADS_BYTES", len(CSV) + 10)
    first = store.save_upload(CSV, "one.csv")
    other = CSV.replace(b"a,b", b"c,d")
    with pytest.raises(RunStoreError, match="holds 0.0 MB of uploaded CSVs; the limit is"):
        store.save_upload(other, "two.csv")
    with sqlite3.connect(store.path) as db:  # the first was never used by a run, and is old now
        db.execute("UPDATE uploads SET created = ? WHERE sha256 = ?", (time.time() - 2 * runs.UPLOAD_GRACE, first))
    assert store.save_upload(other, "two.csv") != first
    with pytest.raises(RunStoreError, match="no longer in the run store"):
        store.upload(first)


def test_exported_upload_runs_keep_the_hash_only_where_the_upload_is(run_store, tmp_path):
    store = RunStore()
    digest = store.save_upload(CSV, "two.csv")
    text = store.export_json([store.save(train(TrainConfig(dataset="csv", csv_upload=digest, steps=2, hidden=(2,))))])
    [here] = store.import_json(text)
    assert store.get(here)["config"].csv_upload == digest and store.get(here)["data_available"]
    elsewhere = RunStore(tmp_path / "other.sqlite")
    [there] = elsewhere.import_json(text)
    assert elsewhere.get(there)["config"].csv_upload == "" and not elsewhere.get(there)["data_available"]


# ---------------------------------------------------------------- sweep grids and config checks
def test_a_sweeps_grid_is_stored(store, small_run):
    axes = [("lr", [0.1, 0.5]), ("hidden", [(4,), (8, 8), ()])]
    store.save_sweep("s1", axes)
    assert store.sweep_grid("s1") == axes and store.sweep_grid("never") is None
    store.save_sweep("s1", [("seed", [0, 1])])
    assert store.sweep_grid("s1") == [("seed", [0, 1])]
    with pytest.raises(RunStoreError, match="config fields"):
        store.save_sweep("bad", [("colour", ["red"])])
    run_id = store.save(small_run, sweep="s1")
    store.delete(run_id)  # its last run takes it along
    assert store.sweep_grid("s1") is None


@pytest.mark.parametrize("field", ["seed", "data_seed"])
def test_negative_seeds_are_refused(field):
    with pytest.raises(ConfigError, match=f"{field} must be a whole number, 0 or more"):
        TrainConfig(**{field: -1})


def test_a_config_from_a_link_or_file_names_no_file():
    with pytest.raises(ConfigError, match="csv_path cannot come from a link or a file"):
        TrainConfig.from_dict({"dataset": "csv", "csv_path": "/etc/passwd"})
    assert "csv_upload" not in TrainConfig(csv_upload="a" * 64).to_query()


def test_the_automatic_name_says_the_data_and_the_engine(store, monkeypatch):
    run = store.get(store.save(train(SMALL.replace(steps=2, engine="scalar"))))
    assert run["name"].startswith("moons ") and run["name"].endswith(" scalar")
    content = b"a,b,target\n" + b"".join(f"{i},{i % 3},{i % 2}\n".encode() for i in range(12))
    digest = store.save_upload(content, "flowers.csv")
    monkeypatch.setenv("MICROGRAD_RUNS_DB", str(store.path))  # where training reads the upload from
    config = SMALL.replace(dataset="csv", csv_upload=digest, steps=2)
    assert store.get(store.save(train(config)))["name"].startswith("flowers.csv ")
    recorder = RunRecorder(store, config)
    recorder.finish(train(config))
    name = store.get(recorder.run_id)["name"]
    assert name.startswith("flowers.csv ") and name.endswith(" numpy")
