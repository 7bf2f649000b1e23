"""Which H.264 encoder writes the videos: NVENC where this machine can run it, else libx264.

NVENC encodes on the GPU's own encoder block, which the denoising does not use, so it frees the
CPU that libx264 would keep busy for seconds per video. Whether it works is found by encoding
two frames once: the FFmpeg build must have ``h264_nvenc`` and an NVIDIA driver must answer.
"""

from __future__ import annotations

import ctypes
import io
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import av
import numpy as np
from av.container import OutputContainer
from av.video.stream import VideoStream

from kirin_video.config import EncoderName

NVENC = "h264_nvenc"
PIX_FMT = "yuv420p"  # what every player decodes
X264 = "libx264"
CRF = 20  # libx264's constant quality
NVENC_CQ = 23  # NVENC's constant quality (its own scale, not x264's)
#: libx264's speed presets as NVENC's (p1 fastest … p7 slowest).
NVENC_PRESETS = {
    "ultrafast": "p1",
    "superfast": "p2",
    "veryfast": "p3",
    "faster": "p4",
    "fast": "p4",
    "medium": "p5",
    "slow": "p6",
    "slower": "p7",
    "veryslow": "p7",
}


class EncoderUnavailable(Exception):
    """The encoder asked for cannot run on this machine; the text says why."""


@dataclass(frozen=True)
class EncoderChoice:
    """The encoder that will write the videos, and why it was chosen."""

    codec: str
    reason: str


def choose_encoder(wanted: EncoderName) -> EncoderChoice:
    """``wanted`` where it can run; ``auto`` falls back to libx264 and says why."""
    if wanted == X264:
        return EncoderChoice(X264, "asked for")
    reason = nvenc_unavailable()
    if reason is None:
        return EncoderChoice(NVENC, "asked for" if wanted == NVENC else "NVENC works here")
    if wanted == NVENC:
        raise EncoderUnavailable(f"{NVENC} was asked for, but {reason}")
    return EncoderChoice(X264, reason)


@cache
def nvenc_unavailable() -> str | None:
    """Why NVENC cannot encode here, or None when two test frames encoded."""
    if NVENC not in av.codecs_available:
        return f"this FFmpeg build has no {NVENC}"
    devices = cuda_device_count()
    if devices is None:
        return "no NVIDIA encoder on this machine (no NVIDIA driver)"
    if devices == 0:
        return "no NVIDIA encoder on this machine (no CUDA device)"
    try:
        with av.open(io.BytesIO(), mode="w", format="mp4") as container:
            stream = video_stream(container, NVENC, width=256, height=256, fps=30)
            for index in range(2):
                frame = av.VideoFrame.from_ndarray(np.zeros((256, 256, 3), np.uint8), "rgb24")
                frame.pts = index
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    except (av.FFmpegError, OSError, ValueError) as exc:
        return f"{NVENC} does not open here ({getattr(exc, 'strerror', None) or exc})"
    return None


def cuda_device_count() -> int | None:
    """CUDA devices the NVIDIA driver sees (0 when it sees none), None where there is no driver.

    Asked of the driver library FFmpeg's NVENC loads itself, so no torch is needed: without a
    device FFmpeg's own reason ("Operation not permitted") would read as a permissions fault.
    """
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    count = ctypes.c_int(0)
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


def video_stream(
    container: OutputContainer,
    codec: str,
    *,
    width: int,
    height: int,
    fps: int,
    preset: str = "veryfast",
) -> VideoStream:
    """A yuv420p H.264 stream of ``codec`` at constant quality in ``container``."""
    stream = container.add_stream(codec, rate=Fraction(fps), options=codec_options(codec, preset))
    if not isinstance(stream, VideoStream):
        raise ValueError(f"{codec} is not a video encoder")
    stream.width, stream.height, stream.pix_fmt = width, height, PIX_FMT
    stream.time_base = stream.codec_context.time_base = Fraction(1, fps)
    return stream


def codec_options(codec: str, preset: str = "veryfast") -> dict[str, str]:
    """The encoder's options for constant quality at the speed ``preset`` (libx264's names)."""
    if codec == NVENC:
        quality = {"rc": "vbr", "cq": str(NVENC_CQ), "b": "0"}  # no bitrate cap: quality alone
        return {"preset": NVENC_PRESETS[preset], "tune": "hq", **quality}
    return {"crf": str(CRF), "preset": preset}
