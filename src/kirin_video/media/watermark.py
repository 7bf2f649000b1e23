"""Mark a frame visibly, for the watermarked copy the contract offers."""

from __future__ import annotations

import cv2
import numpy as np

TEXT = "kirin-video"
_FONT = cv2.FONT_HERSHEY_DUPLEX
_OPACITY = 0.75
_REFERENCE_HEIGHT = 720.0  # font scale 1.0 at this frame height
_MARGIN = 0.03  # of the frame height


def watermark(frame: np.ndarray) -> np.ndarray:
    """A copy of ``frame`` with semi-transparent outlined text in the bottom-right corner."""
    height, width = frame.shape[:2]
    scale = max(0.25, height / _REFERENCE_HEIGHT)
    thickness = max(1, round(2 * scale))
    outline = thickness + max(2, round(2 * scale))
    (text_w, text_h), baseline = cv2.getTextSize(TEXT, _FONT, scale, outline)
    margin = max(2, round(_MARGIN * height))
    x1, y1 = width - margin, height - margin
    x0, y0 = max(0, x1 - text_w - outline), max(0, y1 - text_h - baseline - outline)
    out = frame.copy()
    region = out[y0:y1, x0:x1]
    overlay = region.copy()
    origin = (outline // 2, region.shape[0] - baseline - outline // 2)
    cv2.putText(overlay, TEXT, origin, _FONT, scale, (0, 0, 0), outline, cv2.LINE_AA)
    cv2.putText(overlay, TEXT, origin, _FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    cv2.addWeighted(overlay, _OPACITY, region, 1.0 - _OPACITY, 0.0, dst=region)
    return out
