"""Turn a client's image (base64 or URL) into checked bytes, refusing what the contract forbids."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageOps, UnidentifiedImageError

from kirin_video.contract import catalog as c
from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.contract.params import ImageInput, shown

if TYPE_CHECKING:
    from kirin_video.media.fetch import Fetcher

#: Largest decoded image accepted (pixels); bigger ones are refused before any pixel is decoded.
MAX_PIXELS = 8192 * 8192

_WHITESPACE = re.compile(r"\s+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URL_SAFE = str.maketrans("-_", "+/")
_ROTATED = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112
_URL_PREFIXES = ("http://", "https://")


@dataclass(frozen=True)
class InputImage:
    """A validated JPEG or PNG; width and height are as displayed (after EXIF orientation)."""

    data: bytes
    format: str
    width: int
    height: int

    def to_rgb(self) -> Image.Image:
        """The picture upright, as RGB, with any transparency laid on white."""
        with Image.open(io.BytesIO(self.data), formats=list(c.IMAGE_FORMATS)) as img:
            upright = ImageOps.exif_transpose(img)
            return _flatten(upright)


def _flatten(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda value: value / 256).convert("L")  # 16-bit PNG: keep the top byte
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def _invalid(field: str, rule: str, got: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {rule}; got {got}", code=ErrorCode.IMAGE_INVALID)


def decode_base64(value: str, *, field: str) -> bytes:
    """Raw base64 to bytes: whitespace, missing padding and the URL-safe alphabet are tolerated.

    Data URLs are refused with advice, since the contract asks for the bare base64.
    """
    if value.lstrip()[:5].lower() == "data:":
        raise _invalid(
            field,
            "must be raw base64 without a 'data:' prefix (send only the part after 'base64,')",
            shown(value),
        )
    compact = _WHITESPACE.sub("", value)
    if ("-" in compact or "_" in compact) and not ("+" in compact or "/" in compact):
        compact = compact.translate(_URL_SAFE)  # the URL-safe alphabet, as some clients send
    rule = "must be a JPEG or PNG as standard base64 or an http(s) URL"
    if not compact or not _BASE64.fullmatch(compact) or len(compact.rstrip("=")) % 4 == 1:
        raise _invalid(field, rule, shown(value))
    try:
        return base64.b64decode(compact.rstrip("=") + "=" * (-len(compact.rstrip("=")) % 4))
    except binascii.Error as exc:
        raise _invalid(field, rule, shown(value)) from exc


def decode_image(data: bytes, *, field: str, check_aspect: bool = True) -> InputImage:
    """Check an image by its content against the contract's format, size and shape rules."""
    if len(data) > c.MAX_IMAGE_BYTES:
        raise _invalid(field, f"must be at most {c.MAX_IMAGE_BYTES} bytes", f"{len(data)} bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = _open(data, field=field)
    with img:
        _check_pixels(img, field=field)
        _load(img, field=field)
        width, height = _upright_size(img)
        fmt = str(img.format)
    _check_shape(width, height, field=field, check_aspect=check_aspect)
    return InputImage(data=data, format=fmt, width=width, height=height)


def _open(data: bytes, *, field: str) -> Image.Image:
    formats = " or ".join(c.IMAGE_FORMATS)
    try:
        return Image.open(io.BytesIO(data), formats=list(c.IMAGE_FORMATS))
    except Image.DecompressionBombError as exc:
        raise _invalid(field, f"must have at most {MAX_PIXELS} pixels", "far more") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        got = f"{_sniff(data)} ({len(data)} bytes)"
        raise _invalid(field, f"must be a {formats} image (detected by content)", got) from exc


def _sniff(data: bytes) -> str:
    """Name what was sent instead of JPEG/PNG, from its header alone, for the error message."""
    if data[:4] == b"GIF8":
        return "a GIF image"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP image"
    if not data:
        return "no data"
    return "data of another or unknown format"


def _check_pixels(img: Image.Image, *, field: str) -> None:
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise _invalid(
            field, f"must have at most {MAX_PIXELS} pixels", f"{width}x{height} (too large)"
        )


def _load(img: Image.Image, *, field: str) -> None:
    try:
        img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise _invalid(
            field, f"must be a complete, valid {img.format} file", "a truncated or corrupt one"
        ) from exc


def _upright_size(img: Image.Image) -> tuple[int, int]:
    width, height = img.size
    if img.getexif().get(_EXIF_ORIENTATION) in _ROTATED:
        return height, width
    return width, height


def _check_shape(width: int, height: int, *, field: str, check_aspect: bool) -> None:
    side = c.MIN_IMAGE_SIDE
    if width < side or height < side:
        raise _invalid(field, f"must be at least {side}x{side} pixels", f"{width}x{height}")
    ratio, limit = width / height, c.MAX_ASPECT
    if check_aspect and not 1 / limit <= ratio <= limit:
        rule = f"aspect ratio (width/height) must be between 1:{limit:g} and {limit:g}:1"
        raise _invalid(field, rule, f"{width}x{height} ({ratio:.3g})")


async def load_image(spec: ImageInput, *, fetcher: Fetcher) -> InputImage:
    """Fetch or decode one sent image and validate it, without blocking the event loop."""
    if spec.value.lstrip()[:8].lower().startswith(_URL_PREFIXES):
        data = await fetcher.fetch(spec.value.strip(), field=spec.field)
    else:
        data = decode_base64(spec.value, field=spec.field)
    return await asyncio.to_thread(
        decode_image, data, field=spec.field, check_aspect=spec.check_aspect
    )
