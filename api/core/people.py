"""People's values (the e-mail, names and phone of leads and customers) as the API stores and
answers them.

They are stored sealed under the tenant's data key (`crm.keys.personal`): a row is sealed when
it is built, before anything is written, so the stored row, its audit images and its outbox
event all carry the sealed values. Every answer opens them: clients read what they wrote. The
keys come from this process's keyring, which the app points at its own role at startup.
Tables holding no people pass through every helper untouched, so the generic writers
(`api.routes._crud`) can call them for any table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from crm.errors import CRMError, CRMErrorCode
from crm.keys import personal

_NAMED = re.compile(r"%\((\w+)\)s")


def without_indexes(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in personal.LOOKUP_KEYS}


def holds_people(table: str) -> bool:
    return table in personal.PERSONAL


def sealed(tenant_id: UUID, table: str, row: dict[str, Any]) -> dict[str, Any]:
    """`row` ready to store: personal values sealed, the e-mail's index and domain and the
    phone's index beside them."""
    if not holds_people(table):
        return row
    _storable(table, row)
    return personal.seal_row(tenant_id, table, row)


def _storable(table: str, row: Mapping[str, Any]) -> None:
    """422 for a value Postgres would refuse in a text column (NUL): sealed, it would be stored,
    and then refused wherever it is opened into text (the answer to the client stays the same
    as before the values were sealed)."""
    for col in personal.PERSONAL[table]:
        value = row.get(col)
        if isinstance(value, str) and "\x00" in value:
            raise CRMError(
                CRMErrorCode.VALIDATION_ERROR, f"{col}: may not contain NUL characters", {"field": col}
            )


def sealed_changes(
    tenant_id: UUID, table: str, before: Mapping[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    """An update's changes ready to store. A personal value equal to the stored one (opened)
    is left out: it keeps its stored text and index, and the change does not list it (a value
    sealed again would differ from the stored one every time)."""
    if not holds_people(table):
        return changes
    fields = personal.PERSONAL[table]
    kept = {
        k: v
        for k, v in changes.items()
        if k not in fields or personal.open_value(tenant_id, k, before.get(k)) != v
    }
    _storable(table, kept)
    return personal.seal_row(tenant_id, table, kept)


def opened(tenant_id: UUID, table: str, row: Mapping[str, Any] | None) -> Any:
    """`row` as answered: its personal values readable, its indexes left out (None stays None)."""
    if row is None or not holds_people(table):
        return row
    return without_indexes(personal.open_row(tenant_id, table, row))


def opened_rows(tenant_id: UUID, table: str, rows: Iterable[Mapping[str, Any]]) -> list[Any]:
    return [opened(tenant_id, table, r) for r in rows]


def opened_page(tenant_id: UUID, table: str, page: dict[str, Any]) -> dict[str, Any]:
    """A page (`api.routes._common.page_of`) with its items readable."""
    return page | {"items": opened_rows(tenant_id, table, page["items"])}


def email_filter(tenant_id: UUID, email: str, alias: str = "") -> tuple[str, tuple[Any, ...]]:
    """(SQL, its positional parameters) matching rows by e-mail, as `personal.email_match`
    does: by the blind index (any case of the address), or by the text of a row written before
    encryption."""
    sql = personal.email_match(alias)
    params = personal.email_params(tenant_id, email)
    return _NAMED.sub("%s", sql), tuple(params[name] for name in _NAMED.findall(sql))
