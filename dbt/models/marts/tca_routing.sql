-- Where the day's shares and notional went, per order type and venue.
select * from {{ source('tca', 'routing') }} where {{ on_day() }}
