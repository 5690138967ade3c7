{% test expression_is_true(model, expression, column_name=none, where_known=none) %}
{#- A row-level identity or bound: the rows where the expression is false (rows where
    `where_known` is false are not tested). -#}
select *
from {{ model }}
where not ({{ expression }})
{%- if where_known %} and ({{ where_known }}){% endif %}
{% endtest %}
