"""A bare Streamlit page for bench/train_page.py: the Train page's kinds of widgets, and a button that draws
the same four kinds of result charts (a loss line, a contour with points, a scatter, a 2x2 heatmap) from
numbers computed once, with no training. It is the floor the Train page is measured against."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="Bare", layout="wide")
sidebar = st.sidebar
sidebar.header("Data")
sidebar.selectbox("Dataset", ["moons", "circles", "xor"])
sidebar.slider("Samples", 4, 5000, 100)
sidebar.slider("Noise", 0.0, 1.0, 0.1)
sidebar.slider("Test fraction", 0.0, 0.5, 0.2)
sidebar.header("Network")
sidebar.slider("Hidden layers", 0, 8, 2)
sidebar.slider("Neurons per layer", 1, 64, 16)
sidebar.selectbox("Activation", ["relu", "tanh", "sigmoid"])
sidebar.header("Training")
sidebar.selectbox("Loss", ["auto", "hinge"])
sidebar.selectbox("Optimizer", ["SGD", "ADAM"])
sidebar.select_slider("Learning rate", [0.01, 0.1, 0.5, 1.0], 0.5)
sidebar.selectbox("Learning-rate schedule", ["linear", "constant"])
sidebar.slider("Steps", 1, 5000, 100)
sidebar.number_input("Batch size (0 = full batch)", 0, 10_000, 0)
sidebar.number_input("Seed", 0, 2**31 - 1, 0)
sidebar.radio("Engine", ["numpy", "scalar"], horizontal=True)
st.title("Train a network")
left, right = st.columns([3, 1])
right.text_input("Run name")
if left.button("Train", type="primary"):
    rng = np.random.default_rng(0)
    steps = np.arange(1, 101)
    st.success("Saved as run")
    st.plotly_chart(go.Figure(go.Scatter(x=steps, y=1 / steps, name="loss")).update_layout(title="Loss"))
    grid = np.linspace(-2, 2, 80)
    points = rng.normal(size=(100, 2))
    boundary = go.Figure([go.Contour(x=grid, y=grid, z=np.sin(grid)[:, None] * np.cos(grid)[None, :]),
                          go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers")])
    chart_left, chart_right = st.columns(2)
    chart_left.plotly_chart(boundary.update_layout(title="Boundary"))
    chart_right.plotly_chart(go.Figure(go.Scatter(x=rng.normal(size=20), y=rng.normal(size=20), mode="markers"))
                             .update_layout(title="Predictions"))
    chart_right.plotly_chart(go.Figure(go.Heatmap(z=[[10, 0], [0, 10]])).update_layout(title="Confusion"))
