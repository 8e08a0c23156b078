"""What the pages share, in one place, so no page copies it from another.

- The config the Train page builds, read by the other pages (`set_shared_config` / `shared_config`).
  Streamlit forgets the state of every widget a page run does not draw, so after a visit to another
  page the Train page's sidebar would be back to the defaults; the shared config lives under a
  plain session key, which Streamlit keeps, and `restore_train_widgets` sets the sidebar from it.
- Numbers shown readably at any size (`format_number`: 0.0123, 3.3e10), also in tables.
- User text (run names, file names) escaped for `st.markdown` and `st.table` (which reads its cells
  as Markdown): it is shown, never interpreted.
- The run store, or one error banner when it cannot be used.
- One BLAS thread for the server's numpy work (the pictures of a network: grids of a few thousand points).
  With two, OpenBLAS's second thread spun while it waited and a live frame cost the server 2.5 times the CPU
  (103 ms instead of 41), CPU taken from training; training itself already runs with one (lab.train).

Pages import this module; `lab/`, `micrograd/` and `data/` never do (they do not import Streamlit).
"""
import html
import re
from pathlib import Path

import pandas as pd
import streamlit as st
from threadpoolctl import threadpool_limits

from data import DATASET_LABELS, FEATURES, GENERATORS, DatasetError, load_csv
from lab.compare import format_number  # noqa: F401 (the pages' name for it; its one home is lab/compare.py)
from lab.config import ENGINES, OPTIMIZERS, REGRESSION_DATASETS, SCHEDULES, ConfigError, TrainConfig, parse_hidden
from lab.runs import RunStore, RunStoreError
from micrograd.nn import ACTIVATIONS

threadpool_limits(limits=1, user_api="blas")  # for the whole server process, once (see above)
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
        "w_engine": config.engine, "w_classes": _clamp(config.classes, 2, 6), "w_standardize": config.standardize,
        **{f"w_feature_{i}": name in config.input_features for i, name in enumerate(FEATURES)}}


WIDGET_DEFAULTS = train_widget_values(TrainConfig())


def current(key):
    """A sidebar widget's value, also before the widget is drawn in this session (then its default)."""
    return st.session_state.get(key, WIDGET_DEFAULTS[key])


def widget_args(key, options=None):
    """A sidebar widget's key and its default: {key, value} or {key, index into `options`}."""
    value = WIDGET_DEFAULTS[key]
    return {"key": key, **({"value": value} if options is None else {"index": list(options).index(value)})}


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
        seed=values["w_seed"], engine=values["w_engine"], classes=values["w_classes"],
        standardize=values["w_standardize"],
        features=",".join(name for i, name in enumerate(FEATURES) if values[f"w_feature_{i}"]))


def restore_train_widgets():
    """Called by the Train page before it draws its sidebar. When the sidebar's widgets are gone
    (a new session, or back from another page), set them from, in this order: the settings in the
    URL (a shared link), the shared config of this session, the defaults.
    Returns a message when the link's settings could not be used, else None."""
    if "w_dataset" in st.session_state:
        return None
    problem = None
    config = shared_config() or TrainConfig()
    query = {key: value for key, value in st.query_params.items() if key != "replay"}
    if query:
        try:
            config = TrainConfig.from_dict(query)
            if config.dataset == "csv":
                raise ConfigError("the link names an uploaded CSV; upload it again")
        except ConfigError as e:
            problem, config = f"The link's settings were not used: {e}.", TrainConfig()
    show_in_sidebar(config)
    return problem


def show_in_sidebar(config):
    """Set the sidebar's widgets to show `config`: only the settings that differ from the defaults.

    Every widget is drawn with its default as its own value (`WIDGET_DEFAULTS`). A value set here reaches the
    browser flagged "set by the script" until the browser's next rerun, so the run after it (for a new visitor:
    the click on Train) would send every widget again and the browser redraw the whole sidebar just while it
    should be loading plotly (~150 ms of its main thread, bench/train_page.py). A default left unset costs none."""
    for key, value in train_widget_values(config).items():
        if value != WIDGET_DEFAULTS[key]:
            st.session_state[key] = value
        else:
            st.session_state.pop(key, None)  # a value left from before would win over the default


def replay_request():
    """A link Train?replay=ID reopens a saved run: its settings fill the sidebar and it is shown below with
    its replay. Returns (the run as lab.jobs.StoredRun, or None; a message when the link cannot be used)."""
    from lab.jobs import StoredRun

    text = st.query_params.get("replay")
    if text is not None:
        st.session_state.pop("replay_run", None)
        try:
            run = StoredRun(open_store(), int(text) if str(text).isdigit() and len(str(text)) <= 18 else -1)
        except RunStoreError:
            shown = escape_markdown(str(text)[:20])
            return None, f"The link asks to replay run {shown}, which the run store does not have."
        st.session_state.replay_run = run
        st.session_state.pop("job", None)  # the reopened run is what the page shows
        set_shared_config(run.config)
        show_in_sidebar(run.config)
    return st.session_state.get("replay_run"), None


# ---------------------------------------------------------------- the Train page's sidebar
LR_VALUES = [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.2, 0.5, 1.0, 3.0, 10.0]
PENALTIES = [0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
STANDARDIZE = ["auto", "on", "off"]
DATASET_CHOICES = {**DATASET_LABELS, "csv": "Upload a CSV…"}
SUGGESTED_LR = {"sine": 0.03, "plane": 0.03}  # regression targets are unbounded: smaller steps
CSV_REGRESSION_LR = 0.1  # standardized targets still start with large gradients (bundled curve.csv: 0.5 diverges)


def suggested_lr(dataset):
    """The learning rate that suits a dataset (an uploaded CSV: by its task)."""
    if dataset == "csv" and st.session_state.get("csv_task") == "regression":
        return CSV_REGRESSION_LR
    return SUGGESTED_LR.get(dataset, TrainConfig.lr)


@st.cache_data(max_entries=8, show_spinner=False)
def check_csv(content, name):
    """(why an uploaded CSV cannot be used or None, its task): parsed once per file, not per rerun.
    Pure, so it may be cached; the caller keeps the task (a regression CSV has its own suggested rate)."""
    try:
        return None, load_csv(content, name=name).task
    except DatasetError as e:
        return f"**{escape_markdown(name)}**: {e}", None


def csv_file(sidebar):
    """The content hash of the CSV to train on: a new upload (kept by the run store once it is valid), or the
    one uploaded earlier in this session. None while there is none usable."""
    upload = sidebar.file_uploader("CSV file", type=["csv", "txt"], key="w_csv", help="Numeric feature columns; "
                                   "the target in a column named `target` or the last column.")
    earlier = shared_config()
    if upload is None and earlier is not None and earlier.csv_upload:
        sidebar.caption(f"Using {escape_markdown(st.session_state.get('csv_name', 'the CSV'))}, uploaded earlier.")
        return earlier.csv_upload
    if upload is None:
        problem = "Upload a CSV to train on it."
    else:
        problem, st.session_state.csv_task = check_csv(upload.getvalue(), upload.name)
    saved = st.session_state.get("csv_saved")  # (the upload's id, its hash): stored once, not on every rerun
    if not problem and saved and saved[0] == upload.file_id:
        return saved[1]
    if not problem:
        try:
            st.session_state.csv_name = upload.name
            digest = open_store().save_upload(upload.getvalue(), upload.name)
            st.session_state.csv_saved = (upload.file_id, digest)
            return digest
        except (DatasetError, RunStoreError) as e:
            problem = f"**{escape_markdown(upload.name)}**: {e}"
    (sidebar.info if upload is None else sidebar.error)(problem)
    return None


def follow_suggested_lr(dataset):
    """A learning rate the user has not moved follows the data's suggested one; a rate they chose stays
    (and the suggestion is offered as a button instead)."""
    state = st.session_state
    suggested, before = suggested_lr(dataset), state.get("w_lr_suggested", TrainConfig.lr)
    if current("w_lr") == before and suggested != before:
        state.w_lr = suggested
    state.w_lr_suggested = suggested


def use_suggested_lr(lr):
    st.session_state.w_lr = lr


def train_sidebar():
    """Draw the Train page's sidebar; the TrainConfig its widgets show (None while the CSV is missing or bad).
    Every widget is drawn on every run, even when unused, so Streamlit keeps its value."""
    state, sidebar = st.session_state, st.sidebar
    sidebar.header("Data")
    dataset = sidebar.selectbox("Dataset", list(DATASET_CHOICES), format_func=DATASET_CHOICES.get,
                                **widget_args("w_dataset", DATASET_CHOICES))
    csv_upload = csv_file(sidebar) if dataset == "csv" else ""
    sidebar.slider("Samples", 4, 5000, **widget_args("w_n"), disabled=dataset in ("lecture", "csv"))
    sidebar.slider("Noise", 0.0, 1.0, **widget_args("w_noise"), step=0.05, disabled=dataset in ("lecture", "csv"))
    sidebar.slider("Test fraction", 0.0, 0.5, **widget_args("w_test"), step=0.05, disabled=dataset == "lecture",
                   help="The lecture's four samples are all used for training.")
    many = getattr(GENERATORS.get(dataset), "max_classes", 2) > 2
    sidebar.slider("Classes", 2, 6, **widget_args("w_classes"), disabled=not many,
                   help="Spiral arms or blob centres. A CSV's classes come from its target column.")
    plane = dataset not in ("lecture", "sine")
    sidebar.caption("Input features: what the network sees of each point (the plot stays the x1, x2 plane)")
    columns = sidebar.columns(2)  # narrower columns cut the names ("sin(x1)") short
    for i, name in enumerate(FEATURES):
        columns[i % 2].checkbox(name, **widget_args(f"w_feature_{i}"), disabled=not plane)

    sidebar.header("Network")
    layers = sidebar.slider("Hidden layers", 0, 8, **widget_args("w_layers"))
    sidebar.slider("Neurons per layer", 1, 64, **widget_args("w_width"), disabled=layers == 0)
    sidebar.selectbox("Activation", ACTIVATIONS[:3], **widget_args("w_activation", ACTIVATIONS[:3]))

    sidebar.header("Training")
    losses = ["auto", "mse"] if dataset in REGRESSION_DATASETS else \
        ["auto", "ce"] if many and current("w_classes") > 2 else ["auto", "hinge", "bce", "mse", "ce"]
    if current("w_loss") not in losses:
        state.w_loss = "auto"
    sidebar.selectbox("Loss", losses, **widget_args("w_loss", losses),
                      help="auto: hinge for two classes, softmax cross-entropy (ce) for more, mse for regression")
    optimizer = sidebar.selectbox("Optimizer", OPTIMIZERS, **widget_args("w_optimizer", OPTIMIZERS),
                                  format_func=str.upper)
    follow_suggested_lr(dataset)
    sidebar.select_slider("Learning rate", sorted(set(LR_VALUES) | {current("w_lr")}), **widget_args("w_lr"),
                          format_func="{:g}".format)
    suggested = suggested_lr(dataset)
    if current("w_lr") != suggested:
        sidebar.button(f"Use {suggested:g}, the suggested rate for {DATASET_CHOICES[dataset].lower()}",
                       key="w_lr_hint", on_click=use_suggested_lr, args=(suggested,), type="tertiary")
    sidebar.selectbox("Learning-rate schedule", SCHEDULES, **widget_args("w_schedule", SCHEDULES),
                      help="linear and cosine decay to 10% of the rate by the last step")
    sidebar.slider("Steps", 1, 5000, **widget_args("w_steps"))
    sidebar.number_input("Batch size (0 = full batch)", 0, 10_000, **widget_args("w_batch"), step=8)
    sidebar.select_slider("L2 penalty", sorted(set(PENALTIES) | {current("w_l2")}), **widget_args("w_l2"),
                          format_func="{:g}".format)
    sidebar.number_input("Seed", 0, 2**31 - 1, **widget_args("w_seed"))
    sidebar.radio("Engine", ENGINES, **widget_args("w_engine", ENGINES), horizontal=True,
                  help="numpy: vectorized and fast. scalar: the lecture's Value engine. Same numbers.")
    with sidebar.expander("Advanced"):
        st.slider("Momentum (SGD)", 0.0, 0.99, **widget_args("w_momentum"), step=0.01, disabled=optimizer != "sgd")
        st.select_slider("L1 penalty", sorted(set(PENALTIES) | {current("w_l1")}), **widget_args("w_l1"),
                         format_func="{:g}".format)
        st.selectbox("Output activation", ACTIVATIONS, **widget_args("w_output", ACTIVATIONS))
        st.text_input("Custom layer widths", **widget_args("w_custom"), placeholder="e.g. 32,16,8",
                      help="Overrides the two sliders above when set.")
        st.number_input("Data seed", 0, 2**31 - 1, **widget_args("w_data_seed"))
        st.selectbox("Standardize inputs", STANDARDIZE, **widget_args("w_standardize", STANDARDIZE),
                     help="Mean 0 and standard deviation 1, fitted on the training split (and regression targets). "
                          "auto: on for CSV data.")
    if csv_upload is None:
        return None
    try:
        return config_from_widget_values(state, csv_upload)
    except ConfigError as e:
        sidebar.error(str(e))
        return None


def data_name(config):
    """The dataset as the page names it: the uploaded file's name for a CSV."""
    if config.dataset == "csv":
        return escape_markdown(st.session_state.get("csv_name") or "an uploaded CSV")
    return DATASET_CHOICES[config.dataset]


# ---------------------------------------------------------------- plotly, loaded without holding the page up
WARM_UP_SECONDS = 2.5  # an idle page loads plotly this long after it opened: well after it became interactive
# Streamlit's chart component with plotly in it, named by its content hash (a path found here, never from a user)
STREAMLIT_SCRIPTS = Path(st.__file__).parent / "static" / "static" / "js"
PLOTLY_SCRIPT = next((path.name for path in STREAMLIT_SCRIPTS.glob("PlotlyChart.*.js")), None)


def start_loading_plotly():
    """Have the browser start loading plotly's script now, e.g. when Train was clicked, while the server trains.

    The first plotly chart a tab shows loads a 4.7 MB script (1-2 s here, DESIGN.md); a 10-pixel invisible chart
    drawn before the server's work makes the browser load it during that work instead of after it. Returns the
    chart's placeholder: empty it when the real charts follow (the script goes on loading)."""
    placeholder = st.empty()
    placeholder.plotly_chart(_ONE_PIXEL, key="plotly_warm_up_now", config=_STATIC)
    return placeholder


def load_plotly_soon():
    """Have the browser load plotly's script once the page is surely interactive, before the user asks for a chart.

    While that script loads, the chart asking for it is a loading skeleton, so a page that drew a chart in its first
    run became interactive only after plotly had loaded (~1.9x a bare page, DESIGN.md). So the first run of the
    page in a session draws none; a timed fragment run WARM_UP_SECONDS later draws a 10-pixel empty chart, as does
    any later run of the page (a widget was used: the page is up). After a few runs it draws nothing: the script
    stays loaded. (Not st.rerun(): a page rerun that raced a click lost the sidebar's settings.)

    The first run also asks the browser to prefetch that script: it is downloaded at idle priority, not run, so
    the page is not held up, and a click before the warm-up then finds it in the browser's cache. Fetched on the
    click instead, its 4.7 MB came from a server busy training and drawing the results: twice as slow."""
    first_run = not st.session_state.get("plotly_page_ran")
    st.session_state["plotly_page_ran"] = True
    st.session_state["plotly_ticks"] = 0 if first_run else 1
    _warm_up_plotly()


@st.fragment(run_every=WARM_UP_SECONDS)
def _warm_up_plotly():
    ticks = st.session_state.get("plotly_ticks", 0)
    st.session_state["plotly_ticks"] = ticks + 1
    if ticks == 0 and PLOTLY_SCRIPT:
        base = [part for part in st.get_option("server.baseUrlPath").split("/") if part]  # the app's URL prefix
        href = "/" + "/".join([*base, "static", "js", PLOTLY_SCRIPT])
        st.markdown(f'<link rel="prefetch" href="{href}">', unsafe_allow_html=True)
    if 0 < ticks < 4:
        st.plotly_chart(_ONE_PIXEL, key="plotly_warm_up", config=_STATIC)


_ONE_PIXEL = dict(  # an invisible point (plotly_chart refuses a figure without data), 10 px square
    data=[dict(type="scatter", x=[0], y=[0], mode="markers", marker=dict(opacity=0))],
    layout=dict(height=10, width=10, margin=dict(l=0, r=0, t=0, b=0), xaxis=dict(visible=False),
                yaxis=dict(visible=False)))
_STATIC = {"displayModeBar": False, "staticPlot": True}


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


def stored_runs():
    """(the run store, its run summaries); when it cannot be read, an error banner and the end of the page run.
    Rows the store could not read are flagged one by one, never fatal to the page."""
    store = open_store()
    try:
        summaries = store.list()
    except (RunStoreError, ValueError) as e:  # a stored row the store cannot decode
        store_error(e)
        st.stop()
    for run_id, problem in store.unreadable:
        st.warning(f"Run #{run_id} cannot be read and is left out: {escape_markdown(problem)}")
    return store, summaries


def open_store():
    """The run store; when it cannot be used, an error banner and the end of this page run."""
    try:
        return RunStore()
    except RunStoreError as e:
        store_error(e)
        st.stop()
