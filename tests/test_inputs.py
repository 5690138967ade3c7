"""Declared lake inputs: the dependency Dagster sees and the days the body reads are one object."""

import datetime as dt

from analytics_platform.calendar import trading_days
from analytics_platform.lake import Lake
from analytics_platform.tca.schemas import ENTITY_SCORES
from assets.inputs import LakeInput
from assets.tca import ENTITY_SCORE_INPUTS, tca_entity_scores


def test_a_window_covers_the_trading_days_before_the_partition():
    window = LakeInput(ENTITY_SCORES, days_before=19)
    days = window.days("2026-09-08")
    expected = trading_days(dt.date(2026, 7, 1), dt.date(2026, 9, 4))[-19:]
    assert days == expected  # Labor Day (2026-09-07) is not a trading day, so not in it
    assert LakeInput(ENTITY_SCORES).days("2026-09-08") == [dt.date(2026, 9, 8)]


def test_entity_scores_declares_the_window_it_reads():
    (spec,) = tca_entity_scores.specs_by_key.values()
    declared = {d.asset_key.to_user_string(): d.partition_mapping for d in spec.deps}
    own = declared["tca/entity_scores"]
    assert (own.start_offset, own.end_offset) == (-19, -1)
    assert [i.contract.table for i in ENTITY_SCORE_INPUTS] == [
        "tca/order_scores",
        "tca/fills",
        "tca/entity_scores",
    ]


def test_reading_an_input_scans_exactly_its_days(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    window = LakeInput(ENTITY_SCORES, days_before=3)
    assert window.read(lake, "2026-11-25").is_empty()  # no table yet: an empty frame
