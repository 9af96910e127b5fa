"""Telling a broker that came back empty from one that kept its log.

Kafka with persistent, replicated logs keeps every record and committed offset across a
restart. The local stack's Tansu keeps them in memory only: restarted, it is a new, empty
cluster (`stack.kafka` gives it a new cluster id at each start, so clients can tell). A producer
that must not lose what it sent (the outbox relay, an upstream with an outbox of its own)
watches the broker with a `BrokerWatch`: the cluster id changing, or an acknowledged offset at or
below one acknowledged before on the same partition (a log that went back, whatever the broker),
means that what was sent earlier may be gone, and whatever is not landed yet must be sent again
(landing is idempotent by event_id, so a re-sent event that had landed is a no-op).
"""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient

log = logging.getLogger(__name__)


async def cluster_id(bootstrap: str, timeout_ms: int = 5000) -> str | None:
    """The broker's cluster id (DescribeCluster); None when it cannot be asked."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="crm-broker-watch", request_timeout_ms=timeout_ms
    )
    try:
        await admin.start()
        described = await admin.describe_cluster()
        return str(described.get("cluster_id") or "") or None
    except Exception as exc:  # the broker down or restarting: ask again later
        log.debug("describe_cluster failed: %r", exc)
        return None
    finally:
        try:
            await admin.close()
        except Exception as exc:
            log.debug("admin close failed: %r", exc)


class BrokerWatch:
    """What one producer has seen of the broker: its cluster id and the highest acknowledged
    offset per partition. `lost()` says whether the broker lost its log since the last call."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.cluster: str | None = None
        self.high: dict[tuple[str, int], int] = {}
        self.went_back: tuple[str, int, int, int] | None = None
        """(topic, partition, offset acknowledged, highest before) of the first regression."""
        self.resets = 0

    def acked(self, topic: str, partition: int, offset: int) -> None:
        """Record an acknowledged offset (a record's, or a batch's base offset)."""
        key = (topic, partition)
        before = self.high.get(key)
        if before is not None and offset <= before and self.went_back is None:
            self.went_back = (topic, partition, offset, before)
        if before is None or offset > before:
            self.high[key] = offset

    async def lost(self) -> str | None:
        """Why the broker must be taken to have lost its log since the last call (None: it did
        not, as far as can be seen). The first call only learns the cluster id."""
        reason = None
        if self.went_back is not None:
            topic, partition, offset, before = self.went_back
            reason = f"{topic}[{partition}] acknowledged offset {offset} after {before}"
        current = await cluster_id(self.bootstrap)
        if current is not None:
            if self.cluster is not None and current != self.cluster:
                reason = f"cluster id changed from {self.cluster} to {current}"
            self.cluster = current
        if reason is not None:
            self.high.clear()
            self.went_back = None
            self.resets += 1
        return reason
