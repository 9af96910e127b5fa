"""Sign-in: a tenant's user gets in with the right password only, as the reader role, found by
the e-mail's sign-in index (staff e-mails and names are stored sealed) or, for an account stored
before encryption, by its text."""

from __future__ import annotations

import psycopg
from streamlit.testing.v1 import AppTest

from app.auth import SESSION_KEY, authenticate
from app.data.engine import make_reader_engine
from app.nav import ENTRYPOINT
from crm.keys import personal
from crm.security import hash_password


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
    with psycopg.connect(world.url) as conn:
        stored = conn.execute(
            "select email, full_name, email_bidx from crm.users where id = %s", (manager.user_id,)
        ).fetchone()
    assert personal.is_sealed(stored[0]) and personal.is_sealed(stored[1]) and stored[2]
    at = _sign_in(f"  {manager.email.upper()} ", world.password)
    assert not at.exception
    signed = at.session_state[SESSION_KEY]
    assert signed.tenant_id == manager.tenant_id and signed.user_id == manager.user_id
    # the name and e-mail come back sealed and are opened under the tenant: the sidebar names the user
    assert (signed.email, signed.full_name) == (manager.email, manager.full_name)
    assert not personal.is_sealed(signed.full_name) and " " in signed.full_name
    assert any(manager.full_name in m.value for m in at.sidebar.markdown)
    assert at.title[0].value == "Overview"


def test_a_user_stored_before_encryption_still_signs_in(world) -> None:
    manager = world.managers[0]
    email = f"old.hand@{manager.tenant_slug}.example"
    with psycopg.connect(world.url, autocommit=True) as conn:
        uid = conn.execute(
            "insert into crm.users (tenant_id, email, full_name, role, password_hash)"
            " values (%s, %s, 'Old Hand', 'analyst', %s) returning id",
            (manager.tenant_id, email, hash_password(world.password)),
        ).fetchone()[0]
        try:
            at = _sign_in(email.upper(), world.password)
            assert not at.exception
            signed = at.session_state[SESSION_KEY]
            assert (signed.user_id, signed.email, signed.full_name) == (str(uid), email, "Old Hand")
            refused = _sign_in(email, world.password + "x")
            assert SESSION_KEY not in refused.session_state
        finally:
            conn.execute("delete from crm.users where id = %s", (uid,))


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
            # an owner's id, tenant and sealed name only (migration 2011): never an e-mail or a role
            for column in ("email", "email_bidx", "role", "password_hash"):
                try:
                    conn.exec_driver_sql(f"select {column} from crm.users")
                except Exception as exc:  # permission denied
                    assert "permission denied" in str(exc)
                    conn.rollback()
                else:
                    raise AssertionError(f"crm_reader can read crm.users.{column}")
    finally:
        engine.dispose()


def test_reader_role_is_login_and_read_only(world) -> None:
    with psycopg.connect(world.url) as conn:
        login, super_, bypass = conn.execute(
            "select rolcanlogin, rolsuper, rolbypassrls from pg_roles where rolname = 'crm_reader'"
        ).fetchone()
    assert login and not super_ and not bypass
