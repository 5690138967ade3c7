"""Helper process for fault tests: ingest a topic and SIGKILL itself around the Nth row commit.

usage: python tests/crash_ingest.py SERVICE_URL LAKE_ROOT before|after N BATCH_SIZE
"""

import os
import signal
import sys

from analytics_platform.events.contracts import TRADE_EXECUTED
from analytics_platform.events.landing import ingest_topic
from analytics_platform.events.publisher import pulsar_client
from analytics_platform.lake import Lake


def main() -> None:
    service_url, lake_root, when, nth, batch_size = sys.argv[1:6]
    real_upsert = Lake.upsert
    calls = {"n": 0}

    def upsert(self, contract, frame, commit_metadata=None):
        if contract.table != TRADE_EXECUTED.spec.table:
            return real_upsert(self, contract, frame, commit_metadata)
        calls["n"] += 1
        if calls["n"] == int(nth) and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real_upsert(self, contract, frame, commit_metadata)
        if calls["n"] == int(nth) and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    Lake.upsert = upsert
    with pulsar_client(service_url) as client:
        ingest_topic(client, Lake(lake_root), TRADE_EXECUTED, batch_size=int(batch_size))


if __name__ == "__main__":
    main()
