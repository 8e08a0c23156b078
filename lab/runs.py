"""The run store: every training run in one SQLite file (stdlib sqlite3, WAL mode).

The file is `runs.sqlite` in the working directory unless MICROGRAD_RUNS_DB names another. Each
call opens its own short connection, so several processes (the dashboard, the CLI, sweep workers)
can write at the same time. Why the rest looks the way it does:

- Nothing is lost. A RunRecorder writes a run when it starts (status "running") and checkpoints
  it while it trains; a run whose process died shows as "interrupted" with the steps it had. The
  final save is retried with backoff when the store is locked or read-only, and only then gives
  up (the caller still holds the result: `result_to_json` makes it an importable file).
- Nothing from outside picks a file. An uploaded CSV is kept inside the store, once per content
  hash, and a config refers to it by that hash (`csv_upload`); the configs the store hands out
  never carry a file path, whatever an old row or an imported file said.
- The store is one file on purpose: deleting it while a program uses it is an error said out
  loud, not a fresh empty store whose run ids start again at #1.
- Older stores are migrated when opened (PRAGMA user_version); their runs still open.
"""
import csv
import hashlib
import io
import json
import math
import os
import socket
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from urllib.parse import quote

import numpy as np

from data import DatasetError, load_csv

from .config import TrainConfig
from .run_import import EXPORT_FIELDS, MAX_NAME, ImportProblem, parse_export
from .train import HISTORY_KEYS, complete_history

ENV_VAR = "MICROGRAD_RUNS_DB"
TIMEOUT_ENV = "MICROGRAD_RUNS_TIMEOUT"   # seconds a call waits for a locked store (default 30)
BACKOFF_ENV = "MICROGRAD_RUNS_BACKOFF"   # first pause between attempts of a final save (default 1)
STATUSES = ("running", "finished", "stopped", "diverged", "interrupted")
SCHEMA_VERSION = 3
SAVE_ATTEMPTS = 5                 # a final save tries this often, pausing 1, 2, 4, 8 x the backoff between
CHECKPOINT_TIMEOUT = 2.0          # a checkpoint waits at most this long for the store (training goes on)
STALE_AFTER = 600.0               # a run of another machine with no checkpoint for this long is interrupted
MAX_UPLOAD_BYTES = 8 * 2**20      # one uploaded CSV
MAX_UPLOADS_BYTES = 64 * 2**20    # all uploads of a store
UPLOAD_GRACE = 3600.0             # an upload no run uses yet is kept this long (Train is pressed after upload)
MIN_CREATED, MAX_CREATED = 0.0, 32_503_680_000.0  # what a stored row may say (1970 to 3000) to be shown

RUN_COLUMNS = """
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    task TEXT NOT NULL,
    n_features INTEGER NOT NULL,
    steps_done INTEGER NOT NULL,
    diverged_at INTEGER,
    elapsed REAL NOT NULL,
    final_loss REAL,
    final_test_loss REAL,
    final_accuracy REAL,
    sweep TEXT,
    history TEXT NOT NULL,
    params TEXT NOT NULL"""
ADDED_COLUMNS = {  # schema 2: who is training a "running" row, when it last checkpointed, its upload
    "owner": "TEXT", "heartbeat": "REAL", "upload": "TEXT",
    "snapshots": "TEXT"}  # schema 3: {step: weights} for replay (older runs have none: they show their end)
TABLES = """
CREATE INDEX IF NOT EXISTS runs_created ON runs(created);
CREATE INDEX IF NOT EXISTS runs_upload ON runs(upload);
CREATE TABLE IF NOT EXISTS uploads (
    sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, size INTEGER NOT NULL, created REAL NOT NULL, content BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (name TEXT PRIMARY KEY, created REAL NOT NULL, axes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
SUMMARY_COLUMNS = ("id", "name", "created", "status", "config", "task", "n_features", "steps_done", "diverged_at",
                   "elapsed", "final_loss", "final_test_loss", "final_accuracy", "sweep")
_SELECT = (f"SELECT {', '.join('runs.' + c for c in SUMMARY_COLUMNS)}, runs.owner, runs.heartbeat, "
           f"uploads.name AS csv_name {{extra}} FROM runs LEFT JOIN uploads ON uploads.sha256 = runs.upload")
_STORE_IDS = {}  # path -> id of the store file this process opened there (to notice it vanish)


class RunStoreError(Exception):
    """The store cannot do what was asked; the message says why and where."""

    def __init__(self, message, retryable=False):
        super().__init__(message)
        self.retryable = retryable  # a locked or read-only store: trying again later may work


def default_path():
    return os.environ.get(ENV_VAR) or "runs.sqlite"


def _env_seconds(name, default):
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


def _finite_or_none(x):
    return x if x is None or math.isfinite(x) else None


def _sleep(seconds):  # one place for the backoff pauses (tests replace it)
    time.sleep(seconds)


class RunStore:
    """RunStore(path=None, timeout=None, read_only=False): path defaults to $MICROGRAD_RUNS_DB or
    ./runs.sqlite; timeout is how long one call waits for a locked store ($MICROGRAD_RUNS_TIMEOUT
    or 30 s); `backoff` is the first pause between the attempts of a final save."""

    def __init__(self, path=None, timeout=None, read_only=False):
        self.path = str(path or default_path())
        self.timeout = _env_seconds(TIMEOUT_ENV, 30.0) if timeout is None else float(timeout)
        self.backoff = _env_seconds(BACKOFF_ENV, 1.0)
        self.read_only = read_only
        self.unreadable = []  # (id, reason) of the rows the last list() could not read
        self._key = os.path.abspath(self.path)
        store_id = self._open()
        if _STORE_IDS.setdefault(self._key, store_id) != store_id:
            raise RunStoreError(f"the run store {self.path} was replaced by another file while this program was "
                                f"using it (its run ids would start again): restore the old file, or restart "
                                f"the program to use the new one")

    # ---- connections, errors and retries
    @contextmanager
    def _connect(self, timeout=None):
        mode = "ro" if self.read_only else ("rw" if self._key in _STORE_IDS else "rwc")
        try:
            db = sqlite3.connect(f"file:{quote(self._key)}?mode={mode}", uri=True,
                                 timeout=self.timeout if timeout is None else timeout)
        except sqlite3.Error as e:
            raise self._error(e, timeout) from None
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                yield db
        except sqlite3.Error as e:
            raise self._error(e, timeout) from None
        finally:
            db.close()

    def _error(self, error, timeout=None):
        text = str(error)
        waited = self.timeout if timeout is None else timeout
        if "not a database" in text or "malformed" in text:
            return RunStoreError(f"run store {self.path}: it is not a SQLite database (corrupt?): move it away "
                                 f"or point {ENV_VAR} at another file")
        if "unable to open" in text and self._key in _STORE_IDS and not os.path.exists(self._key):
            return RunStoreError(f"the run store {self.path} is gone (deleted or moved) while this program was "
                                 f"using it: restore it, or restart the program to start a new, empty store")
        if "unable to open" in text:
            return RunStoreError(f"cannot open the run store {self.path}: {text}")
        if "locked" in text or "busy" in text:
            return RunStoreError(f"the run store {self.path} is locked by another program (waited {waited:g} s)",
                                 retryable=True)
        if "readonly" in text or "read-only" in text:
            return RunStoreError(f"the run store {self.path} is read-only: nothing can be saved in it",
                                 retryable=True)
        return RunStoreError(f"run store {self.path}: {text}", retryable=isinstance(error, sqlite3.OperationalError))

    def _retrying(self, write):
        """write(), tried again with growing pauses while the store is locked or read-only."""
        for attempt in range(SAVE_ATTEMPTS):
            try:
                return write()
            except RunStoreError as e:
                if not e.retryable or attempt == SAVE_ATTEMPTS - 1:
                    raise
            _sleep(self.backoff * 2 ** attempt)

    def _open(self):
        """Create the tables, or bring an older store up to SCHEMA_VERSION (its runs keep working);
        returns the store's id."""
        with self._connect() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                if self.read_only:
                    raise RunStoreError(f"the run store {self.path} was made by an older version and is opened "
                                        f"read-only: open it once writable to upgrade it")
                db.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then find it done
                if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    self._migrate(db)
            row = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
            return row[0] if row else None

    @staticmethod
    def _migrate(db):
        db.execute(f"CREATE TABLE IF NOT EXISTS runs ({RUN_COLUMNS})")
        have = {row["name"] for row in db.execute("PRAGMA table_info(runs)")}
        for column, kind in ADDED_COLUMNS.items():
            if column not in have:
                db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
        for statement in filter(str.strip, TABLES.split(";")):
            db.execute(statement)
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)", (uuid.uuid4().hex,))
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # ---- writing
    def save(self, result, name=None, sweep=None):
        """Store a finished TrainResult; returns its run id. Retried while the store is locked."""
        row = _row(result, name, sweep, data_name=self.upload_name(result.config.csv_upload))
        return self._retrying(lambda: self._insert(row))

    def _insert(self, row, timeout=None):
        with self._connect(timeout) as db:
            cur = db.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                             list(row.values()))
            return cur.lastrowid

    def _update(self, run_id, row, timeout=None, only_running=False):
        """Write `row` over run `run_id`; False when there is no such row (deleted meanwhile)."""
        sql = f"UPDATE runs SET {', '.join(k + ' = ?' for k in row)} WHERE id = ?"
        with self._connect(timeout) as db:
            return db.execute(sql + (" AND status = 'running'" if only_running else ""),
                              [*row.values(), run_id]).rowcount > 0

    def rename(self, run_id, name):
        name = str(name).strip()
        if not name:
            raise RunStoreError("a run name cannot be empty")
        if len(name) > MAX_NAME:
            raise RunStoreError(f"a run name can have at most {MAX_NAME} characters")
        self._change("UPDATE runs SET name = ? WHERE id = ?", (name, run_id), run_id)

    def delete(self, run_id):
        """Delete a run, and with it its upload and its sweep's grid when no other run uses them."""
        with self._connect() as db:
            row = db.execute("SELECT upload, sweep FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None or db.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount == 0:
                raise RunStoreError(f"no run with id {run_id}")
            db.execute("DELETE FROM uploads WHERE sha256 = ? AND NOT EXISTS "
                       "(SELECT 1 FROM runs WHERE upload = uploads.sha256)", (row["upload"],))
            db.execute("DELETE FROM sweeps WHERE name = ? AND NOT EXISTS "
                       "(SELECT 1 FROM runs WHERE sweep = sweeps.name)", (row["sweep"],))

    def _change(self, sql, args, run_id):
        with self._connect() as db:
            if db.execute(sql, args).rowcount == 0:
                raise RunStoreError(f"no run with id {run_id}")

    # ---- reading
    def count(self):
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def exists(self, run_id):
        with self._connect() as db:
            return db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None

    def list(self, limit=None, sweep=None):
        """Summaries (no history or weights), newest first. A row that cannot be read is left out
        and noted in self.unreadable as (id, reason), so one odd row never hides the others."""
        sql, args = _SELECT.format(extra=""), []
        if sweep is not None:
            sql, args = sql + " WHERE runs.sweep = ?", [sweep]
        sql += " ORDER BY runs.id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        with self._connect() as db:
            rows = db.execute(sql, args).fetchall()
        runs, self.unreadable = [], []
        for row in rows:
            try:
                runs.append(_decode(row))
            except (ValueError, TypeError, KeyError) as e:  # ConfigError is a ValueError
                self.unreadable.append((row["id"], str(e)))
        return runs

    def get(self, run_id):
        """Everything about a run: the summary fields plus history, params and the TrainConfig.
        `status` is "interrupted" for a run whose training process is gone; `data_available` says
        whether its data can be drawn again (generated, or a CSV this store keeps; `csv_name`)."""
        with self._connect() as db:
            row = db.execute(_SELECT.format(extra=", runs.history, runs.params, runs.snapshots") + " WHERE runs.id = ?",
                             (run_id,)).fetchone()
        if row is None:
            raise RunStoreError(f"no run with id {run_id}")
        try:
            run = _decode(row)
            run["history"] = complete_history(json.loads(row["history"]))  # keys newer runs record: None
            run["params"] = json.loads(row["params"])
            run["snapshots"] = {int(step): weights for step, weights in json.loads(row["snapshots"] or "{}").items()}
        except (ValueError, TypeError, KeyError) as e:
            raise RunStoreError(f"run #{run_id} cannot be read: {e}") from None
        return run

    # ---- export / import
    def export_json(self, run_ids):
        return _export_document([self.get(i) for i in run_ids])

    def export_csv(self, run_ids):
        """One row per run and step: the histories side by side in long form."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["run_id", "name", *HISTORY_KEYS])
        for i in run_ids:
            run = self.get(i)
            h = run["history"]
            for j in range(len(h["step"])):
                writer.writerow([run["id"], run["name"], *("" if h[k][j] is None else h[k][j] for k in HISTORY_KEYS)])
        return out.getvalue()

    def import_json(self, text):
        """Add the runs of an export_json() file; returns their new ids. Checks every field of every
        run first (lab.run_import), then adds all of them or none."""
        try:
            runs = parse_export(text)
        except ImportProblem as e:
            raise RunStoreError(str(e)) from None
        with self._connect() as db:
            known = {r[0] for r in db.execute("SELECT sha256 FROM uploads")}
            ids = []
            for i, run in enumerate(runs, 1):
                config = run.pop("config")
                if config.csv_upload not in known:  # only an upload this store keeps itself
                    config = config.replace(csv_upload="")
                history, params = run.pop("history"), run.pop("params")
                row = dict(run, name=run["name"] or f"imported run {i}", config=_config_json(config),
                           history=json.dumps(history), params=json.dumps(params), upload=config.csv_upload or None)
                ids.append(db.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                      list(row.values())).lastrowid)
            return ids

    # ---- uploaded CSVs
    def save_upload(self, content, filename):
        """Keep an uploaded CSV in the store, once per content; returns its sha256 for
        TrainConfig(dataset="csv", csv_upload=...). The CSV is validated first (DatasetError) and
        only a valid one is stored; uploads count against MAX_UPLOADS_BYTES."""
        content = bytes(content)
        if len(content) > MAX_UPLOAD_BYTES:
            raise DatasetError(f"The file is {len(content) / 2**20:.1f} MB; an uploaded CSV may have at most "
                               f"{MAX_UPLOAD_BYTES // 2**20} MB.")
        digest = hashlib.sha256(content).hexdigest()
        with self._connect() as db:
            if db.execute("SELECT 1 FROM uploads WHERE sha256 = ?", (digest,)).fetchone():
                return digest
        name = Path(str(filename)).name[:100] or "upload.csv"
        load_csv(content, name=Path(name).stem)  # raises DatasetError: nothing is written
        now = time.time()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM uploads WHERE created < ? AND NOT EXISTS "
                       "(SELECT 1 FROM runs WHERE upload = uploads.sha256)", (now - UPLOAD_GRACE,))
            used = db.execute("SELECT COALESCE(SUM(size), 0) FROM uploads WHERE sha256 != ?", (digest,)).fetchone()[0]
            if used + len(content) > MAX_UPLOADS_BYTES:
                raise RunStoreError(f"the run store {self.path} holds {used / 2**20:.1f} MB of uploaded CSVs; the "
                                    f"limit is {MAX_UPLOADS_BYTES // 2**20} MB: delete runs on CSVs you no longer need")
            db.execute("INSERT OR IGNORE INTO uploads (sha256, name, size, created, content) VALUES (?, ?, ?, ?, ?)",
                       (digest, name, len(content), now, content))
        return digest

    def upload_name(self, digest):
        """The file name of an upload this store keeps (None when it keeps none by that hash)."""
        if not digest:
            return None
        with self._connect() as db:
            row = db.execute("SELECT name FROM uploads WHERE sha256 = ?", (str(digest),)).fetchone()
        return row["name"] if row else None

    def upload(self, digest):
        """(file name, bytes) of an upload kept by this store."""
        with self._connect() as db:
            row = db.execute("SELECT name, content FROM uploads WHERE sha256 = ?", (str(digest),)).fetchone()
        if row is None:
            raise RunStoreError("this run's CSV is no longer in the run store (it goes with the last run that "
                                "uses it): upload the file again")
        return row["name"], bytes(row["content"])

    def uploads_size(self):
        """Bytes of uploaded CSVs in the store (the limit is MAX_UPLOADS_BYTES)."""
        with self._connect() as db:
            return db.execute("SELECT COALESCE(SUM(size), 0) FROM uploads").fetchone()[0]

    # ---- sweeps
    def save_sweep(self, name, axes):
        """Remember a sweep's grid: axes is [(field, [values...]), ...] (one or two fields)."""
        known = {f.name for f in fields(TrainConfig)}
        axes = [(str(f), [list(v) if isinstance(v, tuple) else v for v in values]) for f, values in axes]
        if not axes or any(f not in known for f, _ in axes):
            raise RunStoreError(f"a sweep's axes must be config fields, got {[f for f, _ in axes]}")
        try:
            text = json.dumps(axes, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise RunStoreError(f"a sweep's values must be numbers, text or layer widths: {e}") from None
        with self._connect() as db:
            db.execute("INSERT INTO sweeps (name, created, axes) VALUES (?, ?, ?) ON CONFLICT(name) "
                       "DO UPDATE SET created = excluded.created, axes = excluded.axes", (str(name), time.time(), text))

    def sweep_grid(self, name):
        """[(field, [values...]), ...] as save_sweep() stored it (layer widths as tuples), or None
        for a sweep without a stored grid (made before grids were stored)."""
        with self._connect() as db:
            row = db.execute("SELECT axes FROM sweeps WHERE name = ?", (str(name),)).fetchone()
        if row is None:
            return None
        return [(f, [tuple(v) if isinstance(v, list) else v for v in values]) for f, values in json.loads(row["axes"])]


# ---- rows: from a TrainResult, and back to a run dict
def _config_json(config):
    return json.dumps({**config.to_dict(), "csv_path": ""})  # a path is never stored: it would be read back


def automatic_name(config, n_features, data_name=None):
    """A run's name when none is given: the data (a CSV's file name), the network, the rate and the engine,
    e.g. 'moons 2-16-16-1 relu lr=0.5 numpy' or 'flowers.csv 4-16-16-1 relu lr=0.5 scalar'."""
    data = data_name or config.dataset
    return f"{data} {config.architecture(n_features)} {config.activation} lr={config.lr:g} {config.engine}"


def _row(result, name=None, sweep=None, params=None, data_name=None):
    """The columns of a run from a TrainResult (finished, or still training: pass `params`)."""
    h = result.history
    cfg = result.config

    def final(key):
        return _finite_or_none(h[key][-1]) if h.get(key) and h[key][-1] is not None else None

    name = str(name or automatic_name(cfg, result.n_features, data_name))
    params = result.params if params is None else params
    return dict(name=name[:MAX_NAME], created=time.time(), status=result.status, config=_config_json(cfg),
                task=result.task, n_features=result.n_features, steps_done=len(h["step"]),
                diverged_at=result.diverged_at, elapsed=result.elapsed, final_loss=final("train_loss"),
                final_test_loss=final("test_loss"), final_accuracy=final("accuracy"), sweep=sweep,
                history=json.dumps({k: [_finite_or_none(v) if isinstance(v, float) else v for v in h[k]]
                                    for k in HISTORY_KEYS}),
                params=json.dumps([_finite_or_none(p) for p in params]), upload=cfg.csv_upload or None,
                snapshots=json.dumps({step: [_finite_or_none(w) for w in np.asarray(weights, dtype=float).tolist()]
                                      for step, weights in getattr(result, "snapshots", {}).items()}))


def _decode(row):
    run = {k: row[k] for k in SUMMARY_COLUMNS}
    config = json.loads(row["config"])
    config.pop("csv_path", None)  # rows from older stores or imports may name a file: never hand it out
    run["config"] = TrainConfig.from_stored(config)  # fields an older row lacks: what that run did
    if not (isinstance(run["created"], (int, float)) and MIN_CREATED <= run["created"] <= MAX_CREATED):
        raise ValueError(f"its creation time {run['created']!r} is out of range")
    if run["status"] == "running" and not _owner_alive(row["owner"], row["heartbeat"]):
        run["status"] = "interrupted"
    run["csv_name"] = row["csv_name"]
    run["data_available"] = run["config"].dataset != "csv" or row["csv_name"] is not None
    return run


def _export_document(runs):
    out = [{**{k: run.get(k) for k in EXPORT_FIELDS}, "config": run["config"].to_dict()} for run in runs]
    return json.dumps({"format": "micrograd-runs", "version": 1, "runs": out}, indent=1)


def result_to_json(result, name=None, sweep=None):
    """A TrainResult as a runs export (the format of export_json, importable later): what a
    program offers for download, or writes out, when the store could not save the run."""
    row = _row(result, name, sweep)
    run = {**{k: row[k] for k in SUMMARY_COLUMNS if k != "id"}, "id": None,
           "config": TrainConfig(**json.loads(row["config"])), "history": json.loads(row["history"]),
           "params": json.loads(row["params"])}
    return _export_document([run])


# ---- who is training a "running" run
def _start_time(pid):
    """The start time of process `pid` on this machine ('' when unknown), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if _HAS_PROC:
            return None
    except OSError:
        pass
    else:
        state, *rest = stat.rsplit(")", 1)[1].split()
        return None if state in ("Z", "X") else rest[18]  # field 22 of proc(5): starttime
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:
        pass
    return ""


def _boot_id():
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "-"


_HAS_PROC = Path("/proc/self/stat").exists()
_HOST, _BOOT = socket.gethostname() or "-", _boot_id()


def current_owner():
    """'host boot-id pid start-time' of this process: a "running" row's owner."""
    return f"{_HOST} {_BOOT} {os.getpid()} {_start_time(os.getpid()) or '-'}"


def _owner_alive(owner, heartbeat):
    """Whether the process training a "running" row is still there: on this machine (since the same
    boot), by its pid and start time; elsewhere, by a checkpoint in the last STALE_AFTER seconds."""
    host, boot, pid, start = (str(owner or "").split(" ") + ["", "", "", ""])[:4]
    if host == _HOST and boot == _BOOT and pid.isdigit():
        found = _start_time(int(pid))
        return found is not None and (found == start or not found or start == "-")  # '' / '-': not known
    if host == _HOST and boot != _BOOT:
        return False  # this machine restarted since
    return heartbeat is not None and time.time() - heartbeat < STALE_AFTER


class RunRecorder:
    """Keeps a run in the store while it trains, so a crash or a kill loses at most a few seconds.

        recorder = RunRecorder(store, config, name=None, sweep=None, every=3.0)
        result = train(config, on_start=recorder.on_start, on_step=recorder.on_step, should_stop=...)
        run_id = recorder.finish(result)

    on_start writes the "running" row (recorder.run_id is set from then on; without on_start the
    first step writes it); on_step checkpoints history and weights every `every` seconds (less
    often when a checkpoint itself is slow; every=0: after every step); finish writes the final
    status, retrying while the store is locked, and raises RunStoreError only when saving truly
    failed. Checkpoints never stop training: a failed one is noted in recorder.error. Use it as a
    context manager so that an exception in training leaves the run "interrupted", not "running"."""

    def __init__(self, store, config, name=None, sweep=None, every=3.0):
        self.store, self.config, self.name, self.sweep, self.every = store, config, name, sweep, float(every)
        self.run_id = None
        self.error = None       # why the last checkpoint failed (None when it worked)
        self.created = time.time()
        self._due = 0.0
        try:
            self.data_name = store.upload_name(config.csv_upload)  # for the automatic run name
        except RunStoreError:
            self.data_name = None

    def on_start(self, result):
        self._checkpoint(result)

    def on_step(self, result):
        if self.run_id is None or time.monotonic() >= self._due:
            self._checkpoint(result)

    def _checkpoint(self, result):
        began = time.monotonic()
        params = result.live_params() if result.live_params is not None else result.params
        row = dict(_row(result, self.name, self.sweep, params, self.data_name), status="running", created=self.created,
                   owner=current_owner(), heartbeat=time.time())
        timeout = min(self.store.timeout, CHECKPOINT_TIMEOUT)
        try:
            if self.run_id is None:
                self.run_id = self.store._insert(row, timeout)
            elif not self.store._update(self.run_id, row, timeout, only_running=True):
                self.run_id = self.store._insert(row, timeout)  # the row was deleted meanwhile
            self.error = None
        except RunStoreError as e:
            self.error = str(e)
        spent = time.monotonic() - began  # a big history is slow to write: then write it less often
        self._due = time.monotonic() + (max(self.every, 10 * spent) if self.every else 0.0)

    def finish(self, result):
        """Write the finished run; returns its id. Raises RunStoreError only after retrying."""
        row = dict(_row(result, self.name, self.sweep, data_name=self.data_name), created=self.created, owner=None,
                   heartbeat=time.time())

        def write():
            if self.run_id is None or not self.store._update(self.run_id, row):
                self.run_id = self.store._insert(row)
            return self.run_id

        return self.store._retrying(write)

    def interrupt(self):
        """Mark the run "interrupted" (training failed): it keeps its last checkpoint."""
        if self.run_id is not None:
            try:
                self.store._update(self.run_id, {"status": "interrupted", "owner": None},
                                   min(self.store.timeout, CHECKPOINT_TIMEOUT), only_running=True)
            except RunStoreError as e:
                self.error = str(e)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is not None:
            self.interrupt()


# ---- uploads by hash, for code that has a config and no store at hand (train.load_data)
def save_upload(content, filename, store_path=None):
    """Keep an uploaded CSV in the run store; returns its sha256 for TrainConfig.csv_upload."""
    return RunStore(store_path).save_upload(content, filename)


def load_upload(digest, store_path=None):
    """The Dataset of an upload kept by the run store."""
    name, content = RunStore(store_path).upload(digest)
    return load_csv(content, name=Path(name).stem)

