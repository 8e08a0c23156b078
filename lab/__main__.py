"""Headless CLI: python -m lab train|runs|sweep ... (see --help)."""
import argparse
import json
import signal
import sys
import time
from dataclasses import fields
from functools import partial
from pathlib import Path

from data import DatasetError

from .config import FIELD_HELP, ConfigError, TrainConfig
from .runs import RunStore, RunStoreError
from .train import train


class Parser(argparse.ArgumentParser):
    """argparse, but bad input is one line `error: ...` on stderr and exit code 2."""

    def error(self, message):
        raise ConfigError(message)


def add_config_flags(parser):
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        if f.name == "csv_path":
            continue
        default = getattr(defaults, f.name)
        shown = ",".join(map(str, default)) if f.name == "hidden" else default
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=None, metavar=f.name.upper(),
                            help=f"{FIELD_HELP[f.name]} (default: {shown})")
    parser.add_argument("--csv", help="train on this CSV file (numeric features, target column last or named 'target')")


def config_from_args(args):
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
              if f.name != "csv_path" and getattr(args, f.name) is not None}
    if args.csv:
        values.update(dataset="csv", csv_path=str(args.csv))
    return TrainConfig.from_dict(values)


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
    config = config_from_args(args)
    stop = {"requested": False}
    signal.signal(signal.SIGINT, lambda *_: stop.update(requested=True))  # Ctrl-C: stop, save as "stopped"
    bar = Progress(config.steps, enabled=not args.quiet and not args.json)
    result = train(config, on_step=lambda r: bar(r.steps_done, f"loss {r.losses[-1]:.4g}"),
                   should_stop=lambda: stop["requested"])
    if result.status != "finished" and bar.enabled:
        sys.stderr.write("\n")
    run = store.get(store.save(result, name=args.name))
    if args.json:
        print(json.dumps(run_json(run)))
    else:
        print(summary_line(run))
        if result.status == "diverged":
            print(f"diverged at step {result.diverged_at}: the loss blew up; try a smaller learning rate")
    return 0


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
            print("\n".join(map(summary_line, runs)) or f"no runs yet in {store.path}")
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
        store.get(args.run_id)  # unknown ids are an error before we ask
        if args.yes or confirm(f"delete run {args.run_id}?"):
            store.delete(args.run_id)
            print(f"deleted run {args.run_id}")
    elif args.action == "import":
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read {args.file}: {e}") from None
        ids = store.import_json(text)
        print(f"imported {len(ids)} run(s): {', '.join(map(str, ids))}")
    return 0


def cmd_sweep(args, store):
    from .sweep import parse_grid, run_sweep

    base = config_from_args(args)
    grid = parse_grid(args.grid, base)
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
