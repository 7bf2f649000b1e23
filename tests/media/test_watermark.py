"""The visible watermark."""

from __future__ import annotations

import numpy as np

from kirin_video.media.watermark import watermark


def test_watermark_marks_the_bottom_right_corner_of_a_copy() -> None:
    frame = np.full((720, 1280, 3), 90, np.uint8)
    marked = watermark(frame)
    changed = np.abs(marked.astype(int) - frame).sum(axis=2) > 30
    assert (frame == 90).all()
    assert changed.sum() > 500
    rows, cols = np.nonzero(changed)
    assert rows.min() > 720 / 2 and cols.min() > 1280 / 2


def test_watermark_fits_tiny_frames() -> None:
    frame = np.zeros((36, 64, 3), np.uint8)
    assert watermark(frame).shape == (36, 64, 3)
    assert (watermark(frame) != frame).any()
