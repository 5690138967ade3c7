-- Risk-adjusted metrics per portfolio and strategy over the trailing 20 days.
select * from {{ source('attribution', 'risk_metrics') }} where {{ on_day() }}
