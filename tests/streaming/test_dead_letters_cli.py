"""`crm raw dead-letters`: refused events as an operator reads them, their sealed bytes opened
(text, or base64 when not UTF-8; bytes stored before sealing as they are), filtered by topic,
reason or id."""

from __future__ import annotations

import base64

import orjson
import psycopg
import pytest
from typer.testing import CliRunner

from crm.keys import undelivered
from crm.keys.keyring import keyring
from crm.settings import get_settings


def test_dead_letters_are_shown_opened(migrated_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from stack.cli import app

    monkeypatch.setenv("DATABASE_URL", migrated_db)
    get_settings.cache_clear()
    key = undelivered.current_key(keyring(migrated_db))
    sent = [
        ("tickets", "NOT_JSON", b'{"subject": "printer on fire'),
        ("tickets", "CONFLICT", b"\xff\xfe not text"),
        ("conversations", "NOT_JSON", b"stored before sealing"),
    ]
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        for offset, (topic, reason, raw) in enumerate(sent):
            blob, key_id = (raw, None) if offset == 2 else undelivered.seal(raw, topic, key)
            conn.execute(
                "INSERT INTO raw.dead_letters (topic, kafka_partition, kafka_offset, reason_code, reason,"
                " raw_bytes, raw_key_id) VALUES (%s, 0, %s, %s, 'refused', %s, %s)",
                (topic, offset, reason, blob, key_id),
            )
    runner = CliRunner()

    def shown(*args: str) -> list[dict]:
        out = runner.invoke(app, ["raw", "dead-letters", *args])
        assert out.exit_code == 0, out.output
        return [orjson.loads(line) for line in out.output.splitlines() if line.strip()]

    every = shown()
    assert [(r["topic"], r["reason_code"], r["offset"]) for r in every] == [
        ("conversations", "NOT_JSON", 2),
        ("tickets", "CONFLICT", 1),
        ("tickets", "NOT_JSON", 0),
    ]
    assert [(r["bytes"], r["encoding"]) for r in every] == [
        ("stored before sealing", "utf-8"),
        (base64.b64encode(b"\xff\xfe not text").decode(), "base64"),
        ('{"subject": "printer on fire', "utf-8"),
    ]
    assert [r["offset"] for r in shown("--topic", "tickets", "--reason", "NOT_JSON")] == [0]
    assert [r["offset"] for r in shown("--id", str(every[1]["id"]), "--limit", "5")] == [1]
    get_settings.cache_clear()
