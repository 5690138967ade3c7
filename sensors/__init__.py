"""Sensors: the Pulsar sensors that request partition runs, and the sources' observers."""

from dagster import DefaultSensorStatus


def default_status(running: bool) -> DefaultSensorStatus:
    """Started with the daemon, or stopped until someone starts it in the UI
    (ANALYTICS_SENSORS_RUNNING)."""
    return DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED
