-- Best-execution exceptions of each day: rule, subject (order, venue, algo or broker), evidence.
select * from {{ source('compliance', 'exceptions') }} where {{ on_day() }}
