"""Monitoring: what Prometheus scrapes beyond each process's own /metrics, and its configuration.

`monitoring.collector` serves gauges read on each scrape from the stores (Dagster runs and asset
freshness, dbt test results, model drift and calibration, webhook and sync queues, segment
staleness); `monitoring/prometheus/` holds the alert rules and their `promtool` tests. It sits
beside the other apps: it reads the domains, and nothing below imports it.
"""
