"""Headless Chromium against a running app: every page at desktop and phone width rendered
its charts (or, before the marts exist, its empty states), with no error box, not blank, and no
tile label or value cut off with an ellipsis."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.nav import PAGES
from stack.procs import free_port, terminate
from stack.screenshots import CHROMIUM, capture, start_app

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: run `make chromium`"
)


@pytest.fixture(scope="module")
def shots(world, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    proc = start_app(port, env={"DATABASE_URL": world.url}, log=log)
    try:
        out = Path(os.environ.get("CRM_SCREENSHOTS_DIR") or tmp_path_factory.mktemp("shots"))
        return capture(f"http://127.0.0.1:{port}", world.managers[0].email, world.password, out)
    finally:
        terminate(proc.pid)


WITHOUT_DATA_IN_THE_WORLD = {"Integrations", "Operations"}
"""Pages whose data the seeded world does not make (no webhooks, syncs or enrichments ran; an
earlier test of the session may have written some), and Operations, which turns the manager
signed in here away (an admin's view is shot in test_app_operations.py)."""


def test_every_page_at_both_widths(shots) -> None:
    assert {(s.title, s.width) for s in shots} == {(t, w) for _, t, _ in PAGES for w in ("desktop", "phone")}


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_pages_render_without_errors(shots, world, width: str) -> None:
    for s in (s for s in shots if s.width == width):
        assert not s.errors, f"{s.title} ({width}) shows an error: {s.errors}"
        assert not s.blank, f"{s.title} ({width}) is blank"
        assert s.path is not None and s.path.stat().st_size > 5_000
        if s.title in WITHOUT_DATA_IN_THE_WORLD:  # it draws what other tests wrote, else says why not
            assert s.charts >= 1 or s.empty_states >= 1, f"{s.title} ({width}) drew nothing and said nothing"
        else:
            assert s.charts >= 1, f"{s.title} ({width}) drew no chart"


def test_no_tile_is_cut_off(shots) -> None:
    """A tile's label and value fit it at both widths (a value shown as "revenue_pro…" or a
    label cut mid-word says nothing)."""
    cut = {f"{s.title} ({s.width})": s.truncated for s in shots if s.truncated}
    assert not cut
