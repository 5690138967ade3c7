-- Pre-trade estimate vs realised cost per dimension and group over the trailing 20 days.
select * from {{ source('tca', 'pretrade_calibration') }} where {{ on_day() }}
