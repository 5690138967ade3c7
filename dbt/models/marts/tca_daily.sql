-- Daily TCA by strategy, venue, algo and broker, in one long table.
{% set dimensions = {'strategy': 'strategy_id', 'venue': 'venue', 'algo': 'algo', 'broker': 'broker'} %}
{% for dimension, column in dimensions.items() %}
select
    '{{ dimension }}' as dimension,
    {{ column }} as entity,
    metric,
    cast(count as bigint) as n,
    notional,
    weighted_bps,
    median_bps,
    p90_bps,
    ci95_low_bps,
    ci95_high_bps,
    trade_date
from {{ source('tca', dimension ~ '_daily') }}
where {{ on_day() }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
