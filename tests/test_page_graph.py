"""AppTest of pages/2_Graph.py: presets, typed expressions, the backward step-through and the gradient check."""
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab.config import TrainConfig
from lab.train import load_data
from micrograd.backprop import backward_steps
from micrograd.expr import parse_expression
from micrograd.graph import CHILD_COLOR, HIGHLIGHT_COLOR, dot_ids, graph_size, neuron_groups, svg_id
from micrograd.nn import MLP
from micrograd.presets import PRESET_DEFAULTS, build_preset, mlp_lecture, net_loss

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "pages" / "2_Graph.py"
PRESET_SOURCES = {"L": "L = (a*b + c)*f", "neuron": "tanh neuron", "exp": "tanh via exp", "aa": "a + a",
                  "mlp": "MLP(3, [4, 4, 1]) forward + loss"}


@pytest.fixture
def app(run_store, monkeypatch):
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(PAGE), default_timeout=60)


def choose(at, source):
    at.radio(key="w_graph_source").set_value(source)
    return at.run()


def dot_source(at):
    charts = at.get("graphviz_chart")
    assert len(charts) == 1
    return charts[0].proto.spec


def counts(dot):
    """(value boxes, op circles) in DOT text."""
    return dot.count("<TABLE"), dot.count("shape=circle")


def cells(*texts):
    """The first cells of a box drawn left to right, each with its line on the right."""
    return "".join(f'<TD BORDER="1" SIDES="R">{text}</TD>' for text in texts)


def grad_cell(number):
    return f'<TD>grad<FONT POINT-SIZE="11"> ?</FONT><FONT POINT-SIZE="11"> {number}</FONT></TD>'


def style_of(at):
    """The page's style sheets, which draw the step on the DOT."""
    return "".join(h.proto.body for h in at.get("html"))


def pending(at):
    """The SVG ids of the boxes that show `grad ?` (their grad is not known yet)."""
    found = re.search(r":is\(([^)]*)\) > text:last-of-type \{visibility: hidden\}", style_of(at))
    return {i.lstrip("#") for i in found.group(1).split(", ")} if found else set()


def filled(at, colour):
    """The SVG ids of the boxes filled with a colour."""
    rule = next((line for line in style_of(at).split("}") if f"{{fill: {colour}" in line), "")
    return set(re.findall(r"#([\w-]+) > polygon:first-of-type", rule))


def box(root, label):
    return svg_id(dot_ids(root)[next(v for v in root.topological_order() if v.label == label)])


def shown_value(widget):
    """What a toggle shows in the browser: the value the page sent with it, else its default."""
    return widget.proto.value if widget.proto.set_value else widget.proto.default


def node_index(root, node):
    return root.topological_order().index(node)


def texts(elements):
    return " ".join(e.value for e in elements)


@pytest.mark.parametrize("source", list(PRESET_SOURCES))
def test_every_preset_draws_every_node(app, source):
    at = choose(app.run(), source)
    assert not at.exception
    assert counts(dot_source(at)) == graph_size(build_preset(PRESET_SOURCES[source]))
    assert [n.key for n in at.number_input] == [f"w_graph_{source}_{name}"
                                                 for name in PRESET_DEFAULTS[PRESET_SOURCES[source]]]


def test_lecture_numbers_and_editing_an_input(app):
    at = app.run()
    assert at.title[0].value.endswith("Computation graph and backpropagation")
    assert at.radio(key="w_graph_source").value == "L"
    assert cells("L", "data -8.0000") in dot_source(at)
    root = build_preset("L = (a*b + c)*f")
    assert pending(at) == {box(root, label) for label in "abcdefL"}   # step 0: no grads yet
    at.number_input(key="w_graph_L_a").set_value(3.0).run()
    assert cells("L", "data -2.0000") in dot_source(at)   # (3*-3 + 10) * -2
    at = choose(at, "neuron")
    assert cells("o", "data 0.7071") in dot_source(at)


def test_mlp_preset_collapses_by_neuron(app):
    at = choose(app.run(), "mlp")
    at.toggle(key="w_graph_collapse").set_value(True).run()
    assert not at.exception
    net, _, loss = mlp_lecture()
    assert counts(dot_source(at)) == graph_size(loss, neuron_groups(net, loss))
    assert "L2 N3" in dot_source(at)


def test_step_slider_highlights_the_node_and_shows_its_rule(app):
    at = app.run()
    root = build_preset("L = (a*b + c)*f")
    steps = backward_steps(root)
    assert at.slider(key="w_graph_step_L").max == len(steps) == 4
    at.slider(key="w_graph_step_L").set_value(3).run()
    assert not at.exception
    step = steps[2]                                   # the third step processes d = e + c
    assert step.name == "d"
    assert filled(at, HIGHLIGHT_COLOR) == {box(root, "d")}
    assert f"#{box(root, 'd')}op > ellipse {{fill: {HIGHLIGHT_COLOR}}}" in style_of(at)   # and its op circle
    assert filled(at, CHILD_COLOR) == {box(root, "e"), box(root, "c")}
    assert pending(at) == {box(root, "a"), box(root, "b")}
    assert cells("d", "data 4.0000") + grad_cell("-2.0000") in dot_source(at)
    code = texts(at.code)
    assert "e.grad += 1 · d.grad" in code and "c.grad += 1 · d.grad" in code
    assert "Step 3 of 4" in texts(at.markdown)


def test_prev_and_next_buttons_move_the_slider(app):
    at = app.run()
    at.button(key="w_graph_prev").click().run()
    assert at.slider(key="w_graph_step_L").value == 0
    for _ in range(6):
        at.button(key="w_graph_next").click().run()
    assert at.slider(key="w_graph_step_L").value == 4   # stops at the last step
    assert pending(at) == set()                          # every grad is shown
    assert cells("a", "data 2.0000") + grad_cell("6.0000") in dot_source(at)
    at.button(key="w_graph_prev").click().run()
    assert at.slider(key="w_graph_step_L").value == 3
    assert not at.exception


def test_a_plus_a_shows_the_accumulated_gradient(app):
    at = choose(app.run(), "aa")
    at.slider(key="w_graph_step_aa").set_value(2).run()
    assert cells("a", "data 3.0000") + grad_cell("2.0000") in dot_source(at)
    assert pending(at) == set()                          # a's grad, 2, is shown
    assert "a.grad += 1 · b.grad" in texts(at.code)


@pytest.mark.parametrize("source, n_rows", [("L", 4), ("exp", 5), ("mlp", 45)])
def test_check_gradients_table_is_all_ok(app, source, n_rows):
    at = choose(app.run(), source)
    at.button(key="w_graph_check").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == n_rows
    assert (table["ok"] == "✓").all()
    assert "agree with the finite differences" in at.success[0].value
    at.slider(key=f"w_graph_step_{source}").set_value(1).run()   # still shown while stepping
    assert len(at.dataframe) == 1


def test_valid_expression_draws(app):
    at = choose(app.run(), "expr")
    text = "(a*b + c)*f"
    at.text_input(key="w_graph_expr").input(text).run()
    assert not at.exception and not at.error
    assert [n.label for n in at.number_input] == list("abcf")
    assert [n.value for n in at.number_input] == [2.0, -3.0, 10.0, -2.0]   # the lecture's inputs
    root, _ = parse_expression(text, {"a": 2.0, "b": -3.0, "c": 10.0, "f": -2.0})
    assert counts(dot_source(at)) == graph_size(root)
    assert "data -8.0000" in dot_source(at)
    at.button(key="w_graph_check").click().run()
    assert (at.dataframe[0].value["ok"] == "✓").all()


@pytest.mark.parametrize("text", ["__import__('os')", "__import__('os').system('ls')", "a.__class__",
                                  "open('/etc/passwd')", "[x for x in ()]", "lambda: 1", "a +* b", "(a*b", "9**9**9"])
def test_hostile_or_bad_expression_shows_an_error_not_an_exception(app, text):
    at = choose(app.run(), "expr")
    at.text_input(key="w_graph_expr").input(text).run()
    assert not at.exception
    assert at.error and "cannot be drawn" in at.error[0].value
    assert not at.get("graphviz_chart")


def test_error_points_at_the_bad_part(app):
    at = choose(app.run(), "expr")
    at.text_input(key="w_graph_expr").input("a + b.c").run()
    assert "attribute access" in at.error[0].value and "column 5" in at.error[0].value
    assert at.code[0].value == "a + b.c\n    ^^^"


def test_train_net_without_a_config_uses_the_defaults(app):
    at = choose(app.run(), "train")
    assert not at.exception
    info = texts(at.info)
    assert "you have not opened it yet" in info and "MLP(2, [16, 16, 1])" in info
    assert "drawn with one box per neuron" in info        # 1,624 nodes: over the cap
    collapse = at.toggle(key="w_graph_collapse")          # and the toggle says so (it showed OFF)
    assert shown_value(collapse) is True and collapse.value is True and collapse.disabled
    config = TrainConfig()
    train, _ = load_data(config)
    net = MLP(2, [16, 16, 1], config.activation, config.output_activation, seed=config.seed)
    loss, _ = net_loss(net, train.X[0].tolist(), float(train.y[0]))
    assert counts(dot_source(at)) == graph_size(loss, neuron_groups(net, loss))


def test_small_train_net_draws_every_operation(app):
    at = app.run()
    config = TrainConfig(hidden=(3,), activation="tanh")
    at.session_state["config"] = config
    at = choose(at, "train")
    assert not at.exception and "you have not opened it yet" not in texts(at.info)
    train, _ = load_data(config)
    net = MLP(2, [3, 1], "tanh", config.output_activation, seed=config.seed)
    loss, _ = net_loss(net, train.X[0].tolist(), float(train.y[0]))
    assert counts(dot_source(at)) == graph_size(loss)
    at.number_input(key="w_graph_sample").set_value(5).run()
    loss5, _ = net_loss(MLP(2, [3, 1], "tanh", "linear", seed=0), train.X[5].tolist(), float(train.y[5]))
    assert cells("loss", f"data {loss5.data:.4f}") in dot_source(at)
    at.button(key="w_graph_check").click().run()
    table = at.dataframe[0].value
    assert len(table) == 2 + 1 + 13 and (table["ok"] == "✓").all()   # x0, x1, y and 13 parameters


@pytest.mark.parametrize("hidden", [(64, 64), (256, 256), (8,) * 8])
def test_big_train_net_is_collapsed_or_explained(app, hidden):
    at = app.run()
    at.session_state["config"] = TrainConfig(hidden=hidden)
    at = choose(at, "train")
    assert not at.exception
    charts = at.get("graphviz_chart")
    if charts:
        assert "drawn with one box per neuron" in texts(at.info)
        assert "L1 N0" in charts[0].proto.spec
        assert sum(counts(charts[0].proto.spec)) <= 600
        assert shown_value(at.toggle(key="w_graph_collapse")) and at.toggle(key="w_graph_collapse").disabled
    else:
        assert "smaller net" in texts(at.warning)


def test_download_buttons(app):
    at = app.run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download DOT" in labels


@pytest.mark.parametrize("text", ["1/0", "log(0)", "0**-1", "exp(1000)", "exp(exp(10))", "(a - a)**0.5",
                                  "a**b / (a - a)", "abs(a - a) + relu(a - a)", "a", "3"])
def test_awkward_numbers_never_crash_the_page(app, text):
    at = choose(app.run(), "expr")
    at.text_input(key="w_graph_expr").input(text).run()
    assert not at.exception
    at.slider(key="w_graph_step_expr").set_value(at.slider(key="w_graph_step_expr").max).run()
    if not at.button(key="w_graph_check").disabled:          # disabled when nothing has inputs
        at.button(key="w_graph_check").click().run()
    assert not at.exception
    assert at.get("graphviz_chart") or at.error


def test_stepping_keeps_the_drawing_and_changes_only_its_style(app):
    """The browser lays out the DOT again whenever its text changes (about a second for the MLP):
    Next and Prev must leave the DOT as it is and send a new style sheet."""
    at = choose(app.run(), "mlp")
    dot, styles = dot_source(at), {style_of(at)}
    for _ in range(3):
        at.button(key="w_graph_next").click().run()
        assert dot_source(at) == dot
        styles.add(style_of(at))
    at.button(key="w_graph_prev").click().run()
    assert dot_source(at) == dot and len(styles) == 4
    assert at.get("graphviz_chart")[0] is not None and not at.exception


def test_rules_name_every_node_unambiguously(app):
    at = choose(app.run(), "neuron")
    root = build_preset("tanh neuron")
    steps = backward_steps(root)
    k = next(i for i, s in enumerate(steps, 1) if s.node.label == "n")      # n = (x1*w1 + x2*w2) + b
    at.slider(key="w_graph_step_neuron").set_value(k).run()
    number = "#" + str(root.topological_order().index(steps[k - 1].node._prev[0]))
    code = texts(at.code)
    assert f"{number}.grad += 1 · n.grad" in code and "x1*w1 + x2*w2.grad" not in code
    assert cells(f"{number} = x1*w1 + x2*w2") in dot_source(at)           # the drawing names it the same


@pytest.mark.parametrize("text, words", [("1/0", "is ∞: it divides 1 by 0"),
                                          ("log(-1)", "is nan (not a number): the log of a negative number"),
                                          ("exp(1000) * a", "exp(1000)` is ∞: exp(1000) is larger than")])
def test_a_non_finite_value_is_explained_where_it_starts(app, text, words):
    at = choose(app.run(), "expr")
    at.text_input(key="w_graph_expr").input(text).run()
    assert not at.exception and words in texts(at.warning)
    root, _ = parse_expression(text, {"a": 1.0})
    start = next(v for v in root.topological_order() if v.label == text.split(" * ")[0])
    outlined = svg_id(dot_ids(root)[start])
    assert f"#{outlined} > polygon:last-of-type" in style_of(at)              # and outlined in red
    at.text_input(key="w_graph_expr").input("a + 1").run()
    assert not at.warning


def test_fit_toggle_always_shows_what_is_drawn(app):
    """A run stopped by a bad expression skips the toggle: Streamlit keeps its value, but the browser
    re-creates it at its default. The page sends the value it draws with, every run."""
    at = choose(app.run(), "expr")
    drawn = []
    for text in ["", "a+b", "", "tanh(x1*w1 + x2*w2 + x3*w3 + b) + 1", "", "a*b"]:
        at.text_input(key="w_graph_expr").input(text).run()
        if not text:
            continue
        toggle = at.toggle(key="w_graph_fit_expr")
        fitted = "max-width: none" not in style_of(at)
        assert shown_value(toggle) == toggle.value == fitted, text
        drawn.append(fitted)
    assert drawn == [True, False, True]                   # small graphs fit, big ones scroll
    at.text_input(key="w_graph_expr").input("tanh(x1*w1 + x2*w2 + x3*w3 + b) + 1").run()
    at.toggle(key="w_graph_fit_expr").set_value(True).run()   # a choice sticks, for other graphs too
    at.text_input(key="w_graph_expr").input("").run()
    at.text_input(key="w_graph_expr").input("tanh(x1*w1 + x2*w2 + x3*w3 + b) + 2").run()
    assert shown_value(at.toggle(key="w_graph_fit_expr")) is True and "max-width: none" not in style_of(at)


def test_an_input_keeps_showing_its_value_after_a_bad_expression(app):
    at = choose(app.run(), "expr")
    at.text_input(key="w_graph_expr").input("a+b").run()
    next(n for n in at.number_input if n.label == "a").set_value(5.0).run()
    at.text_input(key="w_graph_expr").input("a+").run()          # stops the page before the inputs
    at.text_input(key="w_graph_expr").input("a+b").run()
    a = next(n for n in at.number_input if n.label == "a")
    assert a.value == 5.0 and a.proto.set_value and a.proto.value == 5.0   # the browser shows 5, as drawn
    assert cells("a", "data 5.0000") in dot_source(at)


# ---------------------------------------------------------------- helpers the page relies on
def test_net_loss_matches_the_mlp_preset_and_takes_parameter_overrides():
    net, xs, loss = mlp_lecture()
    again, leaves = net_loss(MLP(3, [4, 4, 1], "tanh", "tanh", seed=0), [2.0, 3.0, -1.0], 1.0)
    assert again.data == loss.data and graph_size(again) == graph_size(loss)
    assert list(leaves)[:3] == ["x0", "x1", "x2"] and "y" in leaves and len(leaves) == 3 + 1 + 41
    nudged, _ = net_loss(MLP(3, [4, 4, 1], "tanh", "tanh", seed=0), [2.0, 3.0, -1.0], 1.0,
                         params={"L3N0.b": leaves["L3N0.b"].data + 0.5, "x0": 99.0})   # inputs are not parameters
    assert nudged.data != loss.data
    assert nudged.data == net_loss(MLP(3, [4, 4, 1], "tanh", "tanh", seed=0), [2.0, 3.0, -1.0], 1.0,
                                   params={"L3N0.b": leaves["L3N0.b"].data + 0.5})[0].data


def test_edge_count_matches_the_dot_edges():
    from micrograd.graph import draw_dot, edge_count
    net, _, loss = mlp_lecture()
    for groups in ({}, neuron_groups(net, loss)):
        assert edge_count(loss, groups) == draw_dot(loss, groups=groups).source.count(" -> ")
