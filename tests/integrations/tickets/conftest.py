"""The API test fixtures (tests/api/conftest.py: the two-tenant world, the API over HTTP, the
scored world whose marts dbt built), reused as they are."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

API_TESTS = Path(__file__).resolve().parents[2] / "api"
sys.path.insert(0, str(API_TESTS))

_spec = importlib.util.spec_from_file_location("api_test_fixtures", API_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _fixtures
_spec.loader.exec_module(_fixtures)

tenants = _fixtures.tenants
api_url = _fixtures.api_url
jwt_settings = _fixtures.jwt_settings
token = _fixtures.token
client = _fixtures.client
as_ = _fixtures.as_
owner_sql = _fixtures.owner_sql
world = _fixtures.world
world_url = _fixtures.world_url
world_client = _fixtures.world_client
world_as = _fixtures.world_as
world_sql = _fixtures.world_sql
Tenant = _fixtures.Tenant
