"""kirin-video: a self-hosted Kirin v1.6 image-to-video task service."""

__version__ = "0.1.0"
