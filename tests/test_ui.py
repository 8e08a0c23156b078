"""ui.py, the pages' shared helpers, without a browser."""
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import ui
from lab.config import ConfigError, TrainConfig


@pytest.mark.parametrize("value, text", [
    (3.3e10, "3.3e10"), (2e10, "2e10"), (1.2e-7, "1.2e-7"), (-4.56e12, "-4.56e12"), (0.0123, "0.0123"),
    (0.5, "0.5"), (12345.678, "12346"), (99999.0, "99999"), (100000.0, "1e5"), (0.001, "0.001"), (0.0, "0"),
    (1234.5678, "1235"), (-0.00099, "-9.9e-4"),
    (None, "–"), (float("inf"), "∞"), (float("-inf"), "−∞"), (float("nan"), "NaN"), (7, "7"),
])
def test_numbers_are_short_at_any_size(value, text):
    assert ui.format_number(value) == text
    assert len(ui.format_number(value)) <= 9


def test_readable_numbers_keep_the_numbers_for_sorting():
    table = pd.DataFrame({"name": ["a", "b", "c"], "loss": [3.3e10, 0.0123, None]})
    styled = ui.readable_numbers(table, ["loss", "not a column"])
    assert styled.data["loss"].dtype == float  # sorted as numbers by the data grid
    text = styled.to_string()
    assert "3.3e10" in text and "0.0123" in text and "–" in text and "33000000000" not in text


@pytest.mark.parametrize("name", ["<b id=x>hi</b>", "[click](javascript:alert(1))", "![t](http://x/t.png)",
                                  "**bold** _it_ `code` $x$ :red[red]", "a\n\n# heading", "<script>alert(1)</script>"])
def test_escaped_markdown_has_no_markup_left(name):
    text = ui.escape_markdown(name)
    assert "<" not in text and ">" not in text and "\n" not in text
    for mark in "*_`[]()$:#!":
        assert all(text[i - 1] == "\\" for i, c in enumerate(text) if c == mark)


@pytest.mark.parametrize("config", [
    TrainConfig(), TrainConfig(hidden=(4, 4), activation="tanh", lr=0.01, steps=42, dataset="circles"),
    TrainConfig(hidden=(), l1=1e-5, l2=0.0, optimizer="adam", engine="scalar", output_activation="tanh"),
    TrainConfig(hidden=(32, 16, 8), batch_size=16, momentum=0.9, lr_schedule="cosine", seed=7, data_seed=3, noise=0.3),
    TrainConfig(dataset="csv", csv_upload="ab" * 32, test_fraction=0.0),
])
def test_train_widgets_show_a_config_and_give_it_back(config):
    values = ui.train_widget_values(config)
    assert all(key.startswith("w_") for key in values)
    assert ui.config_from_widget_values(values, config.csv_upload) == config


def test_widget_values_clamp_what_a_slider_cannot_show():
    values = ui.train_widget_values(TrainConfig(steps=50_000, n=10_000, hidden=(128,)))
    assert values["w_steps"] == 5000 and values["w_n"] == 5000
    assert values["w_custom"] == "128"  # a width over the slider's 64 goes into the custom box
    assert ui.config_from_widget_values(values).hidden == (128,)
    with pytest.raises(ConfigError):
        ui.config_from_widget_values({**values, "w_custom": "8,x"})
    assert math.isclose(ui.train_widget_values(TrainConfig(noise=3.0))["w_noise"], 1.0)


def test_the_sidebar_widgets_are_drawn_with_the_default_config():
    assert ui.WIDGET_DEFAULTS == ui.train_widget_values(TrainConfig())
    assert ui.config_from_widget_values(ui.WIDGET_DEFAULTS) == TrainConfig()
    assert ui.widget_args("w_n") == {"key": "w_n", "value": TrainConfig().n}
    activations = ["linear", "relu", "tanh"]
    assert ui.widget_args("w_activation", activations) == {"key": "w_activation",
                                                            "index": activations.index(TrainConfig().activation)}


def test_the_plotly_script_to_prefetch_is_streamlits_own():
    import streamlit
    assert ui.PLOTLY_SCRIPT.startswith("PlotlyChart.") and ui.PLOTLY_SCRIPT.endswith(".js")
    script = Path(streamlit.__file__).parent / "static" / "static" / "js" / ui.PLOTLY_SCRIPT
    assert script.stat().st_size > 1_000_000  # the chunk that carries plotly itself (4.7 MB), not a stub


def test_the_plotly_warm_up_chart_is_a_valid_figure():
    import plotly.graph_objects as go
    figure = go.Figure(ui._ONE_PIXEL)  # plotly validates it: the page draws it from a timed fragment run
    assert figure.layout.height == 10 and figure.data[0].marker.opacity == 0  # plotly_chart refuses an empty one


def test_the_server_skips_a_full_garbage_collection_after_every_script_run():
    """The live Train page reruns 2.5 times a second; a full collection after each took two thirds of the server's
    CPU from training (.streamlit/config.toml). Read the option as Streamlit itself reads it, from the app folder."""
    root = Path(__file__).resolve().parents[1]
    printed = subprocess.run([sys.executable, "-c", "from streamlit import config; "
                              "print(config.get_option('runner.postScriptGC'))"],
                             cwd=root, capture_output=True, text=True, check=True).stdout.split()
    assert printed[-1] == "False"


def test_the_server_does_its_numpy_work_on_one_blas_thread():
    """A second OpenBLAS thread spun while it waited: a live frame cost the server 2.5 times the CPU (ui.py)."""
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)
