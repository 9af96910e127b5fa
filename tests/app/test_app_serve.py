"""`make app` / the demo stage: the app starts in the background through the local stack's
service launcher, answers, is reused, and stops by name; the demo sign-in works with the
generated password."""

from __future__ import annotations

import urllib.request

from app.auth import authenticate
from app.data.engine import make_reader_engine
from stack import procs, services
from stack.demo_logins import DEMO_PASSWORD_KEY, demo_password, demo_sign_in


def test_start_reuse_and_stop(world, crm_home) -> None:
    rec = services.start(crm_home, "app", world.url)
    try:
        with urllib.request.urlopen(f"{rec.url}/_stcore/health", timeout=5) as r:
            assert r.status == 200
        again = services.start(crm_home, "app", world.url)
        assert again.pid == rec.pid  # reused, not started twice
        assert procs.cmdline(rec.pid) and "streamlit" in " ".join(procs.cmdline(rec.pid) or [])
    finally:
        assert procs.stop(crm_home, "app")
    assert not procs.is_alive(rec.pid)


def test_demo_password_lives_in_the_env_file(world, crm_home) -> None:
    password = demo_password(crm_home)
    assert password == demo_password(crm_home)
    assert f"{DEMO_PASSWORD_KEY}=" in (crm_home / "env").read_text()
    logins = demo_sign_in(world.url, password)
    assert logins
    engine = make_reader_engine(world.url)
    try:
        assert authenticate(engine, logins[0].email, password)
    finally:
        engine.dispose()
    demo_sign_in(world.url, world.password)  # give the other tests their password back
