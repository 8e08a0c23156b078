"""Headless CLI: python -m lab train|runs|sweep ... (see --help).

`train` never loses a finished run: it is in the store as "running" from its first step,
checkpointed while it trains, saved as "stopped" on Ctrl-C or SIGTERM, and when the store
cannot take it even after retries, the run is written out as an importable JSON file."""
import argparse
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import fields
from functools import partial
from pathlib import Path

from data import DatasetError, load_csv

from .config import FIELD_HELP, ConfigError, TrainConfig
from .run_import import MAX_IMPORT_BYTES, MAX_NAME
from .runs import MAX_UPLOAD_BYTES, RunRecorder, RunStore, RunStoreError, result_to_json
from .train import train


class Parser(argparse.ArgumentParser):
    """argparse, but bad input is one line `error: ...` on stderr and exit code 2."""

    def error(self, message):
        raise ConfigError(message)


def add_config_flags(parser):
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        if f.name in ("csv_path", "csv_upload"):
            continue
        default = getattr(defaults, f.name)
        shown = ",".join(map(str, default)) if f.name == "hidden" else default
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=None, metavar=f.name.upper(),
                            help=f"{FIELD_HELP[f.name]} (default: {shown})")
    parser.add_argument("--csv", help="train on this CSV file (numeric features, target column last or named 'target')")


def config_from_args(args):
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
              if f.name not in ("csv_path", "csv_upload") and getattr(args, f.name) is not None}
    if args.csv:
        values.update(dataset="csv", csv_path=str(args.csv))
    return TrainConfig(**values)  # not from_dict: that refuses file paths, and this one is the user's own


def read_file(path, limit, what):
    """The bytes of a file the user named, at most `limit` of them."""
    try:
        size = os.stat(path).st_size
        if size > limit:
            raise ConfigError(f"{path} is {size / 2**20:.1f} MB; {what} may have at most {limit // 2**20} MB")
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}") from None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None


def positive_seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigError(f"--checkpoint-every takes a positive number of seconds, got {text!r}")
    return value


def build_parser():
    parser = Parser(prog="python -m lab", description="Train MLPs with micrograd and manage saved runs.")
    db_help = "run store file (default: $MICROGRAD_RUNS_DB or ./runs.sqlite)"
    parser.add_argument("--db", help=db_help)
    # --db is also accepted after any subcommand (SUPPRESS: an absent one keeps the top-level value)
    common = Parser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, help=db_help)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser = partial(commands.add_parser, parents=[common])

    t = commands.add_parser("train", help="train a network and save the run")
    add_config_flags(t)
    t.add_argument("--name", help="name of the saved run")
    t.add_argument("--json", action="store_true", help="print the saved run as JSON instead of a summary")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--checkpoint-every", type=positive_seconds, default=3.0, metavar="SECONDS",
                   help="how often the run so far is written to the store while it trains (default: 3)")

    runs = commands.add_parser("runs", help="list, show, export, rename, import or delete saved runs")
    sub = runs.add_subparsers(dest="action", required=True)
    sub.add_parser = partial(sub.add_parser, parents=[common])
    sub.add_parser("list", help="list saved runs").add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="show one run")
    show.add_argument("run_id", type=int)
    show.add_argument("--json", action="store_true")
    export = sub.add_parser("export", help="export runs as JSON or CSV")
    export.add_argument("run_ids", type=int, nargs="+")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--out", help="write to this file instead of stdout")
    rename = sub.add_parser("rename", help="rename a run")
    rename.add_argument("run_id", type=int)
    rename.add_argument("name")
    delete = sub.add_parser("delete", help="delete a run")
    delete.add_argument("run_id", type=int)
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub.add_parser("import", help="import runs from a JSON export").add_argument("file")

    sweep = commands.add_parser("sweep", help="train a grid of configs in parallel")
    add_config_flags(sweep)
    sweep.add_argument("--grid", action="append", required=True, metavar="FIELD=V1,V2,...",
                       help="a hyperparameter and its values; give one or two")
    sweep.add_argument("--seeds", default="1", metavar="N",
                       help="train every grid cell N times, with seeds SEED, SEED+1, ... (default: 1)")
    sweep.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    sweep.add_argument("--scheduler", help="a Dask scheduler address (tcp://host:8786) to run on instead")
    sweep.add_argument("--name", help="sweep name (default: sweep-<time>)")
    sweep.add_argument("--json", action="store_true")
    return parser


class Progress:
    """A one-line progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, total, enabled=True):
        self.total, self.enabled, self.last = total, enabled, 0.0

    def __call__(self, done, text=""):
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and done < self.total):
            return
        self.last = now
        filled = int(30 * done / self.total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} {text}")
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def summary_line(run):
    acc = f"  acc {run['final_accuracy']:.1%}" if run["final_accuracy"] is not None else ""
    loss = f"{run['final_loss']:.4g}" if run["final_loss"] is not None else "-"
    return f"#{run['id']:<4} {run['status']:<8} {run['steps_done']:>6} steps  loss {loss}{acc}  {run['name']}"


def run_json(run):
    history = run.get("history")
    last = lambda key: (history.get(key) or [None])[-1] if history else None  # noqa: E731
    return {**{k: v for k, v in run.items() if k not in ("config", "history")}, "run_id": run["id"],
            "config": run["config"].to_dict(), "history": history,
            "losses": history["train_loss"] if history else None,
            "final_test_accuracy": last("test_accuracy"), "final_r2": last("test_r2")}


def cmd_train(args, store):
    if args.name is not None and not 0 < len(args.name.strip()) <= MAX_NAME:
        raise ConfigError(f"--name takes 1 to {MAX_NAME} characters")
    config, dataset = config_from_args(args), None
    if args.csv:  # read once, kept in the store by content: the run never depends on the file again
        content = read_file(args.csv, MAX_UPLOAD_BYTES, "a CSV")
        dataset = load_csv(content, name=Path(args.csv).stem)
        config = config.replace(csv_path="", csv_upload=store.save_upload(content, Path(args.csv).name))
    stop = {"requested": False}
    for signal_number in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or a kill: stop, save as "stopped"
        signal.signal(signal_number, lambda *_: stop.update(requested=True))
    bar = Progress(config.steps, enabled=not args.quiet and not args.json)

    with RunRecorder(store, config, name=args.name, every=args.checkpoint_every) as recorder:
        def on_step(result):
            recorder.on_step(result)
            bar(result.steps_done, f"loss {result.losses[-1]:.4g}")

        result = train(config, on_start=recorder.on_start, on_step=on_step, should_stop=lambda: stop["requested"],
                       dataset=dataset)
    if result.status != "finished" and bar.enabled:
        sys.stderr.write("\n")
    try:
        run_id = recorder.finish(result)
    except RunStoreError as e:
        where = write_unsaved(result_to_json(result, name=args.name))
        raise RunStoreError(f"the run finished but could not be saved ({e}); it was written to {where} as a runs "
                            f"export: load it later with `python -m lab runs import FILE`") from None
    run = store.get(run_id)
    if args.json:
        print(json.dumps(run_json(run)))
    else:
        print(summary_line(run))
        if result.status == "diverged":
            print(f"diverged at step {result.diverged_at}: the loss blew up; try a smaller learning rate")
    return 0


def write_unsaved(text):
    """Put a run the store refused where the user gets it: stdout when it is piped or redirected,
    else a new file (named in the error message)."""
    if not sys.stdout.isatty():
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return "stdout"
    name = time.strftime("micrograd-unsaved-run-%Y%m%d-%H%M%S.json")
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        try:
            (folder / name).write_text(text, encoding="utf-8")
            return str(folder / name)
        except OSError:
            continue
    sys.stdout.write(text + "\n")
    return "stdout"


def confirm(question):
    if not sys.stdin.isatty():
        raise ConfigError("refusing to delete without confirmation: pass --yes")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def cmd_runs(args, store):
    if args.action == "list":
        runs = store.list()
        if args.json:
            print(json.dumps([run_json(r) for r in runs]))
        else:
            lines = [*map(summary_line, runs), *(f"#{i:<4} cannot be read: {why}" for i, why in store.unreadable)]
            print("\n".join(lines) or f"no runs yet in {store.path}")
    elif args.action == "show":
        run = store.get(args.run_id)
        if args.json:
            print(json.dumps(run_json(run)))
        else:
            print(summary_line(run))
            for key, value in run["config"].to_dict().items():
                print(f"  {key:<18} {value}")
    elif args.action == "export":
        text = store.export_json(args.run_ids) if args.format == "json" else store.export_csv(args.run_ids)
        if args.out:
            try:
                Path(args.out).write_text(text, encoding="utf-8")
            except OSError as e:
                raise ConfigError(f"cannot write {args.out}: {e.strerror}") from None
        else:
            sys.stdout.write(text)
    elif args.action == "rename":
        store.rename(args.run_id, args.name)
    elif args.action == "delete":
        if not store.exists(args.run_id):  # unknown ids are an error before we ask
            raise RunStoreError(f"no run with id {args.run_id}")
        if args.yes or confirm(f"delete run {args.run_id}?"):
            store.delete(args.run_id)
            print(f"deleted run {args.run_id}")
    elif args.action == "import":
        try:
            text = read_file(args.file, MAX_IMPORT_BYTES, "an import").decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"cannot read {args.file}: it is not UTF-8 text ({e.reason})") from None
        ids = store.import_json(text)
        print(f"imported {len(ids)} run(s): {', '.join(map(str, ids))}")
    return 0


def cmd_sweep(args, store):
    from .sweep import parse_grid, run_sweep

    base = config_from_args(args)
    if args.csv:  # kept in the store by content, as for train: the cells read it from there
        content = read_file(args.csv, MAX_UPLOAD_BYTES, "a CSV")
        base = base.replace(csv_path="", csv_upload=store.save_upload(content, Path(args.csv).name))
    try:
        seeds = int(args.seeds)
    except ValueError:
        raise ConfigError(f"--seeds takes a whole number, got {args.seeds!r}") from None
    grid = parse_grid(args.grid, base, seeds)
    name = args.name or time.strftime("sweep-%Y%m%d-%H%M%S")
    bar = Progress(len(grid.configs), enabled=not args.json)
    stop = {"requested": False}
    for signum in (signal.SIGINT, signal.SIGTERM):  # stop the cells; each saves what it has as "stopped"
        signal.signal(signum, lambda *_: stop.update(requested=True))
    results = run_sweep(grid, store, name, workers=args.workers, scheduler=args.scheduler,
                        on_done=lambda done, total: bar(done), should_stop=lambda: stop["requested"])
    saved = [run_id for run_id in results if run_id is not None]  # None: a cell skipped by a stop
    if args.json:
        print(json.dumps({"sweep": name, "runs": [run_json(store.get(i)) for i in saved]}))
    else:
        for run_id in saved:
            print(summary_line(store.get(run_id)))
    return 0


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        store = RunStore(args.db)
        return {"train": cmd_train, "runs": cmd_runs, "sweep": cmd_sweep}[args.command](args, store)
    except (ConfigError, DatasetError, RunStoreError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
