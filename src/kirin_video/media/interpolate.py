"""In-between frames that follow motion: warp both neighbours along optical flow, then blend.

A cross-fade shows a moving object twice at half strength; warping each neighbour part of the
way along the dense flow between them puts the object once, where it is at that moment.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Flow is estimated at most this wide and scaled up: motion is smooth, full size is slow.
FLOW_WIDTH = 512


class FlowInterpolator:
    """An ``Interpolator`` that moves content along DIS optical flow between the two frames.

    Not thread-safe (it keeps the last pair's flow): use one instance per clip being retimed.
    """

    def __init__(self, *, flow_width: int = FLOW_WIDTH) -> None:
        self._flow_width = flow_width
        self._dis = cv2.DISOpticalFlow.create(cv2.DISOpticalFlow_PRESET_MEDIUM)
        self._pair: tuple[np.ndarray, np.ndarray] | None = None
        self._flows: tuple[np.ndarray, np.ndarray] | None = None
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
        """The frame a fraction ``weight`` of the way from ``a`` to ``b`` (H×W×3 uint8 RGB)."""
        flow_ab, flow_ba = self._pair_flows(a, b)
        from_a = self._warp(a, flow_ab, weight)
        from_b = self._warp(b, flow_ba, 1.0 - weight)
        return cv2.addWeighted(from_a, 1.0 - weight, from_b, weight, 0.0)

    def _pair_flows(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flows a→b and b→a, reused while conform asks for several frames of one pair."""
        if self._flows is None or self._pair is None or not _same_pair(self._pair, (a, b)):
            gray_a, gray_b = _gray(a), _gray(b)
            self._flows = (self._flow(gray_a, gray_b), self._flow(gray_b, gray_a))
            self._pair = (a, b)  # holding the arrays keeps their identities from being reused
        return self._flows

    def _flow(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Dense flow src→dst in full-size pixels, estimated at most ``flow_width`` wide."""
        height, width = src.shape[:2]
        if width <= self._flow_width:
            return self.dis_flow(src, dst)
        small = (self._flow_width, max(1, round(height * self._flow_width / width)))
        flow = self.dis_flow(
            cv2.resize(src, small, interpolation=cv2.INTER_AREA),
            cv2.resize(dst, small, interpolation=cv2.INTER_AREA),
        )
        scale = np.array([width / small[0], height / small[1]], np.float32)
        full: np.ndarray = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
        return full * scale

    def dis_flow(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """DIS flow between two grey frames at their own size (H×W×2 float32, x then y)."""
        start = np.zeros((*src.shape[:2], 2), np.float32)  # DIS refines the flow it is given
        return self._dis.calc(src, dst, start)

    def _warp(self, image: np.ndarray, flow: np.ndarray, fraction: float) -> np.ndarray:
        """``image`` moved ``fraction`` of the way along ``flow`` (sampled back, -fraction)."""
        xs, ys = self._pixel_grid(image)
        map_x = xs - np.float32(fraction) * flow[..., 0]
        map_y = ys - np.float32(fraction) * flow[..., 1]
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _pixel_grid(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each pixel's own x and y, kept so every warp doesn't rebuild them."""
        height, width = image.shape[:2]
        if self._grid is None or self._grid[0].shape != (height, width):
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            self._grid = (xs, ys)
        return self._grid


def _gray(image: np.ndarray) -> np.ndarray:
    """Luma only: DIS works on one 8-bit channel."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _same_pair(cached: tuple[np.ndarray, np.ndarray], pair: tuple[np.ndarray, np.ndarray]) -> bool:
    """The very same two arrays: identity, as comparing pixels would cost more than it saves."""
    return cached[0] is pair[0] and cached[1] is pair[1]
