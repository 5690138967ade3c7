{{ config(tags=['window']) }}
-- 20-day TCA by strategy, venue, algo and broker: for each day, the trailing window of the last
-- `window_days` days with data up to it, notional-weighted (Σ bps·notional / Σ notional).
{% set dimensions = {'strategy': 'strategy_id', 'venue': 'venue', 'algo': 'algo', 'broker': 'broker'} %}
with daily as (
{% for dimension, column in dimensions.items() %}
    select '{{ dimension }}' as dimension, {{ column }} as entity, metric, cast(count as bigint) as n,
        notional, weighted_bps, trade_date
    from {{ source('tca', dimension ~ '_daily') }}
    where {{ up_to_day() }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
),
{{ trailing_windows('daily') }}
select
    daily.dimension,
    daily.entity,
    daily.metric,
    windows.window_end as trade_date,
    min(windows.window_start) as window_start,
    count(distinct daily.trade_date) as n_days,
    sum(daily.n) as n,
    sum(daily.notional) as notional,
    sum(daily.weighted_bps * daily.notional) / nullif(sum(daily.notional), 0) as weighted_bps
from daily
join windows on daily.trade_date = windows.day
where daily.weighted_bps is not null
group by all
