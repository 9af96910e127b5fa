"""Prometheus metrics of the lander (served as text on the worker's `/metrics`).

Counts are per topic (the contract's name, without a test prefix). Per-event latency is
recorded in bulk per batch (`BulkHistogram`): one bisect per event instead of a
prometheus_client `observe()` call, which matters at tens of thousands of events a second.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)

LANDED = Counter(
    "crm_lander_events_landed", "Events written to raw.* (new rows).", ["topic"], registry=REGISTRY
)
DUPLICATES = Counter(
    "crm_lander_events_duplicate",
    "Valid events already landed (redelivery or resend).",
    ["topic"],
    registry=REGISTRY,
)
CONFLICTS = Counter(
    "crm_lander_conflicts",
    "Events whose event_id had landed with other content: dead-lettered as CONFLICT, the landed one kept.",
    ["topic"],
    registry=REGISTRY,
)
DEAD_LETTERED = Counter(
    "crm_lander_dead_letters",
    "Messages refused and dead-lettered, by reason code.",
    ["topic", "reason"],
    registry=REGISTRY,
)
PARKED = Counter(
    "crm_lander_events_parked",
    "Valid events of a tenant not in crm.tenants, parked in raw.parked_events (redeliveries included).",
    ["topic"],
    registry=REGISTRY,
)
RELEASED = Counter(
    "crm_lander_parked_released",
    "Parked events landed once their tenant existed.",
    ["topic"],
    registry=REGISTRY,
)
PARKED_NOW = Gauge(
    "crm_lander_parked_waiting",
    "Rows in raw.parked_events (every worker's), as of this worker's last re-check.",
    ["topic"],
    registry=REGISTRY,
)
BATCHES = Counter("crm_lander_batches", "Committed landing transactions.", ["topic"], registry=REGISTRY)
RETRIES = Counter(
    "crm_lander_retries",
    "Landing attempts retried after a database or broker error.",
    ["topic", "error"],
    registry=REGISTRY,
)
BATCH_EVENTS = Histogram(
    "crm_lander_batch_events",
    "Messages per landing transaction.",
    ["topic"],
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000),
    registry=REGISTRY,
)
BATCH_SECONDS = Histogram(
    "crm_lander_batch_seconds",
    "Validate + write + commit time of a landing transaction.",
    ["topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0)


class BulkHistogram:
    """A histogram fed a batch of values at a time (per label set)."""

    def __init__(self, name: str, doc: str, label: str, buckets: tuple[float, ...]) -> None:
        self.name, self.doc, self.label, self.buckets = name, doc, label, buckets
        self._data: dict[str, tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def observe_many(self, label_value: str, values: Iterable[float]) -> None:
        buckets = self.buckets
        counts = [0] * (len(buckets) + 1)
        total = 0.0
        for v in values:
            counts[bisect.bisect_left(buckets, v)] += 1
            total += v
        with self._lock:
            old = self._data.get(label_value)
            if old is None:
                self._data[label_value] = (counts, [total])
            else:
                for i, c in enumerate(counts):
                    old[0][i] += c
                old[1][0] += total

    def collect(self):
        fam = HistogramMetricFamily(self.name, self.doc, labels=[self.label])
        with self._lock:
            for lv, (counts, total) in self._data.items():
                cum, out = 0, []
                for bound, c in zip((*self.buckets, float("inf")), counts, strict=True):
                    cum += c
                    out.append(("+Inf" if bound == float("inf") else repr(bound), cum))
                fam.add_metric([lv], out, total[0])
        yield fam


LATENCY = BulkHistogram(
    "crm_lander_event_latency_seconds",
    "Kafka record timestamp to the landing transaction's commit: the broker's time (LogAppendTime),"
    " or the producer's (CreateTime) when at most LANDER_LATENCY_MAX_AGE old.",
    "topic",
    LATENCY_BUCKETS,
)
REGISTRY.register(LATENCY)
EVENT_AGE_BUCKETS = (
    3600.0,
    6 * 3600.0,
    86400.0,
    7 * 86400.0,
    30 * 86400.0,
    90 * 86400.0,
    365 * 86400.0,
    730 * 86400.0,
)
EVENT_AGE = BulkHistogram(
    "crm_lander_event_age_seconds",
    "Age at the commit of records whose producer stamped them over LANDER_LATENCY_MAX_AGE ago"
    " (backfills, replays, seeds stamping the event's own time): not landing latency.",
    "topic",
    EVENT_AGE_BUCKETS,
)
REGISTRY.register(EVENT_AGE)


class LagCollector:
    """Consumer lag per assigned partition, read at scrape time from the running consumer."""

    def __init__(self) -> None:
        self.source: Callable[[], Mapping[tuple[str, int], tuple[int, int]]] | None = None

    def collect(self):
        lag = GaugeMetricFamily(
            "crm_lander_consumer_lag",
            "High watermark minus committed offset, per partition.",
            labels=["topic", "partition"],
        )
        landed = GaugeMetricFamily(
            "crm_lander_landed_lag",
            "High watermark minus the next offset to land, per partition.",
            labels=["topic", "partition"],
        )
        if self.source is not None:
            try:
                for (topic, partition), (commit_lag, landed_lag) in self.source().items():
                    lag.add_metric([topic, str(partition)], commit_lag)
                    landed.add_metric([topic, str(partition)], landed_lag)
            except Exception:
                pass
        yield lag
        yield landed


LAG = LagCollector()
REGISTRY.register(LAG)


def render() -> bytes:
    return generate_latest(REGISTRY)
