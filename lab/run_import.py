"""Checking a runs export (RunStore.export_json) before any of it reaches the store.

An imported file may come from anyone, and whatever the store accepts is later drawn for every
user: one `created: 1e20` once broke the Compare page for all of them. So every field of every
run is checked for its type, its range and its size, and the first problem is refused with one
message naming the run and the field. The whole file is refused or the whole file is imported.

A file path never survives an import: `csv_path` is dropped (the run keeps its curves and
weights, not a way to re-read a file), and `csv_upload` is kept only when this store holds that
upload itself (the store checks that).
"""
import json
import math
import time

from data import MAX_FEATURES

from .config import MAX_LAYERS, MAX_STEPS, ConfigError, TrainConfig, quoted
from .train import ADDED_HISTORY_KEYS, HISTORY_KEYS, complete_history

MAX_IMPORT_BYTES = 64 * 2**20
MAX_IMPORT_RUNS = 500           # runs in one file
MAX_IMPORT_STEPS = 1_000_000    # history rows over all the runs of one file
MAX_DEPTH = 6                   # {"runs": [{"config": {"hidden": [16]}}]} is 5 deep
MAX_NAME = 200                  # characters of a run or sweep name
MAX_TEXT = 100                  # characters of a text value inside a config
MIN_CREATED = 946_684_800.0     # 2000-01-01 UTC
IMPORTED_STATUSES = ("finished", "stopped", "diverged", "interrupted")
EXPORT_FIELDS = ("id", "name", "created", "status", "config", "task", "n_features", "steps_done", "diverged_at",
                 "elapsed", "final_loss", "final_test_loss", "final_accuracy", "sweep", "history", "params")


class ImportProblem(ValueError):
    """Why a file cannot be imported (one message, naming the run and the field)."""


def parse_export(text, now=None):
    """The runs of an export file as checked dicts: EXPORT_FIELDS minus id, with `config` a
    TrainConfig (no csv_path). Raises ImportProblem."""
    now = time.time() if now is None else now
    if len(text) > MAX_IMPORT_BYTES:
        raise ImportProblem(f"the file is {len(text) / 2**20:.0f} MB; an import takes at most "
                            f"{MAX_IMPORT_BYTES // 2**20} MB")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ImportProblem(f"the file is nested too deeply (an export is at most {MAX_DEPTH} levels deep)") from None
    except ValueError as e:  # JSONDecodeError, and integers with thousands of digits
        raise ImportProblem(f"not a JSON file: {quoted(str(e), 80)}") from None
    if nesting_depth(doc) > MAX_DEPTH:
        raise ImportProblem(f"the file is nested too deeply (an export is at most {MAX_DEPTH} levels deep)")
    if not isinstance(doc, dict) or doc.get("format") != "micrograd-runs" or not isinstance(doc.get("runs"), list):
        raise ImportProblem("not a micrograd runs export (expected {\"format\": \"micrograd-runs\", \"runs\": [...]})")
    if len(doc["runs"]) > MAX_IMPORT_RUNS:
        raise ImportProblem(f"the file holds {len(doc['runs']):,} runs; one import takes at most {MAX_IMPORT_RUNS}: "
                            f"split it into smaller files")
    runs = [check_run(run, f"run #{i} in the file", now) for i, run in enumerate(doc["runs"], 1)]
    total = sum(run["steps_done"] for run in runs)
    if total > MAX_IMPORT_STEPS:
        raise ImportProblem(f"the runs in the file have {total:,} steps in all; one import takes at most "
                            f"{MAX_IMPORT_STEPS:,}: split it into smaller files")
    return runs


def nesting_depth(value):
    """How deeply lists and dicts nest in a parsed JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_run(run, where, now):
    if not isinstance(run, dict):
        raise ImportProblem(f"{where} is not an object")

    def problem(message):
        return ImportProblem(f"{where}: {message}")

    unknown = sorted(set(run) - set(EXPORT_FIELDS))
    if unknown:
        raise problem(f"unknown field {quoted(unknown[0])}")
    for key in ("config", "history", "params", "status", "task", "n_features"):
        if key not in run:
            raise problem(f"missing field {key!r}")
    if run.get("id") is not None and not isinstance(run["id"], int):
        raise problem("id must be an integer")
    name = run.get("name")
    if name is not None and not (isinstance(name, str) and len(name) <= MAX_NAME and name.isprintable()):
        raise problem(f"name must be text of at most {MAX_NAME} printable characters")
    sweep = run.get("sweep")
    if sweep is not None and not (isinstance(sweep, str) and len(sweep) <= MAX_NAME and sweep.isprintable()):
        raise problem(f"sweep must be null or text of at most {MAX_NAME} printable characters")
    created = run.get("created", now)
    if not (is_number(created) and MIN_CREATED <= created <= now + 86_400):
        raise problem(f"created must be a time (seconds since 1970) between 2000-01-01 and tomorrow, "
                      f"got {quoted(created)}")
    status = "interrupted" if run["status"] == "running" else run["status"]  # an export of a live run
    if status not in IMPORTED_STATUSES:
        raise problem(f"status must be one of {', '.join(IMPORTED_STATUSES)}, got {quoted(run['status'])}")
    if run["task"] not in ("classification", "regression"):
        raise problem(f"task must be classification or regression, got {quoted(run['task'])}")
    n_features = run["n_features"]
    if not (isinstance(n_features, int) and not isinstance(n_features, bool) and 1 <= n_features <= MAX_FEATURES):
        raise problem(f"n_features must be an integer from 1 to {MAX_FEATURES}, got {quoted(n_features)}")
    config = check_config(run["config"], problem)
    history = check_history(run["history"], problem)
    steps = len(history["step"])
    if run.get("steps_done", steps) != steps:
        raise problem(f"steps_done is {quoted(run['steps_done'])} but the history has {steps} steps")
    diverged_at = run.get("diverged_at")
    if diverged_at is not None and not (isinstance(diverged_at, int) and 1 <= diverged_at <= steps + 1):
        raise problem(f"diverged_at must be null or a step from 1 to {steps + 1}, got {quoted(diverged_at)}")
    elapsed = run.get("elapsed", 0.0)
    if not (is_number(elapsed) and 0 <= elapsed < math.inf):
        raise problem(f"elapsed must be a number (finite) of seconds, 0 or more, got {quoted(elapsed)}")
    finals = {}
    for key in ("final_loss", "final_test_loss", "final_accuracy"):
        value = run.get(key)
        if value is not None and not (is_number(value) and math.isfinite(value)):
            raise problem(f"{key} must be a number (finite) or null, got {quoted(value)}")
        finals[key] = value
    if finals["final_accuracy"] is not None and not 0 <= finals["final_accuracy"] <= 1:
        raise problem(f"final_accuracy must be between 0 and 1, got {quoted(finals['final_accuracy'])}")
    params = run["params"]
    expected = config.parameter_count(n_features)
    if not isinstance(params, list) or len(params) != expected:
        raise problem(f"expected {expected} weights for this architecture")
    if not all(v is None or (is_number(v) and math.isfinite(v)) for v in params):
        raise problem("the weights must be numbers (finite) or null")
    return dict(name=name or None, created=float(created), status=status, config=config, task=run["task"],
                n_features=n_features, steps_done=steps, diverged_at=diverged_at, elapsed=float(elapsed),
                sweep=sweep, history=history, params=params, **finals)


def check_config(config, problem):
    if not isinstance(config, dict):
        raise problem("config must be an object")
    config = dict(config)
    config.pop("csv_path", None)  # an imported run never keeps a path: its results stay, the file is not read
    for key, value in config.items():
        if key == "hidden":
            ok = isinstance(value, list) and len(value) <= MAX_LAYERS and all(map(is_number, value))
        else:
            ok = is_number(value) or (isinstance(value, str) and len(value) <= MAX_TEXT)
        if not ok:
            raise problem(f"bad config: {quoted(key)} has a value of the wrong type or size")
    try:
        return TrainConfig.from_stored(config)  # fields an older export lacks: what that run did
    except ConfigError as e:
        raise problem(f"bad config: {e}") from None


def check_history(history, problem):
    older = set(HISTORY_KEYS) - set(ADDED_HISTORY_KEYS)  # an export made before those keys were recorded
    if not isinstance(history, dict) or set(history) not in (set(HISTORY_KEYS), older):
        raise problem(f"history must have exactly the keys {', '.join(HISTORY_KEYS)}")
    history = complete_history(history)
    if not all(isinstance(history[k], list) for k in HISTORY_KEYS):
        raise problem("history values must be lists")
    lengths = {len(history[k]) for k in HISTORY_KEYS}
    if len(lengths) != 1:
        raise problem("history lists have different lengths")
    steps = lengths.pop()
    if steps > MAX_STEPS:
        raise problem(f"history has {steps:,} steps; a run has at most {MAX_STEPS:,}")
    for key in HISTORY_KEYS:
        for i, value in enumerate(history[key]):
            if value is None and key != "step":
                continue
            if not (is_number(value) and math.isfinite(value)):
                raise problem(f"history values must be numbers (finite) or null: {key} at position {i + 1} "
                              f"is {quoted(value)}")
    if history["step"] != list(range(1, steps + 1)):
        raise problem("history step must count 1, 2, 3, ...")
    return {k: list(history[k]) for k in HISTORY_KEYS}
