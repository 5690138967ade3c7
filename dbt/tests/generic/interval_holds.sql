{% test interval_holds(model, column_name, low, high, tolerance=1e-9) %}
{#- The interval [low, high] holds the estimate wherever all three are known. -#}
select {{ column_name }}, {{ low }}, {{ high }}
from {{ model }}
where {{ low }} > {{ column_name }} + {{ tolerance }}
   or {{ column_name }} > {{ high }} + {{ tolerance }}
{% endtest %}
