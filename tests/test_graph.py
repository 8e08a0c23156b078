"""draw_dot, graph sizes, collapsing, presets and the backprop step-through."""
import os
import re
import subprocess
import sys
from pathlib import Path

import graphviz
import pytest

from micrograd import MLP, Value
from micrograd.backprop import (FDRow, Step, backward_steps, done_after, finite_difference_check,
                                first_non_finite, grads_after, node_names)
from micrograd.expr import parse_expression
from micrograd.graph import (ALARM_COLOR, CHILD_COLOR, HIGHLIGHT_COLOR, GraphTooLarge, dot_ids, draw_dot,
                             draw_step_dot, edge_count, find_neurons, format_number, graph_size, neuron_columns,
                             neuron_groups, step_style, svg_id, to_svg)
from micrograd.presets import PRESET_DEFAULTS, PRESETS, build_preset, mlp_lecture

ROOT = Path(__file__).resolve().parents[1]
NODE = re.compile(r"^\t(\w+) \[", re.M)
EDGE = re.compile(r"^\t(\w+) -> (\w+)", re.M)


def nodes_of(dot):
    return [n for n in NODE.findall(dot.source) if n not in ("graph", "node", "edge")]


def edges_of(dot):
    return EDGE.findall(dot.source)


def node_line(dot, node_id):
    return next(line for line in dot.source.splitlines() if line.startswith(f"\t{node_id} ["))


def id_of(root, v):
    return f"n{root.topological_order().index(v)}"


def find(root, label):
    return next(v for v in root.topological_order() if v.label == label)


# ---------------------------------------------------------------- expected sizes, by hand
def mlp_expected(sizes=(3, 4, 4, 1)):
    """(values, ops, edges) of the MLP preset, counted from the net's shape alone.

    Per neuron with nin inputs (unfused): nin weights + 1 bias (leaves), nin products,
    nin sums and one tanh (ops). Plus the 3 shared inputs, the target y and two ops
    (out - y, **2)."""
    leaves, ops, binary = 3 + 1, 2, 1        # x0..x2, y; (out - y) binary, **2 unary
    for nin, nout in zip(sizes, sizes[1:]):
        leaves += nout * (nin + 1)
        ops += nout * (2 * nin + 1)
        binary += nout * 2 * nin
    unary = ops - binary
    return leaves + ops, ops, ops + 2 * binary + unary


EXPECTED = {  # (value nodes, op nodes, edges)
    "L = (a*b + c)*f": (7, 3, 9),        # a b c f e d L; * + *; 3 ops x (2 in + 1 out)
    "tanh neuron": (10, 5, 14),          # 5 leaves + 5 ops; 4 binary (3 edges) + tanh (2)
    "tanh via exp": (17, 9, 26),         # + leaves 2, 1, 1 and ops 2*n exp e-1 e+1 /
    "a + a": (2, 1, 3),                  # a, b; + has a twice: two edges a -> +
    "MLP(3, [4, 4, 1]) forward + loss": mlp_expected(),
}


def test_expected_mlp_counts():
    assert mlp_expected() == (120, 75, 215)


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_node_and_edge_counts(name):
    root = PRESETS[name]()
    values, ops, edges = EXPECTED[name]
    assert graph_size(root) == (values, ops)
    dot = draw_dot(root)
    ids = nodes_of(dot)
    assert len(ids) == len(set(ids)) == values + ops
    assert sum(i.endswith("op") for i in ids) == ops
    assert len(edges_of(dot)) == edges
    assert all(src in ids and dst in ids for src, dst in edges_of(dot))


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_values_and_defaults(name):
    fn = PRESETS[name]
    assert PRESET_DEFAULTS[name] == fn.defaults
    root = fn()
    leaves = {v.label for v in root.topological_order() if not v._prev}
    assert set(fn.defaults) <= leaves
    # overriding an input changes the result; unknown inputs are refused
    key = next(iter(fn.defaults))
    changed = fn({key: fn.defaults[key] + 0.5})
    assert changed.data != root.data
    with pytest.raises(ValueError, match="unknown input"):
        fn({"nope": 1.0})


def test_preset_numbers_from_the_lecture():
    assert build_preset("L = (a*b + c)*f").data == -8.0
    assert build_preset("tanh neuron").data == pytest.approx(0.7071067811865476)
    assert build_preset("tanh via exp").data == pytest.approx(0.7071067811865476)
    assert build_preset("a + a").data == 6.0
    net, xs, loss = mlp_lecture()
    ref = MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh", seed=0)
    out = ref([2.0, 3.0, -1.0], fused=False)
    assert loss.data == pytest.approx((out.data - 1.0) ** 2, rel=1e-15)
    assert [x.label for x in xs] == ["x0", "x1", "x2"]
    with pytest.raises(KeyError, match="unknown preset"):
        build_preset("nope")


def test_tanh_neuron_labels():
    root = PRESETS["tanh neuron"]()
    labels = [v.label for v in root.topological_order()]
    for label in ["x1", "x2", "w1", "w2", "b", "x1*w1", "x2*w2", "x1*w1 + x2*w2", "n", "o"]:
        assert label in labels


# ---------------------------------------------------------------- records
def test_records_show_data_and_grad():
    L = PRESETS["L = (a*b + c)*f"]()
    L.backward()
    dot = draw_dot(L)
    src = dot.source
    assert "{ a | data 2.0000 | grad 6.0000 }" in src
    assert "{ b | data -3.0000 | grad -4.0000 }" in src
    assert "{ L | data -8.0000 | grad 1.0000 }" in src
    assert 'shape=record' in node_line(dot, id_of(L, find(L, "a")))
    op_line = node_line(dot, id_of(L, L) + "op")
    assert 'label="*"' in op_line and "shape=circle" in op_line
    assert 'rankdir=LR' in src
    no_grad = draw_dot(L, show_grad=False).source
    assert "grad" not in no_grad and "{ a | data 2.0000 }" in no_grad


def test_number_format():
    assert format_number(0.5) == "0.5000"
    assert format_number(-0.0) == "0.0000"
    assert format_number(1.23456e7) == "1.2346e+07"
    assert format_number(float("nan")) == "nan"
    assert format_number(float("-inf")) == "-inf"


def test_record_labels_are_escaped():
    a = Value(1.0, label='a|b{c}<d>"e"')
    out = a * 2.0
    src = draw_dot(out).source
    assert r'a\|b\{c\}\<d\>\"e\"' in src


def test_unlabelled_nodes_can_be_numbered():
    a = Value(2.0, label="a")
    out = (a * 3.0).tanh()
    assert "#" not in draw_dot(out).source
    src = draw_dot(out, number_unlabelled=True).source
    names = node_names(out)
    for v in out.topological_order():
        assert f"{{ {names[v]} |" in src


def test_rankdir():
    L = PRESETS["L = (a*b + c)*f"]()
    assert "rankdir=TB" in draw_dot(L, rankdir="TB").source
    with pytest.raises(ValueError, match="rankdir"):
        draw_dot(L, rankdir="sideways")


def test_returns_a_digraph_and_no_binary_is_needed(monkeypatch):
    L = PRESETS["L = (a*b + c)*f"]()
    dot = draw_dot(L)
    assert isinstance(dot, graphviz.Digraph)
    monkeypatch.setattr("micrograd.graph.shutil.which", lambda name: None)
    assert to_svg(dot) is None
    assert to_svg(dot.source) is None


# ---------------------------------------------------------------- highlight and done
def test_highlight_colours_the_node_and_its_op():
    L = PRESETS["L = (a*b + c)*f"]()
    e = find(L, "e")
    dot = draw_dot(L, highlight=[e])
    assert HIGHLIGHT_COLOR in node_line(dot, id_of(L, e))
    assert HIGHLIGHT_COLOR in node_line(dot, id_of(L, e) + "op")
    assert dot.source.count(HIGHLIGHT_COLOR) == 2
    dot = draw_dot(L, highlight={find(L, "a"): "#ff0000", find(L, "b"): "#00ff00"})
    assert "#ff0000" in node_line(dot, id_of(L, find(L, "a")))
    assert "#00ff00" in node_line(dot, id_of(L, find(L, "b")))
    assert HIGHLIGHT_COLOR not in dot.source
    assert HIGHLIGHT_COLOR in draw_dot(L, highlight=L).source   # a single Value works too


def test_done_set_greys_pending_grads():
    L = PRESETS["L = (a*b + c)*f"]()
    L.backward()
    d, f = find(L, "d"), find(L, "f")
    dot = draw_dot(L, done={L, d, f})
    assert "{ d | data 4.0000 | grad -2.0000 }" in dot.source
    assert "{ a | data 2.0000 | grad ? }" in dot.source
    assert "grey" in node_line(dot, id_of(L, find(L, "a")))
    assert "grey" not in node_line(dot, id_of(L, d))
    assert dot.source.count("grad ?") == 4          # a b c e


def test_done_mapping_from_step_through():
    L = PRESETS["L = (a*b + c)*f"]()                 # no backward(): all .grad are 0
    steps = backward_steps(L)
    dot = draw_dot(L, done=done_after(L, 2, steps), highlight=[steps[1].node])
    src = dot.source
    assert "{ L | data -8.0000 | grad 1.0000 }" in src
    assert "{ d | data 4.0000 | grad -2.0000 }" in src
    assert "{ f | data -2.0000 | grad 4.0000 }" in src
    assert src.count("grad ?") == 4
    final = draw_dot(L, done=done_after(L, len(steps), steps)).source
    assert "grad ?" not in final and "{ a | data 2.0000 | grad 6.0000 }" in final


# ---------------------------------------------------------------- cap and collapse
def test_cap_raises_graph_too_large():
    loss = PRESETS["MLP(3, [4, 4, 1]) forward + loss"]()
    with pytest.raises(GraphTooLarge) as info:
        draw_dot(loss, max_nodes=100)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == "graph has 195 nodes, over the cap of 100; collapse it or use a smaller net"
    assert (info.value.n_nodes, info.value.max_nodes) == (195, 100)
    assert len(nodes_of(draw_dot(loss, max_nodes=195))) == 195      # exactly at the cap is fine


def test_default_cap_on_a_big_net():
    net = MLP(2, [16, 16, 1], activation="relu", seed=0)
    out = net([0.5, -0.25], fused=False)
    with pytest.raises(GraphTooLarge, match="over the cap of 400"):
        draw_dot(out)
    dot = draw_dot(out, collapse=net)          # 33 neurons + 2 input groups
    assert len(nodes_of(dot)) == 35


def test_collapse_mlp_by_net():
    net, xs, loss = mlp_lecture()
    groups = neuron_groups(net, loss)
    names = sorted(set(groups.values()))
    assert names == [f"L{layer} N{n}" for layer, k in ((1, 4), (2, 4), (3, 1)) for n in range(k)]
    # each neuron: its weights, bias, products, running sums and tanh
    sizes = {name: sum(1 for g in groups.values() if g == name) for name in names}
    assert sizes["L1 N0"] == 3 + 1 + 3 + 3 + 1 and sizes["L2 N3"] == 4 + 1 + 4 + 4 + 1
    assert all(x not in groups for x in xs)                 # shared named inputs stay visible
    for p in net.parameters():
        assert p in groups
    assert graph_size(loss, groups) == (15, 2)              # 9 groups, x0-2, y, out-y, loss
    full = sum(graph_size(loss))
    dot = draw_dot(loss, collapse=net)
    ids = nodes_of(dot)
    assert len(ids) == 17 < full and len(ids) <= 400
    assert sum(i.startswith("g") for i in ids) == 9
    assert "{ L3 N0 | 14 nodes | data" in dot.source
    edges = edges_of(dot)
    assert len(edges) == len(set(edges)) == 12 + 4 * 4 + 4 + 5      # x->L1, L1->L2, L2->L3, loss ops
    # explicit groups give the same drawing
    assert draw_dot(loss, groups=groups).source == dot.source


def test_collapse_true_finds_neurons_without_the_net():
    net, xs, loss = mlp_lecture()
    auto = draw_dot(loss, collapse=True)
    assert len(nodes_of(auto)) == 17
    assert sum(1 for i in nodes_of(auto) if i.startswith("g")) == 9
    assert len(set(find_neurons(loss).values())) == 9
    # the lecture's single neuron collapses to one node; the L expression has none
    assert len(nodes_of(draw_dot(PRESETS["tanh neuron"](), collapse=True))) == 1
    L = PRESETS["L = (a*b + c)*f"]()
    assert draw_dot(L, collapse=True).source == draw_dot(L).source


def test_collapse_with_float_inputs_and_fused_graphs():
    net = MLP(3, [4, 4, 1], seed=1)
    out = net([2.0, 3.0, -1.0], fused=False)          # inputs wrapped in a Value per use
    groups = neuron_groups(net, out)
    assert {"x0", "x1", "x2"} <= set(groups.values())
    dot = draw_dot(out, collapse=net)
    assert len(nodes_of(dot)) == 9 + 3
    assert "{ x0 | 4 nodes | data 2.0000" in dot.source
    fused = net([2.0, 3.0, -1.0], fused=True)
    dot = draw_dot(fused, collapse=net)
    assert len(nodes_of(dot)) == 9


def test_collapsed_group_highlight_and_done():
    net, xs, loss = mlp_lecture()
    groups = neuron_groups(net, loss)
    member = next(v for v, g in groups.items() if g == "L2 N1")
    dot = draw_dot(loss, groups=groups, highlight=[member], done=set())
    line = next(line for line in dot.source.splitlines() if "L2 N1" in line)
    assert HIGHLIGHT_COLOR in line and "grad ?" in line


def test_dot_is_stable():
    a = draw_dot(PRESETS["MLP(3, [4, 4, 1]) forward + loss"]()).source
    b = draw_dot(PRESETS["MLP(3, [4, 4, 1]) forward + loss"]()).source
    assert a == b
    assert "id(" not in a and re.search(r"\b\d{9,}\b", a) is None   # no id()-style names
    code = ("from micrograd.presets import PRESETS; from micrograd.graph import draw_dot; "
            "r = PRESETS['MLP(3, [4, 4, 1]) forward + loss'](); "
            "print(draw_dot(r).source + draw_dot(r, collapse=True).source, end='')")
    runs = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    loss = PRESETS["MLP(3, [4, 4, 1]) forward + loss"]()
    assert runs[0] == runs[1] == draw_dot(loss).source + draw_dot(loss, collapse=True).source


# ---------------------------------------------------------------- step-through
@pytest.mark.parametrize("name", list(PRESETS))
def test_steps_are_reverse_topological(name):
    root = PRESETS[name]()
    steps = backward_steps(root)
    assert steps[0].is_seed and steps[0].node is root and steps[0].contributions == ((root, 1.0),)
    order = root.topological_order()
    assert [s.node for s in steps[1:]] == [v for v in reversed(order) if v._prev]
    assert [s.index for s in steps] == list(range(len(steps)))
    assert len(steps) == 1 + graph_size(root)[1]
    # every node is processed only after every node that uses it
    processed = {s.node: s.index for s in steps[1:]}
    processed[root] = 0
    for s in steps[1:]:
        for child, _ in s.contributions:
            if child._prev:
                assert processed[child] > s.index


@pytest.mark.parametrize("name", list(PRESETS))
def test_all_steps_give_the_engine_grads(name):
    root = PRESETS[name]()
    steps = backward_steps(root)
    grads = grads_after(root, len(steps), steps)
    assert all(v.grad == 0.0 for v in root.topological_order())      # nothing touched
    root.backward()
    for v in root.topological_order():
        assert grads[v] == v.grad
    assert done_after(root, len(steps), steps) == grads


def test_lecture_L_steps():
    L = PRESETS["L = (a*b + c)*f"]()
    steps = backward_steps(L)
    assert [s.name for s in steps] == ["L", "L", "d", "e"]
    grads = {v.label: g for v, g in grads_after(L, len(steps)).items()}
    assert grads == {"a": 6.0, "b": -4.0, "c": -2.0, "f": 4.0, "e": -2.0, "d": -2.0, "L": 1.0}
    assert steps[0].rule.startswith("L.grad = 1")
    assert steps[1].rules == ("d.grad += f.data · L.grad", "f.grad += d.data · L.grad")
    assert steps[2].rules == ("e.grad += 1 · d.grad", "c.grad += 1 · d.grad")
    assert steps[3].rules == ("a.grad += b.data · e.grad", "b.grad += a.data · e.grad")
    assert steps[3].numbers[0] == "a.grad += -3.0000 · -2.0000 = 6.0000"
    assert [(c.label, g) for c, g in steps[3].contributions] == [("a", 6.0), ("b", -4.0)]
    # state after k steps, from scratch
    assert all(g == 0.0 for g in grads_after(L, 0).values())
    assert done_after(L, 0) == {}
    assert done_after(L, 1) == {L: 1.0}
    assert {v.label for v in done_after(L, 2)} == {"L", "d", "f"}
    assert {v.label for v in done_after(L, 3)} == {"L", "d", "f", "e", "c"}
    partial = grads_after(L, 2)
    assert partial[find(L, "a")] == 0.0 and partial[find(L, "d")] == -2.0
    for bad in (-1, 5, 1.5, True):
        with pytest.raises(ValueError, match="k must be"):
            grads_after(L, bad)


def test_step_rules_for_each_op():
    o = PRESETS["tanh neuron"]()
    steps = backward_steps(o)
    assert steps[1].rules == ("n.grad += (1 − o.data²) · o.grad",)
    root = PRESETS["tanh via exp"]()
    order = root.topological_order()
    number = {v.label: f"#{i}" for i, v in enumerate(order)}       # labels that are not plain names
    e_steps = {s.node.label: s for s in backward_steps(root)}
    assert e_steps["e"].rules == (f"{number['2*n']}.grad += e.data · e.grad",)
    top, bottom = number["e - 1"], number["e + 1"]
    assert e_steps["o"].rules == (f"{top}.grad += (1 / {bottom}.data) · o.grad",
                                  f"{bottom}.grad += (−{top}.data / {bottom}.data²) · o.grad")
    one = e_steps["e - 1"].node._prev[1]                           # one of the two leaves labelled 1
    assert e_steps["e - 1"].rules[1] == f"#{order.index(one)}.grad += −1 · {number['e - 1']}.grad"
    x = Value(3.0, label="x")
    sq = x ** 2; sq.label = "sq"
    assert backward_steps(sq)[1].rules == ("x.grad += 2·x.data¹ · sq.grad",)
    inv = x ** -1; inv.label = "inv"
    assert backward_steps(inv)[1].rules == ("x.grad += -1·x.data⁻² · inv.grad",)
    r = x.relu(); r.label = "r"
    assert "x.data > 0" in backward_steps(r)[1].rule
    s = Value.sum([x, x]); s.label = "s"
    assert backward_steps(s)[1].rules == ("x.grad += 1 · s.grad",) * 2
    assert isinstance(backward_steps(s)[0], Step)


def test_step_rules_for_fused_neurons():
    w = [Value(0.5, label="w0"), Value(-1.0, label="w1")]
    b = Value(0.1, label="b")
    xs = [Value(2.0, label="x0"), Value(3.0, label="x1")]
    out = Value.dot(w, xs, b); out.label = "act"
    rules = backward_steps(out)[1].rules
    assert rules == ("w0.grad += x0.data · act.grad", "w1.grad += x1.data · act.grad",
                     "x0.grad += w0.data · act.grad", "x1.grad += w1.data · act.grad",
                     "b.grad += 1 · act.grad")
    out2 = Value.dot(w, [2.0, 3.0], b); out2.label = "act"
    rules = backward_steps(out2)[1].rules
    assert rules[0].startswith("w0.grad += x0 · act.grad") and rules[-1] == "b.grad += 1 · act.grad"


def test_a_plus_a_step():
    b = PRESETS["a + a"]()
    steps = backward_steps(b)
    a = find(b, "a")
    assert steps[1].contributions == ((a, 1.0), (a, 1.0))
    assert steps[1].rules == ("a.grad += 1 · b.grad",) * 2
    assert grads_after(b, 2)[a] == 2.0


def test_unlabelled_names_in_rules():
    net = MLP(2, [2, 1], seed=0)
    out = net([1.0, -1.0], fused=False)
    steps = backward_steps(out)
    names = node_names(out)
    assert steps[1].name == names[out] == f"#{len(out.topological_order()) - 1}"
    assert all("?" not in s.rule for s in steps)


# ---------------------------------------------------------------- gradient check
@pytest.mark.parametrize("name", list(PRESETS))
def test_finite_differences_agree_for_presets(name):
    fn = PRESETS[name]
    rows = finite_difference_check(fn, fn.defaults)
    assert [r.name for r in rows] == list(fn.defaults)
    assert all(isinstance(r, FDRow) and r.ok for r in rows), rows
    assert all(r.abs_error < 1e-6 for r in rows)


def test_finite_differences_flag_a_wrong_gradient():
    def build(v):      # a node whose stored local derivative is wrong on purpose
        x = Value(v["x"], label="x")
        return Value(x.data ** 2, (x,), "bad", (1.0,), label="y")
    (row,) = finite_difference_check(build, {"x": 3.0})
    assert row.analytic == 1.0 and row.numeric == pytest.approx(6.0) and not row.ok


# ---------------------------------------------------------------- names that say which node
def test_names_are_plain_labels_or_numbers():
    o = PRESETS["tanh neuron"]()
    order = o.topological_order()
    names = node_names(o)
    by_label = {v.label: v for v in order}
    for plain in ["x1", "x2", "w1", "w2", "b", "n", "o"]:
        assert names[by_label[plain]] == plain
    for composite in ["x1*w1", "x2*w2", "x1*w1 + x2*w2"]:       # expressions are named by their place
        assert names[by_label[composite]] == f"#{order.index(by_label[composite])}"
    twice = PRESETS["tanh via exp"]()                             # two leaves labelled 1
    ones = [v for v in twice.topological_order() if v.label == "1"]
    assert len(ones) == 2 and len({node_names(twice)[v] for v in ones}) == 2
    assert len(set(node_names(twice).values())) == len(twice.topological_order())   # every name is unique


def test_rules_never_glue_grad_to_an_expression():
    o = PRESETS["tanh neuron"]()
    sums = {s.node.label: s for s in backward_steps(o)}
    number = f"#{o.topological_order().index(sums['x1*w1 + x2*w2'].node)}"
    assert sums["n"].rules[0] == f"{number}.grad += 1 · n.grad"       # was `x1*w1 + x2*w2.grad += 1 · n.grad`
    for step in backward_steps(o):
        for line in step.rules:
            assert re.fullmatch(r"([\w.#]+)\.grad (\+)?= .*", line), line
    dot = draw_dot(o, number_unlabelled=True).source                 # the drawing shows the same names
    assert f"{{ {number} = x1*w1 + x2*w2 |" in dot
    step_dot = draw_step_dot(o, grads_after(o, len(backward_steps(o)))).source
    assert f'<TD BORDER="1" SIDES="R">{number} = x1*w1 + x2*w2</TD>' in step_dot


# ---------------------------------------------------------------- one drawing for every step
def boxes_and_circles(source):
    return source.count("<TABLE"), source.count("shape=circle")


@pytest.mark.parametrize("name", list(PRESETS))
def test_step_dot_has_every_node_with_an_id(name):
    root = PRESETS[name]()
    steps = backward_steps(root)
    dot = draw_step_dot(root, grads_after(root, len(steps), steps))
    assert boxes_and_circles(dot.source) == graph_size(root)
    assert len(edges_of(dot)) == edge_count(root)
    ids = dot_ids(root)
    for v in root.topological_order():
        line = node_line(dot, ids[v])
        assert f'id="{svg_id(ids[v])}"' in line and 'class="mg-grad"' in line
        if v._prev:
            assert f'id="{svg_id(ids[v])}op"' in node_line(dot, ids[v] + "op")


def test_step_dot_boxes_hold_the_question_mark_and_the_final_grad():
    L = PRESETS["L = (a*b + c)*f"]()
    steps = backward_steps(L)
    dot = draw_step_dot(L, grads_after(L, len(steps), steps)).source
    assert ('<TD BORDER="1" SIDES="R">a</TD><TD BORDER="1" SIDES="R">data 2.0000</TD>'
            '<TD>grad<FONT POINT-SIZE="11"> ?</FONT><FONT POINT-SIZE="11"> 6.0000</FONT></TD>') in dot
    assert "grad" not in draw_step_dot(L).source                        # no grads: no grad field
    vertical = draw_step_dot(L, grads_after(L, len(steps), steps), rankdir="TB").source
    assert 'SIDES="B"' in vertical and 'SIDES="R"' not in vertical and "rankdir=TB" in vertical
    hostile = Value(1.0, label="<b>&amp;</b>")
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in draw_step_dot(hostile * 2.0).source   # text, never markup


def test_step_style_shows_one_step_on_the_fixed_drawing():
    L = PRESETS["L = (a*b + c)*f"]()
    steps = backward_steps(L)
    ids = {v.label: svg_id(i) for v, i in dot_ids(L).items()}
    step = steps[2]                                                    # d pushes to e and c
    highlight = {**{c: CHILD_COLOR for c, _ in step.contributions}, step.node: HIGHLIGHT_COLOR}
    css = step_style(L, done=done_after(L, 3, steps), highlight=highlight)
    pending = re.search(r":is\(([^)]*)\) > text:last-of-type \{visibility: hidden\}", css).group(1)
    assert sorted(pending.split(", ")) == sorted(f"#{ids[x]}" for x in "ab")   # their grads are not known yet
    assert f"#{ids['d']} > polygon:first-of-type, #{ids['d']}op > ellipse {{fill: {HIGHLIGHT_COLOR}}}" in css
    green = next(line for line in css.splitlines() if CHILD_COLOR in line)
    assert f"#{ids['e']} > polygon:first-of-type" in green and f"#{ids['c']} > polygon:first-of-type" in green
    assert f"#{ids['e']}op > ellipse" in green and f"#{ids['c']}op" not in green   # c is a leaf: no circle
    everything = step_style(L, done=done_after(L, len(steps), steps))
    assert ":is(" not in everything                                     # the end: every grad is shown
    assert step_style(L, alarm=[L]).endswith(f"{{stroke: {ALARM_COLOR}; stroke-width: 2.5px; opacity: 1}}")


def test_neuron_columns_keep_the_net_in_order():
    net, xs, loss = mlp_lecture()
    columns = neuron_columns(net, loss)
    groups = neuron_groups(net, loss)
    assert columns[0] == xs
    assert [[groups[v] for v in column] for column in columns[1:]] == [
        [f"L{layer} N{n}" for n in range(4)] for layer in (1, 2)]        # L3 has one neuron: no column
    collapsed = draw_step_dot(loss, groups=groups, columns=columns).source
    ids = dot_ids(loss, groups)
    invisible = re.findall(r"(\w+) -> (\w+) \[style=invis\]", collapsed)
    first_layer = [ids[v] for v in columns[1]]
    assert list(zip(first_layer, first_layer[1:])) == invisible[len(xs) - 1:len(xs) + 2]
    assert collapsed.count("rank=same") == 3
    net = MLP(2, [16, 16, 1], activation="relu", seed=0)                # the Train page's default net
    out = net([0.5, -0.25], fused=False)
    groups = neuron_groups(net, out)
    assert [[groups[v] for v in column] for column in neuron_columns(net, out)] == [
        ["x0", "x1"], *[[f"L{layer} N{n}" for n in range(16)] for layer in (1, 2)]]


# ---------------------------------------------------------------- where numbers stop being finite
@pytest.mark.parametrize("text, label, words", [
    ("1/0", "1/0", "divides 1 by 0"),
    ("log(-1)", "log(-1)", "log of a negative number (-1) is not a real number"),
    ("exp(1000) - 1", "exp(1000)", "larger than the largest float"),
    ("2 * 0**-1", "0**-1", "0 to a negative power (-1) divides by zero"),
    ("a / (a - a)", "a / (a - a)", "it divides 2 by 0"),
    ("(a - a)/(a - a)", "(a - a)/(a - a)", "0 / 0 has no value"),
])
def test_first_non_finite_value_says_where_and_why(text, label, words):
    root, _ = parse_expression(text, {"a": 2.0})
    found = first_non_finite(root, backward_steps(root))
    names = node_names(root)
    assert found.kind == "value" and found.node.label == label and found.step is None
    assert found.name == f"{names[found.node]} = {label}" and f"`{found.name}`" in found.message
    assert words in found.message


def test_first_non_finite_grad_and_finite_graphs():
    root, _ = parse_expression("(a - a)**0.5", {"a": 2.0})             # value 0, slope of √x at 0 infinite
    steps = backward_steps(root)
    found = first_non_finite(root, steps)
    assert found.kind == "grad" and found.node.label == "a - a" and found.step == 1
    assert "Every value is a finite number" in found.message and "becomes ∞ at backward step 2" in found.message
    assert first_non_finite(root) is None                               # without the steps: values only
    both, _ = parse_expression("log(-1) + 1/(a - a) * 3", {"a": 2.0})
    message = first_non_finite(both).message
    assert "It is not the only one" in message and "1/(a - a)" in message and "2 more values" in message
    for name in PRESETS:
        root = PRESETS[name]()
        assert first_non_finite(root, backward_steps(root)) is None
