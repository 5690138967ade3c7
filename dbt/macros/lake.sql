{% macro lake_uri() -%}
  {#- The Delta lake root: the var Dagster passes, else the platform's environment variables. -#}
  {{- var('lake_uri', env_var('ANALYTICS_LAKE_URI', env_var('ANALYTICS_HOME', '../var') ~ '/lake')) -}}
{%- endmacro %}

{% macro replace_day() -%}
  {#- Pre-hook of every incremental mart: the run's day is replaced (its rows deleted, then the
      model appends the day); without a day, every row is (a rebuild from all days). -#}
  {%- if is_incremental() -%}
    delete from {{ this }}{% if var('trade_date') %} where trade_date = date '{{ var("trade_date") }}'{% endif %}
  {%- endif -%}
{%- endmacro %}

{% macro on_day(column='trade_date') -%}
  {#- The run's day, or every day. -#}
  {%- if var('trade_date') -%} {{ column }} = date '{{ var("trade_date") }}' {%- else -%} true {%- endif -%}
{%- endmacro %}

{% macro up_to_day(column='trade_date') -%}
  {#- Days up to the run's day (the rows a trailing window of it reads), or every day. -#}
  {%- if var('trade_date') -%} {{ column }} <= date '{{ var("trade_date") }}' {%- else -%} true {%- endif -%}
{%- endmacro %}

{% macro generate_schema_name(custom_schema_name, node) -%}
  {#- Marts land in the schema their folder names (marts), not <target>_marts. -#}
  {{- (custom_schema_name or target.schema) | trim -}}
{%- endmacro %}

{% macro trailing_windows(relation) -%}
  {#- CTE `windows` (window_end, window_start, day): for each output day, the last `window_days`
      days with rows in `relation` up to it. -#}
  window_days_all as (
      select trade_date, row_number() over (order by trade_date) as n
      from (select distinct trade_date from {{ relation }}) as d
  ),
  windows as (
      select ends.trade_date as window_end, days.trade_date as day,
          min(days.trade_date) over (partition by ends.trade_date) as window_start
      from window_days_all as ends
      join window_days_all as days
        on days.n between ends.n - {{ var('window_days') }} + 1 and ends.n
      where {{ on_day('ends.trade_date') }}
  )
{%- endmacro %}
