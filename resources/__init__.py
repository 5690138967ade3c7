"""Dagster resources, built from the platform settings (env vars with embedded defaults)."""

from analytics_platform.config import PlatformSettings
from resources.lake import LakeResource, LandingZoneResource, QualityConfig


def build_resources(settings: PlatformSettings) -> dict[str, object]:
    return {
        "lake": LakeResource(
            root_uri=str(settings.lake_uri), storage_options=dict(settings.lake_storage_options)
        ),
        "landing": LandingZoneResource(root=str(settings.landing_uri)),
        "quality": QualityConfig(max_crossed_quote_share=settings.max_crossed_quote_share),
    }


__all__ = ["LakeResource", "LandingZoneResource", "QualityConfig", "build_resources"]
