"""anogan dashboard: ``streamlit run dashboard/app.py`` or ``anogan dashboard``.

A thin layer over the library: every score, threshold and metric comes from
``anogan``; this app only chooses inputs and draws.
"""

import streamlit as st

from ui import require_token

st.set_page_config(page_title="anogan", page_icon=":material/troubleshoot:", layout="wide")
require_token()

pages = [
    st.Page("views/score.py", title="Score images", icon=":material/upload:", default=True),
    st.Page("views/results.py", title="Results", icon=":material/insights:"),
    st.Page("views/training.py", title="Training", icon=":material/show_chart:"),
    st.Page("views/about.py", title="About", icon=":material/info:"),
]
st.navigation(pages).run()
