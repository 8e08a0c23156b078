"""AppTest: the home page and the Train page, driven without a browser."""
import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui
from data import EXAMPLE_CSVS
from lab.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]


def app(path, **query):
    at = AppTest.from_file(str(ROOT / path), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def finish_training(at):
    """Click Train, let the background job end, and redraw (as the live fragment would)."""
    at.button(key="train").click().run()
    job = at.session_state["job"]
    assert job.wait(timeout=120)
    return at.run()


def test_home_page_tells_where_runs_are(run_store):
    RunStore(run_store)  # an empty store
    at = app("dashboard.py")
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert str(run_store) in text and "0** runs" in text


def test_train_page_has_its_widgets(run_store):
    at = app("pages/1_Train.py")
    assert not at.exception
    labels = {w.label for w in [*at.sidebar.slider, *at.sidebar.selectbox, *at.sidebar.select_slider,
                                *at.sidebar.number_input, *at.sidebar.radio]}
    assert {"Dataset", "Samples", "Noise", "Test fraction", "Hidden layers", "Neurons per layer", "Activation",
            "Loss", "Optimizer", "Learning rate", "Steps", "Batch size (0 = full batch)", "L2 penalty", "Seed",
            "Engine"} <= labels
    assert at.button(key="train").label == "Train"


def test_defaults_train_and_the_run_is_saved(run_store):
    at = finish_training(app("pages/1_Train.py"))
    assert not at.exception and not at.warning
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Final loss"]) < 0.1
    assert metrics["Accuracy (train)"] == "100.0%" and metrics["Accuracy (test)"] == "100.0%"
    runs = RunStore(run_store).list()
    assert len(runs) == 1 and runs[0]["status"] == "finished"
    assert f"#{runs[0]['id']}" in at.success[0].value
    assert not at.button(key="train").disabled  # the run is over: another may start
    assert len(at.get("plotly_chart")) == 6  # loss, boundary, every neuron, predictions, confusion, per class


def test_diverging_learning_rate_warns_and_saves(run_store):
    at = app("pages/1_Train.py", lr="10.0", lr_schedule="constant", loss="mse", steps="200", l2="0.0")
    at = finish_training(at)
    assert not at.exception
    assert any("diverged at step" in w.value for w in at.warning)
    assert RunStore(run_store).list()[0]["status"] == "diverged"


def test_link_settings_fill_the_widgets(run_store):
    at = app("pages/1_Train.py", lr="0.01", steps="42", hidden="8,8,8", activation="tanh", dataset="circles")
    assert not at.exception
    assert at.sidebar.select_slider(key="w_lr").value == 0.01
    assert at.sidebar.slider(key="w_steps").value == 42 and at.sidebar.slider(key="w_layers").value == 3
    assert at.sidebar.selectbox(key="w_dataset").value == "circles"


def set_by_the_script(at):
    """Keys of the sidebar widgets whose value this run set from the script (sent flagged "set_value")."""
    widgets = [*at.sidebar.slider, *at.sidebar.selectbox, *at.sidebar.select_slider, *at.sidebar.number_input,
               *at.sidebar.radio, *at.sidebar.checkbox, *at.sidebar.text_input]
    return {w.key for w in widgets if getattr(w.proto, "set_value", False)}


def test_a_new_visitor_gets_the_defaults_without_the_sidebar_being_set(run_store):
    """Widgets set from the script are sent again on the browser's next run (the click on Train), and the
    browser redraws them all just while it loads plotly. Defaults are the widgets' own values instead."""
    at = app("pages/1_Train.py")
    assert set_by_the_script(at) == set()
    assert at.sidebar.slider(key="w_n").value == 100 and at.sidebar.selectbox(key="w_dataset").value == "moons"
    at = app("pages/1_Train.py", activation="tanh", n="300")  # a link: only what differs is set
    assert set_by_the_script(at) == {"w_activation", "w_n"}
    assert at.sidebar.selectbox(key="w_activation").value == "tanh" and at.sidebar.slider(key="w_n").value == 300


def test_bad_link_settings_are_explained(run_store):
    at = app("pages/1_Train.py", lr="-3", steps="many")
    assert not at.exception
    assert "not used" in at.warning[0].value
    assert at.sidebar.slider(key="w_steps").value == 100


def test_changing_a_widget_updates_the_link(run_store):
    at = app("pages/1_Train.py")
    at.sidebar.slider(key="w_steps").set_value(250).run()
    assert at.query_params["steps"] == "250"


@pytest.mark.parametrize("content, words", [
    (b"a,b,target\n1,2,1\n3,oops,0\n", "oops"),
    (b"1,2,3\n4,5,6\n", "header"),
    (b"x,y,target\n1,2,1\n3,4\n5,6,1\n", "row 3"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
])
def test_bad_csv_shows_the_error_inline(run_store, content, words):
    at = app("pages/1_Train.py")
    at.sidebar.selectbox(key="w_dataset").set_value("csv").run()
    assert at.button(key="train").disabled  # nothing uploaded yet
    at.sidebar.file_uploader(key="w_csv").set_value(("data.csv", content, "text/csv")).run()
    assert not at.exception
    assert at.sidebar.error and words.lower() in at.sidebar.error[0].value.lower()
    assert at.button(key="train").disabled



def test_good_csv_trains(run_store):
    at = app("pages/1_Train.py")
    at.sidebar.selectbox(key="w_dataset").set_value("csv").run()
    content = EXAMPLE_CSVS["flowers"].read_bytes()
    at.sidebar.file_uploader(key="w_csv").set_value(("flowers.csv", content, "text/csv")).run()
    assert not at.sidebar.error and not at.button(key="train").disabled
    at = finish_training(at)
    assert not at.exception
    run = RunStore(run_store).list()[0]
    assert run["config"].dataset == "csv" and run["n_features"] == 4


def test_stop_button_ends_a_long_run_and_keeps_it(run_store):
    # the scalar engine on 400 samples takes far longer than the page's 1 s wait: the live view shows
    at = app("pages/1_Train.py", engine="scalar", n="500", steps="1000")
    assert any("scalar engine" in i.value for i in at.info)  # the slow-engine estimate
    at.button(key="train").click().run()
    job = at.session_state["job"]
    assert not job.done and at.get("progress")
    assert at.button(key="train").disabled  # from the click's own run on: no second run can be started
    deadline = time.monotonic() + 60
    while job.progress()[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the worker, not timing code
    at.button(key="stop").click().run()
    assert job.wait(timeout=120)
    at.run()
    assert not at.exception and not at.button(key="train").disabled
    assert any("Stopped after" in i.value for i in at.info)
    run = RunStore(run_store).list()[0]
    assert run["status"] == "stopped" and 0 < run["steps_done"] < 5000


def test_a_run_beyond_the_servers_budget_is_refused_with_a_hint(run_store):
    at = app("pages/1_Train.py", engine="scalar", hidden="64,64,64,64,64,64,64,64", n="5000", steps="5000")
    assert any("Too big to train here" in e.value and "numpy engine" in e.value for e in at.error)
    assert at.button(key="train").disabled
    at = app("pages/1_Train.py", hidden="64,64,64,64,64,64,64,64", n="5000", steps="1000")  # numpy: fine
    assert not at.error and not at.button(key="train").disabled


def test_two_sessions_do_not_share_training(run_store):
    alice, bob = app("pages/1_Train.py"), app("pages/1_Train.py")
    alice = finish_training(alice)
    bob.run()
    assert "job" in alice.session_state and "job" not in bob.session_state
    assert not bob.metric and not bob.success  # Bob sees no results of Alice's run


def test_settings_survive_a_visit_to_other_pages(run_store):
    """Streamlit forgets the widgets a page run does not draw, and a page switch in the browser drops
    the Train page's URL settings: coming back shows the settings left, and Graph draws that net."""
    at = train_from_home()
    at.sidebar.slider(key="w_width").set_value(4).run()
    at.sidebar.selectbox(key="w_activation").set_value("tanh").run()
    for page in ("pages/2_Graph.py", "pages/3_Zero-grad_bug.py"):
        at.query_params.clear()  # as the browser's page switch does
        at.switch_page(page).run()
        assert not at.exception
    assert "w_width" not in at.session_state  # the Train page's widgets are gone...
    at.query_params.clear()
    at.switch_page("pages/1_Train.py").run()
    assert not at.exception
    assert at.sidebar.slider(key="w_width").value == 4 and at.sidebar.selectbox(key="w_activation").value == "tanh"
    assert at.query_params["hidden"] == "4,4" and at.query_params["activation"] == "tanh"  # ...and back, with the URL
    at.query_params.clear()
    at.switch_page("pages/2_Graph.py").run()
    at.radio(key="w_graph_source").set_value("train").run()
    info = " ".join(i.value for i in at.info)
    assert "MLP(2, [4, 4, 1]), tanh hidden" in info and "you have not opened it yet" not in info


def train_from_home():
    """The Train page in an app started from its home page (so that pages can be switched)."""
    return app("dashboard.py").switch_page("pages/1_Train.py").run()


def test_a_link_wins_over_the_settings_of_the_session(run_store):
    at = train_from_home()
    at.sidebar.selectbox(key="w_activation").set_value("tanh").run()
    at.query_params.clear()
    at.switch_page("pages/2_Graph.py").run()
    at.query_params["activation"] = "sigmoid"  # a "re-run this config" link opened in the same session
    at.switch_page("pages/1_Train.py").run()
    assert at.sidebar.selectbox(key="w_activation").value == "sigmoid"


def test_an_uploaded_csv_is_kept_across_pages(run_store):
    at = train_from_home()
    at.sidebar.selectbox(key="w_dataset").set_value("csv").run()
    content = EXAMPLE_CSVS["flowers"].read_bytes()
    at.sidebar.file_uploader(key="w_csv").set_value(("flowers.csv", content, "text/csv")).run()
    at.query_params.clear()
    at.switch_page("pages/2_Graph.py").run()
    at.query_params.clear()
    at.switch_page("pages/1_Train.py").run()
    assert at.sidebar.selectbox(key="w_dataset").value == "csv"
    caption = " ".join(c.value for c in at.sidebar.caption)
    assert "Using flowers" in caption and "uploaded earlier" in caption
    assert not at.button(key="train").disabled


def test_csv_file_names_are_shown_escaped(run_store):
    at = app("pages/1_Train.py")
    at.sidebar.selectbox(key="w_dataset").set_value("csv").run()
    at.sidebar.file_uploader(key="w_csv").set_value(("<b id=x>bad</b>.csv", b"1,2,3\n", "text/csv")).run()
    assert not at.exception
    assert "<b" not in at.sidebar.error[0].value and "&lt;b id=x&gt;" in at.sidebar.error[0].value


# ---------------------------------------------------------------- watching it learn (issue 12) and newcomer fixes
def picture(at):
    """The SVG text of the page's one picture (st.image sends it as a data URL)."""
    import base64
    [image] = at.get("image")
    return base64.b64decode(image.proto.imgs[0].url.split(",", 1)[1]).decode()


def chart(at, title_start):
    """The spec of the chart whose title starts with title_start."""
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        title = spec["layout"].get("title", {})
        if (title.get("text") if isinstance(title, dict) else title or "").startswith(title_start):
            return spec
    raise AssertionError(f"no chart titled {title_start!r}")


def test_the_data_is_drawn_before_any_click(run_store):
    at = app("pages/1_Train.py")
    assert not at.get("plotly_chart")  # a picture, not a chart: the page needs no chart library yet
    assert "The data: 80 training and 20 test samples" in picture(at)
    at = at.slider(key="w_n").set_value(200).run()  # a data slider redraws it at once
    assert "The data: 160 training and 40 test samples" in picture(at)
    # the first run asked the browser to prefetch plotly's script (downloaded, not run: the page is not held up)
    assert any(f'<link rel="prefetch" href="/static/js/{ui.PLOTLY_SCRIPT}">' in m.value
               for m in app("pages/1_Train.py").markdown)
    # the page is up (a widget was used): now a 10-pixel chart has the browser load plotly before the click
    [warm_up] = at.get("plotly_chart")
    assert json.loads(warm_up.proto.spec)["layout"]["height"] == 10


def test_after_a_run_the_replay_slider_moves_the_boundary_and_the_neurons(run_store):
    at = finish_training(app("pages/1_Train.py", steps="150"))
    replay = at.select_slider(key="w_replay")
    assert replay.label == "Replay: step" and replay.value == 150 and len(replay.options) == 100
    end = chart(at, "Decision boundary at step 150")
    neurons = chart(at, "Every neuron at step 150")
    at = replay.set_value(replay.options[1]).run()
    early = chart(at, f"Decision boundary at step {replay.options[1]}")
    assert early["data"][0]["z"] != end["data"][0]["z"]
    assert chart(at, f"Every neuron at step {replay.options[1]}")["data"] != neurons["data"]
    shapes = chart(at, "Loss per step")["layout"]["shapes"]
    assert [s["x0"] for s in shapes] == [int(replay.options[1])]  # the step marked on the loss curve


def test_a_dead_network_is_flagged(run_store):
    at = finish_training(app("pages/1_Train.py", lr="10.0", steps="100"))
    assert any("learned nothing" in w.value or "training failed" in w.value for w in at.warning)


def test_results_say_which_run_and_look_stale_after_a_change(run_store):
    at = finish_training(app("pages/1_Train.py", steps="20"))
    assert at.subheader[0].value.startswith("Results of run #")
    assert not any("other settings" in w.value for w in at.warning)
    at = at.selectbox(key="w_dataset").set_value("circles").run()
    assert any("trained with other settings than the sidebar shows now" in w.value for w in at.warning)


def test_a_new_dataset_keeps_the_chosen_rate_and_offers_the_suggested_one(run_store):
    at = app("pages/1_Train.py", lr="0.1")
    at = at.selectbox(key="w_dataset").set_value("sine").run()
    assert at.select_slider(key="w_lr").value == 0.1  # the user's choice stays
    at = at.button(key="w_lr_hint").click().run()
    assert at.select_slider(key="w_lr").value == 0.03


def test_the_run_name_and_the_schedule_are_visible(run_store):
    at = app("pages/1_Train.py")
    name = at.text_input(key="w_name")
    assert name.label == "Run name" and name.proto.label_visibility.value == 0  # 0: visible
    assert at.selectbox(key="w_schedule") in at.sidebar.selectbox  # next to the learning rate, not under Advanced
    assert "(linear)" in at.caption[0].value


def test_the_lecture_set_trains_on_all_four_samples(run_store):
    at = finish_training(app("pages/1_Train.py", dataset="lecture", hidden="4,4", steps="20", lr="0.05", loss="mse"))
    assert not at.exception
    assert chart(at, "Predictions vs targets (training set)")


def test_three_classes_with_input_features_train_and_say_so(run_store):
    at = app("pages/1_Train.py", dataset="spiral", classes="3", features="x1,x2,x1*x2", hidden="16", steps="100",
             lr="0.5")
    assert at.slider(key="w_classes").value == 3 and at.checkbox(key="w_feature_4").value  # x1*x2 ticked
    assert at.selectbox(key="w_loss").options == ["auto", "ce"]
    at = finish_training(at)
    assert not at.exception
    assert chart(at, "Decision boundary at step")
    assert chart(at, "Accuracy per class")
    assert len(chart(at, "Confusion matrix")["data"][0]["z"]) == 3
    assert "The network's inputs: x1, x2, x1*x2" in " ".join(c.value for c in at.caption)


def test_regression_shows_r2_and_rmse(run_store):
    at = finish_training(app("pages/1_Train.py", dataset="sine", lr="0.03", steps="50"))
    labels = {m.label for m in at.metric}
    assert {"R² (test)", "RMSE (test)"} <= labels and "Accuracy (train)" not in labels


def test_an_untouched_rate_follows_the_data_and_a_chosen_one_stays(run_store):
    at = app("pages/1_Train.py")
    at = at.selectbox(key="w_dataset").set_value("sine").run()
    assert at.select_slider(key="w_lr").value == 0.03  # never moved: the data's suggested rate
    at = at.select_slider(key="w_lr").set_value(0.01).run()
    at = at.selectbox(key="w_dataset").set_value("moons").run()
    assert at.select_slider(key="w_lr").value == 0.01  # chosen: kept, the suggestion is a button
    assert at.button(key="w_lr_hint").label.startswith("Use 0.5")


@pytest.mark.parametrize("name", ["curve", "flowers", "wavy_boundary"])
def test_the_bundled_csvs_train_well_at_the_defaults(run_store, name):
    at = app("pages/1_Train.py")
    at = at.selectbox(key="w_dataset").set_value("csv").run()
    content = EXAMPLE_CSVS[name].read_bytes()
    at = at.sidebar.file_uploader(key="w_csv").set_value((f"{name}.csv", content, "text/csv")).run()
    at = finish_training(at)
    job = at.session_state["job"]
    assert job.result.status == "finished" and not at.warning
    if job.result.task == "classification":
        assert job.result.final("test_accuracy") >= 0.9
    else:
        assert job.result.final("test_r2") >= 0.6


def test_a_saved_run_reopens_with_its_replay(run_store):
    from lab.config import TrainConfig
    from lab.train import train
    store = RunStore(run_store)
    run_id = store.save(train(TrainConfig(hidden=(4,), steps=150, activation="tanh")))
    at = app("pages/1_Train.py", replay=str(run_id))
    assert not at.exception and at.subheader[0].value == f"Results of run #{run_id}"
    assert at.selectbox(key="w_activation").value == "tanh" and at.slider(key="w_steps").value == 150
    assert not any("other settings" in w.value for w in at.warning)  # the sidebar shows the run's settings
    replay = at.select_slider(key="w_replay")
    assert len(replay.options) == 100
    at = replay.set_value(replay.options[0]).run()
    assert chart(at, "Decision boundary at step 1")


def test_a_run_saved_before_snapshots_opens_at_its_end_and_a_bad_link_is_explained(run_store):
    import sqlite3

    from lab.config import TrainConfig
    from lab.train import train
    run_id = RunStore(run_store).save(train(TrainConfig(steps=20)))
    with sqlite3.connect(run_store) as db:
        db.execute("UPDATE runs SET snapshots = NULL WHERE id = ?", (run_id,))
    at = app("pages/1_Train.py", replay=str(run_id))
    assert not at.exception and "w_replay" not in [slider.key for slider in at.select_slider]
    assert chart(at, "Decision boundary at step 20")
    at = app("pages/1_Train.py", replay="<b>999</b>")
    assert any("which the run store does not have" in w.value for w in at.warning) and not at.exception


def test_a_typed_run_name_is_the_saved_runs_name(run_store):
    at = app("pages/1_Train.py")
    at.text_input(key="w_name").input("  moons, first try  ")  # typed, then Train clicked: one rerun
    at = finish_training(at)
    [run] = RunStore(run_store).list()
    assert run["name"] == "moons, first try"
