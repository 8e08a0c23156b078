"""TrainConfig: the one description of a training run, shared by the CLI, the pages and the store.

The names it accepts come from where they are defined (datasets from data's generators,
activations from micrograd.nn, input features from data.features), so adding one there is enough.
A field added later gets a default that reproduces what older runs did, so a stored run's
config (which lacks the field) still opens.

A config may come from a link or an imported file, so it never names a file from there: `csv_path`
is for the CLI's own --csv flag only (from_dict refuses it), and an uploaded CSV is named by the
content hash under which the run store keeps it (`csv_upload`).
"""
import math
import re
from dataclasses import asdict, dataclass, fields

from data import DEFAULT_FEATURES, FEATURES, GENERATORS, MAX_CLASSES, REGRESSION_DATASETS, parse_features
from micrograd.nn import ACTIVATIONS, parameter_count

DATASETS = (*GENERATORS, "csv")  # the generated sets, and a CSV file
LOSSES = ("auto", "hinge", "bce", "mse", "ce")
BINARY_LOSSES = ("hinge", "bce")   # one score per sample: its sign is the class
STANDARDIZE = ("auto", "on", "off")  # auto: on for CSV data, off for the generated sets
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "linear", "cosine")
ENGINES = ("numpy", "scalar")
MAX_STEPS, MAX_SAMPLES, MAX_LAYERS, MAX_WIDTH = 100_000, 10_000, 8, 256
MAX_SEED = 2**63 - 1
UPLOAD_HASH = re.compile(r"[0-9a-f]{64}")  # sha256, hex: how the run store names an uploaded CSV


# What runs saved before a field existed did: standardization came with it, on by default for CSV data.
STORED_RUN_DEFAULTS = {"standardize": "off"}


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
    classes: int = 2            # spiral arms / blob centres (2-6); a CSV's classes come from its target column
    csv_path: str = ""          # the file, when dataset == "csv" and the CLI reads it from disk
    csv_upload: str = ""        # or the sha256 of a CSV kept by the run store (RunStore.save_upload)
    features: str = "x1,x2"     # the network's inputs for 2-D data, from data.FEATURES, comma-separated
    standardize: str = "auto"   # mean 0 / std 1 inputs (and regression targets), fitted on the training split
    # network
    hidden: tuple = (16, 16)
    activation: str = "relu"
    output_activation: str = "linear"
    # objective and optimisation
    loss: str = "auto"          # auto: hinge for two classes, ce for more, mse for regression
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
        features = self.features
        if isinstance(features, (list, tuple)):
            features = ",".join(map(str, features))
        try:  # one spelling per choice of features, so equal configs compare (and link) equal
            object.__setattr__(self, "features", ",".join(parse_features(features)))
        except ValueError as e:
            raise ConfigError(str(e)) from None
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
                  "loss": LOSSES, "optimizer": OPTIMIZERS, "lr_schedule": SCHEDULES, "engine": ENGINES,
                  "standardize": STANDARDIZE}
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
        self._validate_classes_and_features()

    def _validate_classes_and_features(self):
        generator = GENERATORS.get(self.dataset)
        top = MAX_CLASSES if generator is None else generator.max_classes
        if not 2 <= self.classes <= top:
            if top == 2:
                multi = [name for name, fn in GENERATORS.items() if fn.max_classes > 2]
                raise ConfigError(f"{self.dataset} has two classes; classes applies to {' and '.join(multi)} "
                                  f"(and a CSV's classes come from its target column)")
            raise ConfigError(f"classes must be between 2 and {top} for {self.dataset}, got {self.classes}")
        if self.classes > 2 and self.loss not in ("auto", "ce"):
            raise ConfigError(f"{self.loss} is a two-class loss; {self.classes} classes need ce (or auto)")
        if self.dataset in REGRESSION_DATASETS and self.loss == "ce":
            raise ConfigError(f"{self.dataset} is a regression dataset: use the mse loss")
        if generator is not None and generator.n_features != 2 and self.input_features != DEFAULT_FEATURES:
            raise ConfigError(f"input features apply to 2-D data (x1, x2); {self.dataset} has "
                              f"{generator.n_features} input column{'s' if generator.n_features > 1 else ''}")

    @property
    def input_features(self):
        """The chosen input features as a tuple, e.g. ('x1', 'x2', 'x1*x2')."""
        return tuple(self.features.split(","))

    def loss_for(self, task, n_classes=None):
        """The loss actually used for a dataset's task (n_classes: the data's, default self.classes)."""
        k = self.classes if n_classes is None else n_classes
        if task == "regression" and self.loss not in ("auto", "mse"):
            raise ConfigError(f"{self.loss} needs class labels; this dataset is regression: use mse")
        if task == "classification" and k > 2 and self.loss not in ("auto", "ce"):
            raise ConfigError(f"{self.loss} is a two-class loss; this dataset has {k} classes: use ce (or auto)")
        if self.loss != "auto":
            return self.loss
        if task == "regression":
            return "mse"
        return "ce" if k > 2 else "hinge"

    def standardizes(self):
        """Whether inputs (and regression targets) are standardized: "auto" means for CSV data."""
        return self.standardize == "on" or (self.standardize == "auto" and self.dataset == "csv")

    def n_inputs(self, n_features):
        """The network's inputs for data with n_features columns: the chosen features of 2-D data."""
        return len(self.input_features) if n_features == 2 else n_features

    def n_outputs(self):
        """One score per sample (its sign is the class, or the regression output), or one logit per class for ce."""
        return self.classes if self.loss == "ce" or self.classes > 2 else 1

    def replace(self, **changes):
        return TrainConfig(**{**self.to_dict(), **changes})

    def to_dict(self):
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_stored(cls, d):
        """Build from a stored run's config: fields it lacks take the value that reproduces what the
        run did when it was saved (e.g. no standardization), not today's default."""
        return cls.from_dict({**STORED_RUN_DEFAULTS, **d})

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
        """'2-16-16-1': the layer widths from the inputs to the output, for data with n_features columns."""
        return "-".join(map(str, [self.n_inputs(n_features), *self.hidden, self.n_outputs()]))

    def parameter_count(self, n_features):
        """Weights and biases of this config's network for data with `n_features` columns."""
        return parameter_count(self.n_inputs(n_features), [*self.hidden, self.n_outputs()])


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
    "classes": "number of classes: spiral arms or blob centres, 2-6",
    "csv_path": "a CSV file (dataset csv)", "csv_upload": "the sha256 of a CSV kept by the run store",
    "features": f"the network's inputs for 2-D data, comma-separated from: {', '.join(FEATURES)}",
    "standardize": "standardize inputs and regression targets on the training split: auto (CSV data), on, off",
    "hidden": "hidden layer widths, e.g. 16,16 (empty for none)",
    "activation": "hidden-layer activation", "output_activation": "output activation",
    "loss": "loss function: auto (hinge for two classes, ce for more, mse for regression), hinge, bce, mse, ce",
    "optimizer": "optimizer", "lr": "learning rate",
    "lr_schedule": "learning-rate schedule", "momentum": "SGD momentum",
    "batch_size": "mini-batch size (0: full batch)",
    "l1": "L1 penalty weight", "l2": "L2 penalty weight", "steps": "training steps",
    "seed": "seed of the initial weights and batch order", "engine": "autograd engine",
}
