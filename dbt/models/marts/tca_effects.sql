-- Venue, algo and broker effects vs their baseline over the trailing 20 days, one table.
{% for dimension in ['venue', 'algo', 'broker'] %}
select
    '{{ dimension }}' as dimension,
    entity, baseline, effect_bps, std_error, ci_low, ci_high, n_orders, n_fills,
    p_value, p_value_holm, verdict, window_start, window_end, trade_date
from {{ source('tca', dimension ~ '_effects') }}
where {{ on_day() }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
