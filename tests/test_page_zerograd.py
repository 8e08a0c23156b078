"""AppTest of pages/3_Zero_grad_bug.py: it runs, reacts to its widgets and draws both loops."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab import zerograd as zg
from lab.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/3_Zero_grad_bug.py"


@pytest.fixture
def app(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MICROGRAD_RUNS_DB", str(tmp_path / "runs.sqlite"))
    return AppTest.from_file(str(ROOT / PAGE), default_timeout=60)


def charts(at):
    """{chart key suffix: plotly figure dict} of every plotly chart on the page."""
    out = {}
    for el in at.get("plotly_chart"):
        out[el.proto.id.rsplit("-", 1)[-1]] = json.loads(el.proto.spec)
    return out


def trace_names(fig):
    return [t.get("name", "") for t in fig["data"]]


def metrics(at):
    return {m.label: m.value for m in at.metric}


def test_page_runs_with_lecture_defaults(app):
    at = app.run()
    assert not at.exception
    assert at.title[0].value == "🐞 The zero-grad bug"
    assert at.select_slider(key="w_zg_lr").value == 0.05
    assert at.slider(key="w_zg_steps").value == 20
    assert "MLP(3, [4, 4, 1])" in at.caption[0].value and "4 samples" in at.caption[0].value

    figs = charts(at)
    assert set(figs) == {"zg_loss", "zg_grad_norm", "zg_update_norm"}
    for fig in figs.values():
        names = trace_names(fig)
        assert any(n.startswith("correct") for n in names) and any(n.startswith("buggy") for n in names)
        assert any(n.startswith("accumulation") for n in names)
        assert all(len(t["x"]) == 20 for t in fig["data"])
    # the numbers drawn are the computed ones
    xs, ys, spec = zg.lecture_setup(0)
    runs = zg.run_loops(xs, ys, spec, 0.05, 20, k=2)
    loss = {t["name"]: t["y"] for t in figs["zg_loss"]["data"]}
    assert loss[runs["buggy"].label] == pytest.approx(runs["buggy"].loss)
    assert loss[runs["correct"].label] == pytest.approx(runs["correct"].loss)
    grad = {t["name"]: t["y"] for t in figs["zg_grad_norm"]["data"]}
    buggy_norm = grad[runs["buggy"].label]
    assert buggy_norm[-1] > 5 * buggy_norm[0]  # it grows step after step

    shown = metrics(at)
    assert shown["Buggy ‖p.grad‖ at step 20"] == f"{runs['buggy'].grad_norm[-1]:.4g}"

    # the code of both loops, with the one differing line highlighted
    htmls = [el.proto.body for el in at.get("html")]
    line, good, bad = zg.differing_line()
    assert any("background:#d4f7dc" in h and "net.zero_grad()" in h for h in htmls)
    assert any("background:#ffd7d5" in h and "forgotten" in h for h in htmls)
    assert any(f"only in line {line}" in c.value for c in at.caption)

    # the running-sum table of one parameter
    table = at.dataframe[0].value
    assert len(table) == 20
    assert (table["p.grad − running sum"].abs() < 1e-12).all()


def test_widgets_change_the_numbers(app):
    at = app.run()
    before = metrics(at)
    before_loss = charts(at)["zg_loss"]
    at.select_slider(key="w_zg_lr").set_value(0.2)
    at.slider(key="w_zg_steps").set_value(30)
    at.run()
    assert not at.exception
    after = metrics(at)
    assert "Buggy ‖p.grad‖ at step 30" in after and "Buggy ‖p.grad‖ at step 20" not in after
    assert list(before.values()) != list(after.values())
    figs = charts(at)
    assert all(len(t["x"]) == 30 for t in figs["zg_loss"]["data"])
    assert figs["zg_loss"]["data"][1]["y"] != before_loss["data"][1]["y"]
    assert "lr 0.2, 30 steps" in at.caption[0].value

    at.slider(key="w_zg_seed").set_value(5).run()
    assert not at.exception and metrics(at) != after
    at.select_slider(key="w_zg_k_4").set_value(4).run()
    names = trace_names(charts(at)["zg_loss"])
    assert "accumulation (k = 4 micro-batches)" in names


def test_parameter_choice_changes_the_table(app):
    at = app.run()
    first = at.dataframe[0].value["true grad g_t"].tolist()
    at.selectbox(key="w_zg_param_3_4-4").set_value(40).run()  # the output neuron's bias
    assert not at.exception
    assert at.dataframe[0].value["true grad g_t"].tolist() != first


def test_graphs_of_the_overwrite_bug(app):
    at = app.run()
    dots = [el.proto.spec for el in at.get("graphviz_chart")]
    assert len(dots) == 6  # wrong and right, for three expressions
    assert all(d.startswith("digraph") for d in dots)
    a_plus_a_wrong, a_plus_a_right = dots[0], dots[1]
    assert "grad 1.0000" in a_plus_a_wrong.split("n1")[0]   # a's record: overwritten
    assert "grad 2.0000" in a_plus_a_right.split("n1")[0]   # a's record: accumulated
    # the tables next to them, with the finite difference
    tables = [df.value for df in at.dataframe[1:]]
    assert len(tables) == 3
    assert tables[0].loc["a", "wrong grad (=)"] == 1 and tables[0].loc["a", "right grad (+=)"] == 2
    assert tables[2].loc["x", "wrong?"].endswith("wrong") and tables[2].loc["w1", "wrong?"].endswith("right")


def test_train_page_net(app):
    cfg = TrainConfig(dataset="xor", n=300, test_fraction=0.2, hidden=(3,), activation="relu", seed=1)
    app.session_state["config"] = cfg
    at = app.run()
    at.radio(key="w_zg_source").set_value("train").run()
    assert not at.exception
    cap = at.caption[0].value
    assert "Train page" in cap and "MLP(2, [3, 1])" in cap and f"{zg.MAX_SAMPLES} samples" in cap
    assert any("240" in w.value and str(zg.MAX_SAMPLES) in w.value for w in at.warning)  # the cap is said
    figs = charts(at)
    assert all(len(t["x"]) == 20 for t in figs["zg_loss"]["data"])


def test_train_page_net_missing_falls_back(app):
    at = app.run()
    at.radio(key="w_zg_source").set_value("train").run()
    assert not at.exception
    assert any("Train" in w.value for w in at.sidebar.warning)
    assert "The lecture net" in at.caption[0].value
