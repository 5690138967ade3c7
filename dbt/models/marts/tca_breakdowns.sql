-- Cost by bucket (size, urgency, participation, ...) per day.
select * from {{ source('tca', 'breakdowns') }} where {{ on_day() }}
