-- Brinson effects per portfolio, method and sector, per day.
select * from {{ source('attribution', 'brinson_daily') }} where {{ on_day() }}
