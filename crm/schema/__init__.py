"""The Postgres schema of the whole stack as SQLAlchemy Core tables.

`from crm.schema import tables as t` gives every table (`t.leads`, `t.raw_tickets`,
`t.model_versions`, ...), the single `t.metadata`, and `t.LANDING_TABLES`. The database itself is
built by the hand-written Alembic migrations in `crm/migrations` (see `crm.migrate`); a test
checks that these definitions and the migrated database agree.
"""
