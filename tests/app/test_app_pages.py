"""Every page runs without an exception; without marts each shows a kind empty state; no page
prints a stray string."""

from __future__ import annotations

import ast

import pytest

from app.nav import PAGES, VIEWS


@pytest.mark.parametrize("page", [t for _, t, _ in PAGES])
def test_page_runs_without_exception(page: str, run_page, world) -> None:
    at = run_page(page)
    assert not at.exception, at.exception
    assert at.title and at.title[0].value in (page, "Lead", "Customer 360")


@pytest.mark.parametrize("file", [f for f, _, _ in PAGES])
def test_no_stray_string_is_shown(file: str) -> None:
    """Streamlit's magic writes every bare expression of a page script to the page: a string
    meant as documentation (anything but the module's docstring) would appear on it."""
    body = ast.parse((VIEWS / file).read_text()).body
    stray = [
        n.lineno
        for n in body[1:]
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
    ]
    assert not stray, f"{file} shows the strings at lines {stray}"
