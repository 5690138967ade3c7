"""MLflow tracking store (MLFLOW_TRACKING_URI): sqlite under ANALYTICS_HOME by default, a tracking
server with a PostgreSQL backend in production."""

from dagster import ConfigurableResource


class MlflowResource(ConfigurableResource):
    """Where experiments, runs and registered models live."""

    tracking_uri: str

    def client(self):
        """An MLflow client on this store (mlflow is imported here: loading it costs seconds)."""
        from mlflow.tracking import MlflowClient  # noqa: PLC0415

        return MlflowClient(tracking_uri=self.tracking_uri)
