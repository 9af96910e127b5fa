"""Configuration, database access, auth, rate limits and the write path of the API."""
