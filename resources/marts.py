"""dbt for the marts, run from its own environment (dbt-core is not installed in this one)."""

from collections.abc import Sequence

from dagster_dbt import DbtCliResource

from analytics_platform.config import PlatformSettings


class SubprocessDbtCliResource(DbtCliResource):
    """A `DbtCliResource` whose dbt lives in another environment, run only as a subprocess.

    Before each invocation dagster-dbt opens a dbt-core adapter in this process (for column and
    row-count metadata, which the marts do not fetch); without dbt-core here that fails and it logs
    a warning with a traceback in every run. There is no adapter to open: skip it.
    """

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


def marts_dbt_resource(settings: PlatformSettings | None = None) -> DbtCliResource:
    """dbt for the marts: the project in dbt/, its profile there (paths passed as vars), run by
    the dbt environment's executable (`ANALYTICS_DBT_EXECUTABLE`, default .venv-dbt's)."""
    from assets.marts import dbt_executable, marts_project  # noqa: PLC0415

    return SubprocessDbtCliResource(
        project_dir=marts_project, dbt_executable=dbt_executable(settings)
    )
