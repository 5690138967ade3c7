from pathlib import Path

import pytest

from analytics_platform.config import ConfigError, load_settings


def test_embedded_defaults_live_under_analytics_home(tmp_path: Path):
    s = load_settings({"ANALYTICS_HOME": str(tmp_path)})
    assert s.lake_uri == str(tmp_path / "lake")
    assert s.warehouse_path == str(tmp_path / "warehouse.duckdb")
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert s.pulsar_data_dir == str(tmp_path / "pulsar")
    assert s.embedded_pulsar


def test_production_overrides():
    s = load_settings(
        {
            "ANALYTICS_LAKE_URI": "s3://bucket/lake",
            "ANALYTICS_LAKE_STORAGE_OPTIONS": '{"AWS_REGION": "us-east-1"}',
            "PULSAR_SERVICE_URL": "pulsar+ssl://pulsar.prod:6651",
        }
    )
    assert s.lake_uri == "s3://bucket/lake"
    assert s.lake_storage_options == {"AWS_REGION": "us-east-1"}
    assert not s.embedded_pulsar


def test_dbt_runs_from_its_own_environment():
    from analytics_platform.config import PROJECT_DBT  # noqa: PLC0415

    default = load_settings({}).dbt_executable
    assert default == (str(PROJECT_DBT) if PROJECT_DBT.exists() else "dbt")
    assert PROJECT_DBT.parent.parent.name == ".venv-dbt"  # what `make bootstrap` creates
    chosen = load_settings({"ANALYTICS_DBT_EXECUTABLE": "/opt/dbt/bin/dbt"}).dbt_executable
    assert chosen == "/opt/dbt/bin/dbt"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PULSAR_SERVICE_URL": "http://broker:8080"}, "PULSAR_SERVICE_URL"),
        ({"ANALYTICS_MAX_CROSSED_QUOTE_SHARE": "1.5"}, "ANALYTICS_MAX_CROSSED_QUOTE_SHARE"),
        ({"ANALYTICS_MAX_CROSSED_QUOTE_SHARE": "lots"}, "ANALYTICS_MAX_CROSSED_QUOTE_SHARE"),
        ({"ANALYTICS_LAKE_STORAGE_OPTIONS": "{not json"}, "ANALYTICS_LAKE_STORAGE_OPTIONS"),
    ],
)
def test_invalid_config_fails_at_load_naming_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(env)


def test_the_readme_table_lists_every_setting_with_its_description():
    from analytics_platform.config import PlatformSettings  # noqa: PLC0415

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[3].strip()
        for line in readme.splitlines()
        if line.startswith("| `")
    }
    for field in PlatformSettings.model_fields.values():
        assert rows.get(field.alias) == field.description, field.alias


def test_tca_durations_are_validated_and_reach_the_resources():
    from resources import build_resources  # noqa: PLC0415

    with pytest.raises(ConfigError, match="ANALYTICS_TCA_MAX_QUOTE_AGE"):
        load_settings({"ANALYTICS_TCA_MAX_QUOTE_AGE": "a minute"})
    tca = build_resources(
        load_settings({"ANALYTICS_TCA_MAX_QUOTE_AGE": "5s", "ANALYTICS_TCA_IMPACT_HORIZON": "1m"})
    )["tca"]
    assert (tca.max_quote_age, tca.impact_horizon) == ("5s", "1m")
