"""Alembic migrations of the whole database (schemas crm, raw, ml and the dbt
schemas). Run them with `crm.migrate.upgrade()`; see `crm/migrate.py`."""
