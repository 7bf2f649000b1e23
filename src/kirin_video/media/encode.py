"""Encode frames to the contract's MP4 (H.264, yuv420p, faststart) in a single pass."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from kirin_video.media.encoders import X264, video_stream
from kirin_video.media.watermark import watermark

PRESET = "veryfast"  # CPU encoding time matters more than a few percent of size
COVER_QUALITY = 90


@dataclass(frozen=True)
class EncodedVideo:
    """One written MP4 and what it holds."""

    path: Path
    width: int
    height: int
    fps: int
    frames: int
    bytes: int


@dataclass(frozen=True)
class VideoInfo:
    """What a decoder finds in a video file."""

    width: int
    height: int
    fps: float
    frames: int
    codec: str
    pix_fmt: str
    duration: float


class _Writer:
    """One MP4 being written, frame by frame."""

    def __init__(
        self, path: Path, *, width: int, height: int, fps: int, preset: str, codec: str
    ) -> None:
        self.path = path
        self.frames = 0
        self._container = av.open(str(path), mode="w", options={"movflags": "+faststart"})
        self._stream = video_stream(
            self._container, codec, width=width, height=height, fps=fps, preset=preset
        )

    def write(self, frame: np.ndarray) -> None:
        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        video_frame.pts = self.frames
        self._container.mux(self._stream.encode(video_frame))
        self.frames += 1

    def close(self) -> None:
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()


def _check_size(frame: np.ndarray) -> tuple[int, int]:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frames must be H×W×3 uint8 RGB; got {frame.shape} {frame.dtype}")
    height, width = frame.shape[:2]
    if width % 2 or height % 2:
        raise ValueError(f"H.264 yuv420p needs even width and height; got {width}x{height}")
    return width, height


def encode_outputs(
    frames: Iterable[np.ndarray],
    *,
    fps: int,
    video_path: Path,
    watermarked_path: Path | None = None,
    cover_path: Path | None = None,
    on_frame: Callable[[int], None] | None = None,
    preset: str = PRESET,
    codec: str = X264,
) -> list[EncodedVideo]:
    """Write the clean MP4, and optionally a watermarked twin and a JPEG cover, in one pass.

    ``on_frame`` is called with the number of frames written so far, after each frame;
    ``preset`` is libx264's speed/size trade-off (NVENC's nearest for ``codec="h264_nvenc"``).
    """
    writers: list[_Writer] = []
    size = (0, 0)
    try:
        for frame in frames:
            if not writers:
                size = _check_size(frame)
                writers = _open_writers(
                    video_path, watermarked_path, size=size, fps=fps, preset=preset, codec=codec
                )
                if cover_path is not None:
                    Image.fromarray(frame).save(cover_path, "JPEG", quality=COVER_QUALITY)
            elif frame.shape[:2] != (size[1], size[0]):
                raise ValueError(f"all frames must be {size[0]}x{size[1]}; got {frame.shape}")
            writers[0].write(frame)
            if len(writers) > 1:
                writers[1].write(watermark(frame))
            if on_frame is not None:
                on_frame(writers[0].frames)
    finally:
        for writer in writers:
            writer.close()
    if not writers:
        raise ValueError("encode_outputs: no frames to encode")
    return [_result(writer, size=size, fps=fps) for writer in writers]


def _open_writers(
    video_path: Path,
    watermarked_path: Path | None,
    *,
    size: tuple[int, int],
    fps: int,
    preset: str,
    codec: str,
) -> list[_Writer]:
    paths = [video_path] if watermarked_path is None else [video_path, watermarked_path]
    return [
        _Writer(path, width=size[0], height=size[1], fps=fps, preset=preset, codec=codec)
        for path in paths
    ]


def _result(writer: _Writer, *, size: tuple[int, int], fps: int) -> EncodedVideo:
    return EncodedVideo(
        path=writer.path,
        width=size[0],
        height=size[1],
        fps=fps,
        frames=writer.frames,
        bytes=writer.path.stat().st_size,
    )


def probe(path: Path) -> VideoInfo:
    """Decode every frame of the first video stream and report what is really there."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        rate = stream.average_rate or stream.guessed_rate or 0
        duration = (
            float(stream.duration * stream.time_base)
            if stream.duration is not None and stream.time_base is not None
            else (container.duration or 0) / av.time_base
        )
        return VideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=float(rate),
            frames=frames,
            codec=stream.codec_context.name,
            pix_fmt=str(stream.codec_context.pix_fmt),
            duration=duration,
        )
