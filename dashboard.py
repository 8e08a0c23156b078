import streamlit as st

st.set_page_config(page_title="micrograd dashboard", page_icon="🧠", layout="wide")
st.title("micrograd dashboard")
st.write("Train a tiny neural network and watch it learn.")
