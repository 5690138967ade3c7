"""Compliance parameters, from the platform settings."""

from dagster import ConfigurableResource


class ComplianceConfig(ConfigurableResource):
    """Best-execution rules: the trade-through tolerance (TCA's NBBO tolerance; None: one
    tick) and the multiple of an order's timing risk its cost may exceed its estimate by."""

    cost_k_sigma: float
    nbbo_tolerance_bps: float | None = None
