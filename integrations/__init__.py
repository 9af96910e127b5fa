"""Where other systems' data comes in and goes out: file imports (HubSpot and Salesforce
exports, order histories, any CSV or Parquet through a mapping file), written through the same
audited change rows and contract events as the write API (`crm.changes`)."""
