"""The run store: every training run in one SQLite file (stdlib sqlite3, WAL mode).

The file is `runs.sqlite` in the working directory unless MICROGRAD_RUNS_DB names
another. Each call opens its own short connection, so several processes (the
dashboard, the CLI, sweep workers) can write at the same time."""
import csv
import io
import json
import math
import os
import sqlite3
import time
from contextlib import contextmanager

from .config import ConfigError, TrainConfig
from .train import HISTORY_KEYS

ENV_VAR = "MICROGRAD_RUNS_DB"
STATUSES = ("finished", "stopped", "diverged")
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
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
    params TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created);
"""
SUMMARY_COLUMNS = ("id", "name", "created", "status", "config", "task", "n_features", "steps_done", "diverged_at",
                   "elapsed", "final_loss", "final_test_loss", "final_accuracy", "sweep")


class RunStoreError(Exception):
    pass


def default_path():
    return os.environ.get(ENV_VAR) or "runs.sqlite"


def _is_number(v):
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _finite_or_none(x):
    return x if x is None or math.isfinite(x) else None


class RunStore:
    def __init__(self, path=None):
        self.path = str(path or default_path())
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self):
        try:
            db = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as e:
            raise RunStoreError(f"cannot open the run store {self.path}: {e}") from None
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                yield db
        except sqlite3.DatabaseError as e:
            hint = ("it is not a SQLite database (corrupt?): move it away or point "
                    f"{ENV_VAR} at another file") if "not a database" in str(e) or "malformed" in str(e) else str(e)
            raise RunStoreError(f"run store {self.path}: {hint}") from None
        finally:
            db.close()

    # ---- writing
    def save(self, result, name=None, sweep=None):
        """Store a TrainResult; returns its run id."""
        h = result.history
        final = lambda key: _finite_or_none(h[key][-1]) if h.get(key) and h[key][-1] is not None else None
        cfg = result.config
        name = name or f"{cfg.dataset} {cfg.architecture(result.n_features)} {cfg.activation} lr={cfg.lr:g}"
        row = dict(name=name, created=time.time(), status=result.status, config=json.dumps(cfg.to_dict()),
                   task=result.task, n_features=result.n_features, steps_done=len(h["step"]),
                   diverged_at=result.diverged_at, elapsed=result.elapsed, final_loss=final("train_loss"),
                   final_test_loss=final("test_loss"), final_accuracy=final("accuracy"), sweep=sweep,
                   history=json.dumps({k: [_finite_or_none(v) if isinstance(v, float) else v for v in h[k]]
                                       for k in HISTORY_KEYS}),
                   params=json.dumps([_finite_or_none(p) for p in result.params]))
        return self._insert(row)

    def _insert(self, row):
        with self._connect() as db:
            cur = db.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                             list(row.values()))
            return cur.lastrowid

    def rename(self, run_id, name):
        if not str(name).strip():
            raise RunStoreError("a run name cannot be empty")
        self._change("UPDATE runs SET name = ? WHERE id = ?", (str(name).strip(), run_id), run_id)

    def delete(self, run_id):
        self._change("DELETE FROM runs WHERE id = ?", (run_id,), run_id)

    def _change(self, sql, args, run_id):
        with self._connect() as db:
            if db.execute(sql, args).rowcount == 0:
                raise RunStoreError(f"no run with id {run_id}")

    # ---- reading
    def count(self):
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def list(self, limit=None, sweep=None):
        """Summaries (no history or weights), newest first."""
        sql = f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM runs"
        args = []
        if sweep is not None:
            sql, args = sql + " WHERE sweep = ?", [sweep]
        sql += " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        with self._connect() as db:
            return [self._decode(r) for r in db.execute(sql, args)]

    def get(self, run_id):
        """Everything about a run: summary fields plus history, params and the TrainConfig."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunStoreError(f"no run with id {run_id}")
        run = self._decode(row)
        run["history"], run["params"] = json.loads(row["history"]), json.loads(row["params"])
        return run

    @staticmethod
    def _decode(row):
        run = {k: row[k] for k in SUMMARY_COLUMNS}
        run["config"] = TrainConfig.from_dict(json.loads(row["config"]))
        return run

    # ---- export / import
    def export_json(self, run_ids):
        runs = [self.get(i) for i in run_ids]
        for run in runs:
            run["config"] = run["config"].to_dict()
        return json.dumps({"format": "micrograd-runs", "version": 1, "runs": runs}, indent=1)

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
        """Add the runs of an export_json() file; returns their new ids. Validates everything first."""
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise RunStoreError(f"not a JSON file: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != "micrograd-runs" or not isinstance(doc.get("runs"), list):
            raise RunStoreError("not a micrograd runs export (expected {\"format\": \"micrograd-runs\", \"runs\": [...]})")
        rows = [self._validate_import(i, run) for i, run in enumerate(doc["runs"], 1)]
        return [self._insert(row) for row in rows]

    @staticmethod
    def _validate_import(i, run):
        where = f"run #{i} in the file"
        if not isinstance(run, dict):
            raise RunStoreError(f"{where} is not an object")
        try:
            config = TrainConfig.from_dict(run["config"])
            history, params = run["history"], run["params"]
            if not isinstance(history, dict) or set(history) != set(HISTORY_KEYS):
                raise RunStoreError(f"{where}: history must have exactly the keys {', '.join(HISTORY_KEYS)}")
            lengths = {len(history[k]) for k in HISTORY_KEYS}
            if len(lengths) != 1:
                raise RunStoreError(f"{where}: history lists have different lengths")
            if run["status"] not in STATUSES:
                raise RunStoreError(f"{where}: status must be one of {', '.join(STATUSES)}")
            n_features = int(run["n_features"])
            expected = config.parameter_count(n_features)
            if not isinstance(params, list) or len(params) != expected:
                raise RunStoreError(f"{where}: expected {expected} weights for this architecture")
            if not all(v is None or isinstance(v, (int, float)) for k in HISTORY_KEYS for v in history[k]):
                raise RunStoreError(f"{where}: history values must be numbers")
            if not all(_is_number(v) for v in params):
                raise RunStoreError(f"{where}: the weights must be numbers")
            if run["task"] not in ("classification", "regression"):
                raise RunStoreError(f"{where}: task must be classification or regression")
            for key in ("created", "elapsed", "final_loss", "final_test_loss", "final_accuracy", "diverged_at"):
                if not (run.get(key) is None or _is_number(run[key])):
                    raise RunStoreError(f"{where}: {key} must be a number, got {run[key]!r}")
            return dict(name=str(run.get("name") or f"imported run {i}"), created=float(run.get("created", time.time())),
                        status=run["status"], config=json.dumps(config.to_dict()), task=str(run["task"]),
                        n_features=n_features, steps_done=lengths.pop(), diverged_at=run.get("diverged_at"),
                        elapsed=float(run.get("elapsed", 0.0)), final_loss=run.get("final_loss"),
                        final_test_loss=run.get("final_test_loss"), final_accuracy=run.get("final_accuracy"),
                        sweep=run.get("sweep"), history=json.dumps(history), params=json.dumps(params))
        except ConfigError as e:
            raise RunStoreError(f"{where}: bad config: {e}") from None
        except KeyError as e:
            raise RunStoreError(f"{where}: missing field {e}") from None
        except (TypeError, ValueError) as e:
            raise RunStoreError(f"{where}: {e}") from None


def save_upload(content, filename, store_path=None):
    """Keep an uploaded CSV next to the run store (named by its hash) so runs on it can be redrawn."""
    import hashlib
    from pathlib import Path

    folder = Path(store_path or default_path()).resolve().parent / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(filename).stem[:40] or "upload"
    path = folder / f"{stem}-{hashlib.sha1(content).hexdigest()[:12]}.csv"
    if not path.exists():
        path.write_bytes(content)
    return str(path)


class RunRecorder:  # TEMPORARY until the durable recorder lands: saves at the end only
    def __init__(self, store, config, name=None, sweep=None, every=3.0):
        self.store, self.name, self.sweep, self.run_id = store, name, sweep, None

    def on_step(self, result):
        pass

    def finish(self, result):
        self.run_id = self.store.save(result, name=self.name, sweep=self.sweep)
        return self.run_id
