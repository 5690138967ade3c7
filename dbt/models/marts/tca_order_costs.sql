-- One row per parent order: its realised costs beside its pre-trade estimate.
select
    o.order_id, o.strategy_id, o.portfolio_id, o.symbol, o.side, o.algo, o.broker, o.order_type,
    o.urgency, o.quantity, o.executed_quantity, o.fill_rate,
    o.quantity * o.decision_px as notional,
    o.arrival_cost_bps, o.vwap_cost_bps, o.twap_cost_bps,
    o.is_delay_bps, o.is_trading_bps, o.is_opportunity_bps, o.is_fees_bps, o.is_total_bps,
    o.permanent_impact_bps, o.temporary_impact_bps,
    p.expected_cost_bps, p.timing_risk_bps, p.surprise_bps, p.scaled_surprise,
    o.trade_date
from {{ source('tca', 'orders') }} as o
left join {{ source('tca', 'pretrade') }} as p
  on p.order_id = o.order_id and p.trade_date = o.trade_date and {{ on_day('p.trade_date') }}
where {{ on_day('o.trade_date') }}
