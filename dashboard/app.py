"""anogan dashboard: ``streamlit run dashboard/app.py`` or ``anogan dashboard``.

A thin layer over the library: every score, threshold and metric comes from
``anogan``; this app only chooses inputs and draws.
"""

import streamlit as st
from ui import keep_keras_state_between_reruns, require_token

# No page or Material icons: Streamlit fetches emoji favicons and the Material font from outside servers, and
# the dashboard makes no outside requests (its default favicon is served by the dashboard itself).
st.set_page_config(page_title="anogan", layout="wide")
keep_keras_state_between_reruns()
require_token()

pages = [
    st.Page("views/score.py", title="Score images", default=True),
    st.Page("views/results.py", title="Results"),
    st.Page("views/training.py", title="Training"),
    st.Page("views/about.py", title="About"),
]
st.navigation(pages).run()
