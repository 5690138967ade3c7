{% test sums_to(model, expression, group_by, target='1', tolerance=none) %}
{#- Within each group, sum(expression) equals the target (a number, or an expression of the
    group's rows, e.g. its excess_return) within the tolerance: shares sum to 1, effects to
    the excess return. -#}
{%- set tol = tolerance if tolerance is not none else var('identity_tolerance') %}
select {{ group_by | join(', ') }}, sum({{ expression }}) as total, any_value({{ target }}) as target
from {{ model }}
group by {{ group_by | join(', ') }}
having abs(sum({{ expression }}) - any_value({{ target }})) > {{ tol }}
{% endtest %}
