"""`python -m sim [S|M|L] [seed] [sink] [as_of]`: seed a world (for development; the
project CLI is `crm seed`)."""

from __future__ import annotations

import sys
from datetime import date

from sim import seed_world


def main(argv: list[str]) -> None:
    scale = argv[0] if argv else "S"
    seed = int(argv[1]) if len(argv) > 1 else 42
    sink = argv[2] if len(argv) > 2 else "kafka"
    as_of = date.fromisoformat(argv[3]) if len(argv) > 3 else None
    s = seed_world(scale, seed, as_of, sink=sink)
    print(
        f"{s.scale} seed={s.seed} as_of={s.as_of} sink={s.sink}: {sum(s.tables.values()):,} rows, "
        f"{s.events:,} events in {s.total_seconds:.1f}s ({s.seconds})"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
