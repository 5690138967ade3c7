"""Pulsar resource: the configured service, or the embedded pulsar-lite broker if one is running."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pulsar
from dagster import ConfigurableResource

from analytics_platform.events.broker import running_embedded_url
from analytics_platform.events.publisher import pulsar_client


class BrokerUnavailable(RuntimeError):
    """No Pulsar service is configured and no embedded broker is running."""


class PulsarResource(ConfigurableResource):
    """`service_url` from PULSAR_SERVICE_URL; unset means the embedded broker in `embedded_dir`."""

    service_url: str | None = None
    embedded_dir: str

    def resolve_url(self) -> str:
        if self.service_url:
            return self.service_url
        url = running_embedded_url(Path(self.embedded_dir))
        if url is None:
            raise BrokerUnavailable(
                "no Pulsar broker: set PULSAR_SERVICE_URL, or start the embedded one "
                "(`make ui` or `make run` start it)"
            )
        return url

    @contextmanager
    def client(self) -> Iterator[pulsar.Client]:
        with pulsar_client(self.resolve_url()) as client:
            yield client
