"""Frames and their geometry: the clip an engine returns, and fitting a picture into a frame.

The lowest layer of media: engines build on it to render, post-processing to conform, and it
imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

#: Relative aspect difference treated as rounding (even sizes), so a plain resize is enough.
ASPECT_TOLERANCE = 0.01
_BACKGROUND_SCALE = 8  # the background is blurred at 1/8 size: cheap and soft enough
_BACKGROUND_LEVEL = 0.45  # brightness kept in the background, so the picture stands out


@dataclass
class Clip:
    """Frames an engine rendered (H×W×3 uint8 RGB) at its own size and rate."""

    frames: list[np.ndarray]
    fps: float


def rgb_pixels(image: Image.Image) -> np.ndarray:
    """A decoded picture as an H×W×3 uint8 RGB array, whatever its mode."""
    return np.asarray(image.convert("RGB"))


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample to ``width``×``height``: area averaging when shrinking, bicubic when growing."""
    src_h, src_w = image.shape[:2]
    if (src_w, src_h) == (width, height):
        return image
    shrinking = width * height < src_w * src_h
    return cv2.resize(
        image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    )


def same_aspect(image: np.ndarray, width: int, height: int) -> bool:
    """Whether the aspects differ only by the rounding of sizes to even numbers."""
    src_h, src_w = image.shape[:2]
    return aspects_match((src_w, src_h), (width, height))


def aspects_match(size: tuple[int, int], other: tuple[int, int]) -> bool:
    """Whether two (width, height) sizes differ in aspect only by rounding."""
    return abs((size[0] * other[1]) / (size[1] * other[0]) - 1.0) <= ASPECT_TOLERANCE


def to_frame(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The whole image in the frame: a plain resize when aspects match, else fitted inside."""
    if same_aspect(image, width, height):
        return resize(image, width, height)
    return fit_inside(image, width, height)


def cover_background(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """A blurred, darkened copy of ``image`` scaled to cover the whole frame."""
    src_h, src_w = image.shape[:2]
    scale = max(width / src_w, height / src_h)
    crop_w = min(src_w, round(width / scale))
    crop_h = min(src_h, round(height / scale))
    x0, y0 = (src_w - crop_w) // 2, (src_h - crop_h) // 2
    small_size = (max(1, width // _BACKGROUND_SCALE), max(1, height // _BACKGROUND_SCALE))
    small = cv2.resize(
        image[y0 : y0 + crop_h, x0 : x0 + crop_w], small_size, interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=2.0)
    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    dark: np.ndarray = cv2.convertScaleAbs(big, alpha=_BACKGROUND_LEVEL)
    return dark


def fit_size(image: np.ndarray, width: int, height: int) -> tuple[int, int]:
    """The largest size with the image's aspect that fits inside ``width``×``height``."""
    src_h, src_w = image.shape[:2]
    scale = min(width / src_w, height / src_h)
    return min(width, max(1, round(src_w * scale))), min(height, max(1, round(src_h * scale)))


def fit_inside(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The whole image, never cropped, centred on a background that fills the frame."""
    frame = cover_background(image, width, height)
    fit_w, fit_h = fit_size(image, width, height)
    x0, y0 = (width - fit_w) // 2, (height - fit_h) // 2
    frame[y0 : y0 + fit_h, x0 : x0 + fit_w] = resize(image, fit_w, fit_h)
    return frame
