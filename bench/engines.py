#!/usr/bin/env python
"""Benchmark the training step of every engine on the reference problem (docs: shared DESIGN.md).

    python bench/engines.py [--quick]

Reference step: two moons (n=100, noise 0.1, seed 0), MLP 2-16-16-1 with ReLU
hidden layers and a linear output, hinge loss mean(relu(1 - y*score)) plus
1e-4 * sum(p^2), plain SGD. Every engine starts from the same initial weights
(micrograd.nn.init_weights, seed 0) and trains on the same data, so after the
same number of steps they must report the same loss (relative 1e-9); the script
exits with status 1 and names the engines that disagree otherwise.

Engines: micrograd 0.1.0 from PyPI (the original, loaded by bench/reference.py
from .vendor/, never installed into the environment), our scalar engine
(micrograd.nn.MLP), our numpy engine (micrograd.tensor_nn.TensorMLP), PyTorch
float64 on one thread, and a hand-written numpy forward/backward. One more row,
`lab.train`, is the app's training loop on the numpy engine: the same step plus
everything it records per step (data loss, penalty, accuracy, test loss and
accuracy on 25 held-out points, gradient norm, a weight snapshot for replay); its
ms/step is the median of the loop's own per-step time stamps, so building the data
and the net is not counted, and it is compared with the hand-written step timed the
same way (a median per step, in turns).

Our two engines run each step with Python's cycle collector paused, as lab.train
does (micrograd.engine.cycle_collector_paused: their graphs have no cycles); the
original runs as its author wrote it. The scalar engine's ratio with the collector
left running is printed too.

Timing: CPU time of this process (time.process_time) around a block of steps,
which on a shared machine is far steadier than wall time (every engine runs on
one thread, so it is the wall time of a quiet machine). ms/step is the median
over blocks of (block time / steps); engines take turns block by block so that
a busy machine slows them alike. The speedup over micrograd 0.1.0 is a median
of rounds: each round times the original and our scalar engine back to back
and divides the two, so both sides of every ratio see the same machine; its
range, and the same ratio in wall time (time.perf_counter), are printed too.
Model building is not timed. Memory: tracemalloc peak of one training step above
the memory held before it (torch's tensors live in its own C++ allocator, which
tracemalloc does not see: its figure is the Python side only). BLAS runs on one thread for numpy and torch alike.

`--quick` prints one table, the one in the README's benchmark section, and the
checks; a full run adds more rounds and steps, the original's memory, 1,000
steps of the scalar engine's memory and the scaling sections.
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy and torch load their BLAS

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import numpy as np  # noqa: E402

import micrograd  # noqa: E402
from micrograd import losses as scalar_losses  # noqa: E402
from micrograd import tensor_losses, tensor_nn  # noqa: E402
from micrograd.engine import cycle_collector_paused  # noqa: E402
from micrograd.nn import MLP, init_weights, parameter_count  # noqa: E402
from micrograd.optim import SGD  # noqa: E402
import reference  # noqa: E402  (bench/reference.py)

if not Path(micrograd.__file__).resolve().is_relative_to(ROOT):
    sys.exit(f"error: imported micrograd from {micrograd.__file__}, not from this repository")

LR, ALPHA, SEED, NOISE = 0.1, 1e-4, 0, 0.1
RTOL = 1e-9
CLOCK = time.process_time  # CPU seconds of this process: see "Timing" above
SPEEDUP_TARGET, SPEEDUP_AIM = 80, 100  # scalar engine vs micrograd 0.1.0 (issue 17)


# ------------------------------------------------------------------ data and initial weights
def make_moons(n, noise=NOISE, seed=SEED):
    """Two interleaving half circles the way sklearn.datasets.make_moons draws them
    (shuffled, then Gaussian noise), from numpy's default_rng(seed); labels -1/+1."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(t_out), 1 - np.cos(t_in)),
                   np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5)]).T
    y = np.hstack([-np.ones(n_out), np.ones(n_in)])
    perm = rng.permutation(n)
    X, y = X[perm], y[perm]
    X = X + rng.normal(scale=noise, size=X.shape)
    return X, y


def initial_layers(sizes, seed=SEED):
    """Per layer (W of shape (nin, nout), b of shape (nout,)) from micrograd.nn.init_weights."""
    return [(np.array([w for w, _ in layer]).T.copy(), np.array([b for _, b in layer]))
            for layer in init_weights(sizes[0], sizes[1:], seed)]


def flat_values(layers):
    """Lecture order: per layer, per neuron, its weights then its bias."""
    return [v for W, b in layers for j in range(W.shape[1]) for v in (*W[:, j], b[j])]


# ------------------------------------------------------------------ engines: reset() then step() -> loss
class Original:
    name = "micrograd 0.1.0 (original)"

    def __init__(self, X, y, sizes):
        self.ref = reference.load_reference()
        self.X, self.y, self.sizes = X.tolist(), y.tolist(), sizes
        self.values = flat_values(initial_layers(sizes))

    def reset(self):
        self.model = reference.make_mlp(self.ref, self.sizes[0], self.sizes[1:], self.values)

    def step(self):
        model = self.model
        loss = reference.hinge_step_loss(model, self.X, self.y, ALPHA)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= LR * p.grad
        return float(loss.data)


class Ours:
    """Our engines run each step with the cycle collector paused, as lab.train does."""

    def step(self):
        with cycle_collector_paused():
            return self.step_collector_running()


class Scalar(Ours):
    name = "ours: scalar (Value)"

    def __init__(self, X, y, sizes):
        self.X, self.y, self.sizes = X.tolist(), y.tolist(), sizes

    def reset(self):
        self.net = MLP(self.sizes[0], self.sizes[1:], activation="relu", output_activation="linear", seed=SEED)
        self.params = self.net.parameters()
        self.opt = SGD(self.params, LR)

    def step_collector_running(self):
        loss = scalar_losses.hinge(self.net.batch(self.X), self.y) + ALPHA * scalar_losses.l2(self.params)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.data


class Numpy(Ours):
    name = "ours: numpy (Tensor)"

    def __init__(self, X, y, sizes):
        self.X, self.y, self.sizes = X, y, sizes

    def reset(self):
        self.net = tensor_nn.TensorMLP(self.sizes[0], self.sizes[1:], activation="relu", output_activation="linear",
                               seed=SEED)
        self.params = self.net.parameters()
        self.opt = SGD(self.params, LR)

    def step_collector_running(self):
        loss = tensor_losses.hinge(self.net(self.X), self.y) + ALPHA * tensor_losses.l2(self.params)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


class ScalarCollectorRunning(Scalar):
    """Our scalar engine with Python's cycle collector left running during the step: what pausing it buys."""
    name = "ours: scalar, cycle collector running"

    def step(self):
        return self.step_collector_running()


class Torch:
    name = "PyTorch f64, 1 thread"

    def __init__(self, X, y, sizes):
        import torch
        torch.set_num_threads(1)
        self.torch = torch
        self.X = torch.tensor(X, dtype=torch.float64)
        self.y = torch.tensor(y, dtype=torch.float64)
        self.layers = initial_layers(sizes)

    def reset(self):
        torch = self.torch
        self.params = [torch.tensor(a, dtype=torch.float64, requires_grad=True)
                       for layer in self.layers for a in layer]
        self.opt = torch.optim.SGD(self.params, lr=LR)

    def step(self):
        torch, params = self.torch, self.params
        h = self.X
        last = len(params) // 2 - 1
        for i in range(last + 1):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < last:
                h = torch.relu(h)
        scores = h[:, 0]
        loss = torch.relu(1 - self.y * scores).mean() + ALPHA * sum((p * p).sum() for p in params)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


class HandNumpy:
    name = "hand-written numpy"

    def __init__(self, X, y, sizes):
        self.X, self.y, self.layers = X, y, initial_layers(sizes)

    def reset(self):
        self.params = [(W.copy(), b.copy()) for W, b in self.layers]

    def step(self):
        X, y, params = self.X, self.y, self.params
        n = len(y)
        # forward: keep each layer's input and pre-activation
        inputs, pre = [], []
        h = X
        for i, (W, b) in enumerate(params):
            inputs.append(h)
            z = h @ W + b
            pre.append(z)
            h = np.maximum(z, 0.0) if i < len(params) - 1 else z
        scores = h[:, 0]
        margins = 1.0 - y * scores
        loss = np.maximum(margins, 0.0).mean() + ALPHA * sum((W * W).sum() + (b * b).sum() for W, b in params)
        # backward
        dz = (np.where(margins > 0, -y, 0.0) / n)[:, None]
        for i in range(len(params) - 1, -1, -1):
            W, b = params[i]
            dW = inputs[i].T @ dz
            db = dz.sum(axis=0)
            if i:
                dz = (dz @ W.T) * (pre[i - 1] > 0)
            W -= LR * (dW + 2 * ALPHA * W)
            b -= LR * (db + 2 * ALPHA * b)
        return float(loss)


def lab_train_dataset(X, y, test_fraction=0.2, seed=SEED):
    """A Dataset whose training split (lab's train_test_split with `seed`) is exactly (X, y), in
    order, plus fresh moons points as its test split: lab.train then trains on the reference data."""
    from data import Dataset, train_test_split
    n_test = round(len(y) * test_fraction / (1 - test_fraction))
    total = len(y) + n_test
    order = np.random.default_rng(seed).permutation(total)  # the permutation train_test_split draws
    X_test, y_test = make_moons(n_test, seed=seed + 1)
    rows, labels = np.empty((total, 2)), np.empty(total)
    rows[order[n_test:]], labels[order[n_test:]] = X, y
    rows[order[:n_test]], labels[order[:n_test]] = X_test, y_test
    dataset = Dataset("reference moons", rows, labels, "classification", ("x1", "x2"))
    train_set, _ = train_test_split(dataset, test_fraction, seed=seed)
    assert np.array_equal(train_set.X, X) and np.array_equal(train_set.y, y)
    return dataset


class LabTrain:
    """lab.train.train on the numpy engine: not a step() engine, a whole run per block."""
    name = "lab.train (numpy)"

    def __init__(self, X, y, sizes):
        from lab.config import TrainConfig
        self.dataset = lab_train_dataset(X, y)
        self.config = TrainConfig(hidden=tuple(sizes[1:-1]), activation="relu", output_activation="linear",
                                  loss="hinge", optimizer="sgd", lr=LR, lr_schedule="constant", l2=ALPHA,
                                  test_fraction=0.2, data_seed=SEED, seed=SEED, engine="numpy")

    def run(self, steps):
        """(ms per step: the median of the loop's own step times, from its time stamps; the objective per
        step: data loss + penalty)."""
        from lab.train import train
        h = train(self.config.replace(steps=steps), dataset=self.dataset).history
        ms = statistics.median(np.diff(h["time"])) * 1e3
        return ms, [loss + penalty for loss, penalty in zip(h["train_loss"], h["penalty"])]


def time_lab_train(lab, hand, steps, repeats):
    """lab.train's ms/step and hand-written numpy's, measured in turns: for each, the median step
    time of a run, then the median over repeats (a median ignores the odd step a busy machine
    interrupts, on both sides alike)."""
    lab_ms, hand_ms, losses = [], [], None
    lab.run(10)  # warm up
    for _ in range(repeats):
        hand.reset()
        gc.collect()
        stamps = [time.perf_counter()]
        for _ in range(steps):
            hand.step()
            stamps.append(time.perf_counter())
        hand_ms.append(statistics.median(np.diff(stamps)) * 1e3)
        gc.collect()
        ms, run_losses = lab.run(steps)
        lab_ms.append(ms)
        losses = losses or run_losses
    return statistics.median(lab_ms), statistics.median(hand_ms), losses


ENGINES = [Original, Scalar, Numpy, Torch, HandNumpy]
VECTORIZED = [Numpy, Torch, HandNumpy]


# ------------------------------------------------------------------ measuring
def time_engines(engines, steps, repeats, budget=0.0, max_factor=5):
    """Round-robin timing: each round times one block of `steps[name]` steps per engine.

    Every engine gets `repeats[name]` blocks; engines with more than one repeat then
    get further rounds while the cell has used less than `budget` seconds (at most
    max_factor times their repeats), so cheap cells collect more samples.
    Returns {name: (median ms/step over blocks, losses of the first block)}."""
    times = {e.name: [] for e in engines}
    history = {}
    for e in engines:
        if steps[e.name] >= 10:  # warm up: caches, allocators, lazy initialisation
            e.reset()
            for _ in range(3):
                e.step()
    started = time.perf_counter()
    r = 0
    while True:
        due = [e for e in engines
               if r < repeats[e.name]
               or (repeats[e.name] > 1 and r < max_factor * repeats[e.name]
                   and time.perf_counter() - started < budget)]
        if not due:
            break
        for e in due:
            e.reset()
            n = steps[e.name]
            gc.collect()
            losses = []
            start = CLOCK()
            for _ in range(n):
                losses.append(e.step())
            elapsed = CLOCK() - start
            times[e.name].append(elapsed / n * 1e3)
            history.setdefault(e.name, losses)
        r += 1
    return {name: (statistics.median(ts), history[name]) for name, ts in times.items()}


def time_against_reference(reference, engines, steps, rounds, blocks):
    """Interleaved rounds: the slow `reference` runs one block of `steps` steps, each of `engines`
    `blocks` blocks of the same steps (its round time is their median), the order reversed
    every other round. Every block starts from the initial weights.

    Returns {name: (median CPU ms/step over rounds, losses of the first block)} and, per engine
    name, the per-round ratios reference time / engine time, in CPU time and in wall time."""
    for engine in engines:
        engine.reset()
        for _ in range(3):  # warm up (the reference's first step is as slow as the others)
            engine.step()
    cpu = {e.name: [] for e in (reference, *engines)}
    wall = {e.name: [] for e in (reference, *engines)}
    history = {}
    for r in range(rounds):
        for e in (reference, *engines) if r % 2 == 0 else (*engines, reference):
            cpu_times, wall_times = [], []
            for _ in range(1 if e is reference else blocks):
                e.reset()
                gc.collect()
                start, wall_start = CLOCK(), time.perf_counter()
                losses = [e.step() for _ in range(steps)]
                cpu_times.append((CLOCK() - start) / steps * 1e3)
                wall_times.append((time.perf_counter() - wall_start) / steps * 1e3)
                history.setdefault(e.name, losses)
            cpu[e.name].append(statistics.median(cpu_times))
            wall[e.name].append(statistics.median(wall_times))

    def ratios(times):
        return {e.name: [a / b for a, b in zip(times[reference.name], times[e.name])] for e in engines}
    return {name: (statistics.median(ts), history[name]) for name, ts in cpu.items()}, ratios(cpu), ratios(wall)


def peak_step_memory(engine, warm=True):
    """tracemalloc: peak bytes allocated during one step above what was held before it."""
    engine.reset()
    if warm:
        engine.step()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        engine.step()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def memory_over_steps(engine, steps):
    """Live memory blocks after each of `steps` steps (sys.getallocatedblocks: no tracing slowdown)."""
    engine.reset()
    gc.collect()
    blocks = np.zeros(steps, dtype=np.int64)  # not a list: its own int objects would count as growth
    for i in range(steps):
        engine.step()
        blocks[i] = sys.getallocatedblocks()
    return blocks.tolist()


def rel_diff(a, b):
    if a == b:
        return 0.0
    if not (np.isfinite(a) and np.isfinite(b)):
        return np.inf
    return abs(a - b) / max(abs(a), abs(b))


def fmt_ms(ms):
    return "-" if ms is None else (f"{ms:.4g}" if ms < 1000 else f"{ms:,.0f}")


def fmt_bytes(b):
    return f"{b / 2**20:.3f} MiB" if b >= 2**20 else f"{b / 2**10:.1f} KiB"


# ------------------------------------------------------------------ the run
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats, skip the slowest cells (<1 min)")
    args = parser.parse_args(argv)
    quick = args.quick

    n_check = 3 if quick else 5             # steps every engine runs from the initial weights: the loss check
    fast_steps, fast_reps, fast_budget = (50, 25, 4.0) if quick else (100, 41, 15.0)
    rounds, scalar_blocks = (5, 7) if quick else (9, 9)  # original vs scalar: rounds of n_check steps each
    flat_steps = 200 if quick else 1000
    scale_steps, scale_reps, scale_budget = (10, 7, 1.0) if quick else (25, 15, 4.0)
    torch_version = __import__("torch").__version__

    started = time.perf_counter()
    sizes = [2, 16, 16, 1]
    X, y = make_moons(100)
    n_params = parameter_count(sizes[0], sizes[1:])
    print(f"Reference step: two moons n=100 noise={NOISE} seed={SEED}; MLP {'-'.join(map(str, sizes))} "
          f"({n_params} parameters), ReLU hidden, linear output; hinge + {ALPHA:g}*sum(p^2); SGD lr={LR}")
    print(f"{'quick' if quick else 'full'} run: Python {platform.python_version()}, numpy {np.__version__}, "
          f"torch {torch_version}, {os.cpu_count()} CPUs, BLAS threads 1; ms/step = CPU time per step, "
          f"median over blocks, engines interleaved")
    engines = [cls(X, y, sizes) for cls in ENGINES]
    for e in engines:
        e.reset()  # the first torch.optim.SGD() imports torch._dynamo: a large heap of long-lived objects
    gc.collect()
    gc.freeze()  # keep that long-lived heap out of every later collection, as in a small script
    by_name = {e.name: e for e in engines}
    fast = [e for e in engines if not isinstance(e, (Original, Scalar))]

    results = time_engines(fast, {e.name: fast_steps for e in fast}, {e.name: fast_reps for e in fast},
                           budget=fast_budget)
    running = ScalarCollectorRunning(X, y, sizes)
    paired, cpu_ratios, wall_ratios = time_against_reference(by_name[Original.name], [by_name[Scalar.name], running],
                                                             n_check, rounds, scalar_blocks)
    running_loss = paired.pop(running.name)[1][n_check - 1]
    results.update(paired)
    ratios, running_ratios = cpu_ratios[Scalar.name], cpu_ratios[running.name]
    lab = LabTrain(X, y, sizes)
    lab_ms, lab_hand_ms, lab_losses = time_lab_train(lab, by_name[HandNumpy.name], fast_steps, fast_reps)
    # one traced step of the original costs seconds (tracemalloc slows its ~65k-node graph down): full runs only
    memory = {e.name: peak_step_memory(e, warm=not isinstance(e, Original)) for e in engines
              if not (quick and isinstance(e, Original))}

    torch_ms, orig_ms = results[Torch.name][0], results[Original.name][0]
    speedup = statistics.median(ratios)
    spread = f"{min(ratios):.0f}–{max(ratios):.0f}"
    print()
    print(f"| engine | ms/step | speed vs micrograd 0.1.0 | time vs PyTorch | peak memory/step* | loss after {n_check} "
          f"steps | loss after {fast_steps} steps |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for e in engines:
        ms, hist = results[e.name]
        if isinstance(e, Original):
            vs_original = "1×"
        elif isinstance(e, Scalar):
            vs_original = f"**{speedup:.0f}×** ({spread})"
        else:
            vs_original = f"{orig_ms / ms:,.0f}×"
        long_loss = f"{hist[fast_steps - 1]:.15g}" if len(hist) >= fast_steps else "–"
        mem = fmt_bytes(memory[e.name]) + ("**" if isinstance(e, Torch) else "") if e.name in memory else "–"
        vs_torch = f"{ms / torch_ms:,.0f}×" if ms / torch_ms >= 100 else f"{ms / torch_ms:.3g}×"
        print(f"| {e.name} | {fmt_ms(ms)} | {vs_original} | {vs_torch} | {mem} | {hist[n_check - 1]:.15g} "
              f"| {long_loss} |")
    print(f"| {lab.name} | {fmt_ms(lab_ms)} | {orig_ms / lab_ms:,.0f}× | {lab_ms / torch_ms:.3g}× | – "
          f"| {lab_losses[n_check - 1]:.15g} | {lab_losses[fast_steps - 1]:.15g} |")
    print()
    print(f"Speed vs micrograd 0.1.0: for our scalar engine the median of {rounds} rounds that each time both "
          f"engines back to back (range in brackets); for the others the ratio of medians.")
    print("*  tracemalloc: peak traced bytes during one step above the bytes held before it")
    print("** torch allocates tensor storage in C++, outside tracemalloc's view: Python-side objects only")
    print(f"–  the scalar engines run blocks of {n_check} steps"
          + ("; the original's memory is measured in full runs only (one traced step takes seconds)" if quick else ""))

    # ---- the loss check: (name, step, its loss, the reference's name) against the reference at that step
    ref_name, long_name = Scalar.name, Numpy.name
    reference_loss = {n_check: results[ref_name][1][n_check - 1], fast_steps: results[long_name][1][fast_steps - 1]}
    checks = [(e.name, n_check, results[e.name][1][n_check - 1], ref_name) for e in engines]
    checks += [(lab.name, n_check, lab_losses[n_check - 1], ref_name), (running.name, n_check, running_loss, ref_name),
               (lab.name, fast_steps, lab_losses[fast_steps - 1], long_name)]
    checks += [(cls.name, fast_steps, results[cls.name][1][fast_steps - 1], long_name) for cls in VECTORIZED]
    failures, worst = [], 0.0
    for name, step, loss, against in checks:
        d = rel_diff(loss, reference_loss[step])
        worst = max(worst, d)
        if d > RTOL:
            failures.append(f"{name}: loss@{step} {loss!r} vs {reference_loss[step]!r} ({against}), relative {d:.2e}")
    print()
    if failures:
        print(f"LOSS CHECK FAILED (relative tolerance {RTOL:g}):")
        for f in failures:
            print("  " + f)
    else:
        print(f"loss check: all engines agree (largest relative difference {worst:.1e} <= {RTOL:g})")

    # ---- targets
    numpy_ms, hand_ms = results[Numpy.name][0], results[HandNumpy.name][0]

    def verdict(ok):
        return "met" if ok else "MISSED"

    print(f"scalar engine vs micrograd 0.1.0: {speedup:.1f}x faster, median of {rounds} rounds (range {spread}x) "
          f"(target >= {SPEEDUP_TARGET}x: {verdict(speedup >= SPEEDUP_TARGET)}; aim {SPEEDUP_AIM}x); in wall time "
          f"{statistics.median(wall_ratios[Scalar.name]):.1f}x (range {min(wall_ratios[Scalar.name]):.0f}–"
          f"{max(wall_ratios[Scalar.name]):.0f}x)")
    print(f"  the same with Python's cycle collector running during each step (what lab.train pauses): "
          f"{statistics.median(running_ratios):.1f}x (range {min(running_ratios):.0f}–{max(running_ratios):.0f}x)")
    print(f"numpy engine vs PyTorch f64 1 thread: {numpy_ms / torch_ms:.2f}x the time "
          f"(target <= 0.5x: {verdict(numpy_ms <= 0.5 * torch_ms)})")
    print(f"numpy engine vs hand-written numpy: {numpy_ms / hand_ms:.2f}x the time "
          f"(target <= 1.5x: {verdict(numpy_ms <= 1.5 * hand_ms)})")
    lab_ratio = lab_ms / lab_hand_ms
    print(f"lab.train step vs hand-written numpy (measured in turns): {lab_ratio:.2f}x the time "
          f"(target <= 1.5x: {verdict(lab_ratio <= 1.5)}; aim 1.2x)")

    # ---- scalar memory stays flat
    blocks = memory_over_steps(by_name[Scalar.name], flat_steps)
    growth = blocks[-1] - blocks[9]
    flat = abs(growth) < 200  # a leaked graph would add thousands of blocks per step
    print(f"scalar engine memory (live allocated blocks after a step): step 10 {blocks[9]:,d}, "
          f"step {flat_steps} {blocks[-1]:,d} ({growth:+,d}): {'flat' if flat else 'GROWING'}")
    if not flat:
        failures.append(f"scalar engine memory grew by {growth:,d} blocks between step 10 and step {flat_steps}")

    # ---- scaling (full runs)
    def scaling(title, cells, slow_ok):
        """cells: [(label, sizes, n)]; slow_ok(label) -> whether the scalar engine runs that cell."""
        rows = {cls.name: [] for cls in [Scalar] + VECTORIZED}
        for label, sz, n in cells:
            Xs, ys = make_moons(n)
            es = [cls(Xs, ys, sz) for cls in VECTORIZED]
            st = {e.name: scale_steps for e in es}
            rp = {e.name: scale_reps for e in es}
            if slow_ok(label):
                es.insert(0, Scalar(Xs, ys, sz))
                st[Scalar.name], rp[Scalar.name] = 2, 1
            res = time_engines(es, st, rp, budget=scale_budget)
            for name in rows:
                rows[name].append(res[name][0] if name in res else None)
            last = {name: res[name][1][-1] for name in res if len(res[name][1]) == scale_steps}
            for name, value in last.items():
                d = rel_diff(value, last[Numpy.name])
                if d > RTOL:
                    failures.append(f"{title} {label}: {name} loss@{scale_steps} {value!r} vs "
                                    f"{last[Numpy.name]!r} ({Numpy.name}), relative {d:.2e}")
        print()
        print(f"{title} (ms/step)".ljust(36) + "".join(f"{label:>11}" for label, _, _ in cells))
        for name, values in rows.items():
            print(f"{name:<36}" + "".join(f"{fmt_ms(v):>11}" for v in values))
        for other in (Torch.name, HandNumpy.name):
            ratios = [f"{a / b:.2f}x" for a, b in zip(rows[Numpy.name], rows[other])]
            print(f"{'  numpy engine / ' + other.split(',')[0]:<36}" + "".join(f"{r:>11}" for r in ratios))

    if not quick:
        scaling("samples, MLP 2-16-16-1", [(f"n={n:,}", sizes, n) for n in (100, 1000, 10000)],
                lambda label: label in ("n=100", "n=1,000"))
        scaling("width w, MLP 2-w-w-1, n=100", [(f"w={w}", [2, w, w, 1], 100) for w in (16, 64, 256)],
                lambda label: label in ("w=16", "w=64"))
        print("('-': the scalar engine is skipped where a step takes seconds; it runs 2 steps elsewhere)")

    print()
    print(f"total time {time.perf_counter() - started:.1f} s")
    if failures:
        print("FAILED:")
        for f in failures:
            print("  " + f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
