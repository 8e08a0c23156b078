"""The original micrograd (PyPI micrograd==0.1.0), loaded as `micrograd_ref` beside ours.

PyPI's micrograd installs a top-level package named `micrograd`, which would
shadow this repository's. So it is never installed into the environment: on
first use it is pip-installed into <repo>/.vendor/micrograd-0.1.0 (gitignored)
and its engine.py and nn.py are loaded from there as `micrograd_ref.engine`
and `micrograd_ref.nn`. Its nn.py imports `from micrograd.engine import Value`
(an absolute import, which would resolve to *our* engine), so nn.py is
compiled with that one line pointed at `micrograd_ref.engine`.

    ref = load_reference()
    model = ref.nn.MLP(2, [16, 16, 1])     # draws from the global `random`; overwrite with
    set_parameters(model, values)           # our initial weights (its biases start at 0)
"""
import importlib.util
import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / ".vendor" / "micrograd-0.1.0"
PACKAGE = "micrograd_ref"
_NN_IMPORT = "from micrograd.engine import Value"


def ensure_installed(target=VENDOR):
    """pip-install micrograd==0.1.0 into `target` unless it is already there; return its package dir."""
    pkg_dir = Path(target) / "micrograd"
    if not (pkg_dir / "engine.py").exists() or not (pkg_dir / "nn.py").exists():
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
               "--target", str(target), "micrograd==0.1.0"]
        print(f"installing the reference engine: {' '.join(cmd[2:])}", file=sys.stderr)
        subprocess.run(cmd, check=True)
    return pkg_dir


def load_reference(target=VENDOR):
    """Return a namespace with .engine, .nn, .Value and .MLP of micrograd 0.1.0 (installed on demand)."""
    if PACKAGE in sys.modules and hasattr(sys.modules[PACKAGE], "nn"):
        pkg = sys.modules[PACKAGE]
        return SimpleNamespace(engine=pkg.engine, nn=pkg.nn, Value=pkg.engine.Value, MLP=pkg.nn.MLP)
    pkg_dir = ensure_installed(target)

    spec = importlib.util.spec_from_file_location(PACKAGE, pkg_dir / "__init__.py",
                                                  submodule_search_locations=[str(pkg_dir)])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = pkg
    spec.loader.exec_module(pkg)

    engine = _load_module(f"{PACKAGE}.engine", pkg_dir / "engine.py")
    source = (pkg_dir / "nn.py").read_text()
    if source.count(_NN_IMPORT) != 1:
        raise RuntimeError(f"unexpected micrograd 0.1.0 nn.py: no single line {_NN_IMPORT!r}")
    nn = _load_module(f"{PACKAGE}.nn", pkg_dir / "nn.py",
                      source.replace(_NN_IMPORT, f"from {PACKAGE}.engine import Value"))
    pkg.engine, pkg.nn = engine, nn
    if nn.Value is not engine.Value:
        raise RuntimeError("micrograd_ref.nn did not pick up micrograd_ref.engine")
    return SimpleNamespace(engine=engine, nn=nn, Value=engine.Value, MLP=nn.MLP)


def _load_module(name, path, source=None):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    if source is None:
        spec.loader.exec_module(module)
    else:
        exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def make_mlp(ref, nin, nouts, values):
    """The original MLP (ReLU hidden layers, linear output) with its parameters set to `values`.

    Its constructor draws from the global `random`; the global state is restored afterwards."""
    state = random.getstate()
    try:
        model = ref.MLP(nin, list(nouts))
    finally:
        random.setstate(state)
    set_parameters(model, values)
    return model


def set_parameters(model, values):
    """Overwrite every parameter (lecture order: per neuron, weights then bias) with floats."""
    params = model.parameters()
    if len(params) != len(values):
        raise ValueError(f"expected {len(params)} values, got {len(values)}")
    for p, v in zip(params, values):
        p.data = float(v)


def hinge_step_loss(model, X, y, alpha):
    """Karpathy's demo loss with the original's own ops, in the order of our engines:

    sum((1 + -yi*si).relu()) * (1/n) + alpha * sum(p*p)."""
    scores = [model(x) for x in X]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum((p * p for p in model.parameters()))
    return data_loss + reg_loss


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    ref = load_reference()
    import micrograd
    print("reference:", ref.engine.__file__)
    print("ours:     ", micrograd.__file__)
