"""Run benchmarks: `python -m benchmarks [NAME ...]` (all when none is named); names below."""

import sys

from benchmarks import (
    cost_model,
    eod_tca,
    event_path,
    features,
    history,
    ingest,
    resume,
    serving,
    simulator,
    tca,
    unchanged_day,
)

BENCHMARKS = {
    "simulator": simulator.run,
    "ingest": ingest.run,
    "tca": tca.run,
    "eod_tca": eod_tca.run,
    "history": history.run,
    "event_path": event_path.run,
    "resume": resume.run,
    "features": features.run,
    "serving": serving.run,
    "cost_model": cost_model.run,
    "unchanged_day": unchanged_day.run,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names:
        BENCHMARKS[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
