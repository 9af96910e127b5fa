"""A dashboard page run once by AppTest as a signed-in user (the fixtures' and tests' one way in)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.auth import SESSION_KEY, SignedIn
from app.nav import ENTRYPOINT, view_path


def open_page(page: str, who: SignedIn, query: dict | None = None, timeout: float = 60) -> AppTest:
    """AppTest of `page` (a title of app.nav.PAGES) run once, signed in as `who`."""
    at = AppTest.from_file(str(ENTRYPOINT), default_timeout=timeout)
    at.session_state[SESSION_KEY] = who
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page(view_path(page))
    at.run()
    return at
