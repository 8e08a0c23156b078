"""Home page: what this is, where to go, where the runs are kept."""
import streamlit as st

import ui
from lab.runs import RunStore, RunStoreError

st.set_page_config(page_title="micrograd dashboard", page_icon="🧠", layout="wide")

st.title("🧠 micrograd dashboard")
st.markdown(
    "A tiny autograd engine and small neural networks you can **train, watch and take apart**. "
    "Every number here is computed live by a few hundred lines of Python: a scalar engine that "
    "builds one node per operation (the one the lectures teach) and a numpy engine that gives the "
    "same numbers, fast."
)

st.subheader("Pages")
st.page_link("pages/1_Train.py", label="**Train** — pick a dataset and a network, press Train, watch the loss fall "
             "and the decision boundary form.", icon="🏋️")
st.page_link("pages/2_Graph.py", label="**Graph** — draw the computation graph of an expression with the data and "
             "gradient of every node, and step through backpropagation.", icon="🕸️")
st.page_link("pages/3_Zero-grad_bug.py", label="**Zero-grad bug** — what happens when you forget "
             "`zero_grad()`, side by side with the correct loop.", icon="🐞")
st.page_link("pages/4_Compare.py", label="**Compare** — put saved runs side by side: curves, settings, metrics "
             "and what each net learned.", icon="📊")
st.page_link("pages/5_Sweep.py", label="**Sweep** — train a grid of settings in parallel and see which work.",
             icon="🧪")
st.page_link("pages/6_Runs.py", label="**Runs** — export, import, rename or delete saved runs.", icon="🗂️")

st.subheader("Run store")
try:
    store = RunStore()
    count = store.count()
    st.markdown(f"Runs are saved in `{store.path}`: **{count}** run{'s' if count != 1 else ''} so far. "
                "Set `MICROGRAD_RUNS_DB` to keep them elsewhere.")
except RunStoreError as e:
    ui.store_error(e)

st.caption("Headless too: `python -m lab train --dataset moons --steps 200` trains and saves a run from the shell.")
