"""Runs: look after the run store — export runs, import an export, rename or delete a run."""
from functools import partial

import streamlit as st

import ui
from lab import compare
from lab.runs import RunStoreError

st.set_page_config(page_title="Runs · micrograd", page_icon="🗂️", layout="wide")

MAX_SELECTED = compare.MAX_SELECTED


def flash(message, kind="success"):
    st.session_state.flash = (kind, message)


def change(action, store, run_id, key=None):
    """Rename (to the name in st.session_state[key]) or delete a run; the outcome shows on the next run."""
    st.session_state.pop("confirm_delete", None)
    try:
        if action == "rename":
            store.rename(run_id, st.session_state[key])
            flash(f"Renamed run #{run_id} to “{ui.escape_markdown(st.session_state[key].strip())}”.")
        else:
            store.delete(run_id)
            st.session_state.runs_picked = [i for i in st.session_state.get("runs_picked", []) if i != run_id]
            flash(f"Deleted run #{run_id}.")
    except RunStoreError as e:
        flash(f"Could not {action} run #{run_id}: {ui.escape_markdown(e)}", "error")


def export(store, runs):
    st.subheader("Export")
    if not runs:
        st.caption("Pick runs above to export them as CSV or JSON.")
        return
    ids, what = [r["id"] for r in runs], f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
    left, right, _ = st.columns(3)
    left.download_button(f"Download {what} as CSV", partial(store.export_csv, ids), file_name="runs.csv",
                         mime="text/csv", icon="⬇️", key="runs_export_csv", on_click="ignore", width="stretch",
                         help="One row per run and step: every run's history in long form.")
    right.download_button(f"Download {what} as JSON", partial(store.export_json, ids), file_name="runs.json",
                          mime="application/json", icon="⬇️", key="runs_export_json", on_click="ignore",
                          width="stretch", help="Everything about the runs (config, history, weights): import it "
                          "here again, on this or another server.")


def rename_or_delete(store, runs):
    st.subheader("Rename or delete")
    if not runs:
        st.caption("Pick runs above to rename or delete one of them.")
        return
    by_id = {r["id"]: r for r in runs}
    run_col, name_col, rename_col, delete_col = st.columns([3, 3, 1, 1], vertical_alignment="bottom")
    run_id = run_col.selectbox("Run", list(by_id), format_func=lambda i: compare.run_label(by_id[i]), key="runs_manage")
    name_col.text_input("New name", value=by_id[run_id]["name"], key=f"runs_name_{run_id}")
    rename_col.button("Rename", key="runs_rename", on_click=change, width="stretch",
                      args=("rename", store, run_id, f"runs_name_{run_id}"))
    if delete_col.button("Delete…", key="runs_delete", width="stretch"):
        st.session_state.confirm_delete = run_id
    st.markdown(f"[↻ Re-run this config on the Train page]({compare.train_link(by_id[run_id]['config'])}) "
                f"(opens the Train page with the settings of run #{run_id})")
    if st.session_state.get("confirm_delete") in by_id:
        doomed = by_id[st.session_state.confirm_delete]
        st.warning(f"Delete **{ui.escape_markdown(compare.run_label(doomed))}**? Its history and weights are removed "
                   "from the store; this cannot be undone.", icon="⚠️")
        yes, no, _ = st.columns([1, 1, 4])
        yes.button("Yes, delete it", type="primary", key="runs_delete_yes", on_click=change,
                   args=("delete", store, doomed["id"]))
        no.button("Cancel", key="runs_delete_no", on_click=lambda: st.session_state.pop("confirm_delete", None))


def import_file(store):
    st.subheader("Import")
    upload = st.file_uploader("Import runs from a JSON export", type=["json"], key="runs_import",
                              help="A file written by the JSON download above or by `python -m lab runs export`.")
    if upload is None:
        return
    name, done = ui.escape_markdown(upload.name), st.session_state.get("imported", {})
    if upload.file_id not in done:  # import each upload once; keep its outcome while it is there
        new, problem = compare.import_runs(store, upload.getvalue())
        st.session_state.imported = done = {upload.file_id: (new, problem)}
        if not problem:
            st.session_state.pick_next = new[:MAX_SELECTED]  # the list above is drawn: pick them on a rerun
            st.rerun()
    new, problem = done[upload.file_id]
    if problem:
        st.error(f"**{name}** was not imported: {ui.escape_markdown(problem)}")
        return
    more = f" (the first {MAX_SELECTED} are picked)" if len(new) > MAX_SELECTED else ""
    st.success(f"Imported {len(new)} run(s) from **{name}**: {compare.format_ids(new[:MAX_SELECTED])}{more}.")
    st.page_link("pages/4_Compare.py", label="Compare the imported runs", icon="📊",
                 query_params={"runs": compare.format_ids(new[:MAX_SELECTED])})


st.title("🗂️ Runs")
if "flash" in st.session_state:
    kind, message = st.session_state.pop("flash")
    (st.success if kind == "success" else st.error)(message)
store, summaries = ui.stored_runs()
by_id = {r["id"]: r for r in summaries}
if "pick_next" in st.session_state:  # runs just imported
    st.session_state.runs_picked = st.session_state.pop("pick_next")
elif "runs_picked" not in st.session_state:  # first visit: the runs named in the link (from the Compare page)
    linked, warnings = compare.selection(st.query_params.get("runs", ""), set(by_id))
    for warning in warnings:
        st.warning(warning)
    st.session_state.runs_picked = linked
st.session_state.runs_picked = [i for i in st.session_state.runs_picked if i in by_id]
st.caption(f"{len(summaries)} saved run{'s' if len(summaries) != 1 else ''}. Pick some to export them or to rename "
           "or delete one; find and compare runs on the **Compare** page.")
picked = st.multiselect("Runs", list(by_id), key="runs_picked", max_selections=MAX_SELECTED,
                        format_func=lambda i: compare.run_label(by_id[i]), placeholder="pick runs (type to search)")
if picked:
    st.query_params["runs"] = compare.format_ids(picked)
elif "runs" in st.query_params:
    del st.query_params["runs"]
runs, unreadable = compare.load_runs(store, picked)
for run_id, problem in unreadable.items():
    st.warning(f"Run #{run_id} cannot be read: {ui.escape_markdown(problem)}")
export(store, runs)
rename_or_delete(store, runs)
import_file(store)
