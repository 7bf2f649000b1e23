"""Image intake: base64, format by content, size and shape rules, odd but valid pictures."""

from __future__ import annotations

import asyncio
import base64
import io
import ipaddress
import struct
import zlib
from collections.abc import Callable

import httpx
import numpy as np
import pytest
from PIL import Image, ImageFile

from kirin_video.contract import catalog
from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.contract.params import ImageInput
from kirin_video.media.fetch import Fetcher
from kirin_video.media.intake import MAX_PIXELS, decode_base64, decode_image, load_image
from kirin_video.netpolicy import IPAddress

MakeImage = Callable[..., bytes]


def _refused(exc: pytest.ExceptionInfo[InvalidRequest]) -> str:
    assert exc.value.code is ErrorCode.IMAGE_INVALID
    return exc.value.message


def test_base64_decodes_raw_base64() -> None:
    assert decode_base64(base64.b64encode(b"\x89PNG pixels").decode(), field="image") == (
        b"\x89PNG pixels"
    )


def test_base64_with_data_prefix_is_refused_with_advice() -> None:
    with pytest.raises(InvalidRequest) as exc:
        decode_base64("data:image/png;base64,iVBORw0KGgo=", field="image")
    message = _refused(exc)
    assert message.startswith("image: must be raw base64 without a 'data:' prefix")


def test_base64_garbage_is_refused() -> None:
    with pytest.raises(InvalidRequest) as exc:
        decode_base64("not base64 at all!", field="image_tail")
    assert _refused(exc).startswith("image_tail: ")


def test_base64_tolerates_whitespace_and_newlines() -> None:
    encoded = base64.encodebytes(bytes(range(200))).decode()  # wrapped at 76 characters
    assert decode_base64(f"  {encoded}\r\n ", field="image") == bytes(range(200))


def test_base64_accepts_missing_padding() -> None:
    assert decode_base64(base64.b64encode(b"ab").decode().rstrip("="), field="image") == b"ab"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_format_is_detected_by_content(make_image: MakeImage, fmt: str) -> None:
    image = decode_image(make_image(400, 300, fmt=fmt), field="image")
    assert (image.format, image.width, image.height) == (fmt, 400, 300)


@pytest.mark.parametrize(("fmt", "named"), [("GIF", "a GIF image"), ("WEBP", "a WebP image")])
def test_other_formats_are_refused(make_image: MakeImage, fmt: str, named: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        decode_image(make_image(400, 300, fmt=fmt), field="image")
    assert "must be a JPEG or PNG image (detected by content); got " + named in _refused(exc)


def test_too_small_image_is_refused_naming_field_and_size(make_image: MakeImage) -> None:
    with pytest.raises(InvalidRequest) as exc:
        decode_image(make_image(200, 640), field="image_list[1].image")
    assert _refused(exc) == "image_list[1].image: must be at least 300x300 pixels; got 200x640"


def test_too_wide_image_is_refused(make_image: MakeImage) -> None:
    with pytest.raises(InvalidRequest) as exc:
        decode_image(make_image(800, 300), field="image")
    assert "aspect ratio (width/height) must be between 1:2.5 and 2.5:1; got 800x300" in (
        _refused(exc)
    )


def test_tail_image_aspect_is_not_checked(make_image: MakeImage) -> None:
    image = decode_image(make_image(800, 300), field="image_tail", check_aspect=False)
    assert (image.width, image.height) == (800, 300)


def test_too_many_bytes_are_refused(make_image: MakeImage) -> None:
    data = make_image(400, 300) + bytes(catalog.MAX_IMAGE_BYTES)
    with pytest.raises(InvalidRequest) as exc:
        decode_image(data, field="image")
    assert f"must be at most {catalog.MAX_IMAGE_BYTES} bytes; got {len(data)} bytes" in (
        _refused(exc)
    )


def test_truncated_jpeg_is_refused(make_image: MakeImage) -> None:
    data = make_image(400, 300, fmt="JPEG")
    with pytest.raises(InvalidRequest) as exc:
        decode_image(data[: len(data) // 2], field="image")
    assert "must be a complete, valid JPEG file; got a truncated or corrupt one" in _refused(exc)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [9000, 60000])
def test_decompression_bomb_is_refused_without_decoding_pixels(
    monkeypatch: pytest.MonkeyPatch, side: int
) -> None:
    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(InvalidRequest) as exc:
        decode_image(_png_header_only(side, side), field="image")
    assert f"image: must have at most {MAX_PIXELS} pixels" in _refused(exc)


def test_exif_rotated_image_is_measured_upright(make_image: MakeImage) -> None:
    image = decode_image(make_image(640, 360, fmt="JPEG", orientation=6), field="image")
    assert (image.width, image.height) == (360, 640)
    assert image.to_rgb().size == (360, 640)


def test_exif_rotation_decides_the_aspect_check(make_image: MakeImage) -> None:
    with pytest.raises(InvalidRequest):
        decode_image(make_image(300, 900, fmt="JPEG", orientation=1), field="image")
    upright = decode_image(make_image(900, 400, fmt="JPEG", orientation=8), field="image")
    assert (upright.width, upright.height) == (400, 900)


@pytest.mark.parametrize(
    ("fmt", "mode"), [("JPEG", "CMYK"), ("JPEG", "L"), ("PNG", "P"), ("PNG", "RGBA"), ("PNG", "LA")]
)
def test_unusual_modes_are_accepted_as_rgb(make_image: MakeImage, fmt: str, mode: str) -> None:
    rgb = decode_image(make_image(400, 300, fmt=fmt, mode=mode), field="image").to_rgb()
    assert (rgb.mode, rgb.size) == ("RGB", (400, 300))


def test_transparency_is_laid_on_white() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (320, 320), (255, 0, 0, 0)).save(buffer, format="PNG")
    rgb = decode_image(buffer.getvalue(), field="image").to_rgb()
    assert np.asarray(rgb).min() == 255


def test_load_image_decodes_base64(make_image: MakeImage) -> None:
    spec = ImageInput(
        field="image", role="first", value=base64.b64encode(make_image(400, 300)).decode()
    )
    fetcher = Fetcher(timeout_s=1, max_bytes=catalog.MAX_IMAGE_BYTES, allow_private=False)
    image = asyncio.run(load_image(spec, fetcher=fetcher))
    assert (image.format, image.width, image.height) == ("PNG", 400, 300)


def test_load_image_fetches_urls(make_image: MakeImage) -> None:
    data = make_image(300, 700)

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.216.34")]

    fetcher = Fetcher(
        timeout_s=1,
        max_bytes=catalog.MAX_IMAGE_BYTES,
        allow_private=False,
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=data)),
        resolve=resolve,
    )
    spec = ImageInput(
        field="image_tail", role="last", value="https://cdn.test/x", check_aspect=False
    )
    image = asyncio.run(load_image(spec, fetcher=fetcher))
    assert (image.width, image.height) == (300, 700)


def test_base64_in_the_url_safe_alphabet_is_accepted() -> None:
    data = bytes(range(256)) * 4  # holds the bytes that encode to + and / (- and _ URL-safe)
    assert decode_base64(base64.urlsafe_b64encode(data).decode(), field="image") == data


def test_base64_mixing_both_alphabets_is_refused_naming_the_rule() -> None:
    with pytest.raises(InvalidRequest, match="image: must be a JPEG or PNG as standard base64"):
        decode_base64("ab+c-d/e_f==", field="image")


def test_sixteen_bit_png_is_accepted_as_rgb() -> None:
    buffer = io.BytesIO()
    ramp = np.linspace(0, 65535, 320 * 320, dtype=np.uint16).reshape(320, 320)
    Image.fromarray(ramp).save(buffer, format="PNG")
    image = decode_image(buffer.getvalue(), field="image")
    rgb = np.asarray(image.to_rgb())
    assert rgb.shape == (320, 320, 3) and rgb[0, 0, 0] < 5 and rgb[-1, -1, 0] > 250


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG's chunks as (type, data), after the signature."""
    chunks, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        chunks.append((png[at + 4 : at + 8], png[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def _png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in chunks
    )


def test_truncated_png_is_refused(make_image: MakeImage) -> None:
    data = make_image(400, 300)
    with pytest.raises(InvalidRequest) as exc:
        decode_image(data[: len(data) // 2], field="image")
    assert "must be a complete, valid PNG file; got a truncated or corrupt one" in _refused(exc)


def _flip_idat(png: bytes, *, fix_crc: bool) -> bytes:
    """Invert 16 bytes inside the first IDAT chunk, leaving its CRC stale or recomputing it."""
    if not fix_crc:
        data = bytearray(png)
        start = data.index(b"IDAT") + 4 + 100
        data[start : start + 16] = bytes(b ^ 0xFF for b in data[start : start + 16])
        return bytes(data)
    chunks = _chunks(png)
    first = next(i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT")
    body = chunks[first][1]
    chunks[first] = (b"IDAT", body[:100] + bytes(b ^ 0xFF for b in body[100:116]) + body[116:])
    return _png(chunks)


@pytest.mark.parametrize("fix_crc", [False, True], ids=["stale crc", "recomputed crc"])
def test_png_with_flipped_bytes_in_its_pixel_data_is_refused(
    make_image: MakeImage, fix_crc: bool
) -> None:
    data = _flip_idat(make_image(400, 300), fix_crc=fix_crc)
    with pytest.raises(InvalidRequest) as exc:
        decode_image(data, field="image")
    assert "must be a complete, valid PNG file; got a truncated or corrupt one" in _refused(exc)


def test_gif_served_as_a_png_url_is_refused_by_its_content(make_image: MakeImage) -> None:
    gif = make_image(400, 300, fmt="GIF")

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.216.34")]

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=gif, headers={"content-type": "image/png"})

    fetcher = Fetcher(
        timeout_s=1,
        max_bytes=catalog.MAX_IMAGE_BYTES,
        allow_private=False,
        transport=httpx.MockTransport(serve),
        resolve=resolve,
    )
    spec = ImageInput(field="image", role="first", value="https://cdn.test/a.png")
    with pytest.raises(InvalidRequest) as exc:
        asyncio.run(load_image(spec, fetcher=fetcher))
    assert _refused(exc) == (
        "image: must be a JPEG or PNG image (detected by content); "
        f"got a GIF image ({len(gif)} bytes)"
    )


def test_palette_png_with_a_transparent_entry_is_laid_on_white() -> None:
    img = Image.new("P", (400, 300), 1)
    img.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    img.paste(0, (0, 0, 200, 300))  # the left half uses entry 0, the transparent one
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", transparency=0)
    image = decode_image(buffer.getvalue(), field="image")
    rgb = np.asarray(image.to_rgb())
    assert (image.format, image.width, image.height) == ("PNG", 400, 300)
    assert rgb.shape == (300, 400, 3)
    assert (rgb[:, :200] == 255).all()
    assert (rgb[:, 200:] == (200, 30, 30)).all()


def test_sixteen_bit_rgb_png_is_accepted_as_eight_bit_rgb() -> None:
    y, x = np.mgrid[0:300, 0:400]
    pixels = np.stack([x * 160, y * 200, np.full_like(x, 0x1234)], axis=-1).astype(">u2")
    rows = b"".join(b"\0" + row.tobytes() for row in pixels)  # filter type 0 per row
    header = struct.pack(">IIBBBBB", 400, 300, 16, 2, 0, 0, 0)  # 16 bits per sample, RGB
    data = _png([(b"IHDR", header), (b"IDAT", zlib.compress(rows)), (b"IEND", b"")])
    image = decode_image(data, field="image")
    rgb = np.asarray(image.to_rgb())
    assert (image.format, image.width, image.height) == ("PNG", 400, 300)
    assert rgb.shape == (300, 400, 3)
    assert tuple(rgb[299, 399]) == ((399 * 160) >> 8, (299 * 200) >> 8, 0x12)
