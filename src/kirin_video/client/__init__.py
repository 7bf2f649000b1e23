"""The Python SDK for the Kirin task API: works against this server and the hosted service."""

from kirin_video.client._client import AsyncClient, Client
from kirin_video.client._exceptions import KirinAPIError, WebhookVerificationError
from kirin_video.client._images import ImageLike
from kirin_video.client._models import Page, Task
from kirin_video.client._webhooks import verify_webhook

__all__ = [
    "AsyncClient",
    "Client",
    "ImageLike",
    "KirinAPIError",
    "Page",
    "Task",
    "WebhookVerificationError",
    "verify_webhook",
]
