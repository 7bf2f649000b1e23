"""Images as the API takes them: an http(s) URL as is, anything else as raw base64."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import Any, TypeAlias

from PIL import Image

#: A file path, raw bytes, a PIL image, or an http(s) URL.
ImageLike: TypeAlias = "str | os.PathLike[str] | bytes | Image.Image"


def encode_image(value: Any) -> str:
    """The wire form of one image: URLs pass through, the rest become base64 with no prefix."""
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value
    if isinstance(value, str | os.PathLike):
        return _b64(Path(value).read_bytes())
    if isinstance(value, bytes | bytearray | memoryview):
        return _b64(bytes(value))
    if isinstance(value, Image.Image):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        return _b64(buffer.getvalue())
    raise TypeError(
        f"image must be a file path, bytes, a PIL image or an http(s) URL; "
        f"got {type(value).__name__}"
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
