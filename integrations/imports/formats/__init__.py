"""Import formats: each turns its files into canonical records (`integrations.imports.records`).

A format is a module with `SYSTEM` (the other system's name in `crm.external_ids`) and
`read(paths) -> Parsed`. `FORMATS` names them for `crm import <format>`; modules load on use.
"""

from __future__ import annotations

import importlib
from types import ModuleType

FORMATS: dict[str, str] = {
    "transactions": "integrations.imports.formats.transactions",
    "mapping": "integrations.imports.formats.mapping",
    "hubspot": "integrations.imports.formats.hubspot",
    "salesforce": "integrations.imports.formats.salesforce",
}
"""Format name -> its module."""


def format_module(name: str) -> ModuleType:
    if name not in FORMATS:
        raise KeyError(f"unknown import format {name!r}: one of {', '.join(FORMATS)}")
    return importlib.import_module(FORMATS[name])
