"""Request and response bodies (pydantic). Requests forbid unknown fields, so a typo is a 422
naming the field instead of silently dropped data."""
