"""What people wrote is sealed at rest: tickets, conversation messages and activities with known
text landed by a real lander worker through the broker, the messages analysed into signals, and
a `pg_dump` of the database shows none of that text (nor its evidence), while every landed value
opens to what was sent."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import orjson
import pytest
from streaming_harness import Lander
from test_requesters import PLAIN, _with_requester, _written

from crm.keys import event_text
from crm.keys.keyring import keyring
from stack.postgres import EmbeddedPostgres

pytestmark = pytest.mark.timeout(300)


def test_a_dump_shows_none_of_the_text_people_wrote(lander: Lander, crm_home: Path) -> None:
    from integrations.conversations.store import analyze_new_messages

    t = lander.tenant
    written = _written(t)
    written["tickets"].append(_with_requester(t))
    lander.produce_events([e for events in written.values() for e in events])
    lander.worker().wait_ready()
    lander.wait_landed(sum(len(e) for e in written.values()))
    assert analyze_new_messages(lander.db_url)["signals"] > 0
    ring = keyring(lander.db_url)
    for topic, events in written.items():
        table = topic.replace("-", "_")
        for event in events:
            (payload,) = lander.query(f"select payload from raw.{table} where event_id = %s", event.event_id)[
                0
            ]
            assert event_text.open_payload(t, topic, payload, ring) == orjson.loads(event.payload_json())
    evidence = [
        event_text.open_evidence(t, e, ring)
        for (e,) in lander.query("select evidence from crm.conversation_signals where tenant_id = %s", t)
    ]
    assert "ready to sign" in evidence

    pg_dump = EmbeddedPostgres(crm_home).bin_dir() / "pg_dump"
    dump = subprocess.run(
        [str(pg_dump), "--no-owner", "--dbname", lander.db_url],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.lower()
    assert "conversation_signals" in dump and "d2:dk1:" in dump  # the scan sees the dump and the rows
    # a phrase anywhere; a single word as a whole word (not inside base64); numbers alone aside,
    # and evidence of one word ("budget" is a column's name too)
    words = set(re.findall(r"[\w.@]+", dump))
    texts = [p.lower() for p in (*PLAIN, *(e for e in evidence if " " in e)) if not p.isdigit()]
    shown = [p for p in texts if (p in dump if re.search(r"\W", p) else p in words)]
    assert shown == [], shown
