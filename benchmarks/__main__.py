"""Run benchmarks: `python -m benchmarks [simulator|ingest|tca|eod_tca|history ...]` (all: none
named)."""

import sys

from benchmarks import eod_tca, history, ingest, simulator, tca

BENCHMARKS = {
    "simulator": simulator.run,
    "ingest": ingest.run,
    "tca": tca.run,
    "eod_tca": eod_tca.run,
    "history": history.run,
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
