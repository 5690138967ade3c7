"""Dagster loggers of the code location, chosen by ANALYTICS_LOG_FORMAT.

Both are registered as `console` (the key Dagster's default logger has), with the same config
(`log_level`, `name`), so run configs that tune the console logger work with either: `text` is
Dagster's colored console logger, for humans; `json` writes one JSON object per line to stderr
(ts, level, run_id, job, step_key, partition, event_type, message) for a log pipeline.

Dagster instantiates a job's loggers only when the run config names them; a run whose config
names none gets Dagster's default colored console. So with `json` the platform's jobs carry
`DEFAULT_RUN_CONFIG` (`loggers: console: {}`) as their default run config: sensor, schedule and
backfill runs of those jobs log JSON too.
"""

from dagster import Field, InitLoggerContext, LoggerDefinition, colored_console_logger, logger

from analytics_platform.config import PlatformSettings, load_settings
from analytics_platform.observability import json_logger


@logger(
    {
        # DEBUG: Dagster's events too, as its default console logger shows them.
        "log_level": Field(str, is_required=False, default_value="DEBUG"),
        "name": Field(str, is_required=False, default_value="dagster"),
    },
    description="One JSON object per line on stderr, with the run id, job, step and partition.",
)
def json_console_logger(init_context: InitLoggerContext):
    config = init_context.logger_config
    return json_logger(config["name"], config["log_level"].upper())


def build_loggers(settings: PlatformSettings) -> dict[str, LoggerDefinition]:
    """The code location's default loggers (jobs that declare none get these)."""
    if settings.log_format == "json":
        return {"console": json_console_logger}
    return {"console": colored_console_logger}


def default_run_config(settings: PlatformSettings | None = None) -> dict | None:
    """The default run config of the platform's jobs: the `console` logger named (so that the
    code location's logger is used) when the logs are JSON; none otherwise."""
    settings = settings or load_settings()
    return {"loggers": {"console": {}}} if settings.log_format == "json" else None
