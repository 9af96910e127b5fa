"""Schedules (UTC): lead scoring hourly, customer health/churn/segments daily, forecast and
lead model retraining weekly, landing observation every 15 minutes."""

from __future__ import annotations

from dagster import DefaultScheduleStatus, ScheduleDefinition

from .jobs import customer_health_job, lead_scoring_job, observe_landing_job, weekly_retrain_job

_on = DefaultScheduleStatus.RUNNING

lead_scoring_schedule = ScheduleDefinition(
    name="lead_scoring_hourly", job=lead_scoring_job, cron_schedule="5 * * * *", default_status=_on
)
customer_health_schedule = ScheduleDefinition(
    name="customer_health_daily", job=customer_health_job, cron_schedule="30 2 * * *", default_status=_on
)
weekly_retrain_schedule = ScheduleDefinition(
    name="forecast_retrain_weekly", job=weekly_retrain_job, cron_schedule="0 4 * * 1", default_status=_on
)
observe_landing_schedule = ScheduleDefinition(
    name="observe_landing_15min", job=observe_landing_job, cron_schedule="*/15 * * * *", default_status=_on
)

SCHEDULES = [
    lead_scoring_schedule,
    customer_health_schedule,
    weekly_retrain_schedule,
    observe_landing_schedule,
]
