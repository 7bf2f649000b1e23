"""Conform frames on the device that made them, so they leave it once, final and as bytes.

A GPU engine's frames are float tensors on the GPU. Warping the in-between frames along optical
flow, resizing and rounding to bytes happen there, and only the finished frames are copied out.
The flow is still estimated by OpenCV's DIS on small grey copies, as ``FlowInterpolator`` does,
so in-between frames move content the same way on either path.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import floor
from typing import TYPE_CHECKING

import numpy as np

from kirin_video.contract.catalog import Geometry
from kirin_video.media.frames import aspects_match
from kirin_video.media.interpolate import FLOW_WIDTH, FlowInterpolator
from kirin_video.media.postprocess import source_positions

if TYPE_CHECKING:
    import torch

#: Output frames resized and copied out together: bounds the device memory the copies take.
CHUNK = 16
_GREY = (0.299, 0.587, 0.114)  # OpenCV's RGB → grey weights
_EPSILON = 1e-6


def conform_on_device(
    video: torch.Tensor, geometry: Geometry, *, flow_width: int = FLOW_WIDTH
) -> list[np.ndarray] | None:
    """``video`` (F×3×H×W, floats in [0, 1]) at the geometry's count and size, as uint8 RGB.

    None when the aspect differs from the geometry's: the CPU's ``conform`` then fits the frames
    inside a background, which this does not do.
    """
    height, width = video.shape[-2:]
    if not aspects_match((width, height), (geometry.width, geometry.height)):
        return None
    warp = _Warper(video, flow_width=flow_width)
    out: list[np.ndarray] = []
    batch: list[torch.Tensor] = []
    for frame in _retimed(video, geometry, warp):
        batch.append(frame)
        if len(batch) == CHUNK:
            out.extend(_finished(batch, geometry))
            batch = []
    if batch:
        out.extend(_finished(batch, geometry))
    return out


def _retimed(video: torch.Tensor, geometry: Geometry, warp: _Warper) -> Iterator[torch.Tensor]:
    count = video.shape[0]
    for position in source_positions(source_frames=count, output_frames=geometry.frames):
        index = floor(position)
        weight = position - index
        if weight < _EPSILON or index + 1 >= count:
            yield video[index].float()
        else:
            yield warp(index, weight)


def _finished(batch: list[torch.Tensor], geometry: Geometry) -> list[np.ndarray]:
    """Resize a batch to the output size (area when shrinking, bicubic when growing) as bytes."""
    import torch
    import torch.nn.functional as F

    frames = torch.stack(batch)
    size = (geometry.height, geometry.width)
    if tuple(frames.shape[-2:]) != size:
        growing = size[0] * size[1] > frames.shape[-2] * frames.shape[-1]
        if growing:
            frames = F.interpolate(frames, size=size, mode="bicubic", align_corners=False)
        else:
            frames = F.interpolate(frames, size=size, mode="area")
    pixels = (frames.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return list(pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy())


class _Warper:
    """In-between frames: both neighbours moved part of the way along flow, then blended."""

    def __init__(self, video: torch.Tensor, *, flow_width: int) -> None:
        import torch

        self._video = video
        self._grey = _small_grey(video, flow_width=flow_width)
        self._dis = FlowInterpolator(flow_width=flow_width)
        self._pair: int | None = None
        self._flows: tuple[torch.Tensor, torch.Tensor] | None = None
        height, width = video.shape[-2:]
        ys, xs = torch.meshgrid(
            torch.arange(height, device=video.device, dtype=torch.float32),
            torch.arange(width, device=video.device, dtype=torch.float32),
            indexing="ij",
        )
        self._grid = torch.stack((xs, ys), -1)  # H×W×2, pixel x then y

    def __call__(self, index: int, weight: float) -> torch.Tensor:
        flow_ab, flow_ba = self._pair_flows(index)
        from_a = self._warp(self._video[index].float(), flow_ab, weight)
        from_b = self._warp(self._video[index + 1].float(), flow_ba, 1.0 - weight)
        return from_a * (1.0 - weight) + from_b * weight

    def _pair_flows(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Flows index→index+1 and back at full size, kept while the pair is asked for."""
        if self._pair != index or self._flows is None:
            a, b = self._grey[index], self._grey[index + 1]
            self._flows = (self._upsampled(a, b), self._upsampled(b, a))
            self._pair = index
        return self._flows

    def _upsampled(self, src: np.ndarray, dst: np.ndarray) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        small = torch.from_numpy(self._dis.dis_flow(src, dst)).to(self._video.device)
        height, width = self._video.shape[-2:]
        full = F.interpolate(
            small.permute(2, 0, 1)[None], size=(height, width), mode="bilinear", align_corners=False
        )[0].permute(1, 2, 0)
        scale = torch.tensor(
            [width / src.shape[1], height / src.shape[0]], device=full.device, dtype=full.dtype
        )
        return full * scale

    def _warp(self, image: torch.Tensor, flow: torch.Tensor, fraction: float) -> torch.Tensor:
        """``image`` (3×H×W) moved ``fraction`` of the way along ``flow``, sampled back."""
        import torch.nn.functional as F

        height, width = image.shape[-2:]
        where = self._grid - fraction * flow
        scale = where.new_tensor([2.0 / width, 2.0 / height])
        grid = (where + 0.5) * scale - 1.0  # pixel centres, as align_corners=False reads them
        warped = F.grid_sample(
            image[None], grid[None], mode="bilinear", padding_mode="border", align_corners=False
        )
        return warped[0]


def _small_grey(video: torch.Tensor, *, flow_width: int) -> list[np.ndarray]:
    """Every frame as grey bytes at most ``flow_width`` wide, on the CPU for DIS."""
    import torch
    import torch.nn.functional as F

    weights = torch.tensor(_GREY, device=video.device, dtype=torch.float32).view(1, 3, 1, 1)
    height, width = video.shape[-2:]
    grey: list[np.ndarray] = []
    for start in range(0, video.shape[0], CHUNK):
        frames = (video[start : start + CHUNK].float() * weights).sum(1, keepdim=True)
        if width > flow_width:
            small = (max(1, round(height * flow_width / width)), flow_width)
            frames = F.interpolate(frames, size=small, mode="area")
        pixels = (frames.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)[:, 0]
        grey.extend(pixels.cpu().numpy())
    return grey
