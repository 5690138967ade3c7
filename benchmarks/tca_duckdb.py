"""Peer implementation: the same TCA metrics as straightforward DuckDB SQL (ASOF joins for M(t),
range joins for the VWAP and TWAP windows). Used as the benchmark peer and, on small data, as an
independent cross-check of the polars implementation."""

import duckdb
import polars as pl

QUOTES_SQL = """
CREATE OR REPLACE TEMP TABLE q AS
SELECT symbol, trade_date, ts, bid_px, ask_px, (bid_px + ask_px) / 2 AS mid
FROM quotes_in WHERE NOT is_glitch AND bid_px > 0 AND ask_px > 0 AND bid_px <= ask_px
"""


def fill_tca_sql(con, horizons_s: dict[str, float], age_s: float = 60.0) -> pl.DataFrame:
    def mid_at(alias: str, at: str) -> str:
        return f"""
        {alias} AS (
          SELECT l.exec_id,
                 CASE WHEN l.at - q.ts <= INTERVAL '{age_s} seconds' THEN q.mid END AS mid,
                 CASE WHEN l.at - q.ts <= INTERVAL '{age_s} seconds' THEN q.bid_px END AS bid,
                 CASE WHEN l.at - q.ts <= INTERVAL '{age_s} seconds' THEN q.ask_px END AS ask
          FROM (SELECT exec_id, symbol, trade_date, {at} AS at FROM f) l
          ASOF LEFT JOIN q ON l.symbol = q.symbol AND l.trade_date = q.trade_date AND l.at > q.ts
        )"""

    ctes = [
        """f AS (SELECT fi.*, o.arrival_ts, CASE WHEN fi.side = 'BUY' THEN 1.0 ELSE -1.0 END AS s
                 FROM fills_in fi LEFT JOIN orders_in o USING (order_id))""",
        mid_at("m_t", "ts"),
        mid_at("m_0", "arrival_ts"),
        *[mid_at(f"m_{h}", f"ts + INTERVAL '{sec} seconds'") for h, sec in horizons_s.items()],
    ]
    horizon_cols = []
    joins = []
    for h in horizons_s:
        horizon_cols += [
            f"2e4 * f.s * (f.price - m_{h}.mid) / m_t.mid AS realized_spread_bps_{h}",
            f"2e4 * f.s * (m_{h}.mid - m_t.mid) / m_t.mid AS price_impact_bps_{h}",
            f"1e4 * f.s * (m_{h}.mid - f.price) / f.price AS markout_bps_{h}",
        ]
        joins.append(f"LEFT JOIN m_{h} USING (exec_id)")
    sql = f"""
    WITH {", ".join(ctes)}
    SELECT f.exec_id, m_t.mid AS mid_at_fill, m_0.mid AS arrival_mid,
           1e4 * f.s * (f.price - m_0.mid) / m_0.mid AS arrival_cost_bps,
           2e4 * f.s * (f.price - m_t.mid) / m_t.mid AS effective_spread_bps,
           CASE WHEN f.side = 'BUY' THEN m_t.ask - f.price ELSE f.price - m_t.bid END
             AS price_improvement,
           {", ".join(horizon_cols)}
    FROM f LEFT JOIN m_t USING (exec_id) LEFT JOIN m_0 USING (exec_id) {" ".join(joins)}
    """
    return con.execute(sql).pl()


def order_tca_sql(con, impact_horizon_s: float = 300.0, age_s: float = 60.0) -> pl.DataFrame:
    def mid_at(alias: str, at: str) -> str:
        return f"""
        {alias} AS (
          SELECT l.order_id,
                 CASE WHEN l.at - q.ts <= INTERVAL '{age_s} seconds' THEN q.mid END AS mid
          FROM (SELECT order_id, symbol, trade_date, {at} AS at FROM o) l
          ASOF LEFT JOIN q ON l.symbol = q.symbol AND l.trade_date = q.trade_date AND l.at > q.ts
        )"""

    sql = f"""
    WITH agg AS (
      SELECT order_id, SUM(quantity) AS x, SUM(price * quantity) / SUM(quantity) AS avg_px,
             SUM(fee) AS fees
      FROM fills_in GROUP BY order_id
    ),
    o AS (
      SELECT o.*, CASE WHEN side = 'BUY' THEN 1.0 ELSE -1.0 END AS s,
             COALESCE(agg.x, 0) AS x, agg.avg_px, COALESCE(agg.fees, 0) AS fees
      FROM orders_in o LEFT JOIN agg USING (order_id)
    ),
    {mid_at("p0", "arrival_ts")},
    {mid_at("pn", "end_ts")},
    {mid_at("ph", f"end_ts + INTERVAL '{impact_horizon_s} seconds'")},
    iv AS (
      SELECT o.order_id, SUM(t.price * t.size) / SUM(t.size) AS ivwap, SUM(t.size) AS volume
      FROM o JOIN trades_in t ON t.symbol = o.symbol AND t.trade_date = o.trade_date
       AND t.ts BETWEEN o.arrival_ts AND o.end_ts
      GROUP BY o.order_id
    ),
    dv AS (
      SELECT symbol, trade_date, SUM(price * size) / SUM(size) AS dvwap
      FROM trades_in GROUP BY symbol, trade_date
    ),
    qs AS (
      SELECT symbol, trade_date, ts, mid,
             LEAD(ts) OVER (PARTITION BY symbol, trade_date ORDER BY ts) AS next_ts
      FROM q
    ),
    tw AS (
      SELECT o.order_id,
             SUM(qs.mid * epoch(LEAST(COALESCE(qs.next_ts, o.end_ts), o.end_ts)
                                - GREATEST(qs.ts, o.arrival_ts)))
             / SUM(epoch(LEAST(COALESCE(qs.next_ts, o.end_ts), o.end_ts)
                         - GREATEST(qs.ts, o.arrival_ts))) AS twap
      FROM o JOIN qs ON qs.symbol = o.symbol AND qs.trade_date = o.trade_date
       AND qs.ts < o.end_ts AND COALESCE(qs.next_ts, o.end_ts) > o.arrival_ts
      WHERE o.end_ts > o.arrival_ts
      GROUP BY o.order_id
    )
    SELECT o.order_id, o.x AS executed_quantity, o.avg_px AS avg_fill_px,
           o.x / o.quantity AS fill_rate,
           1e4 * o.s * (o.avg_px - p0.mid) / p0.mid AS arrival_cost_bps,
           iv.ivwap AS interval_vwap,
           1e4 * o.s * (o.avg_px - iv.ivwap) / iv.ivwap AS vwap_cost_bps,
           1e4 * o.s * (o.avg_px - dv.dvwap) / dv.dvwap AS day_vwap_cost_bps,
           tw.twap, 1e4 * o.s * (o.avg_px - tw.twap) / tw.twap AS twap_cost_bps,
           o.x / iv.volume AS participation_rate,
           (o.s * (CASE WHEN o.x > 0 THEN o.x * (o.avg_px - o.decision_px) ELSE 0 END
                   + (o.quantity - o.x) * (pn.mid - o.decision_px)) + o.fees)
             / (o.quantity * o.decision_px) * 1e4 AS is_total_bps,
           CASE WHEN o.x > 0 THEN 1e4 * o.s * (ph.mid - p0.mid) / p0.mid END
             AS permanent_impact_bps
    FROM o LEFT JOIN p0 USING (order_id) LEFT JOIN pn USING (order_id)
    LEFT JOIN ph USING (order_id) LEFT JOIN iv USING (order_id) LEFT JOIN tw USING (order_id)
    LEFT JOIN dv ON dv.symbol = o.symbol AND dv.trade_date = o.trade_date
    """
    return con.execute(sql).pl()


def connect(
    fills: pl.DataFrame, orders: pl.DataFrame, quotes: pl.DataFrame, trades: pl.DataFrame
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, frame in (
        ("fills_in", fills),
        ("orders_in", orders),
        ("quotes_in", quotes),
        ("trades_in", trades),
    ):
        # Load into DuckDB tables: ASOF joins over a registered Arrow view are ~50x slower.
        con.register(f"{name}_arrow", frame.to_arrow())
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
        con.unregister(f"{name}_arrow")
    con.execute(QUOTES_SQL)
    return con
