"""TrainConfig: the one description of a training run, shared by the CLI, the pages and the store.

The names it accepts come from where they are defined (datasets from data's generators,
activations from micrograd.nn), so adding a dataset or an activation there is enough.

A config may come from a link or an imported file, so it never names a file from there: `csv_path`
is for the CLI's own --csv flag only (from_dict refuses it), and an uploaded CSV is named by the
content hash under which the run store keeps it (`csv_upload`)."""
import math
import re
from dataclasses import asdict, dataclass, fields

from data import GENERATORS, REGRESSION_DATASETS
from micrograd.nn import ACTIVATIONS, parameter_count

DATASETS = (*GENERATORS, "csv")  # the generated sets, and a CSV file
LOSSES = ("auto", "hinge", "bce", "mse")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "linear", "cosine")
ENGINES = ("numpy", "scalar")
MAX_STEPS, MAX_SAMPLES, MAX_LAYERS, MAX_WIDTH = 100_000, 10_000, 8, 256
MAX_SEED = 2**63 - 1
UPLOAD_HASH = re.compile(r"[0-9a-f]{64}")  # sha256, hex: how the run store names an uploaded CSV


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class TrainConfig:
    # data
    dataset: str = "moons"
    n: int = 100
    noise: float = 0.1
    test_fraction: float = 0.2
    data_seed: int = 0
    csv_path: str = ""          # the file, when dataset == "csv" and the CLI reads it from disk
    csv_upload: str = ""        # or the sha256 of a CSV kept by the run store (RunStore.save_upload)
    # network
    hidden: tuple = (16, 16)
    activation: str = "relu"
    output_activation: str = "linear"
    # objective and optimisation
    loss: str = "auto"          # auto: hinge for classification, mse for regression
    optimizer: str = "sgd"
    lr: float = 0.5
    lr_schedule: str = "linear"  # decays to 10% of lr by the last step
    momentum: float = 0.0
    batch_size: int = 0         # 0: full batch
    l1: float = 0.0
    l2: float = 1e-4
    steps: int = 100
    seed: int = 0               # initial weights and mini-batch order
    engine: str = "numpy"

    def __post_init__(self):
        hidden = self.hidden
        if isinstance(hidden, str):
            hidden = parse_hidden(hidden)
        try:
            hidden = tuple(int(h) for h in hidden)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"hidden must be a list of layer widths, like [16, 16]; got {quoted(hidden)}") from None
        object.__setattr__(self, "hidden", hidden)
        for f in fields(self):  # coerce numbers (query strings, JSON ints for floats)
            value = getattr(self, f.name)
            if f.type in (int, float) and not isinstance(value, f.type):
                try:
                    if f.type is int and float(value) != int(float(value)):
                        raise ValueError
                    object.__setattr__(self, f.name, f.type(float(value)) if f.type is int else float(value))
                except (TypeError, ValueError, OverflowError):
                    kind = "an integer" if f.type is int else "a number"
                    raise ConfigError(f"{f.name} must be {kind}, got {quoted(value)}") from None
        self.validate()

    def validate(self):
        choose = {"dataset": DATASETS, "activation": ACTIVATIONS, "output_activation": ACTIVATIONS,
                  "loss": LOSSES, "optimizer": OPTIMIZERS, "lr_schedule": SCHEDULES, "engine": ENGINES}
        for name, options in choose.items():
            if getattr(self, name) not in options:
                raise ConfigError(f"unknown {name} {quoted(getattr(self, name))}; choose one of: {', '.join(options)}")
        for name in ("csv_path", "csv_upload"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be text, got {quoted(getattr(self, name))}")
        for name in ("noise", "lr", "momentum", "l1", "l2", "test_fraction"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"{name} must be a finite number")
        checks = [
            (1 <= self.n <= MAX_SAMPLES, f"n must be between 1 and {MAX_SAMPLES:,}"),
            (self.noise >= 0, "noise must be 0 or more"),
            (0 <= self.test_fraction < 1, "test_fraction must be at least 0 and below 1"),
            (len(self.hidden) <= MAX_LAYERS, f"at most {MAX_LAYERS} hidden layers"),
            (all(1 <= h <= MAX_WIDTH for h in self.hidden), f"every hidden layer needs 1 to {MAX_WIDTH} neurons"),
            (self.lr > 0, "the learning rate must be positive"),
            (0 <= self.momentum < 1, "momentum must be at least 0 and below 1"),
            (self.batch_size >= 0, "batch_size must be 0 (full batch) or positive"),
            (self.l1 >= 0 and self.l2 >= 0, "l1 and l2 must be 0 or more"),
            (1 <= self.steps <= MAX_STEPS, f"steps must be between 1 and {MAX_STEPS:,}"),
            (0 <= self.seed <= MAX_SEED, "seed must be a whole number, 0 or more (below 2**63)"),
            (0 <= self.data_seed <= MAX_SEED, "data_seed must be a whole number, 0 or more (below 2**63)"),
            (self.csv_upload == "" or UPLOAD_HASH.fullmatch(self.csv_upload),
             "csv_upload must be the sha256 (64 hex digits) of a CSV kept by the run store"),
            (self.dataset not in REGRESSION_DATASETS or self.loss in ("auto", "mse"),
             f"{self.dataset} is a regression dataset: use the mse loss"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def loss_for(self, task):
        """The loss actually used for a dataset's task."""
        if self.loss != "auto":
            if task == "regression" and self.loss != "mse":
                raise ConfigError(f"{self.loss} needs class labels; this dataset is regression: use mse")
            return self.loss
        return "hinge" if task == "classification" else "mse"

    def replace(self, **changes):
        return TrainConfig(**{**self.to_dict(), **changes})

    def to_dict(self):
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d):
        """Build from a dict (JSON, query params), rejecting unknown fields and file paths."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown config field(s): {quoted(', '.join(map(str, unknown)))}")
        if d.get("csv_path"):
            raise ConfigError("csv_path cannot come from a link or a file: upload the CSV instead")
        return cls(**d)

    def to_query(self):
        """Only the fields that differ from the defaults, as strings, for a shareable URL."""
        default = TrainConfig()
        return {f.name: (",".join(map(str, self.hidden)) if f.name == "hidden" else str(getattr(self, f.name)))
                for f in fields(self)
                if getattr(self, f.name) != getattr(default, f.name) and f.name not in ("csv_path", "csv_upload")}

    def architecture(self, n_features):
        """'2-16-16-1': the layer widths from the inputs to the output."""
        return "-".join(map(str, [n_features, *self.hidden, 1]))

    def parameter_count(self, n_features):
        """Weights and biases of this config's network for `n_features` inputs."""
        return parameter_count(n_features, [*self.hidden, 1])


def format_hidden(hidden):
    """Hidden layer widths as people write them: (16, 16) -> '16-16', () -> 'none' (no hidden layer)."""
    return "-".join(map(str, hidden)) or "none"


def quoted(value, width=40):
    """repr() of a value for a message, cut to about `width` characters (the value may be megabytes)."""
    text = repr(value[:width] if isinstance(value, str) else value)
    return text if len(text) <= width else text[:width - 1] + "…"


def parse_hidden(text):
    """'16,16' -> (16, 16); '' or '0' -> () (a linear model)."""
    text = str(text).strip()
    if text in ("", "0", "none"):
        return ()
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(","))
    except ValueError:
        raise ConfigError(f"hidden must be layer widths separated by commas, like 16,16; got {quoted(text)}") from None


FIELD_HELP = {
    "dataset": "which data to learn", "n": "number of samples", "noise": "noise added to the data",
    "test_fraction": "share of samples held out for testing", "data_seed": "seed of the data and the split",
    "csv_path": "a CSV file (dataset csv)", "csv_upload": "the sha256 of a CSV kept by the run store",
    "hidden": "hidden layer widths, e.g. 16,16 (empty for none)",
    "activation": "hidden-layer activation", "output_activation": "output activation",
    "loss": "loss function", "optimizer": "optimizer", "lr": "learning rate",
    "lr_schedule": "learning-rate schedule", "momentum": "SGD momentum",
    "batch_size": "mini-batch size (0: full batch)",
    "l1": "L1 penalty weight", "l2": "L2 penalty weight", "steps": "training steps",
    "seed": "seed of the initial weights and batch order", "engine": "autograd engine",
}
