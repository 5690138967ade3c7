import datetime as dt
import json

import polars as pl
import pytest

from analytics_platform.events.codec import encode_events
from analytics_platform.events.outbound import OUTBOUND, TCA_REPORT, natural_id, publish_outbound
from analytics_platform.events.publisher import pulsar_client
from tests.test_events_publish import _read_all


def _report() -> pl.DataFrame:
    return pl.DataFrame({"algo": ["VWAP", "TWAP"], "arrival_cost_bps": [4.2, 5.1]}).with_columns(
        report_id=natural_id("2026-11-20", pl.col("algo")),
        as_of_ts=pl.lit(dt.datetime(2026, 11, 20, 21, 30, tzinfo=dt.UTC)).cast(
            pl.Datetime("ns", "UTC")
        ),
        trade_date=pl.lit(dt.date(2026, 11, 20)),
    )


def test_outbound_topics_are_distinct_and_well_formed():
    topics = [s.topic for s in OUTBOUND]
    assert len(set(topics)) == 9
    assert TCA_REPORT.topic == "persistent://analytics/post-trade-analytics/tca-report"


def test_rerun_publishes_the_same_event_ids(pulsar_broker):
    first = encode_events(TCA_REPORT, _report())["event_id"].to_list()
    assert first == ["TCAReportEvent:2026-11-20|VWAP", "TCAReportEvent:2026-11-20|TWAP"]
    with pulsar_client(pulsar_broker.service_url) as client:
        publish_outbound(client, TCA_REPORT, _report())
        publish_outbound(client, TCA_REPORT, _report())  # a re-run
        received = _read_all(client, TCA_REPORT.topic)
    ids = [json.loads(m.data())["event_id"] for m in received]
    assert len(ids) == 4 and set(ids) == set(first)


def test_frame_without_the_natural_id_is_refused(pulsar_broker):
    with (
        pulsar_client(pulsar_broker.service_url) as client,
        pytest.raises(ValueError, match="report_id"),
    ):
        publish_outbound(client, TCA_REPORT, _report().drop("report_id"))
