"""Sign-in: a tenant's user gets in with the right password only, as the reader role."""

from __future__ import annotations

import psycopg
from streamlit.testing.v1 import AppTest

from app.auth import SESSION_KEY, authenticate
from app.data.engine import make_reader_engine
from app.nav import ENTRYPOINT


def _sign_in(email: str, password: str) -> AppTest:
    at = AppTest.from_file(str(ENTRYPOINT), default_timeout=60)
    at.run()
    at.text_input(key="signin_email").input(email)
    at.text_input(key="signin_password").input(password)
    at.button[0].click()  # the form's submit button
    at.run()
    return at


def test_sign_in_with_the_right_password(world) -> None:
    manager = world.managers[0]
    at = _sign_in(manager.email, world.password)
    assert not at.exception
    signed = at.session_state[SESSION_KEY]
    assert signed.tenant_id == manager.tenant_id and signed.user_id == manager.user_id
    assert at.title[0].value == "Overview"


def test_wrong_password_is_refused_kindly(world) -> None:
    at = _sign_in(world.managers[0].email, world.password + "x")
    assert not at.exception
    assert SESSION_KEY not in at.session_state
    assert any("Wrong e-mail or password" in e.value for e in at.error)


def test_reader_cannot_read_users_but_can_sign_in(world) -> None:
    engine = make_reader_engine(world.url)
    try:
        assert authenticate(engine, world.managers[0].email, world.password)
        assert authenticate(engine, "nobody@nowhere.example", world.password) == []
        with engine.connect() as conn:
            assert conn.exec_driver_sql("select current_user").scalar() == "crm_reader"
            try:
                conn.exec_driver_sql("select count(*) from crm.users")
            except Exception as exc:  # permission denied
                assert "permission denied" in str(exc)
            else:
                raise AssertionError("crm_reader can read crm.users")
    finally:
        engine.dispose()


def test_reader_role_is_login_and_read_only(world) -> None:
    with psycopg.connect(world.url) as conn:
        login, super_, bypass = conn.execute(
            "select rolcanlogin, rolsuper, rolbypassrls from pg_roles where rolname = 'crm_reader'"
        ).fetchone()
    assert login and not super_ and not bypass
