"""Fixtures of every integration area: leads and customers found and read with their people's
values sealed (`sealed_people`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sealed_people import People


@pytest.fixture(scope="session")
def people() -> Callable[[str], People]:
    """`people(url)`: the leads and customers of the database at `url`."""
    return People
