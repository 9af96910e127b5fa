"""Exponential backoff with jitter, shared by webhook and e-mail deliveries."""

from __future__ import annotations

import random


def backoff_s(attempt: int, base_s: float, cap_s: float) -> float:
    """Delay before attempt `attempt + 1`: base * 2^(attempt-1), capped, then jittered to
    50-100% so a receiver that comes back is not hit by every retry at once."""
    delay = min(cap_s, base_s * 2 ** max(0, attempt - 1))
    return delay * (0.5 + random.random() / 2)
