"""Warehouse helpers: running the dbt project (`warehouse.dbt`) and the dynamic segments
computed over its customer mart (`warehouse.segments`)."""
