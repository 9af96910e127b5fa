"""Two-way sync with HubSpot and Salesforce through their SDKs: incremental by cursor, idempotent, with a retry queue."""
