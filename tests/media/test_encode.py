"""Encoding: real MP4s decoded back with PyAV."""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from kirin_video.media.encode import encode_outputs, probe


def moving_frames(count: int = 30, *, width: int = 96, height: int = 64) -> list[np.ndarray]:
    y, x = np.mgrid[0:height, 0:width]
    return [
        np.stack([(x * 3 + index * 8) % 256, (y * 4) % 256, np.full_like(x, 100)], -1).astype(
            np.uint8
        )
        for index in range(count)
    ]


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def test_encoded_video_has_the_contract_format(tmp_path: Path) -> None:
    [video] = encode_outputs(iter(moving_frames()), fps=30, video_path=tmp_path / "v.mp4")
    info = probe(video.path)
    assert (info.width, info.height, info.fps, info.frames) == (96, 64, 30.0, 30)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.duration == pytest.approx(1.0)
    assert (video.frames, video.fps, video.bytes) == (30, 30, video.path.stat().st_size)


def test_encoded_video_is_faststart(tmp_path: Path) -> None:
    [video] = encode_outputs(moving_frames(), fps=30, video_path=tmp_path / "v.mp4")
    data = video.path.read_bytes()
    assert 0 < data.index(b"moov") < data.index(b"mdat")


def test_encoded_frames_match_the_input(tmp_path: Path) -> None:
    frames = moving_frames()
    [video] = encode_outputs(frames, fps=30, video_path=tmp_path / "v.mp4")
    decoded = first_frame(video.path)
    assert np.abs(decoded.astype(int) - frames[0]).mean() < 6


def test_watermarked_copy_is_written_in_the_same_pass(tmp_path: Path) -> None:
    clean, marked = encode_outputs(
        moving_frames(),
        fps=30,
        video_path=tmp_path / "clean.mp4",
        watermarked_path=tmp_path / "marked.mp4",
    )
    assert probe(marked.path).frames == probe(clean.path).frames == 30
    difference = np.abs(first_frame(clean.path).astype(int) - first_frame(marked.path))
    assert difference.mean() > 1
    assert difference[32:, 48:].mean() > difference[:32, :48].mean()


def test_cover_is_a_jpeg_of_the_first_frame(tmp_path: Path) -> None:
    frames = moving_frames()
    encode_outputs(frames, fps=30, video_path=tmp_path / "v.mp4", cover_path=tmp_path / "c.jpg")
    with Image.open(tmp_path / "c.jpg") as cover:
        assert (cover.format, cover.size) == ("JPEG", (96, 64))
        assert np.abs(np.asarray(cover).astype(int) - frames[0]).mean() < 6


def test_progress_is_reported_after_each_frame(tmp_path: Path) -> None:
    done: list[int] = []
    encode_outputs(moving_frames(), fps=30, video_path=tmp_path / "v.mp4", on_frame=done.append)
    assert done == list(range(1, 31))


def test_odd_frame_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even width and height"):
        encode_outputs(moving_frames(width=95), fps=30, video_path=tmp_path / "v.mp4")


def x264_options(path: Path) -> str:
    """The settings libx264 records in the stream it wrote (its SEI message)."""
    found = re.search(rb"options: ([^\x00]+)", path.read_bytes())
    assert found is not None, "no x264 settings in the file"
    return found.group(1).decode()


@pytest.mark.parametrize(("preset", "motion_search"), [("ultrafast", "dia"), ("veryfast", "hex")])
def test_the_preset_reaches_the_encoder(tmp_path: Path, preset: str, motion_search: str) -> None:
    [video] = encode_outputs(moving_frames(), fps=30, video_path=tmp_path / "v.mp4", preset=preset)
    assert f" me={motion_search} " in x264_options(video.path)
