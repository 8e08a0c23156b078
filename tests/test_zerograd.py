"""The zero-grad bug page's computations (lab/zerograd.py), without any UI."""
import inspect
import math

import pytest

from data import LECTURE_X, LECTURE_Y
from lab import zerograd
from lab.config import TrainConfig
from lab.train import estimate_scalar_seconds, make_network
from micrograd.engine import Value
from micrograd.losses import mse
from micrograd.nn import MLP
from micrograd.optim import SGD


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def independent_grad(config, params, xs, ys):
    """d loss / d p at `params`, written out here without lab.zerograd's helpers."""
    net = MLP(len(xs[0]), [*config.hidden, 1], config.activation, config.output_activation, seed=config.seed)
    for p, v in zip(net.parameters(), params):
        p.data = v
        p.grad = 0.0
    loss = mse([net(x, fused=False) for x in xs], ys)  # the unfused graph: same numbers, other nodes
    loss.backward()
    return [p.grad for p in net.parameters()]


@pytest.fixture(scope="module")
def lecture():
    config = zerograd.lecture_config(seed=0, lr=0.05, steps=20)
    xs, ys, _ = zerograd.training_data(config)
    return xs, ys, config, zerograd.run_loops(xs, ys, config, k=2)


def test_lecture_setup_is_the_lecture_data_and_net():
    config = zerograd.lecture_config()
    shared = zerograd.setup(config)
    assert shared.xs == [list(x) for x in LECTURE_X] and shared.ys == list(LECTURE_Y)  # all 4, in order
    assert shared.n_available == 4 and shared.ks == [1, 2, 4]
    assert shared.description == "MLP(3, [4, 4, 1]), tanh"
    net = make_network(config, 3, engine="scalar")
    assert net.sizes == [3, 4, 4, 1] and len(net.parameters()) == 41
    assert [n.activation for layer in net.layers for n in layer.neurons][-1] == "tanh"
    names = shared.parameter_names
    assert len(names) == 41 and names[0] == "layer 1, neuron 1, w1" and names[3] == "layer 1, neuron 1, bias"
    assert shared.net_key == "3_4-4"


def test_at_the_page_defaults_the_bug_visibly_hurts():
    """Issue 14: the page must not teach that skipping zero_grad() helps."""
    comparison = zerograd.compare_loops(zerograd.lecture_config(), zerograd.DEFAULT_K)
    correct, buggy = comparison.final_loss("correct"), comparison.final_loss("buggy")
    assert buggy > 10 * correct and buggy - correct > 0.5, (correct, buggy)
    kind, text = zerograd.verdict(comparison)
    assert kind == "warning" and "the bug hurts" in text


def test_the_verdict_is_honest_when_the_bug_seems_to_help(lecture):
    xs, ys, config, runs = lecture
    comparison = zerograd.LoopComparison(zerograd.setup(config), 2, runs)
    assert runs["buggy"].final_loss < runs["correct"].final_loss  # lr 0.05: the bug "wins" here
    kind, text = zerograd.verdict(comparison)
    assert kind == "info" and "by luck" in text and "never settles" in text
    assert runs["buggy"].update_norm[-1] > 5 * runs["correct"].update_norm[-1]  # which is what the text says


def test_buggy_grad_is_running_sum_of_true_grads(lecture):
    xs, ys, config, runs = lecture
    buggy = runs["buggy"]
    assert len(buggy.step) == 20 and buggy.diverged_at is None
    total = None
    for i in range(len(buggy.step)):
        true = independent_grad(config, buggy.params[i], xs, ys)  # at the buggy loop's own parameters
        total = true if total is None else [a + b for a, b in zip(total, true)]
        assert all(close(g, s) for g, s in zip(buggy.grads[i], total)), f"step {i + 1}"
        # the true grads the page shows are the same numbers
        assert all(close(g, t) for g, t in zip(buggy.true_grads[i], true))
    # and the stored grad is not the true one once steps pile up
    assert not all(close(g, t) for g, t in zip(buggy.grads[-1], buggy.true_grads[-1]))


def test_params_follow_the_updates(lecture):
    xs, ys, config, runs = lecture
    for h in runs.values():
        assert len(h.params) == len(h.step) + 1
        for i in range(len(h.step)):
            expected = [p - 0.05 * g for p, g in zip(h.params[i], h.grads[i])]
            assert all(close(a, b) for a, b in zip(h.params[i + 1], expected))
            step = math.sqrt(sum((a - b) ** 2 for a, b in zip(h.params[i + 1], h.params[i])))
            assert close(h.update_norm[i], step, 1e-6)
            assert close(h.grad_norm[i], math.sqrt(sum(g * g for g in h.grads[i])))


def test_correct_loop_uses_true_grads(lecture):
    xs, ys, config, runs = lecture
    correct = runs["correct"]
    for i in range(len(correct.step)):
        true = independent_grad(config, correct.params[i], xs, ys)
        assert all(close(g, t) for g, t in zip(correct.grads[i], true))
        net = make_network(config, 3, engine="scalar", params=correct.params[i])
        assert close(correct.loss[i], mse([net(x) for x in xs], ys).data)
    net = make_network(config, 3, engine="scalar", params=correct.params[-1])
    assert close(correct.final_loss, mse([net(x) for x in xs], ys).data)


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
    xs, ys, config, runs = lecture
    net = make_network(config, 3, engine="scalar")
    opt = SGD(net.parameters(), lr=0.05, momentum=1.0)
    for i in range(20):
        opt.zero_grad()
        mse([net(x) for x in xs], ys).backward()
        opt.step()
        assert all(math.isclose(p.data, q, rel_tol=1e-7, abs_tol=1e-9)
                   for p, q in zip(net.parameters(), runs["buggy"].params[i + 1]))


@pytest.mark.parametrize("k", [2, 4])
def test_accumulating_k_micro_batches_is_one_big_batch_step(k):
    config = zerograd.lecture_config(seed=3, lr=0.1, steps=1)
    xs, ys, _ = zerograd.training_data(config)
    acc = zerograd.run_loop("accumulate", xs, ys, config, k=k)
    # one step on the k-times larger batch (here: all the data)
    net = make_network(config, 3, engine="scalar")
    loss = mse([net(x) for x in xs], ys)
    net.zero_grad()
    loss.backward()
    big = [p.grad for p in net.parameters()]
    assert all(close(a, b) for a, b in zip(acc.grads[0], big))
    assert close(acc.loss[0], loss.data)
    for p in net.parameters():
        p.data -= 0.1 * p.grad
    assert all(close(a, p.data) for a, p in zip(acc.params[1], net.parameters()))


def test_accumulation_on_a_bigger_set_matches_the_correct_loop():
    """12 samples from a Train-like net: k=3 micro-batches of 4 vs one step on all 12, for 5 updates."""
    import random
    rng = random.Random(1)
    xs = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(12)]
    ys = [1.0 if x[0] * x[1] > 0 else -1.0 for x in xs]
    config = TrainConfig(hidden=(5,), activation="relu", output_activation="linear", seed=2, lr=0.2, steps=5)
    acc = zerograd.run_loop("accumulate", xs, ys, config, k=3)
    cor = zerograd.run_loop("correct", xs, ys, config)
    for a, c in zip(acc.params, cor.params):
        assert all(close(u, v, 1e-8) for u, v in zip(a, c))
    assert zerograd.largest_weight_gap(acc, cor) < 1e-12
    # each update used only its own micro-batches: the grads are the true full-batch ones
    for i in range(5):
        true = independent_grad(config, acc.params[i], xs, ys)
        assert all(close(g, t, 1e-8) for g, t in zip(acc.grads[i], true))


def test_micro_batches():
    xs, ys = list(range(6)), list(range(6))
    assert zerograd.micro_batches(xs, ys, 3) == [([0, 1], [0, 1]), ([2, 3], [2, 3]), ([4, 5], [4, 5])]
    assert zerograd.valid_ks(6) == [1, 2, 3, 6] and zerograd.valid_ks(4) == [1, 2, 4]
    with pytest.raises(ValueError, match="equal"):
        zerograd.micro_batches(xs, ys, 4)
    with pytest.raises(ValueError, match="equal"):
        zerograd.run_loop("accumulate", xs, ys, zerograd.lecture_config(), k=4)


def test_divergence_stops_the_loop():
    xs, ys = [[1.0]], [1.0]
    config = TrainConfig(hidden=(), activation="linear", output_activation="linear", seed=0, lr=1e3, steps=200)
    h = zerograd.run_loop("buggy", xs, ys, config)
    assert h.diverged_at is not None and len(h.step) == h.diverged_at - 1
    assert all(math.isfinite(v) for v in h.loss) and h.final_loss is None
    kind, text = zerograd.verdict(zerograd.LoopComparison(None, 1, {"correct": zerograd.run_loop(
        "correct", xs, ys, config.replace(lr=0.1)), "buggy": h}))
    assert kind == "error" and f"step {h.diverged_at}" in text


# ---------------------------------------------------------------- the code on the page is the code that runs
def test_the_steps_differ_in_exactly_the_zero_grad_line():
    line, good, bad = zerograd.differing_line()
    correct, buggy = zerograd.step_source("correct").splitlines(), zerograd.step_source("buggy").splitlines()
    assert correct[0].startswith("def correct_step(") and buggy[0].startswith("def buggy_step(")
    assert "net.zero_grad()" in good and not good.strip().startswith("#")
    assert bad.strip().startswith("#") and "zero_grad()" in bad
    assert correct[line - 1] == good and buggy[line - 1] == bad
    assert sum(a != b for a, b in zip(correct[1:], buggy[1:])) == 1
    with pytest.raises(ValueError):
        zerograd.differing_line("correct", "accumulate")


def test_the_source_shown_is_the_function_the_loop_calls(monkeypatch):
    """run_loop calls STEPS[variant], and step_source shows that same function's source."""
    for variant, step in zerograd.STEPS.items():
        assert zerograd.step_source(variant) == inspect.getsource(step)
    calls = []

    def spy(net, xs, ys, lr):
        calls.append(lr)
        return zerograd.buggy_step(net, xs, ys, lr)
    monkeypatch.setitem(zerograd.STEPS, "buggy", spy)
    config = zerograd.lecture_config(lr=0.01, steps=3)
    xs, ys, _ = zerograd.training_data(config)
    zerograd.run_loop("buggy", xs, ys, config, true_grads=False)
    assert calls == [0.01, 0.01, 0.01]


def test_code_html_highlights_one_line_and_escapes():
    page = zerograd.code_html("a = 1\nif a < 2: b = '<x>'\n", line=2, color="#ffd7d5")
    assert page.count("background:#ffd7d5") == 1
    assert "&lt;x&gt;" in page and "<x>" not in page and "a &lt; 2" in page


# ---------------------------------------------------------------- the charts
def test_correct_and_accumulation_curves_are_both_visible(lecture):
    _, _, config, runs = lecture
    figures = zerograd.loop_figures(zerograd.LoopComparison(zerograd.setup(config), 2, runs))
    assert set(figures) == {"loss", "grad_norm", "update_norm"}
    for fig in figures.values():
        traces = {t.name.split(" ")[0]: t for t in fig.data}
        correct, accumulation = traces["correct"], traces["accumulation"]
        assert list(correct.y) == pytest.approx(list(accumulation.y))  # the same numbers ...
        assert correct.line.dash != accumulation.line.dash                 # ... drawn differently
        assert correct.marker.symbol != accumulation.marker.symbol
        assert correct.line.width > accumulation.line.width                 # the wide one stays visible under
        assert all("markers" in t.mode for t in fig.data)


def test_running_sum_rows(lecture):
    _, _, _, runs = lecture
    rows = zerograd.running_sum_rows(runs["buggy"], index=5, correct=runs["correct"])
    assert len(rows) == 20 and rows[0]["step"] == 1
    assert rows[0]["buggy loop's p.grad"] == rows[0]["true grad g_t"] == rows[0]["correct loop's p.grad"]
    assert all(abs(r["p.grad − running sum"]) < 1e-12 for r in rows)


def test_train_page_setup_caps_samples():
    cfg = TrainConfig(dataset="moons", n=400, test_fraction=0.2, hidden=(3,), activation="relu", seed=7, steps=10)
    shared = zerograd.setup(cfg)
    assert shared.n_available == 320 and len(shared.xs) == len(shared.ys) == zerograd.MAX_SAMPLES
    assert shared.description == "MLP(2, [3, 1]), relu, linear output"
    assert shared.estimate_seconds() == pytest.approx(
        estimate_scalar_seconds(zerograd.MAX_SAMPLES, cfg.parameter_count(2), 10, passes=4))


# ---------------------------------------------------------------- = instead of +=
def test_overwrite_backward_wrong_exactly_where_a_node_is_reused():
    examples = zerograd.overwrite_examples()
    assert [e.expression for e in examples] == ["a + a", "a * b + a", "tanh(w1*x + w2*x + b)"]
    for e in examples:
        uses = zerograd.uses(e.right_root)
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
    zerograd.overwrite_backward(out)
    assert a.grad == 1.0  # the right answer is 2
    a, b = Value(2.0), Value(-3.0)
    out = a * b + a
    zerograd.overwrite_backward(out)
    assert (a.grad, b.grad) == (-3.0, 2.0)  # right: (b + 1, a) = (-2, 2)
    by_expr = {e.expression: e for e in zerograd.overwrite_examples()}
    rows = {r["variable"]: r for r in by_expr["tanh(w1*x + w2*x + b)"].rows}
    assert rows["x"]["wrong?"] and not any(rows[v]["wrong?"] for v in ("w1", "w2", "b"))
    t = math.tanh(1.2 * 0.5 - 0.4 * 0.5 + 0.1)
    assert close(rows["x"]["right grad (+=)"], (1.2 - 0.4) * (1 - t * t))


def test_overwrite_matches_engine_on_a_tree():
    """No node used twice: the buggy backward is right everywhere."""
    x, w, b = Value(0.3), Value(-0.7), Value(0.2)
    out = (x * w + b).tanh()
    zerograd.overwrite_backward(out)
    wrong = [x.grad, w.grad, b.grad]
    x2, w2, b2 = Value(0.3), Value(-0.7), Value(0.2)
    (x2 * w2 + b2).tanh().backward()
    assert wrong == [x2.grad, w2.grad, b2.grad]
