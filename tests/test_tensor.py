"""The numpy engine (micrograd.tensor, tensor_nn, tensor_losses) against float64 PyTorch and the scalar engine."""
import gc
import warnings
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

import micrograd
from micrograd import losses as scalar_losses
from micrograd.nn import MLP
from micrograd.optim import SGD, Adam
from micrograd.tensor import Tensor
from micrograd.tensor_losses import LOSSES, bce_with_logits, hinge, l1, l2, mse
from micrograd.tensor_nn import TensorMLP, linear

# every numpy warning raised inside our engine is a failure: float64 torch never warns
pytestmark = pytest.mark.filterwarnings("error")


def test_imports_this_repositorys_micrograd():
    # PyPI's micrograd 0.1.0 (the benchmark's reference) must never shadow ours
    assert Path(micrograd.__file__).resolve().parent == Path(__file__).resolve().parents[1] / "micrograd"


# ---------------------------------------------------------------- helpers
def t64(a, grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def close(ours, theirs, rtol=1e-12, atol=1e-14):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours = ours.data if isinstance(ours, Tensor) else np.asarray(ours)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)


def check_op(fn, *arrays, torch_fn=None, seed=0):
    """fn on Tensors and (torch_fn or fn) on torch tensors: same values, same grads for a random upstream grad."""
    ours = [Tensor(a) for a in arrays]
    theirs = [t64(a) for a in arrays]
    out, ref = fn(*ours), (torch_fn or fn)(*theirs)
    close(out, ref)
    upstream = np.random.default_rng(seed).normal(size=ref.shape)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for o, r in zip(ours, theirs):
        assert isinstance(o.grad, np.ndarray) and o.grad.shape == o.data.shape
        close(o.grad, r.grad)


rng = np.random.default_rng(42)


def R(*shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


# ---------------------------------------------------------------- element-wise and broadcasting
BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)),
                    ((3, 4), ()), ((), (2, 2)), ((5,), (1,))]


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_ops_broadcast_like_torch(op, shapes):
    a, b = R(*shapes[0]), R(*shapes[1], low=0.5, high=2.0)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y,
          "mul": lambda x, y: x * y, "div": lambda x, y: x / y}[op]
    check_op(fn, a, b)


@pytest.mark.parametrize("fn", [lambda x: x + 2.5, lambda x: 2.5 + x, lambda x: x - 1.5, lambda x: 1.5 - x,
                                lambda x: x * -3.0, lambda x: -3.0 * x, lambda x: x / 4.0, lambda x: 4.0 / x,
                                lambda x: x * 2, lambda x: -x],
                         ids=["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv", "mul_int", "neg"])
def test_ops_with_python_numbers(fn):
    check_op(fn, R(3, 2, low=0.5, high=3.0))


def test_ops_with_numpy_arrays_on_either_side():
    c = R(4)
    tc = torch.tensor(c)
    check_op(lambda x: x * c + c - x / (c + 3.0), R(3, 4), torch_fn=lambda x: x * tc + tc - x / (tc + 3.0))
    x = Tensor(R(3, 4))
    out = c * x  # ndarray on the left defers to Tensor.__rmul__
    assert isinstance(out, Tensor)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.broadcast_to(c, (3, 4)))


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((3, 4), (4,)), ((4,), (4, 5)), ((4,), (4,)),
                                    ((1, 4), (4, 1))])
def test_matmul_like_torch(shapes):
    check_op(lambda x, y: x @ y, R(*shapes[0]), R(*shapes[1]))


def test_matmul_rejects_batched_operands():
    with pytest.raises(ValueError):
        Tensor(R(2, 3, 4)) @ Tensor(R(4, 2))


@pytest.mark.parametrize("name,low,high", [("exp", -3, 3), ("log", 0.1, 4), ("tanh", -3, 3), ("relu", -2, 2),
                                           ("sigmoid", -30, 30), ("abs", -2, 2)])
def test_unary_functions_like_torch(name, low, high):
    x = R(4, 5, low=low, high=high)
    x[0, 0] = 0.0 if name in ("relu", "abs") else x[0, 0]
    check_op(lambda t: getattr(t, name)(), x, torch_fn=lambda t: getattr(torch, name)(t))


@pytest.mark.parametrize("c", [2, 3, 0.5, -1, -2.5, 0, 1])
def test_pow_by_constant_like_torch(c):
    check_op(lambda t: t ** c, R(3, 4, low=0.2, high=3.0))


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"axis": 1}, {"axis": 1, "keepdims": True},
                                {"axis": (0, 1)}, {"axis": -1}])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_reductions_like_torch(name, kw):
    tkw = {}
    if "axis" in kw:
        tkw["dim"] = kw["axis"]
        tkw["keepdim"] = kw.get("keepdims", False)
    check_op(lambda t: getattr(t, name)(**kw), R(3, 4),
             torch_fn=lambda t: getattr(t, name)(**tkw) if tkw else getattr(t, name)())


def test_reshape_and_transpose_like_torch():
    check_op(lambda t: (t.reshape(4, 3).T * 2.0).reshape(12), R(3, 4),
             torch_fn=lambda t: (t.reshape(4, 3).T * 2.0).reshape(12))


def test_composite_expression_like_torch():
    def f(x, w, b):
        h = (x @ w + b).tanh()
        return ((h * h).sum(axis=1) + (h.relu() - 0.3).abs().mean() + (x.exp() + 1.0).log().sum() / 7.0
                + (h.sigmoid() ** 3).mean())
    check_op(f, R(5, 3), R(3, 4), R(4))


def test_sigmoid_is_stable_for_huge_inputs():
    x = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    check_op(lambda t: t.sigmoid(), x, torch_fn=torch.sigmoid)


# ---------------------------------------------------------------- singular points, as float64 torch
SINGULAR = np.array([0.0, -1.0, 1.0, np.inf, -np.inf, np.nan, 1e308, -1e-320])


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "relu", "sigmoid", "abs", "sqrt", "inv", "sq", "pow0",
                                  "neg_pow", "times_big"])
def test_values_and_grads_at_singular_points_follow_torch(name):
    fns = {"exp": lambda t: t.exp(), "log": lambda t: t.log(), "tanh": lambda t: t.tanh(),
           "relu": lambda t: t.relu(), "sigmoid": lambda t: t.sigmoid(), "abs": lambda t: t.abs(),
           "sqrt": lambda t: t ** 0.5, "inv": lambda t: t ** -1, "sq": lambda t: t ** 2, "pow0": lambda t: t ** 0,
           "neg_pow": lambda t: t ** -0.5, "times_big": lambda t: t * 1e308}
    tfns = dict(fns, exp=torch.exp, log=torch.log, tanh=torch.tanh, relu=torch.relu, sigmoid=torch.sigmoid,
                abs=torch.abs)
    check_op(fns[name], SINGULAR, torch_fn=tfns[name])


def test_division_singular_points_follow_torch():
    a = np.array([0.0, 1.0, -1.0, 0.0, np.inf, 1.0])
    b = np.array([0.0, 0.0, 0.0, 2.0, np.inf, 1e-200])
    check_op(lambda x, y: x / y, a, b)


def test_relu_passes_nan_and_blocks_inf_grads_at_zero_like_torch():
    x = np.array([np.nan, 0.0, -1.0, 2.0])
    check_op(lambda t: t.relu() * np.inf, x, torch_fn=lambda t: torch.relu(t) * np.inf)


def test_overflow_gives_inf_without_warnings():
    big = Tensor([1e300, -1e300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = (big * big + big @ big - big / 0.0).exp()
        out.sum().backward()
    assert np.isinf(out.data).any() or np.isnan(out.data).any()


# ---------------------------------------------------------------- graph mechanics
def test_leaves_accumulate_and_zero_grad_resets():
    x = Tensor(R(3))
    y = (x * x).sum()
    y.backward()
    first = x.grad.copy()
    np.testing.assert_allclose(first, 2 * x.data)
    y.backward()  # a second pass adds the same gradient again, as torch with retain_graph=True
    np.testing.assert_allclose(x.grad, 2 * first)
    x.zero_grad()
    assert x.grad == 0.0
    y.backward()
    np.testing.assert_allclose(x.grad, first)


def test_inner_nodes_hold_only_the_last_pass():
    x = Tensor(R(3))
    h = x.tanh()
    y = (h * 3.0).sum()
    y.backward()
    g1 = h.grad.copy()
    y.backward()
    np.testing.assert_array_equal(h.grad, g1)
    np.testing.assert_allclose(x.grad, 2 * 3.0 * (1 - np.tanh(x.data) ** 2))


def test_same_leaf_used_twice_gets_both_contributions():
    a = Tensor(R(2, 2))
    (a + a).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((2, 2), 2.0))
    b = Tensor(R(2, 2))
    (b * b).sum().backward()
    np.testing.assert_allclose(b.grad, 2 * b.data)


def test_leaf_grads_are_distinct_arrays_and_old_grads_are_never_mutated():
    a, b = Tensor(R(3)), Tensor(R(3))
    y = (a + b).sum()
    y.backward()
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    a_grad_before, saved = a.grad.copy(), a.grad
    y.backward()  # accumulates into a new array, the old one is left alone
    np.testing.assert_array_equal(saved, a_grad_before)
    np.testing.assert_array_equal(a.grad, 2 * a_grad_before)
    a.grad[...] = 99.0  # mutating one leaf's grad leaves the other's alone
    np.testing.assert_array_equal(b.grad, 2 * np.ones(3))


def test_constants_get_no_grad_and_build_no_graph():
    c = Tensor(R(3), requires_grad=False)
    x = Tensor(R(3))
    assert c.grad is None
    d = c * 2.0 + c.exp()
    assert d._prev == () and not d.requires_grad
    (x * c + d).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, c.data)


def test_backward_on_a_non_scalar_seeds_ones_or_the_given_grad():
    x = Tensor(R(2, 3))
    (x * 2.0).backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))
    x.zero_grad()
    (x * 2.0).backward(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.grad, 2.0 * np.arange(6.0).reshape(2, 3))


def test_deep_graph_needs_no_recursion():
    x = Tensor([0.5])
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0])


def test_graph_has_no_reference_cycles():
    gc.collect()
    gc.disable()
    try:
        net = TensorMLP(2, [4, 1], activation="relu", seed=0)
        loss = hinge(net(R(6, 2)), np.sign(R(6))) + 1e-3 * l2(net.parameters())
        inner = weakref.ref(loss._prev[0])
        loss.backward()
        del loss
        assert inner() is None  # freed by reference counting alone
    finally:
        gc.enable()


def test_topo_order_puts_children_first():
    x = Tensor(R(2))
    a = x.exp()
    b = a * x
    c = b + a
    order = c.topological_order()
    pos = {id(n): i for i, n in enumerate(order)}
    for n in order:
        for child in n._prev:
            assert pos[id(child)] < pos[id(n)]
    assert order[-1] is c and len(order) == 4


# ---------------------------------------------------------------- losses and penalties
def _bce_torch(z, y):
    return torch.nn.functional.binary_cross_entropy_with_logits(z, (y > 0).double())


@pytest.mark.parametrize("name", ["mse", "hinge", "bce"])
def test_losses_like_torch(name):
    scores = np.array([-800.0, -30.0, -2.0, -0.5, 0.0, 0.3, 1.0, 1.0, 4.0, 45.0, 900.0])
    labels = np.array([-1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0])
    if name == "mse":
        scores = scores / 100.0
    ours = {"mse": mse, "hinge": hinge, "bce": bce_with_logits}[name]
    assert LOSSES[name] is ours
    theirs = {"mse": lambda s, y: ((s - y) ** 2).mean(), "hinge": lambda s, y: torch.relu(1 - y * s).mean(),
              "bce": _bce_torch}[name]
    s = Tensor(scores)
    ts = t64(scores)
    out, ref = ours(s, labels), theirs(ts, torch.tensor(labels))
    close(out, ref)
    out.backward()
    ref.backward()
    close(s.grad, ts.grad)


def test_bce_accepts_zero_one_labels():
    z = R(7)
    a, b = Tensor(z), Tensor(z)
    la = bce_with_logits(a, np.array([1, 0, 1, 1, 0, 0, 1]))
    lb = bce_with_logits(b, np.array([1, -1, 1, 1, -1, -1, 1]))
    assert la.item() == lb.item()
    la.backward()
    lb.backward()
    np.testing.assert_array_equal(a.grad, b.grad)


def test_mse_gives_a_gradient_to_a_tensor_target():
    check_op(lambda p, y: mse(p, y), R(6), R(6), torch_fn=lambda p, y: ((p - y) ** 2).mean())


def test_penalties_like_torch():
    arrays = [R(3, 2), R(2), R(1)]
    arrays[0][0, 0] = 0.0
    ps = [Tensor(a) for a in arrays]
    ts = [t64(a) for a in arrays]
    out = 0.3 * l1(ps) + 0.7 * l2(ps)
    ref = 0.3 * sum(t.abs().sum() for t in ts) + 0.7 * sum((t * t).sum() for t in ts)
    close(out, ref)
    out.backward()
    ref.backward()
    for p, t in zip(ps, ts):
        close(p.grad, t.grad)


# ---------------------------------------------------------------- the network
def _torch_forward(params, X, acts):
    h = torch.tensor(X)
    for i, act in enumerate(acts):
        h = h @ params[2 * i] + params[2 * i + 1]
        if act != "linear":
            h = getattr(torch, act)(h)
    return h[:, 0] if h.shape[1] == 1 else h


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
@pytest.mark.parametrize("loss", ["mse", "hinge", "bce"])
def test_mlp_forward_loss_and_grads_like_torch(loss, activation, fused):
    X, y = R(12, 3), np.sign(R(12))
    net = TensorMLP(3, [5, 4, 1], activation=activation, output_activation="linear", seed=7)
    params = net.parameters()
    tparams = [t64(p.data) for p in params]
    scores = net(X, fused=fused)
    assert scores.shape == (12,)
    out = LOSSES[loss](scores, y) + 1e-2 * l2(params) + 1e-3 * l1(params)
    tloss = {"mse": lambda s, y: ((s - y) ** 2).mean(), "hinge": lambda s, y: torch.relu(1 - y * s).mean(),
             "bce": _bce_torch}[loss]
    tscores = _torch_forward(tparams, X, net.activations)
    ref = (tloss(tscores, torch.tensor(y)) + 1e-2 * sum((p * p).sum() for p in tparams)
           + 1e-3 * sum(p.abs().sum() for p in tparams))
    close(scores, tscores)
    close(out, ref)
    net.zero_grad()
    out.backward()
    ref.backward()
    for p, t in zip(params, tparams):
        assert isinstance(p.grad, np.ndarray) and p.grad.shape == p.data.shape
        close(p.grad, t.grad)


def test_mlp_multi_output_and_input_grads_like_torch():
    X = R(6, 2)
    net = TensorMLP(2, [3, 4], activation="tanh", output_activation="sigmoid", seed=3)
    x = Tensor(X)
    out = net(x)
    assert out.shape == (6, 4)
    tparams = [t64(p.data) for p in net.parameters()]
    tx = t64(X)
    h = torch.tanh(tx @ tparams[0] + tparams[1])
    ref = torch.sigmoid(h @ tparams[2] + tparams[3])
    close(out, ref)
    G = R(6, 4)
    out.backward(G)
    ref.backward(torch.tensor(G))
    close(x.grad, tx.grad)
    for p, t in zip(net.parameters(), tparams):
        close(p.grad, t.grad)


def test_single_unit_hidden_layer_keeps_2d_shapes():
    net = TensorMLP(2, [1, 3, 1], activation="relu", seed=5)
    X = R(4, 2)
    np.testing.assert_allclose(net(X).data, net(X, fused=False).data, rtol=1e-14)
    assert net(X).shape == (4,)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_fused_layer_at_singular_points_follows_torch(activation):
    # pre-activations 0, nan, 3, -inf, 800, -800 with an inf upstream grad where relu' is 0
    x = np.array([[1.0], [2.0]])
    W = np.array([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    b = np.array([-1.0, np.nan, 2.0, -np.inf, 799.0, -801.0])
    G = np.array([[np.inf, 1.0, 1.0, 1.0, -2.0, 3.0], [0.5, 1.0, -1.0, 2.0, 1.0, 1.0]])
    ours = [Tensor(a) for a in (x, W, b)]
    theirs = [t64(a) for a in (x, W, b)]
    out = linear(*ours, activation=activation)
    z = theirs[0] @ theirs[1] + theirs[2]
    ref = z if activation == "linear" else getattr(torch, activation)(z)
    close(out, ref)
    out.backward(G)
    ref.backward(torch.tensor(G))
    for o, t in zip(ours, theirs):
        close(o.grad, t.grad)


def test_linear_op_validates_and_can_squeeze():
    W, b = Tensor(R(3, 1)), Tensor(R(1))
    assert linear(R(5, 3), W, b).shape == (5, 1)
    assert linear(R(5, 3), W, b, squeeze=True).shape == (5,)
    with pytest.raises(ValueError):
        linear(R(5, 2), W, b)
    with pytest.raises(ValueError):
        linear(R(5, 3), W, b, activation="swish")


@pytest.mark.parametrize("nin,nouts", [(2, [16, 16, 1]), (3, [4, 4, 1]), (2, [3, 5]), (1, [1])])
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_flat_parameters_match_scalar_mlp_order(nin, nouts, seed):
    scalar = MLP(nin, nouts, seed=seed)
    net = TensorMLP(nin, nouts, seed=seed)
    flat = net.flat_parameters()
    assert flat == [p.data for p in scalar.parameters()]
    assert all(type(v) is float for v in flat)
    assert net.num_parameters() == len(scalar.parameters())
    for (W, b), n_in, n_out in zip(net.layers, [nin] + nouts, nouts):
        assert W.shape == (n_in, n_out) and b.shape == (n_out,)


def test_load_parameters_round_trips_and_validates():
    net = TensorMLP(2, [3, 2], seed=0)
    values = [float(v) for v in np.arange(net.num_parameters())]
    W1 = net.layers[0][0].data
    net.load_parameters(values)
    assert net.flat_parameters() == values
    assert net.layers[0][0].data is W1  # in place: optimizers and views stay valid
    assert net.layers[0][0].data[1, 0] == 1.0  # neuron 0's second weight
    assert net.layers[0][1].data[0] == 2.0     # neuron 0's bias
    with pytest.raises(ValueError):
        net.load_parameters(values[:-1])


def test_flat_grads_match_scalar_engine_grads():
    X, y = R(8, 2), np.sign(R(8))
    scalar = MLP(2, [4, 3, 1], activation="tanh", seed=9)
    net = TensorMLP(2, [4, 3, 1], activation="tanh", seed=9)
    assert net.flat_grads() == [0.0] * net.num_parameters()
    s_loss = scalar_losses.hinge([scalar(list(x)) for x in X], [float(v) for v in y]) \
        + 1e-2 * scalar_losses.l2(scalar.parameters())
    s_loss.backward()
    t_loss = hinge(net(X), y) + 1e-2 * l2(net.parameters())
    t_loss.backward()
    np.testing.assert_allclose(net.flat_grads(), [p.grad for p in scalar.parameters()], rtol=1e-10, atol=1e-15)


def test_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError):
        TensorMLP(2, [3, 1], activation="swish")
    with pytest.raises(ValueError):
        TensorMLP(2, [3, 1])(R(4, 3))


# ---------------------------------------------------------------- optimizers on tensors
def test_sgd_momentum_buffers_are_not_aliased_to_grads():
    X, y = R(10, 2), np.sign(R(10))
    net = TensorMLP(2, [4, 1], activation="relu", seed=1)
    opt = SGD(net.parameters(), lr=0.1, momentum=0.9)
    loss = hinge(net(X), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    buffers = [b.copy() for b in opt.buffers]
    for b, p in zip(opt.buffers, net.parameters()):
        assert not np.shares_memory(b, p.grad)
    for p in net.parameters():  # whatever happens to the grads afterwards ...
        p.grad[...] = 1e6
    loss = hinge(net(X), y)
    loss.backward()
    for b, saved in zip(opt.buffers, buffers):  # ... the buffers keep their values
        np.testing.assert_array_equal(b, saved)


def test_optimizers_update_data_in_place_with_grads_of_param_shape():
    X, y = R(10, 2), np.sign(R(10))
    for opt_cls, kw in [(SGD, {"lr": 0.1}), (SGD, {"lr": 0.1, "momentum": 0.5}), (Adam, {"lr": 0.01})]:
        net = TensorMLP(2, [4, 1], activation="tanh", seed=1)
        opt = opt_cls(net.parameters(), **kw)
        assert opt.vectorized
        arrays = [p.data for p in net.parameters()]
        before = [a.copy() for a in arrays]
        for _ in range(2):
            loss = mse(net(X), y)
            opt.zero_grad()
            loss.backward()
            for p in net.parameters():
                assert type(p.grad) is np.ndarray and p.grad.shape == p.data.shape
            opt.step()
        for p, a, b in zip(net.parameters(), arrays, before):
            assert p.data is a and p.data.dtype == np.float64 and not np.array_equal(a, b)


# ---------------------------------------------------------------- engine equivalence
def _moons(n, noise, seed):
    rng = np.random.default_rng(seed)
    n_out = n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n - n_out)
    X = np.vstack([np.r_[np.cos(t_out), 1 - np.cos(t_in)], np.r_[np.sin(t_out), 0.5 - np.sin(t_in)]]).T
    y = np.r_[-np.ones(n_out), np.ones(n - n_out)]
    perm = rng.permutation(n)
    return X[perm] + rng.normal(scale=noise, size=X.shape), y[perm]


def _batches(n, batch, steps, seed):
    if batch is None:
        return [np.arange(n)] * steps
    rng = np.random.default_rng(seed)  # one generator, the same indices for both engines
    return [rng.choice(n, size=batch, replace=False) for _ in range(steps)]


def _optimizer(name, params, lr):
    if name == "adam":
        return Adam(params, lr=lr)
    return SGD(params, lr=lr, momentum=0.9 if name == "momentum" else 0.0)


def _train_scalar(cfg, X, y, batches):
    net = MLP(X.shape[1], cfg["nouts"], cfg["activation"], cfg.get("output_activation", "linear"), seed=cfg["seed"])
    opt = _optimizer(cfg["optimizer"], net.parameters(), cfg["lr"])
    history = []
    for idx in batches:
        preds = [net([float(v) for v in X[i]]) for i in idx]
        loss = scalar_losses.LOSSES[cfg["loss"]](preds, [float(y[i]) for i in idx])
        if cfg.get("l1"):
            loss = loss + cfg["l1"] * scalar_losses.l1(net.parameters())
        if cfg.get("l2"):
            loss = loss + cfg["l2"] * scalar_losses.l2(net.parameters())
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.data)
    return history, [p.data for p in net.parameters()]


def _train_tensor(cfg, X, y, batches):
    net = TensorMLP(X.shape[1], cfg["nouts"], cfg["activation"], cfg.get("output_activation", "linear"),
                    seed=cfg["seed"])
    opt = _optimizer(cfg["optimizer"], net.parameters(), cfg["lr"])
    history = []
    for idx in batches:
        loss = LOSSES[cfg["loss"]](net(X[idx]), y[idx])
        if cfg.get("l1"):
            loss = loss + cfg["l1"] * l1(net.parameters())
        if cfg.get("l2"):
            loss = loss + cfg["l2"] * l2(net.parameters())
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history, net.flat_parameters()


def _assert_equivalent(cfg, n=24, steps=20, batch=None):
    X, y = _moons(n, 0.1, seed=cfg["seed"])
    batches = _batches(n, batch, steps, seed=cfg["seed"] + 100)
    s_hist, s_params = _train_scalar(cfg, X, y, batches)
    t_hist, t_params = _train_tensor(cfg, X, y, batches)
    assert len(s_hist) == len(t_hist) == steps
    np.testing.assert_allclose(t_hist, s_hist, rtol=1e-9, atol=0)
    np.testing.assert_allclose(t_params, s_params, rtol=1e-9, atol=1e-12)
    assert s_hist[-1] != s_hist[0]  # training moved: the comparison is not vacuous


LRS = {"sgd": 0.1, "momentum": 0.05, "adam": 0.02}


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("loss", ["mse", "hinge", "bce"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_engines_agree_step_by_step(activation, loss, optimizer):
    cfg = {"nouts": [6, 5, 1], "activation": activation, "loss": loss, "optimizer": optimizer,
           "lr": LRS[optimizer], "seed": 3}
    _assert_equivalent(cfg, n=20, steps=15)


@pytest.mark.parametrize("batch", [None, 8, 1])
@pytest.mark.parametrize("reg", [{}, {"l2": 1e-3}, {"l1": 1e-3}, {"l1": 1e-3, "l2": 1e-2}])
def test_engines_agree_with_minibatches_and_regularization(batch, reg):
    cfg = {"nouts": [8, 8, 1], "activation": "relu", "loss": "hinge", "optimizer": "momentum", "lr": 0.05,
           "seed": 11, **reg}
    _assert_equivalent(cfg, n=30, steps=25, batch=batch)


@pytest.mark.parametrize("cfg", [
    {"nouts": [16, 16, 1], "activation": "relu", "loss": "hinge", "optimizer": "sgd", "lr": 0.1, "l2": 1e-4},
    {"nouts": [4, 1], "activation": "tanh", "output_activation": "tanh", "loss": "mse", "optimizer": "adam",
     "lr": 0.05, "l1": 1e-3},
    {"nouts": [5, 1], "activation": "sigmoid", "loss": "bce", "optimizer": "adam", "lr": 0.05, "l2": 1e-3},
], ids=["reference", "tanh-output", "bce-adam"])
def test_engines_agree_on_other_setups(cfg):
    _assert_equivalent({"seed": 0, **cfg}, n=24, steps=30, batch=10)


def test_numpy_engine_files_are_short_and_use_public_numpy_only():
    """Split like the scalar side (ops, network, losses); warnings silenced with np.errstate, not numpy internals."""
    folder = Path(micrograd.__file__).resolve().parent
    for name in ("tensor.py", "tensor_nn.py", "tensor_losses.py"):
        text = (folder / name).read_text()
        assert len(text.splitlines()) <= 450, name
        assert "numpy._" not in text and "_core" not in text, name


def test_quietly_silences_numpy_once_and_restores_its_error_state():
    """Ops never warn: on their own (each enters np.errstate), inside quietly() (entered once for a
    training run), and in another thread while one thread is inside quietly()."""
    import threading
    import warnings

    from micrograd.quiet import quiet, quietly

    @quiet
    def overflow(x):
        return np.exp(np.asarray(x)) / np.zeros(1)

    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning would raise
        with np.errstate(all="raise"):  # ...and so would numpy's own error state, if an op did not set it
            assert np.isinf(overflow([1000.0])).all()
            with quietly():
                assert np.isinf(overflow([1000.0])).all()
                assert np.isinf(Tensor([1000.0]).exp().data).all()
                found = []
                thread = threading.Thread(target=lambda: found.append(overflow([1000.0])))
                thread.start()
                thread.join()
                assert np.isinf(found[0]).all()
            assert np.geterr()["over"] == "raise"  # quietly() gave back the error state it found
            with pytest.raises(FloatingPointError):
                np.exp(np.asarray([1000.0]))
    assert np.geterr() == before
