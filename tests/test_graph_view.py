"""lab/graph_view.py: what the Graph page draws, decided without Streamlit."""
import pytest

from lab.config import TrainConfig
from lab.graph_view import (FIT_NODES, PRESET_OF, SOURCES, GraphView, NetTooLarge, check_summary, error_pointer,
                            gradient_table, input_defaults, training_sample, what_to_draw)
from lab.train import load_data
from micrograd.backprop import backward_steps, finite_difference_check
from micrograd.expr import ExpressionError
from micrograd.graph import ALARM_COLOR, HIGHLIGHT_COLOR, dot_ids, graph_size, neuron_groups, svg_id
from micrograd.nn import MLP
from micrograd.presets import PRESET_DEFAULTS, build_preset, mlp_lecture, net_loss


@pytest.mark.parametrize("source", ["L", "neuron", "exp", "aa"])
def test_a_preset_is_drawn_at_the_page_inputs(source):
    defaults = input_defaults(source)
    assert defaults == PRESET_DEFAULTS[PRESET_OF[source]]
    name = next(iter(defaults))
    changed = {**defaults, name: defaults[name] + 1.0}
    drawing = what_to_draw(source, changed)
    assert drawing.root.data == build_preset(PRESET_OF[source], changed).data
    assert drawing.values == changed and drawing.net is None and not drawing.collapsible and not drawing.about
    assert drawing.groups(collapse=False, max_nodes=600) == ({}, False)


def test_an_expression_offers_its_names_with_the_lecture_values():
    text = "(a*b + c)*f + z"
    defaults = input_defaults("expr", text)
    assert defaults == {"a": 2.0, "b": -3.0, "c": 10.0, "f": -2.0, "z": 1.0}  # z is not a lecture name
    drawing = what_to_draw("expr", defaults, text=text)
    assert drawing.root.data == -7.0 and drawing.collapsible
    assert drawing.build({**defaults, "z": 5.0})[0].data == -3.0
    with pytest.raises(ExpressionError):
        input_defaults("expr", "__import__('os')")
    assert what_to_draw("expr", {"a": 0.0}, text="1/a").root.data == float("inf")  # as PyTorch: no exception
    with pytest.raises(ValueError, match="no value given for variable `a`"):  # the page: cannot be computed
        what_to_draw("expr", {}, text="a + b")
    with pytest.raises(ValueError, match="unknown input"):
        what_to_draw("L", {"zz": 1.0})


def test_the_lecture_mlp_checks_its_inputs_and_every_weight():
    drawing = what_to_draw("mlp", input_defaults("mlp"))
    net, _, loss = mlp_lecture()
    assert drawing.root.data == loss.data and graph_size(drawing.root) == graph_size(loss)
    assert len(drawing.values) == 3 + 1 + 41 and "L3N0.b" in drawing.values
    groups, forced = drawing.groups(collapse=True, max_nodes=600)
    assert not forced and set(groups.values()) == set(neuron_groups(net, loss).values())
    assert drawing.groups(collapse=False, max_nodes=600) == ({}, False)
    assert all(row.ok for row in finite_difference_check(drawing.build, drawing.values))


def test_the_train_page_net_on_one_training_sample():
    config = TrainConfig(hidden=(3,), activation="tanh")
    sample = training_sample(config, 5)
    train, _ = load_data(config)
    assert sample.index == 5 and sample.x == train.X[5].tolist() and sample.n_train == len(train.y)
    assert training_sample(config, 10**6).index == len(train.y) - 1  # clamped
    drawing = what_to_draw("train", config=config, sample=sample)
    expected, _ = net_loss(MLP(2, [3, 1], "tanh", "linear", seed=0), sample.x, sample.y)
    assert drawing.root.data == expected.data and len(drawing.values) == 2 + 1 + 13
    assert "MLP(2, [3, 1]), tanh hidden" in drawing.about and "training sample 5 of" in drawing.about


def test_a_big_train_net_is_boxed_by_neuron_and_a_huge_one_refused():
    config = TrainConfig()  # 2-16-16-1: 1,624 nodes
    drawing = what_to_draw("train", config=config, sample=training_sample(config, 0))
    groups, forced = drawing.groups(collapse=False, max_nodes=600)
    assert forced and "L1 N0" in groups.values()
    huge = TrainConfig(hidden=(256, 256))
    with pytest.raises(NetTooLarge, match="smaller net"):
        what_to_draw("train", config=huge, sample=training_sample(huge, 0))


def test_every_source_has_a_label():
    assert set(SOURCES) == {*PRESET_OF, "expr", "train"}


def test_gradient_table_and_summary():
    drawing = what_to_draw("L", input_defaults("L"))
    rows = finite_difference_check(drawing.build, drawing.values)
    table = gradient_table(rows)
    assert list(table.index) == ["a", "b", "c", "f"] and set(table["ok"]) == {"✓"}
    assert list(table.columns) == ["value", "grad (backward)", "finite difference", "|difference|", "ok"]
    agree, message = check_summary(rows)
    assert agree and message.startswith("All 4 gradients agree")
    agree, message = check_summary([rows[0]._replace(ok=False), *rows[1:]])
    assert not agree and message.endswith("finite differences: a")


def test_error_pointer_marks_the_bad_part():
    with pytest.raises(ExpressionError) as error:
        input_defaults("expr", "a + b.c")
    assert error_pointer("a + b.c", error.value) == "a + b.c\n    ^^^"


# ---------------------------------------------------------------- what the page shows at each step
def test_the_drawing_is_the_same_at_every_step_only_the_style_changes():
    drawing = what_to_draw("mlp", input_defaults("mlp"))
    view = GraphView(drawing)
    again = GraphView(what_to_draw("mlp", input_defaults("mlp")))
    assert view.dot == again.dot and len(view.steps) == 76           # the browser lays it out once
    styles = {view.step(k).style for k in range(len(view.steps) + 1)}
    assert len(styles) == len(view.steps) + 1                          # every step looks different
    ids = dot_ids(drawing.root)
    for k in (1, 2, 40, 76):
        step, processed = view.step(k), view.steps[k - 1]
        assert step.focus[0] == svg_id(ids[processed.node])            # the node to scroll to, then its inputs
        assert set(step.focus[1:]) <= {svg_id(ids[processed.node] + "op"), *(svg_id(ids[child])
                                                                              for child, _ in processed.contributions)}
        assert f"#{step.focus[0]} > polygon:first-of-type, #{step.focus[0]}op > ellipse {{fill: {HIGHLIGHT_COLOR}}}" \
            in step.style
        assert f"Step {k} of 76" in step.headline and step.rule == processed.rule
    assert view.step(0).focus is None and "Step 0 of 76" in view.step(0).headline
    assert view.step(999).k == 76
    assert "grad" not in GraphView(drawing, show_grad=False).dot and GraphView(drawing, show_grad=False).steps == []


def test_fit_by_default_only_small_graphs():
    assert GraphView(what_to_draw("L", input_defaults("L"))).fit_by_default           # 10 nodes
    assert not GraphView(what_to_draw("mlp", input_defaults("mlp"))).fit_by_default   # 195 nodes
    assert FIT_NODES == 12


def test_a_non_finite_value_is_explained_and_outlined():
    drawing = what_to_draw("expr", {"a": 2.0}, text="a + 1/(a - a)")
    view = GraphView(drawing)
    order = drawing.root.topological_order()
    number = order.index(next(v for v in order if v.label == "1/(a - a)"))
    assert f"`#{number} = 1/(a - a)` is ∞: it divides 1 by 0. 1 more value computed from it" in view.problem
    outlined = svg_id(dot_ids(drawing.root)[view.alarm[0]])
    for k in (0, 3):
        assert f"#{outlined} > polygon:last-of-type" in view.step(k).style and ALARM_COLOR in view.step(k).style
    assert GraphView(what_to_draw("expr", {"a": 2.0}, text="a + 1")).problem == ""


def test_the_train_net_is_collapsed_in_layer_order():
    config = TrainConfig()
    drawing = what_to_draw("train", config=config, sample=training_sample(config, 0))
    assert drawing.too_big()
    view = GraphView(drawing)                                           # not asked to collapse: forced
    assert view.forced and "one box per neuron" in view.forced_note
    first_layer = [line for line in view.dot.splitlines() if "style=invis" in line][1:16]
    order = {name: node for node, name in
             ((f"g{i}", name) for i, name in enumerate(dict.fromkeys(view.groups[v] for v in
                                                                     drawing.root.topological_order()
                                                                     if v in view.groups)))}
    assert [line.split()[0] for line in first_layer] == [order[f"L1 N{n}"] for n in range(15)]
    assert view.download_dot().count("{ L1 N0 |") == 1                  # the download: records with the grads


def test_steps_of_the_lecture_net_name_every_node():
    drawing = what_to_draw("mlp", input_defaults("mlp"))
    view = GraphView(drawing)
    names = set(view.names.values())
    assert len(names) == len(drawing.root.topological_order())
    assert all("grad +=" in line for step in backward_steps(drawing.root)[1:] for line in step.rules)
