"""Data protection: per-tenant retention policies (`policies`, `retention`) and the erasure of
one person's personal data (`erasure`). Core only: SQL on crm.*, raw.*, analytics.* and ml.*,
so the CLI (`crm retention`, `crm erase`) and the Dagster job `retention` share one code path."""
