"""`make app` / the demo stage: the app starts in the background, answers, and stops by name;
the demo sign-in works with the generated password."""

from __future__ import annotations

import urllib.request

from app import serve
from app.auth import authenticate
from app.data.engine import make_reader_engine
from crm.stack import procs


def test_start_reuse_and_stop(world, crm_home) -> None:
    rec = serve.start(crm_home, world.url)
    try:
        with urllib.request.urlopen(f"{rec.url}/_stcore/health", timeout=5) as r:
            assert r.status == 200
        assert serve.start(crm_home, world.url).pid == rec.pid  # reused, not started twice
    finally:
        assert procs.stop(crm_home, serve.NAME)
    assert not procs.is_alive(rec.pid)


def test_demo_password_lives_in_the_env_file(world, crm_home) -> None:
    password = serve.demo_password(crm_home)
    assert password == serve.demo_password(crm_home)
    assert f"{serve.DEMO_PASSWORD_KEY}=" in (crm_home / "env").read_text()
    logins = serve.demo_sign_in(world.url, password)
    assert logins
    engine = make_reader_engine(world.url)
    try:
        assert authenticate(engine, logins[0].email, password)
    finally:
        engine.dispose()
    serve.demo_sign_in(world.url, world.password)  # give the other tests their password back
