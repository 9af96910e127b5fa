"""JSON Schemas of the event contracts, for producers in other languages.

Generated from the pydantic models (never edited by hand): `python -m crm.events.schemas`
rewrites this folder; a test fails if the committed files differ from what the models produce.
Layout: `envelope.v1.json`, `<topic>/<event_type>.v<N>.json` (the whole message: envelope with
that type's payload), `dead-letters/dead_letter.v1.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SCHEMA_DIR = Path(__file__).resolve().parent
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _document(model: type[BaseModel], rel_path: str) -> str:
    schema: dict[str, Any] = {"$schema": DIALECT, "$id": f"crm/events/schemas/{rel_path}"}
    schema.update(model.model_json_schema())
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """{relative path: file content} for every schema file."""
    import crm.events.payloads  # noqa: F401  (fills the registry)
    from crm.events.dead_letter import DeadLetter
    from crm.events.envelope import Event
    from crm.events.registry import REGISTRY
    from crm.events.topics import Topic

    files = {"envelope.v1.json": _document(Event, "envelope.v1.json")}
    for (event_type, version), spec in sorted(REGISTRY.items()):
        rel = f"{spec.topic}/{event_type}.v{version}.json"
        files[rel] = _document(spec.event_model, rel)
    rel = f"{Topic.DEAD_LETTERS}/dead_letter.v1.json"
    files[rel] = _document(DeadLetter, rel)
    return files


def committed(root: Path = SCHEMA_DIR) -> dict[str, str]:
    """The schema files currently on disk."""
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.json"))
    }


def write(root: Path = SCHEMA_DIR) -> tuple[list[str], list[str]]:
    """Write every schema, delete stale ones. Returns (written-or-changed, deleted)."""
    wanted = generate()
    on_disk = committed(root)
    changed = []
    for rel, text in wanted.items():
        if on_disk.get(rel) != text:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(rel)
    deleted = sorted(set(on_disk) - set(wanted))
    for rel in deleted:
        (root / rel).unlink()
    return changed, deleted
