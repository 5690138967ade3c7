{{ config(tags=['window']) }}
-- Per strategy and day: decision alpha, implementation shortfall and net alpha, with the trailing
-- 20-day notional-weighted values (days with data).
with daily as (
    select * from {{ source('attribution', 'strategy_daily') }} where {{ up_to_day() }}
),
{{ trailing_windows('daily') }},
trend as (
    select
        daily.strategy_id,
        windows.window_end as trade_date,
        count(*) as n_days,
        sum(daily.n_decisions) as n_decisions_20d,
        sum(daily.net_alpha_bps * daily.notional) / nullif(sum(daily.notional), 0)
            as net_alpha_bps_20d,
        sum(daily.decision_alpha_bps * daily.notional) / nullif(sum(daily.notional), 0)
            as decision_alpha_bps_20d,
        sum(daily.is_total_bps * daily.notional) / nullif(sum(daily.notional), 0)
            as is_total_bps_20d
    from daily join windows on daily.trade_date = windows.day
    group by 1, 2
)
select
    daily.strategy_id, daily.n_decisions, daily.notional, daily.decision_alpha_bps,
    daily.is_delay_bps, daily.is_trading_bps, daily.is_opportunity_bps, daily.is_fees_bps,
    daily.is_total_bps, daily.net_alpha_bps, daily.net_alpha_ci_low_bps,
    daily.net_alpha_ci_high_bps, daily.expected_alpha_bps, daily.hit_rate,
    daily.alpha_lost_share, daily.trade_date,
    trend.n_days, trend.n_decisions_20d, trend.net_alpha_bps_20d, trend.decision_alpha_bps_20d,
    trend.is_total_bps_20d
from daily join trend using (strategy_id, trade_date)
