"""Personal data a page shows is recorded for the signed-in user in crm.access_log (channel
`dashboard`), with the rows shown and the record when the page is about one; pages without
personal data record nothing. The dashboards' role appends through crm.record_access only."""

from __future__ import annotations

import psycopg


def _views(url: str, user_id: str, since) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select tenant_id::text, channel, actor_type, entity, entity_id::text, row_count from crm.access_log"
            " where actor_id = %s and occurred_at >= %s order by id",
            (user_id, since),
        ).fetchall()


def _now(url: str):
    with psycopg.connect(url) as conn:
        return conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]


def test_the_leads_and_lead_pages_record_what_they_show(run_page, world) -> None:
    manager = world.managers[0]
    since = _now(world.url)
    at = run_page("Leads")
    assert not at.exception
    views = _views(world.url, manager.user_id, since)
    # the listed leads' names, and their owners' (the filter's options and the list's column)
    assert sorted(v[:5] for v in views) == [
        (manager.tenant_id, "dashboard", "user", entity, None) for entity in ("leads", "users")
    ]
    assert all(v[5] > 0 for v in views)

    with psycopg.connect(world.url) as conn:
        lead_id = conn.execute(
            "select lead_id::text from analytics.fct_lead_scores where tenant_id = %s and score is not null"
            " order by score desc, lead_id limit 1",
            (manager.tenant_id,),
        ).fetchone()[0]  # type: ignore[index]
    since = _now(world.url)
    at = run_page("Lead", query={"lead": lead_id})
    assert not at.exception
    viewed = _views(world.url, manager.user_id, since)
    assert ("leads", lead_id, 1) in [(e, r, n) for _, _, _, e, r, n in viewed]


def test_a_page_without_personal_data_records_nothing(run_page, world) -> None:
    manager = world.managers[0]
    since = _now(world.url)
    at = run_page("Overview")
    assert not at.exception
    assert _views(world.url, manager.user_id, since) == []
