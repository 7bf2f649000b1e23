"""Properties of the image validators: base64 decoding and image decoding."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.media.intake import decode_base64, decode_image
from tests.media.conftest import encode_picture

DERANDOMIZED = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# decode_base64: whitespace anywhere, either alphabet, padding or not.

WHITESPACE = st.sampled_from([" ", "\n", "\r\n", "\t", "  \n"])


@st.composite
def encodings(draw: st.DrawFn) -> tuple[bytes, str]:
    """Some bytes and one of the ways a client may send them."""
    data = draw(st.binary(min_size=1, max_size=300))
    encode = base64.urlsafe_b64encode if draw(st.booleans()) else base64.b64encode
    text = encode(data).decode()
    if draw(st.booleans()):
        text = text.rstrip("=")
    breaks = draw(st.lists(st.tuples(st.integers(0, len(text)), WHITESPACE), max_size=8))
    for position, space in sorted(breaks, reverse=True):
        text = text[:position] + space + text[position:]
    return data, text


@settings(DERANDOMIZED, max_examples=200)
@given(sent=encodings())
def test_base64_round_trips_whatever_the_whitespace_alphabet_and_padding(
    sent: tuple[bytes, str],
) -> None:
    data, text = sent
    assert decode_base64(text, field="image") == data


# decode_image: whatever the bytes, an accepted image or the contract's image error.

PNG = encode_picture(320, 320, seed=1)
JPEG = encode_picture(320, 320, fmt="JPEG", seed=2)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid PNG or JPEG with some bytes changed, cut short, or padded."""
    data = bytearray(draw(st.sampled_from([PNG, JPEG])))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data) + draw(st.binary(max_size=16))


def _accepted_or_refused_cleanly(data: bytes) -> None:
    try:
        image = decode_image(data, field="image")
    except InvalidRequest as exc:
        assert exc.code is ErrorCode.IMAGE_INVALID
        assert exc.message.startswith("image: "), exc.message
        return
    rgb = image.to_rgb()
    assert (rgb.mode, rgb.size) == ("RGB", (image.width, image.height))


@settings(DERANDOMIZED, max_examples=150)
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_are_refused_with_the_image_error(data: bytes) -> None:
    _accepted_or_refused_cleanly(data)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow warns, then reads the rest
@settings(DERANDOMIZED, max_examples=150)
@given(data=mutated())
def test_mutated_images_are_accepted_or_refused_with_the_image_error(data: bytes) -> None:
    _accepted_or_refused_cleanly(data)
