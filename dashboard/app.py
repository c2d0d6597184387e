"""Entry point of the mlstore dashboard: ``streamlit run dashboard/app.py -- --store URI``.

Each page is one module under ``views/``; this file only sets up navigation.
(Not ``pages/``: Streamlit would also list that folder's files, and app.py itself, in the sidebar.)
The pages import this folder as ``mlstore._dashboard``: in a checkout that is a symlink to
it, in a wheel a copy of it (like ``mlstore._migrations``), so the installed CLI finds it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

_PAGES = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="mlstore", layout="wide", initial_sidebar_state="expanded")
page = st.navigation([
    st.Page(_PAGES / "models.py", title="Models over time", url_path="home", default=True),
    # Streamlit serves the default page at "/" only; this hidden twin answers /models too.
    st.Page(_PAGES / "models.py", title="Models over time", url_path="models", visibility="hidden"),
    st.Page(_PAGES / "model.py", title="Model", url_path="model"),
    st.Page(_PAGES / "lineage.py", title="Lineage explorer", url_path="lineage"),
    st.Page(_PAGES / "runs.py", title="Runs", url_path="runs"),
    st.Page(_PAGES / "modules.py", title="Modules", url_path="modules"),
    st.Page(_PAGES / "gates.py", title="Gate history", url_path="gates"),
    st.Page(_PAGES / "data.py", title="Data", url_path="data"),
])
page.run()
