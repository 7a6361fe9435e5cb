"""The celltwin dashboard: the st.navigation router and the shared sidebar (filters persist across pages).

Start it with ``twin dashboard`` (or ``streamlit run apps/dashboard.py`` with ``TWIN_WAREHOUSE`` set).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

APPS_DIR = Path(__file__).resolve().parent
if str(APPS_DIR) not in sys.path:  # the pages import common.py and jobs.py from here
    sys.path.insert(0, str(APPS_DIR))

import common  # noqa: E402

st.set_page_config(page_title="celltwin", page_icon=":material/precision_manufacturing:", layout="wide")

PAGES = [
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True),
    st.Page("views/cell_replay.py", title="Cell & replay", icon=":material/precision_manufacturing:", url_path="cell"),
    st.Page("views/quality.py", title="Quality", icon=":material/query_stats:", url_path="quality"),
    st.Page("views/cost.py", title="Cost", icon=":material/euro:", url_path="cost"),
    st.Page("views/carbon.py", title="Carbon", icon=":material/eco:", url_path="carbon"),
    st.Page("views/scenarios.py", title="Scenarios", icon=":material/science:", url_path="scenarios"),
]

page = st.navigation(PAGES)
common.sidebar()
page.run()
