-- The serving cost model per day: its version, error, interval coverage, drift and findings.
with insights as (
    select trade_date, count(*) as insights, string_agg(kind || ': ' || subject, '; ' order by kind, subject) as findings
    from {{ source('ml', 'insights') }}
    where {{ on_day() }}
    group by trade_date
)
select
    f.feedback_id, f.model_version, f.orders, f.mae_bps, f.bias_bps, f.coverage,
    f.coverage_in_band, f.drift_flagged, f.psi_spread_bps, f.psi_size_vs_adv, f.psi_error_bps,
    coalesce(i.insights, 0) as insights, i.findings, f.as_of_ts, f.trade_date
from {{ source('ml', 'model_feedback') }} as f
left join insights as i using (trade_date)
where {{ on_day('f.trade_date') }}
