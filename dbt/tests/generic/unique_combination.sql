{% test unique_combination(model, combination_of_columns) %}
{#- No two rows share the values of these columns (the mart's natural key). -#}
select {{ combination_of_columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
