-- Composite execution-quality score per venue, algo and broker with its 20-day trend.
select entity, name, orders, score, trend_20d, trade_date
from {{ source('tca', 'entity_scores') }}
where {{ on_day() }}
