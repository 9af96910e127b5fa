"""The OpenAPI document is a contract a client can be generated from: every 2xx answer declares
its JSON body, every error is `ErrorOut`, and a client generated from the live document by
openapi-python-client runs a whole session (sign-in, creates, reads, updates, an API key and
its rotation) with typed models, over HTTP against the real API."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from pathlib import Path

import httpx


def test_every_answer_is_typed(client):
    doc = client.get("/openapi.json").json()
    untyped, bodies, errors = [], [], []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, answer in op["responses"].items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if (
                    status.startswith("2")
                    and status != "204"
                    and (not schema or schema == {"type": "string"})
                ):
                    untyped.append(f"{method.upper()} {path} {status}")
                if status[0] in "45" and schema != {"$ref": "#/components/schemas/ErrorOut"}:
                    errors.append(f"{method.upper()} {path} {status}")
            if "requestBody" in op and not {"400", "413", "422"} <= set(op["responses"]):
                bodies.append(f"{method.upper()} {path}")
    assert untyped == [] and errors == [] and bodies == []
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    # the 400 answer FastAPI gives for a body it cannot read is the documented one
    r = client.post("/auth/token", content=b"\xff\xfe", headers={"content-type": "text/plain"})
    assert r.status_code in (400, 422) and set(r.json()) == {"code", "message", "context"}


def _generate(api_url: str, out: Path) -> str:
    (out / "openapi.json").write_bytes(httpx.get(f"{api_url}/openapi.json").content)
    (out / "config.yml").write_text("post_hooks: []\npackage_name_override: crm_client\n")
    cli = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [
            str(cli),
            "generate",
            "--path",
            "openapi.json",
            "--config",
            "config.yml",
            "--meta",
            "none",
            "--output-path",
            "crm_client",
        ],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return "crm_client"


def test_a_generated_client_runs_a_session(api_url, tenants, tmp_path):
    from api_testkit import PASSWORD

    package = _generate(api_url, tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        c = importlib.import_module(package)
        api = importlib.import_module(f"{package}.api")
        models = importlib.import_module(f"{package}.models")
        auth = importlib.import_module(f"{package}.api.auth.token_auth_token_post")
        leads_create = importlib.import_module(f"{package}.api.leads.create_lead_leads_post")
        leads_get = importlib.import_module(f"{package}.api.leads.get_lead_leads_lead_id_get")
        leads_update = importlib.import_module(f"{package}.api.leads.update_lead_leads_lead_id_patch")
        leads_list = importlib.import_module(f"{package}.api.leads.list_leads_leads_get")
        history = importlib.import_module(f"{package}.api.leads.lead_history_leads_lead_id_history_get")
        deals_create = importlib.import_module(f"{package}.api.deals.create_deal_deals_post")
        keys_create = importlib.import_module(f"{package}.api.api_keys.create_api_key_api_keys_post")
        keys_rotate = importlib.import_module(
            f"{package}.api.api_keys.rotate_api_key_api_keys_key_id_rotate_post"
        )
        health = importlib.import_module(f"{package}.api.health.health_health_get")
        assert api is not None

        anon = c.Client(base_url=api_url, raise_on_unexpected_status=True)
        assert health.sync(client=anon).status == "ok"
        t = tenants["a"]
        signed = auth.sync(
            client=anon,
            body=models.TokenRequest(tenant=t.slug, email=f"manager@{t.slug}.test", password=PASSWORD),
        )
        assert isinstance(signed, models.TokenOut) and signed.expires_in > 0
        wrong = auth.sync_detailed(
            client=anon,
            body=models.TokenRequest(tenant=t.slug, email=f"manager@{t.slug}.test", password="no"),
        )
        assert wrong.status_code == 401 and isinstance(wrong.parsed, models.ErrorOut)

        me = c.AuthenticatedClient(
            base_url=api_url, token=signed.access_token, raise_on_unexpected_status=True
        )
        email = f"gen-{uuid.uuid4().hex[:6]}@client.test"
        lead = leads_create.sync(
            client=me, body=models.LeadCreate(email=email, source="generated", first_name="Gen")
        )
        assert isinstance(lead, models.LeadOut) and lead.version == 1 and lead.email == email
        got = leads_get.sync(client=me, lead_id=lead.id)
        assert isinstance(got, models.LeadOut) and got.id == lead.id
        changed = leads_update.sync(
            client=me, lead_id=lead.id, body=models.LeadUpdate(company="Typed Inc", version=1)
        )
        assert isinstance(changed, models.LeadOut) and changed.version == 2
        page = leads_list.sync(client=me, limit=500)
        assert lead.id in {item.id for item in page.items}
        trail = history.sync(client=me, lead_id=lead.id)
        assert [e.action for e in trail.items] == ["created", "updated"]
        deal = deals_create.sync(
            client=me, body=models.DealCreate(name="Typed deal", value="120.00", lead_id=lead.id)
        )
        assert isinstance(deal, models.DealOut) and deal.lead_id == lead.id
        bad = leads_create.sync_detailed(client=me, body=models.LeadCreate(email="not-an-email", source="x"))
        assert bad.status_code == 422 and bad.parsed.code == "VALIDATION_ERROR"

        admin_token = auth.sync(
            client=anon,
            body=models.TokenRequest(tenant=t.slug, email=f"admin@{t.slug}.test", password=PASSWORD),
        )
        admin = c.AuthenticatedClient(base_url=api_url, token=admin_token.access_token)
        key = keys_create.sync(
            client=admin, body=models.ApiKeyCreate(name="gen", scopes=["leads:read"], expires_in_days=30)
        )
        assert isinstance(key, models.ApiKeyCreated) and key.key.startswith("crm_") and key.expires_at
        rotated = keys_rotate.sync(client=admin, key_id=key.id, body=models.ApiKeyRotate(overlap_s=60))
        assert isinstance(rotated, models.ApiKeyRotated) and rotated.replaces.replaced_by == rotated.id
        as_key = c.Client(base_url=api_url, headers={"X-API-Key": rotated.key})
        assert leads_get.sync_detailed(client=as_key, lead_id=lead.id).status_code == 200
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]
