"""What the pages share, in one place, so no page copies it from another.

- The config the Train page builds, read by the other pages (`set_shared_config` / `shared_config`).
  Streamlit forgets the state of every widget a page run does not draw, so after a visit to another
  page the Train page's sidebar would be back to the defaults; the shared config lives under a
  plain session key, which Streamlit keeps, and `restore_train_widgets` sets the sidebar from it.
- Numbers shown readably at any size (`format_number`: 0.0123, 3.3e10), also in tables.
- User text (run names, file names) escaped for `st.markdown` and `st.table` (which reads its cells
  as Markdown): it is shown, never interpreted.
- The run store, or one error banner when it cannot be used.

Pages import this module; `lab/`, `micrograd/` and `data/` never do (they do not import Streamlit).
"""
import html
import re

import pandas as pd
import streamlit as st

from lab.compare import format_number  # noqa: F401 (the pages' name for it; its one home is lab/compare.py)
from lab.config import ConfigError, TrainConfig, parse_hidden
from lab.runs import RunStore, RunStoreError

SHARED_CONFIG_KEY = "config"  # a plain session key (no widget has it), so Streamlit keeps it across pages


# ---------------------------------------------------------------- the config the Train page builds
def set_shared_config(config):
    """Written by the Train page, on every run where its sidebar holds a valid config.

    The Graph, Zero-grad and Sweep pages read it with `shared_config()`; the Train page itself
    reads it back with `restore_train_widgets()` when the user returns to it. Per session: one
    user's settings never reach another's."""
    st.session_state[SHARED_CONFIG_KEY] = config


def shared_config():
    """The TrainConfig the Train page last built in this session, or None when it has not been opened."""
    config = st.session_state.get(SHARED_CONFIG_KEY)
    return config if isinstance(config, TrainConfig) else None


def config_or_default():
    """(config, where it came from): the Train page's config, or the defaults with a hint to open it."""
    config = shared_config()
    if config is None:
        return TrainConfig(), "the defaults (open the Train page to change it)"
    return config, "the Train page"


def _clamp(value, low, high):
    return min(max(value, low), high)


def train_widget_values(config):
    """{Train page widget key: value} that show `config` in its sidebar.

    The ranges clamp what the CLI and a link allow but a slider does not; layer widths that two
    sliders cannot show go into the custom widths box."""
    widths = config.hidden or (16,)
    uniform = len(set(widths)) <= 1 and max(widths) <= 64
    return {
        "w_dataset": config.dataset, "w_n": _clamp(config.n, 4, 5000), "w_noise": _clamp(config.noise, 0.0, 1.0),
        "w_test": _clamp(config.test_fraction, 0.0, 0.5), "w_data_seed": config.data_seed,
        "w_layers": len(config.hidden), "w_width": _clamp(max(widths), 1, 64),
        "w_custom": "" if uniform else ",".join(map(str, widths)),
        "w_activation": config.activation, "w_output": config.output_activation, "w_loss": config.loss,
        "w_optimizer": config.optimizer, "w_lr": config.lr, "w_schedule": config.lr_schedule,
        "w_momentum": _clamp(config.momentum, 0.0, 0.99), "w_batch": _clamp(config.batch_size, 0, 10_000),
        "w_l1": config.l1, "w_l2": config.l2, "w_steps": _clamp(config.steps, 1, 5000), "w_seed": config.seed,
        "w_engine": config.engine}


def config_from_widget_values(values, csv_upload=""):
    """The TrainConfig that the Train page's widget values show: the inverse of train_widget_values.
    ConfigError when they do not make one (e.g. bad custom layer widths)."""
    custom = values["w_custom"].strip()
    hidden = parse_hidden(custom) if custom else (values["w_width"],) * values["w_layers"]
    return TrainConfig(
        dataset=values["w_dataset"], n=values["w_n"], noise=values["w_noise"], test_fraction=values["w_test"],
        data_seed=values["w_data_seed"], csv_upload=csv_upload, hidden=hidden, activation=values["w_activation"],
        output_activation=values["w_output"], loss=values["w_loss"], optimizer=values["w_optimizer"],
        lr=values["w_lr"], lr_schedule=values["w_schedule"], momentum=values["w_momentum"],
        batch_size=values["w_batch"], l1=values["w_l1"], l2=values["w_l2"], steps=values["w_steps"],
        seed=values["w_seed"], engine=values["w_engine"])


def restore_train_widgets():
    """Called by the Train page before it draws its sidebar. When the sidebar's widgets are gone
    (a new session, or back from another page), set them from, in this order: the settings in the
    URL (a shared link), the shared config of this session, the defaults.
    Returns a message when the link's settings could not be used, else None."""
    if "w_dataset" in st.session_state:
        return None
    problem = None
    config = shared_config() or TrainConfig()
    query = dict(st.query_params)
    if query:
        try:
            config = TrainConfig.from_dict(query)
            if config.dataset == "csv":
                raise ConfigError("the link names an uploaded CSV; upload it again")
        except ConfigError as e:
            problem, config = f"The link's settings were not used: {e}.", TrainConfig()
    st.session_state.update(train_widget_values(config))
    return problem


# ---------------------------------------------------------------- showing numbers and user text
def readable_numbers(table, columns):
    """A table for st.dataframe whose `columns` show format_number's text but still sort as
    numbers (a printf format shows 3.3e10 as 33000000000, cut off in a narrow column)."""
    return table.style.format({column: format_number for column in columns if column in table}, na_rep="–")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$])")


def escape_markdown(text):
    """User text (a run name, a file name) for st.markdown, shown literally: HTML characters as
    entities, markdown punctuation escaped, on one line."""
    text = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def escaped_table(table):
    """A copy of `table` for st.table, which renders every header and cell as Markdown: its labels and
    text cells escaped (escape_markdown). Equal texts stay equal, so highlighting them still works."""
    out = table.map(lambda v: escape_markdown(v) if isinstance(v, str) else v)
    out.columns = [escape_markdown(c) for c in table.columns]
    out.index = pd.Index([escape_markdown(i) for i in table.index], name=table.index.name)
    return out


# ---------------------------------------------------------------- the run store
def store_error(error):
    st.error(f"The run store cannot be used: {error}")


def open_store():
    """The run store; when it cannot be used, an error banner and the end of this page run."""
    try:
        return RunStore()
    except RunStoreError as e:
        store_error(e)
        st.stop()
