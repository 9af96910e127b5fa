"""Managers' dashboards: sign in, then one page per subject (`streamlit run app/streamlit_app.py`).

Every page reads the marts through `app.data` as the read-only `crm_reader` role, filtered to
the signed-in user's tenant by row-level security.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts app/ on the path, not the checkout
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app.auth import SESSION_KEY, SignedIn, authenticate  # noqa: E402
from app.data import DataUnavailable, engine  # noqa: E402
from app.data.engine import UnsafeRole  # noqa: E402
from app.nav import PAGES, VIEWS  # noqa: E402
from app.ui import PHONE_CSS  # noqa: E402

MAX_FAST_ATTEMPTS = 5

st.set_page_config(page_title="CRM dashboards", page_icon=":material/insights:", layout="wide")
st.markdown(PHONE_CSS, unsafe_allow_html=True)


def sign_in_form() -> None:
    st.title("CRM dashboards")
    st.caption("Sign in with your CRM account. You will see your workspace's data only.")
    pending: list[SignedIn] = st.session_state.get("signin_choices", [])
    if pending:
        names = [f"{c.tenant_name} ({c.tenant_slug})" for c in pending]
        pick = st.radio("Your e-mail belongs to several workspaces: choose one", names, key="signin_pick")
        if st.button("Continue", type="primary", key="signin_continue"):
            st.session_state[SESSION_KEY] = pending[names.index(pick)]
            st.session_state.pop("signin_choices", None)
            st.rerun()
        return
    with st.form("signin"):
        email = st.text_input("E-mail", key="signin_email", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="signin_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
    if not submitted:
        return
    attempts = st.session_state.get("signin_attempts", 0)
    if attempts >= MAX_FAST_ATTEMPTS:  # slow down guessing within a session
        time.sleep(min(2.0 * (attempts - MAX_FAST_ATTEMPTS + 1), 10.0))
    try:
        matches = authenticate(engine(), email, password)
    except Exception as exc:  # database down or not migrated: say so, without a traceback
        reason = (
            "the dashboards' database role bypasses row-level security"
            if isinstance(exc, UnsafeRole)
            else "the CRM database cannot be reached"
        )
        st.error(f"Sign-in is unavailable right now: {reason}.")
        with st.expander("Details"):
            st.code(str(DataUnavailable(str(exc))), language=None)
        return
    if not matches:
        st.session_state["signin_attempts"] = attempts + 1
        st.error("Wrong e-mail or password.")
        return
    st.session_state["signin_attempts"] = 0
    if len(matches) == 1:
        st.session_state[SESSION_KEY] = matches[0]
    else:
        st.session_state["signin_choices"] = matches
    st.rerun()


def sign_out() -> None:
    for key in (SESSION_KEY, "signin_choices", "signin_attempts"):
        st.session_state.pop(key, None)


def page(file: str, title: str, icon: str, default: bool = False) -> st.Page:
    return st.Page(
        str(VIEWS / file), title=title, icon=icon, default=default, url_path=file.removesuffix(".py")
    )


user: SignedIn | None = st.session_state.get(SESSION_KEY)
if user is None:
    st.navigation([st.Page(sign_in_form, title="Sign in", icon=":material/login:")], position="hidden").run()
else:
    with st.sidebar:
        st.markdown(f"**{user.tenant_name}**  \n{user.full_name} · {user.role}")
        st.button("Sign out", on_click=sign_out, key="signout", width="stretch")
    nav = st.navigation({"Managers": [page(f, t, i, default=(n == 0)) for n, (f, t, i) in enumerate(PAGES)]})
    nav.run()
