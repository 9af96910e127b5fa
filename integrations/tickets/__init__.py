"""The ticketing system's tickets: enriched with what the CRM knows of the requester, and leads created from them."""
