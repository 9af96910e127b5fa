"""The Operations page against a real Prometheus scraping the real services (the local
monitoring, the API and `crm ops metrics`) and a Dagster instance with a job that ran: its
figures are what Prometheus answers (targets up, alerts firing, the outbox, marts past their
target, queue depths), an alert the failing run makes fire is named, a stopped exporter shows
down, the failed run shows with its failing step but not its error; other roles are turned
away, and without Prometheus the page says so and still lists the runs."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import integration_rows as rows
import pandas as pd
import psycopg
import pytest
from dagster import DagsterInstance, job, op
from monitoring_stack import MISSING, Running, alerts, monitored, scalar, targets, wait_for
from signed_in import open_page
from streamlit.testing.v1 import AppTest

from app.auth import SignedIn
from app.data import ops
from crm.keys import staff
from crm.keys.keyring import keyring
from crm.settings import get_settings
from stack import procs
from stack.prometheus import NODE_EXPORTER
from stack.screenshots import CHROMIUM

pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {MISSING} (make monitoring)")

SECRET = "acme-tenant-7f3e"
"""What the failing step's error says: the page must not show it."""
JOBS = {"api", "ops-metrics", "prometheus", "alertmanager", "postgres-exporter", NODE_EXPORTER}


@op(config_schema={"fail": bool})
def load_partner_feed(context) -> None:
    if context.op_config["fail"]:
        raise RuntimeError(f"feed of {SECRET} refused")


@job
def partner_feed() -> None:
    load_partner_feed()


def run_feed(home: Path, fail: bool) -> None:
    with DagsterInstance.from_config(str(home)) as instance:
        partner_feed.execute_in_process(
            instance=instance,
            run_config={"ops": {"load_partner_feed": {"config": {"fail": fail}}}},
            raise_on_error=False,
        )


@dataclass
class Ops:
    stack: Running
    dagster: Path
    admin: SignedIn
    manager: SignedIn


def _write_rows(url: str, tenant: str) -> None:
    """Marts built as dbt records them (one 3 h old: past its 2 h target), webhook deliveries
    as the deliverer leaves them (one due, one dead)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists analytics")
        conn.execute(
            "create table analytics.mart_freshness (tenant_id uuid, relation text, built_at timestamptz)"
        )
        for relation, age in (
            ("fct_deals", "3 hours"),
            ("dim_customers", "10 minutes"),
            ("fct_webhook_deliveries", "20 minutes"),
        ):
            conn.execute(
                "insert into analytics.mart_freshness values (%s, %s, now() - %s::interval)",
                (tenant, f"analytics.{relation}", age),
            )
        sub = rows.subscription(conn, tenant)
        rows.delivery(conn, tenant, sub, "pending", timedelta(minutes=5), [None])
        rows.delivery(conn, tenant, sub, "dead", timedelta(hours=2), [500] * 3)


@pytest.fixture(scope="module")
def stack(create_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    home = tmp_path_factory.mktemp("crm-ops-home")
    dagster = home / "dagster"  # what `crm ops metrics` reads under this CRM_HOME
    dagster.mkdir()
    (dagster / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    run_feed(dagster, fail=False)  # the job's failure counter starts at 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(dagster))
        with monitored(create_database, home, "ops-metrics") as running:
            _write_rows(running.database_url, str(running.tenant_id))
            r = httpx.post(
                f"{running.api}/leads",
                json={"email": "ada@lead.test", "source": "web"},
                headers=running.headers,
                timeout=10,
            )
            assert r.status_code == 201, r.text  # its change waits in the outbox: no relay runs
            admin = SignedIn(
                str(running.user_id),
                str(running.tenant_id),
                "mon",
                "Monitored",
                "admin@x.test",
                "Admin",
                "admin",
            )
            yield Ops(running, dagster, admin, dataclasses.replace(admin, role="manager"))


def _scraped(prom: str) -> bool:
    health = targets(prom)
    return (
        set(health) == JOBS
        and set(health.values()) == {"up"}
        and scalar(prom, 'crm_dagster_runs_failed_total{dagster_job="partner_feed"}') == 0
        and scalar(prom, "count(crm_mart_freshness_seconds)") == 3
        and scalar(prom, "sum(crm_outbox_backlog)") == 1
    )


@pytest.fixture(scope="module")
def failed(stack: Ops) -> Ops:
    """The stack scraped once healthy, then a failed run of the job: DagsterRunFailed fires."""
    prom = stack.stack.prometheus
    wait_for("every target up and scraped", lambda: _scraped(prom), timeout=90)
    run_feed(stack.dagster, fail=True)
    wait_for(
        "DagsterRunFailed firing",
        lambda: any(
            a["labels"]["alertname"] == "DagsterRunFailed" and a["state"] == "firing" for a in alerts(prom)
        ),
        timeout=60,
    )
    return stack


def page(who: SignedIn, monkeypatch: pytest.MonkeyPatch, prometheus: str, dagster: Path) -> AppTest:
    monkeypatch.setenv("PROMETHEUS_URL", prometheus)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster))
    get_settings.cache_clear()
    ops.prometheus_health.clear()  # a page read within the TTL would answer from the cache
    ops.dagster_runs.clear()
    at = open_page("Operations", who)
    get_settings.cache_clear()
    assert not at.exception, at.exception
    return at


def table(at: AppTest, column: str) -> pd.DataFrame:
    return next(df.value for df in at.dataframe if column in df.value.columns)


def shown_text(at: AppTest) -> str:
    parts = [str(df.value.to_dict()) for df in at.dataframe]
    parts += [e.value for kind in (at.caption, at.markdown, at.warning, at.info, at.success) for e in kind]
    return "\n".join(map(str, parts))


def test_the_page_shows_what_prometheus_answers(failed: Ops, monkeypatch: pytest.MonkeyPatch) -> None:
    prom = failed.stack.prometheus
    at = page(failed.admin, monkeypatch, prom, failed.dagster)
    tiles = {m.label: m.value for m in at.metric}
    health = targets(prom)
    firing = [a for a in alerts(prom) if a["state"] == "firing"]
    assert tiles["Components up"] == f"{list(health.values()).count('up')}/{len(health)}" == "6/6"
    assert tiles["Alerts firing"] == str(len(firing)) != "0"
    assert tiles["Outbox backlog"] == f"{scalar(prom, 'sum(crm_outbox_backlog)'):.0f}" == "1"
    late = scalar(prom, "count(crm_mart_freshness_seconds > crm_mart_freshness_slo_seconds)")
    assert tiles["Marts past target"] == f"{late:.0f} of 3" == "1 of 3"
    assert scalar(prom, "sum(crm_lander_consumer_lag)") is None and tiles["Consumer lag"] == "–"

    components = table(at, "health")
    assert set(components["job"]) == JOBS and set(components["health"]) == {"up"}
    shown = table(at, "alert")
    feed = shown[shown["alert"] == "DagsterRunFailed"].iloc[0]
    assert (feed["state"], feed["severity"]) == ("firing", "warning")
    assert "partner_feed" in feed["summary"] and feed["since"].endswith("ago")

    marts = table(at, "late").set_index("mart")
    assert marts.loc["fct_deals", "late"] and marts.loc["fct_deals", "target"] == "2 h"
    assert not marts["late"].drop("fct_deals").any()
    queues = table(at, "queue").set_index("queue")
    for state in ("due", "waiting", "dead"):
        expected = scalar(prom, f'sum(crm_webhook_queue_depth{{state="{state}"}})')
        assert queues.loc["Webhook deliveries", state] == expected, state
    assert (queues.loc["Webhook deliveries", "due"], queues.loc["Webhook deliveries", "dead"]) == (1, 1)

    runs = table(at, "failed_steps")
    assert runs[["job", "status", "failed_steps"]].values.tolist() == [
        ["partner_feed", "failure", "load_partner_feed"]
    ]  # the successful run is not listed
    text = shown_text(at)
    assert SECRET not in text and "refused" not in text
    assert "no tenant" in text and str(failed.admin.tenant_id) not in text


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: run `make chromium`")
def test_an_admin_sees_it_drawn_at_both_widths(failed: Ops, tmp_path: Path) -> None:
    """In a browser, as test_app_screens.py looks at the other pages (its manager is turned away
    from this one): no error box, a chart drawn, no tile cut off."""
    from crm.security import hash_password
    from stack.screenshots import capture, start_app

    password = secrets.token_urlsafe(12)
    with psycopg.connect(failed.stack.database_url, autocommit=True) as conn:
        conn.execute(
            "update crm.users set password_hash = %s where id = %s",
            (hash_password(password), failed.stack.user_id),
        )
        row = conn.execute(
            "select tenant_id, email from crm.users where id = %s", (failed.stack.user_id,)
        ).fetchone()
    assert row is not None
    email = staff.open_value(row[0], "email", row[1], keyring(failed.stack.database_url))  # stored sealed
    env = {
        "DATABASE_URL": failed.stack.database_url,
        "PROMETHEUS_URL": failed.stack.prometheus,
        "DAGSTER_HOME": str(failed.dagster),
    }
    port = procs.free_port()
    proc = start_app(port, env=env, log=tmp_path / "app.log")
    out = os.environ.get("CRM_SCREENSHOTS_DIR")
    try:
        shots = capture(
            f"http://127.0.0.1:{port}", email, password, Path(out) if out else None, ["Operations"]
        )
    finally:
        procs.terminate(proc.pid)
    assert {s.width for s in shots} == {"desktop", "phone"}
    for s in shots:
        assert not s.errors and not s.blank, (s.width, s.errors)
        assert s.charts >= 1 and not s.truncated, (s.width, s.charts, s.truncated)


def test_a_stopped_component_shows_down(failed: Ops, monkeypatch: pytest.MonkeyPatch) -> None:
    prom = failed.stack.prometheus
    procs.stop(failed.stack.home, NODE_EXPORTER)
    wait_for("the exporter down", lambda: targets(prom).get(NODE_EXPORTER) == "down", timeout=30)
    at = page(failed.admin, monkeypatch, prom, failed.dagster)
    assert {m.label: m.value for m in at.metric}["Components up"] == "5/6"
    components = table(at, "health")
    down = components[components["health"] == "down"]
    assert down["job"].tolist() == [NODE_EXPORTER]
    assert re.search("refused|connect", down["error"].iloc[0]), down["error"].iloc[0]


def test_other_roles_are_turned_away(failed: Ops, monkeypatch: pytest.MonkeyPatch) -> None:
    at = page(failed.manager, monkeypatch, failed.stack.prometheus, failed.dagster)
    assert len(at.info) == 1 and at.info[0].value.startswith("**The Operations page is for admins.**")
    assert not at.metric and not at.dataframe


def test_without_prometheus_the_page_says_so_and_lists_the_runs(
    failed: Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    for url, said in (("", "not configured"), (f"http://127.0.0.1:{procs.free_port()}", "does not answer")):
        at = page(failed.admin, monkeypatch, url, failed.dagster)
        assert len(at.warning) == 1 and said in at.warning[0].value, [w.value for w in at.warning]
        assert not at.metric
        assert table(at, "failed_steps")["job"].tolist() == ["partner_feed"]
