"""Dagster orchestration: one `Definitions` (orchestration.definitions:defs) for the whole graph,
from the landed `raw.*` events through the dbt marts and the ML jobs to the marts that join scores."""
