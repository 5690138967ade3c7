-- Brinson effects linked over the trailing 20 days, per linking method.
select * from {{ source('attribution', 'brinson_linked') }} where {{ on_day() }}
