"""Faust app for `bench/ingest_handoff.py`: the same agent on stock Faust (one event per
record) or on the lander's batch transport (one event per topic and fetch), parsing each
message with orjson and nothing else, to measure Faust's own per-event cost."""

from __future__ import annotations

import os
import resource
import time

import faust
import orjson

from streaming.models import BatchSchema
from streaming.transport import LanderApp

MODE = os.environ["HANDOFF_MODE"]  # "stock" or "batch"
TARGET = int(os.environ["HANDOFF_EVENTS"])
TOPIC = os.environ["HANDOFF_TOPIC"]
AppClass = LanderApp if MODE == "batch" else faust.App

app = AppClass(
    f"handoff-{MODE}-{TOPIC}",
    broker=f"kafka://{os.environ['KAFKA_BOOTSTRAP']}",
    value_serializer="raw",
    key_serializer="raw",
    broker_rebalance_timeout=5,
    consumer_auto_offset_reset="earliest",
    broker_max_poll_records=2000,
    stream_buffer_maxsize=4 if MODE == "batch" else 4096,
    datadir=os.environ.get("HANDOFF_DATADIR", "/tmp/handoff-data"),
    web_enabled=True,
)
topic = app.topic(
    TOPIC, schema=BatchSchema(key_serializer="raw", value_serializer="raw") if MODE == "batch" else None
)
state = {"n": 0, "t0": None, "cpu0": None}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@app.agent(topic)
async def consume(stream):
    loads = orjson.loads
    async for items in stream.take(5000 if MODE == "stock" else 32, within=0.2):
        if state["t0"] is None:
            state["t0"], state["cpu0"] = time.monotonic(), _cpu()
        if MODE == "stock":
            for value in items:
                loads(value)
            state["n"] += len(items)
        else:
            for batch in items:
                for record in batch.records:
                    loads(record.value)
                state["n"] += len(batch.records)
                batch.landed = True
                app.consumer.ack(batch)
        if state["n"] >= TARGET:
            dt, cpu = time.monotonic() - state["t0"], _cpu() - state["cpu0"]
            print(f"HANDOFF-DONE mode={MODE} events={state['n']} seconds={dt:.3f} cpu={cpu:.3f}", flush=True)
            state["t0"] = float("inf")
