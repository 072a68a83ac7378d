"""The cloud client: the Tidepool-compatible HTTP API, over httpx."""

from uploader.cloud.client import ChunkResult, CloudClient, CloudUser
from uploader.cloud.retry import RetryPolicy

__all__ = ["ChunkResult", "CloudClient", "CloudUser", "RetryPolicy"]
