"""`python -m crm.events.schemas [--check]`: regenerate the JSON Schema files (or only check them)."""

from __future__ import annotations

import sys

from crm.events.schemas import committed, generate, write


def main(argv: list[str]) -> int:
    if "--check" in argv:
        wanted, on_disk = generate(), committed()
        stale = sorted(k for k in set(wanted) | set(on_disk) if wanted.get(k) != on_disk.get(k))
        for rel in stale:
            print(f"out of date: {rel}")
        return 1 if stale else 0
    changed, deleted = write()
    print(f"{len(generate())} schema files; {len(changed)} written, {len(deleted)} deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
