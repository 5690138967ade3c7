{{ config(tags=['window']) }}
-- The day's execution quality headline and its trailing 20-day trend (days with data).
with daily as (
    select trade_date, fills, orders, notional, arrival_cost_bps, effective_spread_bps,
        is_total_bps, fill_rate, fills_outside_nbbo_share, outliers, best_venue, worst_venue
    from {{ source('tca', 'daily_report') }}
    where {{ up_to_day() }}
),
{{ trailing_windows('daily') }},
trend as (
    select
        windows.window_end as trade_date,
        min(windows.window_start) as window_start,
        count(*) as n_days,
        sum(daily.arrival_cost_bps * daily.notional) / nullif(sum(daily.notional), 0)
            as arrival_cost_bps_20d,
        sum(daily.is_total_bps * daily.notional) / nullif(sum(daily.notional), 0)
            as is_total_bps_20d,
        sum(daily.fill_rate * daily.orders) / nullif(sum(daily.orders), 0) as fill_rate_20d,
        sum(daily.fills_outside_nbbo_share * daily.fills) / nullif(sum(daily.fills), 0)
            as fills_outside_nbbo_share_20d
    from daily join windows on daily.trade_date = windows.day
    group by 1
)
select
    daily.*,
    trend.window_start,
    trend.n_days,
    trend.arrival_cost_bps_20d,
    trend.is_total_bps_20d,
    trend.fill_rate_20d,
    trend.fills_outside_nbbo_share_20d,
    daily.arrival_cost_bps - trend.arrival_cost_bps_20d as arrival_cost_vs_20d_bps
from daily join trend using (trade_date)
