import math
from pathlib import Path

import pytest
import torch

import micrograd
from micrograd import MLP, Value
from micrograd.losses import bce_with_logits, hinge, l1, l2, mse
from micrograd.optim import SGD, Adam

torch.set_default_dtype(torch.float64)


def test_our_micrograd_not_the_pypi_one():
    assert Path(micrograd.__file__).resolve().parents[1] == Path(__file__).resolve().parents[1]


def both(fn, *xs):
    """Value and grads of fn on our engine and on torch float64."""
    ours = [Value(x) for x in xs]
    out = fn(*ours)
    out.backward()
    ts = [torch.tensor(float(x), requires_grad=True) for x in xs]
    tout = fn(*ts)
    tout.backward()
    return (out.data, [v.grad for v in ours]), (tout.item(), [t.grad.item() for t in ts])


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= 1e-12 * max(1.0, abs(b))


UNARY = {
    "exp": (lambda x: x.exp(), [-2.0, 0.0, 3.5, 710.0, -800.0]),
    "log": (lambda x: x.log(), [0.5, 2.0, 0.0, -1.0]),
    "tanh": (lambda x: x.tanh(), [-3.0, 0.0, 0.7, 1e6, -1e6]),
    "sigmoid": (lambda x: x.sigmoid(), [-800.0, -3.0, 0.0, 2.0, 800.0]),
    "relu": (lambda x: x.relu(), [-2.0, 3.0, 0.5]),
    "abs": (lambda x: x.abs(), [-2.0, 3.0, 0.0]),
    "neg": (lambda x: -x, [-2.0, 3.0]),
    "square": (lambda x: x ** 2, [-2.0, 3.0, 0.0]),
    "sqrt": (lambda x: x ** 0.5, [4.0, 0.0, -1.0]),
    "cube": (lambda x: x ** 3, [-2.0, 1e200]),
    "inverse": (lambda x: x ** -1, [2.0, 0.0, -0.0]),
    "pow0": (lambda x: x ** 0, [0.0, 2.0]),
    "fractional": (lambda x: x ** 1.5, [-8.0, 4.0]),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_ops_match_torch(name):
    fn, xs = UNARY[name]
    for x in xs:
        (v, g), (tv, tg) = both(fn, x)
        assert same(v, tv), (name, x, v, tv)
        assert same(g[0], tg[0]), (name, x, g, tg)
        assert isinstance(v, float) and isinstance(g[0], float)


BINARY = {
    "add": (lambda a, b: a + b, [(2.0, -3.0)]),
    "sub": (lambda a, b: a - b, [(2.0, -3.0)]),
    "mul": (lambda a, b: a * b, [(2.0, -3.0), (1e200, 1e200), (0.0, math.inf)]),
    "div": (lambda a, b: a / b, [(2.0, -3.0), (1.0, 0.0), (-1.0, 0.0), (0.0, 0.0), (1.0, -0.0)]),
    "pow": (lambda a, b: a ** b,
            [(2.0, 3.0), (2.0, 0.5), (0.0, 2.0), (0.0, 0.0), (-2.0, 0.5), (10.0, 400.0), (0.0, -1.0)]),
    "compose": (lambda a, b: ((a * b).tanh() + (a / b).exp() - (a ** 2 + 1).log()) * b.sigmoid(),
                [(0.3, -1.2), (2.0, 0.5)]),
}


@pytest.mark.parametrize("name", BINARY)
def test_binary_ops_match_torch(name):
    fn, cases = BINARY[name]
    for a, b in cases:
        (v, g), (tv, tg) = both(fn, a, b)
        assert same(v, tv), (name, a, b, v, tv)
        assert all(same(x, y) for x, y in zip(g, tg)), (name, a, b, g, tg)


@pytest.mark.parametrize("fn, x", [
    (lambda x: x.log().relu(), 0.0),        # relu passes back 0; log's local derivative is 1/0 = inf
    (lambda x: (x ** 0.5) * 0.0, 0.0),      # * 0 passes back 0; sqrt's is inf at 0
    (lambda x: (-1.0 / x).relu(), 0.0),
    (lambda x: (x * math.inf).relu(), -1.0),
    (lambda x: (x * math.nan) * 0.0, 2.0),
    (lambda x: (x * 3.0).relu(), -1.0),     # 0 times finite local derivatives: 0
])
def test_a_zero_gradient_through_an_infinite_local_derivative_is_nan_as_in_torch(fn, x):
    (out, grads), (t_out, t_grads) = both(fn, x)
    assert same(out, t_out) and same(grads[0], t_grads[0])


def test_numbers_on_either_side():
    a = Value(3.0)
    for out, expected, grad in [(2 + a, 5.0, 1.0), (2 - a, -1.0, -1.0), (2 * a, 6.0, 2.0),
                                (6 / a, 2.0, -6 / 9), (2 ** a, 8.0, 8 * math.log(2)), (a ** 2, 9.0, 6.0),
                                (a - 1, 2.0, 1.0), (a / 2, 1.5, 0.5), (-a, -3.0, -1.0)]:
        a.grad = 0.0
        out.backward()
        assert out.data == pytest.approx(expected) and a.grad == pytest.approx(grad)


def test_finite_differences_on_a_composition():
    def f(x, y, z):
        return ((x * y + z).tanh() * (x - z).exp() / (y ** 2 + 1.0) + (z * z + 2.0).log() + (x * 3).relu()
                + (y - x).sigmoid())

    xs = [0.3, -0.7, 1.1]
    vals = [Value(x) for x in xs]
    out = f(*vals)
    out.backward()
    h = 1e-6
    for i in range(3):
        up = list(xs); up[i] += h
        down = list(xs); down[i] -= h
        numeric = (f(*map(Value, up)).data - f(*map(Value, down)).data) / (2 * h)
        assert vals[i].grad == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_a_plus_a_accumulates():
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    b = Value(-2.0)
    (a * b + a).backward()  # a.grad accumulates on top of the 2.0 from before
    assert a.grad == 2.0 + (-2.0 + 1.0)


def test_backward_twice_doubles_leaf_grads_only():
    a, b = Value(2.0), Value(-3.0)
    e = a * b
    out = (e + 1.0).tanh()
    out.backward()
    first = (a.grad, b.grad, e.grad)
    out.backward()
    assert (a.grad, b.grad) == (2 * first[0], 2 * first[1])
    assert e.grad == first[2] and out.grad == 1.0


def test_deep_chain_needs_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert y.data == 0.5 and x.grad == 1.0


def test_topological_order_is_the_recursive_depth_first_order():
    """The order fixes in which order backward() sums gradients, so it is pinned down: the
    post-order of the lecture's recursive build_topo visiting children last to first."""
    from micrograd.engine import topological_order
    net = MLP(2, [4, 4, 1], activation="relu", seed=1)
    scores = [net(x) for x in ([0.5, -1.0], [2.0, 0.25], [-0.3, 0.0])]
    x = Value(0.5)
    chains = (-x).relu() + (-(x * 2.0)).tanh() + (-Value(3.0)).exp()  # one-child nodes over leaves and over ops
    root = hinge(scores, [1.0, -1.0, 1.0]) + 1e-3 * l2(net.parameters()) + chains

    expected, visited = [], set()

    def build_topo(v):
        if v not in visited:
            visited.add(v)
            for child in reversed(v._prev):
                build_topo(child)
            expected.append(v)
    build_topo(root)

    order = topological_order(root)
    assert order == expected and len(set(order)) == len(order)
    assert topological_order(root, leaves=False) == [v for v in expected if v._prev]
    leaf = Value(1.0)
    assert topological_order(leaf) == topological_order(leaf, leaves=False) == [leaf]


def test_a_dropped_graph_leaves_nothing_for_the_cycle_collector():
    """No reference cycles: reference counting alone frees a training step's graph."""
    import gc
    net = MLP(2, [4, 4, 1], activation="relu", seed=2)
    gc.collect()
    gc.disable()
    try:
        for _ in range(2):
            loss = hinge([net(x) for x in ([0.5, -1.0], [2.0, 0.25], [-0.3, 0.0])], [1.0, -1.0, 1.0])
            loss = loss + 1e-3 * l2(net.parameters())
            net.zero_grad()
            loss.backward()
            del loss
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_cycle_collector_paused_restores_what_it_found():
    import gc

    from micrograd.engine import cycle_collector_paused
    assert gc.isenabled()
    with cycle_collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), cycle_collector_paused():
        1 / 0
    assert gc.isenabled()  # also after an exception
    gc.disable()
    try:
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_lecture_expression_L():
    a, b, c, f = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c"), Value(-2.0, label="f")
    e = a * b
    d = e + c
    L = d * f
    L.backward()
    assert L.data == -8.0
    assert (a.grad, b.grad, c.grad, f.grad, e.grad, d.grad) == (6.0, -4.0, -2.0, 4.0, -2.0, -2.0)


def test_lecture_tanh_neuron():
    x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    assert o.data == pytest.approx(0.7071067811865476)
    assert (x1.grad, w1.grad, x2.grad, w2.grad) == pytest.approx((-1.5, 1.0, 0.5, 0.0))


def test_fused_ops_give_identical_numbers():
    net = MLP(2, [8, 8, 1], activation="relu", seed=3)
    x = [0.4, -1.3]
    fused = net(x)
    fused.backward()
    grads = [p.grad for p in net.parameters()]
    net.zero_grad()
    plain = net(x, fused=False)
    plain.backward()
    assert fused.data == plain.data
    assert grads == [p.grad for p in net.parameters()]
    ops = lambda root: sum(1 for v in root.topological_order() if v._prev)
    assert ops(fused) == 8 + 8 + 1 + 16  # one node per neuron plus the relus
    assert ops(plain) > 5 * ops(fused)


def test_dots_makes_the_nodes_dot_makes():
    w = [[Value(0.5), Value(-2.0), Value(3.0)], [Value(1.5), Value(0.25), Value(-1.0)]]
    b = [Value(0.1), Value(-0.2)]
    x0, x2 = Value(-1.5), Value(4.0)
    for xs in ([x0, Value(2.0), x2], [1.0, -1.0, 3.0], [x0, 7.0, x2]):  # Values, numbers, both
        layer = Value.dots(w, xs, b)
        for ws, bias, out in zip(w, b, layer):
            one = Value.dot(ws, xs, bias)
            assert (out.data, out._prev, out._local, out._op) == (one.data, one._prev, one._local, "wx+b")
            inputs = [x for x in xs if isinstance(x, Value)]
            assert out._prev == (*ws, *inputs, bias)
            total = bias.data  # the bias first, then each product in turn, as the lecture's sum(..., b)
            for wi, xi in zip(ws, xs):
                total += wi.data * (xi.data if isinstance(xi, Value) else xi)
            assert out.data == total
    mixed = Value.dots(w, [x0, 7.0, x2], b)[0]
    assert mixed._local == (-1.5, 7.0, 4.0, 0.5, 3.0, 1.0)  # inputs for the weights, weights for the inputs


@pytest.mark.parametrize("sizes", [(2, [4, 4, 1]), (3, [5, 3])])
def test_a_batch_builds_the_nodes_of_one_call_per_sample(sizes):
    """net.batch(xs) reads each layer's weights once for the batch; the graph is the same as [net(x) for x in xs]."""
    def structure(root):  # every node's op, value and local derivatives, and which nodes its children are
        order = root.topological_order()
        index = {id(node): i for i, node in enumerate(order)}
        return [(n._op, n.data, n._local, tuple(index[id(c)] for c in n._prev)) for n in order]
    net = MLP(*sizes, activation="relu", seed=4)
    xs = [[0.5, -1.0, 2.0][:sizes[0]], [1.5, 0.25, -3.0][:sizes[0]], [0.0, 0.0, 0.0][:sizes[0]]]
    one_by_one, batched = [net(x) for x in xs], net.batch(xs)
    assert len(batched) == len(xs)
    for single, batch in zip(one_by_one, batched):
        singles, batches = (single, batch) if isinstance(single, list) else ([single], [batch])
        for a, b in zip(singles, batches):
            assert structure(a) == structure(b)
    layer = net.layers[0]  # a layer on its own, too
    assert [structure(v) for v in layer.batch([xs[0]])[0]] == [structure(v) for v in layer(xs[0])]


def test_mlp_shape_seed_and_init():
    a, b = MLP(2, [16, 16, 1], seed=0), MLP(2, [16, 16, 1], seed=0)
    pa = [p.data for p in a.parameters()]
    assert len(pa) == 337
    assert pa == [p.data for p in b.parameters()]
    assert pa != [p.data for p in MLP(2, [16, 16, 1], seed=1).parameters()]
    assert all(-1 <= v <= 1 for v in pa)
    assert isinstance(a([1.0, 2.0]), Value)
    assert len(MLP(2, [3, 2], seed=0)([1.0, 2.0])) == 2
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, [3], activation="swish")


def test_one_check_and_one_count_for_both_engines():
    from micrograd.nn import ACTIVATIONS, activate, check_activation, parameter_count
    from micrograd.tensor_nn import TensorMLP, linear
    assert [check_activation(a) for a in ACTIVATIONS] == list(ACTIVATIONS)
    v = Value(-0.5)
    expected = [math.tanh(-0.5), 0.0, 1 / (1 + math.exp(0.5)), -0.5]
    assert [activate(v, a).data for a in ACTIVATIONS] == pytest.approx(expected)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        activate(v, "swish")
    message = "unknown activation 'swish'; choose one of tanh, relu, sigmoid, linear"
    for make in (lambda: check_activation("swish"), lambda: MLP(2, [3], output_activation="swish"),
                 lambda: TensorMLP(2, [3], activation="swish"),
                 lambda: linear([[1.0]], *TensorMLP(1, [1]).layers[0], activation="swish")):
        with pytest.raises(ValueError) as info:
            make()
        assert str(info.value) == message
    assert parameter_count(2, [16, 16, 1]) == 337 == len(MLP(2, [16, 16, 1]).parameters())
    assert parameter_count(3, [1]) == 4 == TensorMLP(3, [1]).num_parameters()


def test_value_reads_like_the_lecture():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    out = Value(a.data * b.data, (a, b), "*", (b.data, a.data))  # Value(data, children, op, local)
    assert (out._prev, out._op, out.label) == ((a, b), "*", "")
    with pytest.raises(TypeError):
        Value(1.0, (), "", (), "name")  # the label is keyword-only
    out.backward()
    assert (a.grad, b.grad) == (-3.0, 2.0)
    assert out.topological_order() == [a, b, out] or out.topological_order() == [b, a, out]
    from micrograd.engine import topological_order
    assert topological_order(out, leaves=False) == [out]


def torch_mlp(net, activation, output_activation):
    """A torch copy of a scalar MLP (same weights), as a function of the input."""
    layers = []
    for layer in net.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], requires_grad=True)
        b = torch.tensor([n.b.data for n in layer.neurons], requires_grad=True)
        layers.append((W, b))
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "linear": lambda t: t}

    def forward(X):
        h = X
        for i, (W, b) in enumerate(layers):
            h = h @ W.T + b
            h = acts[output_activation if i == len(layers) - 1 else activation](h)
        return h.squeeze(-1)
    return forward, layers


@pytest.mark.parametrize("loss_name", ["mse", "hinge", "bce"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_mlp_loss_and_grads_match_torch(loss_name, activation):
    net = MLP(3, [5, 4, 1], activation=activation, seed=7)
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    scores = [net(x) for x in xs]
    loss = {"mse": mse, "hinge": hinge, "bce": bce_with_logits}[loss_name](scores, ys)
    loss = loss + 1e-3 * l2(net.parameters()) + 1e-3 * l1(net.parameters())
    loss.backward()

    forward, layers = torch_mlp(net, activation, "linear")
    s = forward(torch.tensor(xs))
    y = torch.tensor(ys)
    tloss = {"mse": lambda: ((s - y) ** 2).mean(),
             "hinge": lambda: torch.relu(1 - y * s).mean(),
             "bce": lambda: torch.nn.functional.binary_cross_entropy_with_logits(s, (y + 1) / 2)}[loss_name]()
    params = [t for pair in layers for t in pair]
    tloss = tloss + 1e-3 * sum((p ** 2).sum() for p in params) + 1e-3 * sum(p.abs().sum() for p in params)
    tloss.backward()
    assert loss.data == pytest.approx(tloss.item(), rel=1e-12)
    theirs = []
    for W, b in layers:
        for j in range(W.shape[0]):
            theirs += W.grad[j].tolist() + [b.grad[j].item()]
    assert [p.grad for p in net.parameters()] == pytest.approx(theirs, rel=1e-10, abs=1e-14)


def test_bce_is_stable_for_huge_logits():
    z = Value(1000.0)
    loss = bce_with_logits([z], [-1.0])
    loss.backward()
    assert loss.data == pytest.approx(1000.0) and z.grad == pytest.approx(1.0)


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.1), lambda p: SGD(p, lr=0.05, momentum=0.9), lambda p: Adam(p, lr=0.01),
    lambda p: Adam(p, lr=0.1, betas=(0.8, 0.99), eps=1e-6)])
def test_optimizers_follow_torch_optim(make):
    start = [0.5, -1.5, 2.0]
    ours = [Value(v) for v in start]
    theirs = torch.tensor(start, requires_grad=True)
    opt = make(ours)
    kind = {SGD: torch.optim.SGD, Adam: torch.optim.Adam}[type(opt)]
    kwargs = {"lr": opt.lr}
    kwargs.update({"momentum": opt.momentum} if kind is torch.optim.SGD else {"betas": opt.betas, "eps": opt.eps})
    topt = kind([theirs], **kwargs)
    for _ in range(6):
        opt.zero_grad()
        loss = ((ours[0] * ours[1] - 1.0) ** 2 + ours[2].tanh() * ours[0])
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = (theirs[0] * theirs[1] - 1.0) ** 2 + theirs[2].tanh() * theirs[0]
        tloss.backward()
        topt.step()
    assert [p.data for p in ours] == pytest.approx(theirs.tolist(), rel=1e-12)


def test_lecture_net_trains_on_lecture_data():
    net = MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh", seed=42)
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    opt = SGD(net.parameters(), lr=0.05)
    losses = []
    for _ in range(50):
        loss = mse([net(x) for x in xs], ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.data)
    assert losses[-1] < 0.1 * losses[0]
    assert all(b <= a + 1e-12 for a, b in zip(losses[5:], losses[6:]))
