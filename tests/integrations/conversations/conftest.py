"""Fixtures of the conversation tests: the API's seeded two-tenant world, the API as a real
uvicorn process and tokens, reused from tests/api/conftest.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

API_TESTS = Path(__file__).resolve().parents[2] / "api"
sys.path.insert(0, str(API_TESTS))
_spec = importlib.util.spec_from_file_location("api_tests_conftest", API_TESTS / "conftest.py")
assert _spec and _spec.loader
_api = importlib.util.module_from_spec(_spec)
sys.modules["api_tests_conftest"] = _api
_spec.loader.exec_module(_api)

tenants = _api.tenants
api_url = _api.api_url
jwt_settings = _api.jwt_settings
token = _api.token
client = _api.client
as_ = _api.as_
owner_sql = _api.owner_sql
