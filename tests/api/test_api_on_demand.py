"""Every AI read answered on demand over HTTP equals the batch answer for the same features and
model version: lead scores and explanations, deal probabilities, churn with its factors, next
best actions, health, the pipeline forecast; with a model (the first world tenant) and with the
rules (the second). The rule fallback is flagged on every answer, a model that cannot load
gives way to the rules until a loadable version is active again, and reads stay inside the
caller's tenant."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from crm.db import enter_tenant_pg
from ml import churn, lead, registry

pytestmark = pytest.mark.slow

SAMPLE = 25
SCORE_FIELDS = (
    "score",
    "confidence",
    "method",
    "model_version",
    "factors",
    "recommendations",
    "next_best_actions",
)


def _sample(world_sql, table: str, key: str, tenant: str, where: str = "true") -> list[dict]:
    return world_sql(
        f"SELECT * FROM {table} WHERE tenant_id = %s AND {where} ORDER BY md5({key}::text) LIMIT {SAMPLE}",
        tenant,
    )


def _churn_factors(factors: list[dict]) -> list[dict]:
    """The stored factors as the API types them (the weight is a number)."""
    return [f | {"weight": float(f["weight"])} for f in factors]


@pytest.mark.parametrize("which", ["modelled", "rules_only"])
def test_lead_scores_on_demand_equal_the_batch(world, world_client, world_as, world_sql, which) -> None:
    tenant = getattr(world, which)
    rows = _sample(world_sql, "ml.lead_scores", "lead_id", tenant)
    assert len(rows) == SAMPLE
    for stored in rows:
        r = world_client.get(f"/leads/{stored['lead_id']}/score", headers=world_as(tenant))
        assert r.status_code == 200, r.text
        body = r.json()
        assert {k: body[k] for k in SCORE_FIELDS} == {k: stored[k] for k in SCORE_FIELDS}
        if which == "modelled":
            assert body["method"] == "model" and body["fallback_reason"] is None
        else:
            assert body["method"] == "rules" and body["model_version"] == lead.RULES_VERSION
            assert "no active lead_scoring model" in body["fallback_reason"]


@pytest.mark.parametrize("which", ["modelled", "rules_only"])
def test_a_stored_score_is_served_only_for_the_inputs_it_was_computed_from(
    world, world_client, world_as, world_sql, which
) -> None:
    """The API answers an unchanged lead with its stored batch score (the feature row's digest
    and the model version match). That is right because computing it again gives the same
    answer; and a stored row whose digest does not match the current features is not served:
    the answer is computed again."""
    from datetime import UTC, datetime

    from ml import marts, service, specs

    tenant = getattr(world, which)
    active = service.Active.load(world.url, specs.LEAD, tenant)
    rows = _sample(world_sql, "ml.lead_scores", "lead_id", tenant)[:10]
    for stored in rows:
        features = marts.lead_frame(world.url, lead_id=str(stored["lead_id"]))
        assert stored["inputs_digest"] == lead.inputs_digest(features)[0]
        computed = service.lead_score_answer(features, active, datetime.now(UTC))
        assert {k: computed[k] for k in SCORE_FIELDS} == {k: stored[k] for k in SCORE_FIELDS}

    stale, served = rows[0], rows[1]

    def forge(row: dict, digest_offset: int) -> int:
        forged = (row["score"] + 37) % 101
        world_sql(
            "UPDATE ml.lead_scores SET score = %s, inputs_digest = inputs_digest + %s WHERE lead_id = %s",
            forged,
            digest_offset,
            row["lead_id"],
        )
        return forged

    def restore(row: dict) -> None:
        world_sql(
            "UPDATE ml.lead_scores SET score = %s, inputs_digest = %s WHERE lead_id = %s",
            row["score"],
            row["inputs_digest"],
            row["lead_id"],
        )

    try:
        forge(stale, 1)  # a row stored for other inputs: computed again, the true score
        r = world_client.get(f"/leads/{stale['lead_id']}/score", headers=world_as(tenant))
        assert r.status_code == 200, r.text
        assert r.json()["score"] == stale["score"]
        forged = forge(served, 0)  # a row stored for these inputs: it is what is served
        r = world_client.get(f"/leads/{served['lead_id']}/score", headers=world_as(tenant))
        assert r.status_code == 200, r.text
        assert r.json()["score"] == forged != served["score"]
    finally:
        restore(stale)
        restore(served)


@pytest.mark.parametrize("which", ["modelled", "rules_only"])
def test_lead_explanation_adds_up(world, world_client, world_as, world_sql, which) -> None:
    tenant = getattr(world, which)
    for stored in _sample(world_sql, "ml.lead_scores", "lead_id", tenant)[:5]:
        r = world_client.get(f"/leads/{stored['lead_id']}/score/explanation", headers=world_as(tenant))
        assert r.status_code == 200, r.text
        body = r.json()
        assert {k: body[k] for k in SCORE_FIELDS} == {k: stored[k] for k in SCORE_FIELDS}
        total = sum(body["all_contributions"].values())
        if body["method"] == "model":
            assert body["probability"] == pytest.approx(1 / (1 + math.exp(-(body["base_logit"] + total))))
            assert body["score"] == round(100 * body["probability"])
        else:
            assert min(round(body["base_points"] + total), 100) == body["score"]


@pytest.mark.parametrize("which", ["modelled", "rules_only"])
def test_deal_probabilities_on_demand_equal_the_batch(
    world, world_client, world_as, world_sql, which
) -> None:
    tenant = getattr(world, which)
    rows = _sample(world_sql, "ml.deal_probabilities", "deal_id", tenant)
    assert rows
    for stored in rows:
        r = world_client.get(f"/deals/{stored['deal_id']}/probability", headers=world_as(tenant))
        assert r.status_code == 200, r.text
        body = r.json()
        got = {k: body[k] for k in ("probability", "method", "model_version", "factors")}
        assert got == {k: stored[k] for k in ("probability", "method", "model_version", "factors")}
        assert body["status"] == "open"
        assert (body["fallback_reason"] is None) == (which == "modelled")
    [closed] = world_sql(
        "SELECT deal_id, status FROM analytics.ml_features__deals WHERE tenant_id = %s AND status <> 'open' LIMIT 1",
        tenant,
    )
    body = world_client.get(f"/deals/{closed['deal_id']}/probability", headers=world_as(tenant)).json()
    assert body["method"] == "closed" and body["probability"] == (1.0 if closed["status"] == "won" else 0.0)


@pytest.mark.parametrize("which", ["modelled", "rules_only"])
def test_churn_on_demand_equals_the_batch(world, world_client, world_as, world_sql, which) -> None:
    """The rules rank one customer among the tenant's active customers, as the batch does (one
    row ranked against itself used to give every customer the same middle ranks)."""
    tenant = getattr(world, which)
    rows = _sample(world_sql, "ml.churn_predictions", "customer_id", tenant)
    assert len(rows) == SAMPLE
    for stored in rows:
        r = world_client.get(f"/customers/{stored['customer_id']}/churn", headers=world_as(tenant))
        assert r.status_code == 200, r.text
        body = r.json()
        keys = ("churn_probability", "churn_risk_level", "method", "model_version")
        assert {k: body[k] for k in keys} == {k: stored[k] for k in keys}
        assert body["factors"] == _churn_factors(stored["factors"])
        if which == "rules_only":
            assert body["model_version"] == churn.RULES_VERSION and body["fallback_reason"]
    assert len({r["churn_probability"] for r in rows}) > SAMPLE // 2  # not one degenerate value


def test_next_best_actions_follow_the_churn_risk(world, world_client, world_as, world_sql) -> None:
    tenant = world.modelled
    [risky] = world_sql(
        "SELECT customer_id, churn_risk_level, factors FROM ml.churn_predictions WHERE tenant_id = %s"
        " AND churn_risk_level IN ('high', 'critical') ORDER BY churn_probability DESC LIMIT 1",
        tenant,
    )
    r = world_client.get(f"/customers/{risky['customer_id']}/next-best-actions", headers=world_as(tenant))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["churn_risk_level"] == risky["churn_risk_level"] and body["method"] == "model"
    top = next(f["category"] for f in risky["factors"] if f["contribution"] > 0)
    from ml import nba

    assert body["actions"] == nba.churn_actions(risky["churn_risk_level"], top)
    assert body["actions"] and body["actions"][0]["priority"] == "high"


def test_health_now_equals_the_mart(world, world_client, world_as, world_sql) -> None:
    for tenant in (world.modelled, world.rules_only):
        for stored in _sample(world_sql, "analytics.fct_customer_health", "customer_id", tenant)[:10]:
            r = world_client.get(f"/customers/{stored['customer_id']}/health", headers=world_as(tenant))
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["health_score"] == float(stored["health_score"])
            assert (body["trend"], body["health_risk_level"]) == (
                stored["trend"],
                stored["health_risk_level"],
            )
            assert body["recommendations"] == stored["recommendations"]
            assert [f["category"] for f in body["factors"]] == [f["category"] for f in stored["factors"]]
            assert "risk_level" not in body


def test_health_view_shows_only_the_readers_tenant(world) -> None:
    import psycopg

    with psycopg.connect(world.url, autocommit=True) as conn:
        conn.execute("SET ROLE crm_api")
        with conn.transaction():
            enter_tenant_pg(conn, world.modelled)
            seen = {
                r[0]
                for r in conn.execute("SELECT DISTINCT tenant_id::text FROM analytics.customer_health_now")
            }
        assert seen == {world.modelled}
        with conn.transaction():
            assert conn.execute("SELECT count(*) FROM analytics.customer_health_now").fetchone() == (0,)


def test_pipeline_forecasts_add_up_to_the_batch(world, world_client, world_as, world_sql) -> None:
    """forecastRevenue over each pipeline, at the batch's horizon, sums to the tenant's stored
    pipeline forecast month by month and category by category."""
    from ml.forecast import PIPELINE_HORIZON_DAYS

    tenant = world.modelled
    stored = world_sql(
        "SELECT period_start, category, yhat FROM ml.revenue_forecasts WHERE tenant_id = %s AND kind = 'pipeline'"
        " AND run_id = (SELECT run_id FROM ml.revenue_forecasts WHERE tenant_id = %s AND kind = 'pipeline'"
        " ORDER BY created_at DESC LIMIT 1)",
        tenant,
        tenant,
    )
    assert stored
    summed: dict[tuple[str, str], float] = defaultdict(float)
    deals = 0
    for pipe in world_sql("SELECT id FROM crm.sales_pipelines WHERE tenant_id = %s", tenant):
        r = world_client.get(
            f"/pipelines/{pipe['id']}/forecast",
            params={"timeframe_days": PIPELINE_HORIZON_DAYS},
            headers=world_as(tenant),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["method"] == "pipeline_weighted" and body["timeframe_days"] == PIPELINE_HORIZON_DAYS
        assert body["total"]["expected"] == pytest.approx(sum(p["expected"] for p in body["periods"]))
        assert body["total"]["lower"] <= body["total"]["expected"] <= body["total"]["upper"]
        deals += body["total"]["deals"]
        for period in body["periods"]:
            summed[(period["period_start"], period["category"])] += period["expected"]
    assert summed == pytest.approx({(str(s["period_start"]), s["category"]): s["yhat"] for s in stored})
    assert deals > 0
    # a shorter timeframe counts fewer deals; a bad one and another tenant's pipeline are refused
    pipe = world_sql("SELECT id FROM crm.sales_pipelines WHERE tenant_id = %s ORDER BY name LIMIT 1", tenant)[
        0
    ]
    short = world_client.get(
        f"/pipelines/{pipe['id']}/forecast", params={"timeframe_days": 1}, headers=world_as(tenant)
    )
    assert short.status_code == 200 and short.json()["total"]["deals"] <= deals
    r = world_client.get(
        f"/pipelines/{pipe['id']}/forecast", params={"timeframe_days": 0}, headers=world_as(tenant)
    )
    assert r.status_code == 422 and r.json()["context"]["field"] == "timeframe_days"
    r = world_client.get(f"/pipelines/{pipe['id']}/forecast", headers=world_as(world.rules_only))
    assert r.status_code == 404 and r.json()["code"] == "PIPELINE_NOT_FOUND"


def test_reads_stay_in_the_callers_tenant(world, world_client, world_as, world_sql) -> None:
    lead_id = _sample(world_sql, "ml.lead_scores", "lead_id", world.modelled)[0]["lead_id"]
    customer = _sample(world_sql, "ml.churn_predictions", "customer_id", world.modelled)[0]["customer_id"]
    deal = _sample(world_sql, "ml.deal_probabilities", "deal_id", world.modelled)[0]["deal_id"]
    other = world_as(world.rules_only)
    for path, code in (
        (f"/leads/{lead_id}/score", "LEAD_NOT_FOUND"),
        (f"/leads/{lead_id}/score/explanation", "LEAD_NOT_FOUND"),
        (f"/deals/{deal}/probability", "DEAL_NOT_FOUND"),
        (f"/customers/{customer}/churn", "CUSTOMER_NOT_FOUND"),
        (f"/customers/{customer}/next-best-actions", "CUSTOMER_NOT_FOUND"),
        (f"/customers/{customer}/health", "CUSTOMER_NOT_FOUND"),
    ):
        r = world_client.get(path, headers=other)
        assert r.status_code == 404 and r.json()["code"] == code, (path, r.text)
    # a sales_rep scores only the leads assigned to it
    [rep] = world_sql(
        "SELECT u.id FROM crm.users u WHERE u.tenant_id = %s AND u.role = 'sales_rep' AND EXISTS"
        " (SELECT 1 FROM crm.leads l WHERE l.tenant_id = u.tenant_id AND l.assigned_user_id IS DISTINCT FROM u.id)"
        " ORDER BY u.email LIMIT 1",
        world.modelled,
    )
    [not_theirs] = world_sql(
        "SELECT id FROM crm.leads WHERE tenant_id = %s AND assigned_user_id IS DISTINCT FROM %s LIMIT 1",
        world.modelled,
        rep["id"],
    )
    r = world_client.get(
        f"/leads/{not_theirs['id']}/score", headers=world_as(world.modelled, "sales_rep", user=str(rep["id"]))
    )
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


def test_a_lead_the_warehouse_has_not_seen_is_503(world, world_client, world_as) -> None:
    h = world_as(world.modelled)
    made = world_client.post(
        "/leads", json={"email": f"{uuid.uuid4().hex[:8]}@new.test", "source": "web"}, headers=h
    )
    assert made.status_code == 201
    r = world_client.get(f"/leads/{made.json()['id']}/score", headers=h)
    assert r.status_code == 503 and r.json()["code"] == "SCORING_SERVICE_UNAVAILABLE"
    assert r.json()["context"]["table"] == "analytics.ml_features__leads"
    assert world_client.get(f"/leads/{uuid.uuid4()}/score", headers=h).json()["code"] == "LEAD_NOT_FOUND"


def test_the_rules_answer_while_the_active_model_cannot_load(
    world, world_client, world_as, world_sql
) -> None:
    """The seed's lead scoring recovery: a promoted version whose artifact is gone gives way to
    the rules (flagged, with the reason) on the next request, and the model answers again once
    a loadable version is active (the API reloads on every change of the active version)."""
    tenant = world.tenant_ids[2]
    lead_id = _sample(world_sql, "ml.lead_scores", "lead_id", tenant)[0]["lead_id"]
    h = world_as(tenant)
    first = world_client.get(f"/leads/{lead_id}/score", headers=h).json()
    assert first["method"] == "rules" and "no active lead_scoring model" in first["fallback_reason"]
    model, _ = registry.load_active(world.url, world.modelled, lead.MODEL_NAME)
    good = registry.register(world.url, tenant, lead.MODEL_NAME, model, {}, {}, (None, None))
    registry.promote(world.url, tenant, lead.MODEL_NAME, good.version)
    body = world_client.get(f"/leads/{lead_id}/score", headers=h).json()
    assert (body["method"], body["model_version"], body["fallback_reason"]) == ("model", good.label, None)
    broken = registry.register(world.url, tenant, lead.MODEL_NAME, model, {}, {}, (None, None))
    Path(broken.artifact_path or "").unlink()
    registry.promote(world.url, tenant, lead.MODEL_NAME, broken.version)
    body = world_client.get(f"/leads/{lead_id}/score", headers=h).json()
    assert body["method"] == "rules" and body["model_version"] == lead.RULES_VERSION
    assert f"cannot load {broken.label}" in body["fallback_reason"]
    assert (body["score"], body["factors"]) == (first["score"], first["factors"])
    registry.rollback(world.url, tenant, lead.MODEL_NAME)
    body = world_client.get(f"/leads/{lead_id}/score", headers=h).json()
    assert (body["method"], body["model_version"]) == ("model", good.label)


def test_tenant_rescore_is_a_request_the_ml_jobs_carry_out(world, world_client, world_as, world_sql) -> None:
    """scoreLeads: POST records a request (202) and, while it waits, asking again returns it;
    GET answers its state, in the caller's tenant only; the API writes no score. The ML step the
    rescore sensor's run calls (tests/orchestration/test_rescore_requests.py runs it through
    Dagster) scores the tenant's leads, and the request says done with the rows and method."""
    from ml import rescore

    tenant = world.modelled
    h = world_as(tenant)
    scored = "SELECT max(scored_at) AS at FROM ml.lead_scores WHERE tenant_id = %s"
    before = world_sql(scored, tenant)[0]["at"]
    r = world_client.post("/leads/rescore", headers=h)
    assert r.status_code == 202, r.text
    asked = r.json()
    assert (asked["status"], asked["tenant_id"], asked["requested_by"]) == (
        "pending",
        tenant,
        world.users[tenant],
    )
    assert (asked["rows"], asked["method"], asked["methods"], asked["started_at"]) == (None, None, {}, None)
    assert r.headers["location"] == asked["links"]["self"] == f"/leads/rescore/{asked['id']}"
    again = world_client.post("/leads/rescore", headers=h)
    assert again.status_code == 202 and again.json() == asked  # coalesced while it waits
    got = world_client.get(asked["links"]["self"], headers=h)
    assert got.status_code == 200 and got.json() == asked
    assert world_sql(scored, tenant)[0]["at"] == before  # the API scored nothing
    audit = world_sql(
        "SELECT action, actor_id::text AS actor FROM crm.audit_log WHERE entity_id = %s", asked["id"]
    )
    assert audit == [{"action": "requested", "actor": world.users[tenant]}]

    # another tenant neither sees it nor joins it; unknown ids are 404 too
    other = world_as(world.rules_only)
    r = world_client.get(asked["links"]["self"], headers=other)
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    assert world_client.get(f"/leads/rescore/{uuid.uuid4()}", headers=h).status_code == 404
    theirs = world_client.post("/leads/rescore", headers=other).json()
    assert theirs["id"] != asked["id"] and theirs["tenant_id"] == world.rules_only
    # a sales_rep may not rescore the tenant, an analyst may not write
    for role, code in (("sales_rep", "FORBIDDEN"), ("analyst", "FORBIDDEN")):
        r = world_client.post("/leads/rescore", headers=world_as(tenant, role))
        assert r.status_code == 403 and r.json()["code"] == code
    # a tenant the warehouse has no lead features for: 503 now, no request
    empty, admin = str(uuid.uuid4()), str(uuid.uuid4())
    world_sql(
        "INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'Empty')", empty, f"empty-{empty[:8]}"
    )
    world_sql(
        "INSERT INTO crm.users (id, tenant_id, email, role) VALUES (%s, %s, 'admin@empty.test', 'admin')",
        admin,
        empty,
    )
    r = world_client.post("/leads/rescore", headers=world_as(empty, user=admin))
    assert r.status_code == 503 and r.json()["code"] == "SCORING_SERVICE_UNAVAILABLE"
    assert r.json()["context"]["table"] == "analytics.ml_features__leads"
    assert (
        world_sql("SELECT count(*) AS n FROM crm.lead_rescore_requests WHERE tenant_id = %s", empty)[0]["n"]
        == 0
    )

    # the ML step: every lead of the tenant scored, the request done with what was written
    leads = world_sql("SELECT count(*) AS n FROM analytics.ml_features__leads WHERE tenant_id = %s", tenant)[
        0
    ]["n"]
    summary = rescore.rescore(world.url, asked["id"])
    assert summary["rows"] == leads
    done = world_client.get(asked["links"]["self"], headers=h).json()
    assert (done["status"], done["rows"], done["method"], done["methods"]) == (
        "done",
        leads,
        "model",
        {"model": leads},
    )
    assert done["fallback_reason"] is None and done["error"] is None
    assert done["requested_at"] <= done["started_at"] <= done["finished_at"]
    after = world_sql(
        "SELECT min(scored_at) AS at, count(*) AS n FROM ml.lead_scores WHERE tenant_id = %s", tenant
    )[0]
    assert after["n"] == leads and after["at"] > before
    assert rescore.rescore(world.url, asked["id"])["skipped"]  # a finished request is not done twice
    # the rules-only tenant's: done by the rules, saying why
    rescore.rescore(world.url, theirs["id"])
    rules = world_client.get(theirs["links"]["self"], headers=other).json()
    assert (rules["status"], rules["method"]) == ("done", "rules") and rules["rows"] > 0
    assert "no active lead_scoring model" in rules["fallback_reason"]
    # once it is taken, asking again makes a new request
    r = world_client.post("/leads/rescore", headers=h)
    assert r.status_code == 202 and r.json()["id"] != asked["id"] and r.json()["status"] == "pending"


def test_lead_reads_carry_the_written_scores_and_clients_cannot_set_them(
    world, world_client, world_as, world_sql
) -> None:
    tenant = world.modelled
    h = world_as(tenant)
    expected = world_sql(
        "SELECT count(*) AS n FROM ml.lead_scores s JOIN crm.leads l ON l.id = s.lead_id"
        " WHERE s.tenant_id = %s AND s.score >= 50",
        tenant,
    )[0]["n"]
    assert expected > 0
    seen, offset = [], 0
    while offset is not None:
        page = world_client.get(
            "/leads", params={"min_score": 50, "limit": 500, "offset": offset}, headers=h
        ).json()
        seen += page["items"]
        offset = page["next_offset"]
    assert len(seen) == expected and all(i["score"] >= 50 and i["score_reason"] for i in seen)
    one = seen[0]
    stored = world_sql("SELECT score FROM ml.lead_scores WHERE lead_id = %s", one["id"])[0]["score"]
    got = world_client.get(f"/leads/{one['id']}", headers=h).json()
    assert got["score"] == stored == got["score_explanation"]["score"]
    # an update answers the written score too, not the lead row's own column
    updated = world_client.patch(f"/leads/{one['id']}", json={"company": "Rescored Ltd"}, headers=h)
    assert updated.status_code == 200 and updated.json()["score"] == stored
    assert updated.json()["score_reason"] == one["score_reason"]
    got = world_client.get(f"/leads/{one['id']}", headers=h).json()
    # a lead just created is not scored yet: score null, and min_score leaves it out
    made = world_client.post(
        "/leads", json={"email": f"{uuid.uuid4().hex[:8]}@new.test", "source": "web"}, headers=h
    )
    assert made.status_code == 201 and (made.json()["score"], made.json()["score_reason"]) == (None, None)
    email = made.json()["email"]
    listed = world_client.get("/leads", params={"email": email}, headers=h).json()["items"]
    assert [(i["id"], i["score"]) for i in listed] == [(made.json()["id"], None)]
    assert (
        world_client.get("/leads", params={"email": email, "min_score": 0}, headers=h).json()["items"] == []
    )
    assert world_client.get(f"/leads/{made.json()['id']}", headers=h).json()["score"] is None
    for field in ("score", "score_reason"):
        r = world_client.patch(f"/leads/{one['id']}", json={field: 100}, headers=h)
        assert r.status_code == 422 and r.json()["context"]["field"] == field
        assert "computed by the lead scoring" in r.json()["message"]
    assert world_sql("SELECT version FROM crm.leads WHERE id = %s", one["id"])[0]["version"] == got["version"]
