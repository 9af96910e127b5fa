"""The CRM write API (FastAPI): every CRM write over HTTP, tenant-isolated in the database."""
