"""File imports as a Dagster job: the data engineer's way to run `crm import` (same step,
`integrations.imports.run.import_files`), with the run's counts and bad rows in the run log.

The imported rows reach the marts as any write does: their contract events go through the
outbox to the landing, and the event sensors refresh what depends on them."""

from pathlib import Path

from dagster import Config, Failure, MetadataValue, OpExecutionContext, in_process_executor, job, op
from pydantic import Field

from .resources import PostgresResource


class ImportConfig(Config):
    """What to import: the format, its files (for `mapping`, the mapping file first), the tenant."""

    format: str = Field(description="hubspot | salesforce | transactions | mapping")
    paths: list[str] = Field(description="files, or folders holding them")
    tenant: str = Field(description="tenant slug or id")
    create_tenant: str | None = Field(None, description="create the tenant with this name if missing")
    columns: dict[str, str] = Field(default_factory=dict, description="transactions: field -> column")
    skip_bad_rows: bool = Field(False, description="import the good rows and list the bad ones")
    clock: str | None = Field(
        None, description="set the tenant's clock: an ISO date, or 'last' (historical data)"
    )


def _files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(q for q in p.iterdir() if q.is_file()) if p.is_dir() else [p]
    return out


@op(
    name="import_files",
    description="Reads the files, checks every row, writes new and changed records (audited, with their events).",
)
def import_files_op(context: OpExecutionContext, config: ImportConfig, postgres: PostgresResource) -> None:
    from integrations.imports.run import import_files

    def progress(kind: str, done: int, total: int) -> None:
        if done == total or done % 50_000 == 0:
            context.log.info(f"{kind}: {done}/{total}")

    result = import_files(
        config.format,
        _files(config.paths),
        config.tenant,
        columns=config.columns or None,
        create_tenant=config.create_tenant,
        skip_bad_rows=config.skip_bad_rows,
        progress=progress,
        url=postgres.url,
        clock=config.clock,
    )
    bad = "\n".join(f"{b.file}:{b.line} {b.reason}" for b in result.bad[:200])
    if result.status == "rejected":
        raise Failure(
            description=f"{len(result.bad)} bad rows, nothing written (skip_bad_rows imports the good rows)",
            metadata={
                "run_id": MetadataValue.text(str(result.run_id)),
                "bad_rows": MetadataValue.int(len(result.bad)),
                "first_bad_rows": MetadataValue.md(f"```\n{bad}\n```"),
            },
        )
    if result.bad:
        context.log.warning(f"{len(result.bad)} bad rows left out:\n{bad}")
    context.log.info(f"import {result.run_id} {result.status}: {result.counts}")


@job(
    name="crm_import",
    executor_def=in_process_executor,
    description=(
        "Imports export files into a tenant (HubSpot, Salesforce, a transactions file, or any CSV/Parquet "
        "through a mapping file): every row checked first, nothing written while one is bad unless told to "
        "skip them; new and changed records written with their audit rows and events; a re-run changes "
        "nothing. Launch it from the Launchpad with the op's config."
    ),
)
def import_job() -> None:
    import_files_op()
