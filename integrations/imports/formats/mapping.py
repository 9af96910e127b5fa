"""Any other CSV or Parquet file, through a mapping file (YAML) that says which record each
file holds and which column gives each field:

```yaml
system: legacy-erp            # the other system's name (links records across imports)
pipelines:                    # pipelines the deals name, created when missing
  Legacy:
    - {name: Open, probability: 20}
    - {name: Won, probability: 100, is_won: true}
    - {name: Lost, probability: 0, is_lost: true}
files:
  - path: accounts.csv        # relative to the mapping file
    record: customer          # customer | lead | deal | stage_change | activity | ticket | campaign | transaction
    object: account           # the system's object name (default: the record's)
    id: AccountNo             # the column holding the record's id in that system
    columns: {company: Name, industry: Sector, created_at: Opened}
    constants: {lifecycle_stage: ACTIVE}
  - path: orders.parquet
    record: deal
    id: OrderNo
    columns: {name: Title, value: Total, stage: State, customer_ref: AccountNo}
    constants: {pipeline: Legacy}
    references: {customer_ref: account}   # which object each reference names
```

Columns the mapping does not name become typed custom properties of the record's table.
"""

from __future__ import annotations

import typing
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crm.errors import CRMError, CRMErrorCode
from crm.schema.pipelines import StageDefinition, validate_stages
from integrations.imports.formats.base import FileMap, Getter, Parsed, read_file, reason, time_of
from integrations.imports.records import (
    ActivityRecord,
    CampaignRecord,
    CustomerRecord,
    DealRecord,
    LeadRecord,
    Record,
    StageChangeRecord,
    TicketRecord,
    TransactionRecord,
)

RECORDS: dict[str, type[Record]] = {
    "customer": CustomerRecord,
    "lead": LeadRecord,
    "deal": DealRecord,
    "stage_change": StageChangeRecord,
    "activity": ActivityRecord,
    "ticket": TicketRecord,
    "campaign": CampaignRecord,
    "transaction": TransactionRecord,
}
REF_OBJECTS = {
    "customer_ref": "customer_object",
    "lead_ref": "lead_object",
    "deal_ref": "deal_object",
    "parent_ref": "parent_object",
}


class StageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    probability: int = Field(0, ge=0, le=100)
    is_won: bool = False
    is_lost: bool = False


class FileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    record: Literal[
        "customer", "lead", "deal", "stage_change", "activity", "ticket", "campaign", "transaction"
    ]
    object: str | None = None
    id: str = Field(min_length=1, description="the column holding each record's id")
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, Any] = Field(default_factory=dict)
    references: dict[str, str] = Field(default_factory=dict)


class MappingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    pipelines: dict[str, list[StageSpec]] = Field(default_factory=dict)
    files: list[FileSpec] = Field(min_length=1)


def load(path: Path) -> MappingSpec:
    """The mapping file, checked (a CRMError VALIDATION_ERROR naming what is wrong)."""
    try:
        spec = MappingSpec.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValidationError) as exc:
        detail = reason(exc) if isinstance(exc, ValidationError) else str(exc)
        raise CRMError(CRMErrorCode.VALIDATION_ERROR, f"{path}: {detail}", {"file": str(path)}) from None
    for f in spec.files:
        model = RECORDS[f.record]
        unknown = [k for k in (*f.columns, *f.constants) if k not in model.model_fields or k == "object"]
        unknown += [k for k in f.references if k not in REF_OBJECTS or k not in model.model_fields]
        if unknown:
            raise CRMError(
                CRMErrorCode.VALIDATION_ERROR,
                f"{path}: {f.path}: {f.record} has no field {', '.join(sorted(unknown))}",
                {"file": str(path), "fields": sorted(unknown)},
            )
    for name, stages in spec.pipelines.items():
        problems = validate_stages([s.model_dump() | {"order": i + 1} for i, s in enumerate(stages)])
        if problems:
            raise CRMError(
                CRMErrorCode.VALIDATION_ERROR, f"{path}: pipeline {name}: {'; '.join(problems)}", {}
            )
    return spec


def _is_time(model: type[Record], name: str) -> bool:
    info = model.model_fields.get(name)
    if info is None:
        return False
    hint = info.annotation
    return datetime in typing.get_args(hint) or hint is datetime or "datetime" in repr(hint)


def read(paths: list[Path]) -> Parsed:
    """`paths`: the mapping file (first) and, optionally, data files that replace the mapping's
    `path`s in order."""
    spec = load(paths[0])
    base_dir = paths[0].parent
    out = Parsed()
    out.pipelines = {
        name: [
            StageDefinition(
                name=s.name, order=i + 1, probability=s.probability, is_won=s.is_won, is_lost=s.is_lost
            )
            for i, s in enumerate(stages)
        ]
        for name, stages in spec.pipelines.items()
    }
    overrides = paths[1:]
    for i, f in enumerate(spec.files):
        model = RECORDS[f.record]
        fields: dict[str, str | Getter] = {"external_id": f.id}
        for name, col in f.columns.items():
            fields[name] = time_of(col) if _is_time(model, name) else col
        constants: dict[str, Any] = dict(f.constants)
        for ref, obj in f.references.items():
            constants[REF_OBJECTS[ref]] = obj
        for ref, obj_field in REF_OBJECTS.items():
            if ref in model.model_fields and obj_field not in constants and obj_field in model.model_fields:
                info = model.model_fields[obj_field]
                if info.is_required() or info.default is None:
                    # a reference names the object of its own name (customer_ref: customer), a
                    # parent_ref the parent's (lead or deal)
                    constants[obj_field] = constants.get("parent", ref.removesuffix("_ref"))
                    if ref != "parent_ref":
                        constants[obj_field] = ref.removesuffix("_ref")
        entity = model.entity if model.entity in ("customers", "leads", "deals") else None
        path = overrides[i] if i < len(overrides) else base_dir / f.path
        fmap = FileMap(model, f.object or f.record, fields, constants, custom_entity=entity)
        out.extend(read_file(path, fmap))
    return out


def system_of(path: Path) -> str:
    return load(path).system
