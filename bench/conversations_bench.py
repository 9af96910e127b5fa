"""`make bench-conversations`: precision and recall of the conversation analyser per signal on
the hand-labelled messages (bench/data/conversations_labelled.jsonl), on its held-out part (never
used to tune the lexicon), its development part and the whole set ->
bench/results/signals.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from integrations.conversations.analyzer import ANALYZER_VERSION
from integrations.conversations.evaluation import BENCH_COMPETITORS, LABELLED_SET, errors, evaluate, load

RESULTS = Path(__file__).resolve().parent / "results" / "signals.json"


def _fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--show-dev-errors", action="store_true", help="list the dev part's misses")
    args = parser.parse_args()
    rows = load()
    figures = evaluate(rows)
    result = {
        "analyzer_version": ANALYZER_VERSION,
        "labelled_set": str(LABELLED_SET.relative_to(LABELLED_SET.parents[2])),
        "tenant_competitors": list(BENCH_COMPETITORS),
        **figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'signal':24} {'holdout P':>9} {'R':>6} {'n':>4}   {'all P':>6} {'R':>6} {'n':>4}")
    for name, h in figures["holdout"]["signals"].items():
        a = figures["all"]["signals"][name]
        print(
            f"{name:24} {_fmt(h['precision']):>9} {_fmt(h['recall']):>6} {h['support']:>4}"
            f"   {_fmt(a['precision']):>6} {_fmt(a['recall']):>6} {a['support']:>4}"
        )
    for split in ("holdout", "all"):
        f = figures[split]
        print(
            f"{split}: {f['messages']} messages, sentiment accuracy {f['sentiment_accuracy']},"
            f" intent accuracy {f['intent_accuracy']}"
        )
    if args.show_dev_errors:
        for e in errors(rows, "dev"):
            print(e["id"], e["text"], e["gold_vs_predicted"])
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
