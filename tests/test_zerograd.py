"""The zero-grad bug page's computations (lab/zerograd.py), without any UI."""
import math

import pytest

from lab import zerograd as zg
from micrograd.engine import Value
from micrograd.losses import mse
from micrograd.nn import MLP
from micrograd.optim import SGD


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def independent_grad(spec, params, xs, ys):
    """d loss / d p at `params`, written out here without lab.zerograd's helpers."""
    net = MLP(spec.nin, [*spec.hidden, 1], spec.activation, spec.output_activation, seed=spec.seed)
    for p, v in zip(net.parameters(), params):
        p.data = v
        p.grad = 0.0
    loss = mse([net(x, fused=False) for x in xs], ys)  # the unfused graph: same numbers, other nodes
    loss.backward()
    return [p.grad for p in net.parameters()]


@pytest.fixture(scope="module")
def lecture():
    xs, ys, spec = zg.lecture_setup(seed=0)
    return xs, ys, spec, zg.run_loops(xs, ys, spec, lr=0.05, steps=20, k=2)


def test_lecture_defaults():
    xs, ys, spec = zg.lecture_setup()
    assert len(xs) == 4 and ys == [1.0, -1.0, -1.0, 1.0]
    net = spec()
    assert net.sizes == [3, 4, 4, 1] and len(net.parameters()) == 41
    assert [n.activation for layer in net.layers for n in layer.neurons][-1] == "tanh"
    assert len(zg.parameter_names(spec)) == 41
    assert zg.parameter_names(spec)[0] == "layer 1, neuron 1, w1"
    assert zg.parameter_names(spec)[3] == "layer 1, neuron 1, bias"


def test_buggy_grad_is_running_sum_of_true_grads(lecture):
    xs, ys, spec, runs = lecture
    buggy = runs["buggy"]
    assert len(buggy.step) == 20 and buggy.diverged_at is None
    total = None
    for i in range(len(buggy.step)):
        true = independent_grad(spec, buggy.params[i], xs, ys)  # at the buggy loop's own parameters
        total = true if total is None else [a + b for a, b in zip(total, true)]
        assert all(close(g, s) for g, s in zip(buggy.grads[i], total)), f"step {i + 1}"
        # the true grads the page shows are the same numbers
        assert all(close(g, t) for g, t in zip(buggy.true_grads[i], true))
    # and the stored grad is not the true one once steps pile up
    assert not all(close(g, t) for g, t in zip(buggy.grads[-1], buggy.true_grads[-1]))


def test_params_follow_the_updates(lecture):
    xs, ys, spec, runs = lecture
    for h in runs.values():
        assert len(h.params) == len(h.step) + 1
        for i in range(len(h.step)):
            expected = [p - 0.05 * g for p, g in zip(h.params[i], h.grads[i])]
            assert all(close(a, b) for a, b in zip(h.params[i + 1], expected))
            step = math.sqrt(sum((a - b) ** 2 for a, b in zip(h.params[i + 1], h.params[i])))
            assert close(h.update_norm[i], step, 1e-6)
            assert close(h.grad_norm[i], math.sqrt(sum(g * g for g in h.grads[i])))


def test_correct_loop_uses_true_grads(lecture):
    xs, ys, spec, runs = lecture
    correct = runs["correct"]
    for i in range(len(correct.step)):
        true = independent_grad(spec, correct.params[i], xs, ys)
        assert all(close(g, t) for g, t in zip(correct.grads[i], true))
        net = spec()
        net.load_parameters(correct.params[i])
        assert close(correct.loss[i], mse([net(x) for x in xs], ys).data)


def test_step_one_is_the_same_update(lecture):
    _, _, _, runs = lecture
    c, b = runs["correct"], runs["buggy"]
    assert c.params[0] == b.params[0]
    assert c.grads[0] == b.grads[0]
    assert c.params[1] == b.params[1]
    assert c.loss[0] == b.loss[0] and c.update_norm[0] == b.update_norm[0]
    assert c.params[2] != b.params[2]  # they part ways at step 2


def test_buggy_grad_norm_grows(lecture):
    _, _, _, runs = lecture
    b, c = runs["buggy"], runs["correct"]
    assert b.grad_norm[-1] > 5 * b.grad_norm[0]
    assert b.update_norm[-1] > 5 * c.update_norm[-1]


def test_buggy_loop_is_sgd_with_momentum_one(lecture):
    xs, ys, spec, runs = lecture
    net = spec()
    opt = SGD(net.parameters(), lr=0.05, momentum=1.0)
    for i in range(20):
        opt.zero_grad()
        mse([net(x) for x in xs], ys).backward()
        opt.step()
        assert all(math.isclose(p.data, q, rel_tol=1e-7, abs_tol=1e-9)
                   for p, q in zip(net.parameters(), runs["buggy"].params[i + 1]))


@pytest.mark.parametrize("k", [2, 4])
def test_accumulating_k_micro_batches_is_one_big_batch_step(k):
    xs, ys, spec = zg.lecture_setup(seed=3)
    acc = zg.run_loop("accumulate", xs, ys, spec, lr=0.1, steps=1, k=k)
    # one step on the k-times larger batch (here: all the data)
    net = spec()
    loss = mse([net(x) for x in xs], ys)
    net.zero_grad()
    loss.backward()
    big = [p.grad for p in net.parameters()]
    assert all(close(a, b) for a, b in zip(acc.grads[0], big))
    assert close(acc.loss[0], loss.data)
    for p in net.parameters():
        p.data -= 0.1 * p.grad
    assert all(close(a, p.data) for a, p in zip(acc.params[1], net.parameters()))


def test_accumulation_on_a_bigger_set_matches_the_correct_loop_and_zeroes():
    """12 samples from a Train-like net: k=3 micro-batches of 4 vs one step on all 12, for 5 updates."""
    import random
    rng = random.Random(1)
    xs = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(12)]
    ys = [1.0 if x[0] * x[1] > 0 else -1.0 for x in xs]
    spec = zg.NetSpec(2, (5,), "relu", "linear", seed=2)
    acc = zg.run_loop("accumulate", xs, ys, spec, lr=0.2, steps=5, k=3)
    cor = zg.run_loop("correct", xs, ys, spec, lr=0.2, steps=5)
    for a, c in zip(acc.params, cor.params):
        assert all(close(u, v, 1e-8) for u, v in zip(a, c))
    # each update used only its own micro-batches: the grads are the true full-batch ones
    for i in range(5):
        true = independent_grad(spec, acc.params[i], xs, ys)
        assert all(close(g, t, 1e-8) for g, t in zip(acc.grads[i], true))


def test_micro_batches():
    xs, ys = list(range(6)), list(range(6))
    assert zg.micro_batches(xs, ys, 3) == [([0, 1], [0, 1]), ([2, 3], [2, 3]), ([4, 5], [4, 5])]
    assert zg.valid_ks(6) == [1, 2, 3, 6] and zg.valid_ks(4) == [1, 2, 4]
    with pytest.raises(ValueError, match="equal"):
        zg.micro_batches(xs, ys, 4)


def test_divergence_stops_the_loop():
    xs, ys = [[1.0]], [1.0]
    spec = zg.NetSpec(1, (), "linear", "linear", seed=0)
    h = zg.run_loop("buggy", xs, ys, spec, lr=1e3, steps=200)
    assert h.diverged_at is not None and len(h.step) == h.diverged_at - 1
    assert all(math.isfinite(v) for v in h.loss)


def test_code_strings_differ_in_exactly_the_zero_grad_line():
    line, good, bad = zg.differing_line()
    assert len(zg.CORRECT_LOOP.splitlines()) == len(zg.BUGGY_LOOP.splitlines())
    assert "zero_grad()" in good and not good.strip().startswith("#")
    assert bad.strip().startswith("#")
    assert zg.CORRECT_LOOP.splitlines()[line - 1] == good
    assert sum(a != b for a, b in zip(zg.CORRECT_LOOP.splitlines(), zg.BUGGY_LOOP.splitlines())) == 1
    with pytest.raises(ValueError):
        zg.differing_line(zg.CORRECT_LOOP, zg.CORRECT_LOOP)


def test_code_strings_say_what_the_loops_do():
    """The shown loops are the executed ones: the same loss and update."""
    for code in (zg.CORRECT_LOOP, zg.BUGGY_LOOP, zg.ACCUMULATE_LOOP):
        assert "p.data -= lr * p.grad" in code and "mse(" in code and "loss.backward()" in code
    assert "/ k" in zg.ACCUMULATE_LOOP and "zero_grad()" in zg.ACCUMULATE_LOOP


def test_running_sum_rows(lecture):
    _, _, _, runs = lecture
    rows = zg.running_sum_rows(runs["buggy"], index=5, correct=runs["correct"])
    assert len(rows) == 20 and rows[0]["step"] == 1
    assert rows[0]["buggy loop's p.grad"] == rows[0]["true grad g_t"] == rows[0]["correct loop's p.grad"]
    assert all(abs(r["p.grad − running sum"]) < 1e-12 for r in rows)


# ---------------------------------------------------------------- = instead of +=
def test_overwrite_backward_wrong_exactly_where_a_node_is_reused():
    examples = zg.overwrite_examples()
    assert [e.expression for e in examples] == ["a + a", "a * b + a", "tanh(w1*x + w2*x + b)"]
    for e in examples:
        uses = zg.uses(e.right_root)
        wrong_ids = {id(n) for n in e.wrong_nodes}
        for wrong, right in zip(e.wrong_root.topological_order(), e.right_root.topological_order()):
            reused = uses[right] > 1
            assert (id(wrong) in wrong_ids) == reused, (e.expression, right.label)
            assert (not close(wrong.grad, right.grad)) == reused
        for row in e.rows:
            assert row["wrong?"] == (row["uses"] > 1)
            assert math.isclose(row["right grad (+=)"], row["finite difference"], rel_tol=1e-6, abs_tol=1e-7)
            if row["wrong?"]:
                assert not math.isclose(row["wrong grad (=)"], row["finite difference"], rel_tol=1e-3)
        assert any(r["wrong?"] for r in e.rows)


def test_overwrite_known_values():
    a = Value(3.0)
    out = a + a
    zg.overwrite_backward(out)
    assert a.grad == 1.0  # the right answer is 2
    a, b = Value(2.0), Value(-3.0)
    out = a * b + a
    zg.overwrite_backward(out)
    assert (a.grad, b.grad) == (-3.0, 2.0)  # right: (b + 1, a) = (-2, 2)
    by_expr = {e.expression: e for e in zg.overwrite_examples()}
    rows = {r["variable"]: r for r in by_expr["tanh(w1*x + w2*x + b)"].rows}
    assert rows["x"]["wrong?"] and not any(rows[v]["wrong?"] for v in ("w1", "w2", "b"))
    t = math.tanh(1.2 * 0.5 - 0.4 * 0.5 + 0.1)
    assert close(rows["x"]["right grad (+=)"], (1.2 - 0.4) * (1 - t * t))


def test_overwrite_matches_engine_on_a_tree():
    """No node used twice: the buggy backward is right everywhere."""
    x, w, b = Value(0.3), Value(-0.7), Value(0.2)
    out = (x * w + b).tanh()
    zg.overwrite_backward(out)
    wrong = [x.grad, w.grad, b.grad]
    x2, w2, b2 = Value(0.3), Value(-0.7), Value(0.2)
    (x2 * w2 + b2).tanh().backward()
    assert wrong == [x2.grad, w2.grad, b2.grad]


def test_train_page_setup_caps_samples():
    from lab.config import TrainConfig
    cfg = TrainConfig(dataset="moons", n=400, test_fraction=0.2, hidden=(3,), activation="relu", seed=7)
    xs, ys, spec, available = zg.train_page_setup(cfg)
    assert available == 320 and len(xs) == len(ys) == zg.MAX_SAMPLES
    assert spec == zg.NetSpec(2, (3,), "relu", "linear", 7)
    assert zg.train_page_setup(cfg, seed=1)[2].seed == 1
    assert zg.estimate_seconds(200, 100, 10) > 0
