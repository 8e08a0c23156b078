"""Training, run storage and figures for the micrograd dashboard (no Streamlit here)."""
