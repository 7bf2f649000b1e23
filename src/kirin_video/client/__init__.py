"""The Python SDK for the Kirin task API: works against this server and the hosted service."""

from kirin_video.client._client import AsyncClient, Client
from kirin_video.client._exceptions import KirinAPIError
from kirin_video.client._images import ImageLike
from kirin_video.client._models import Page, Task

__all__ = ["AsyncClient", "Client", "ImageLike", "KirinAPIError", "Page", "Task"]
