"""Every page runs without an exception; without marts each shows a kind empty state."""

from __future__ import annotations

import pytest

from app.nav import PAGES


@pytest.mark.parametrize("page", [t for _, t, _ in PAGES])
def test_page_runs_without_exception(page: str, run_page, world) -> None:
    at = run_page(page)
    assert not at.exception, at.exception
    assert at.title and at.title[0].value in (page, "Lead", "Customer 360")
