"""Lander settings: the shared `crm.settings` (DATABASE_URL, KAFKA_BOOTSTRAP) plus `LANDER_*`
knobs, so tests and benchmarks can run isolated workers (own group, topic prefix, web port)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm.events import DATA_TOPICS
from crm.events.topics import Topic


class LanderConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LANDER_", extra="ignore")

    app_id: str = "crm-lander"
    """Faust app id = Kafka consumer group: workers with the same id share the partitions."""
    topic_prefix: str = ""
    """Prepended to every topic name (isolated test runs on a shared broker)."""
    web_port: int = 6066
    """HTTP port of /metrics (`--web-port` overrides it); one per worker on a machine."""
    web_host: str = "127.0.0.1"
    take_batches: int = Field(32, ge=1)
    """`stream.take(n, ...)`: fetched batches (one per partition and fetch) per transaction."""
    take_within: float = Field(0.05, gt=0)
    """`stream.take(..., within=t)`: the longest a partial batch waits, seconds. Faust starts this
    timer after the previous batch has landed, so a quiet topic lands every `t` + landing time:
    at 0.2 s that cycle alone was half a second of latency; under load the batches grow anyway."""
    max_poll_records: int = Field(2000, ge=1)
    """Records per fetch (all partitions together): bounds a transaction to take_batches x this."""
    max_fetch_bytes: int = Field(1024 * 1024, ge=1024)
    """Per-partition fetch size (aiokafka max_partition_fetch_bytes)."""
    buffer_batches: int = Field(4, ge=1)
    """Fetched batches a topic's channel may hold before the consumer pauses that partition."""
    commit_interval: float = Field(1.0, gt=0)
    """Seconds between offset commits of landed batches."""
    max_event_bytes: int = Field(1_000_000, ge=1)
    """Larger messages are dead-lettered as OVERSIZED."""
    park_timeout: float = Field(600.0, gt=0)
    """How long an event of a tenant missing from crm.tenants stays parked (raw.parked_events)
    before it is dead-lettered as UNKNOWN_TENANT. Parked events hold nothing up, so this only
    has to outlast the slowest writer of a new tenant (a seed commits a world's tenants in one
    transaction while its events already flow)."""
    park_recheck: float = Field(1.0, gt=0)
    """Seconds between the worker's passes over raw.parked_events: how soon a parked event
    lands after its tenant is committed."""
    latency_max_age: float = Field(3600.0, gt=0)
    """Seconds: a record its producer stamped (CreateTime) longer ago than this at landing is a
    backfill or a replay, counted in `crm_lander_event_age_seconds` instead of the landing
    latency (a record stamped by the broker, LogAppendTime, always counts as latency)."""
    retry_base: float = Field(0.2, gt=0)
    retry_max: float = Field(10.0, gt=0)
    shutdown_grace: float = Field(30.0, gt=0)
    """SIGTERM: how long the batch in flight may take to finish."""
    gc_threshold: int = Field(10_000, ge=1)
    """Young-generation threshold of Python's garbage collector in the worker (default 700)."""
    rebalance_timeout: float = 5.0
    session_timeout: float = 10.0
    heartbeat_interval: float = 1.0

    def topic(self, logical: str) -> str:
        return f"{self.topic_prefix}{logical}"

    @property
    def data_topics(self) -> dict[str, str]:
        """Kafka topic name -> logical topic (the contract's name)."""
        return {self.topic(t): t for t in DATA_TOPICS}

    @property
    def dead_letter_topic(self) -> str:
        return self.topic(Topic.DEAD_LETTERS)


@lru_cache(maxsize=1)
def get_config() -> LanderConfig:
    return LanderConfig()
