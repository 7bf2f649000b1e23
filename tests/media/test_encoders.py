"""The encoder choice: NVENC where it runs, libx264 otherwise, the same geometry either way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kirin_video.config import Settings
from kirin_video.engines.doctor import acceleration_rows
from kirin_video.media import encoders
from kirin_video.media.encode import encode_outputs, probe
from kirin_video.media.encoders import (
    NVENC,
    X264,
    EncoderUnavailable,
    choose_encoder,
    nvenc_unavailable,
)
from kirin_video.runtime.build import settings_encoder
from tests.media.test_encode import moving_frames, x264_options

WHY_NOT_NVENC = nvenc_unavailable()
needs_nvenc = pytest.mark.skipif(WHY_NOT_NVENC is not None, reason=f"{WHY_NOT_NVENC}")
without_nvenc = pytest.mark.skipif(WHY_NOT_NVENC is None, reason="NVENC runs on this machine")


@without_nvenc
def test_auto_falls_back_to_libx264_and_says_why() -> None:
    choice = choose_encoder("auto")
    assert choice.codec == X264
    assert "NVIDIA" in choice.reason or NVENC in choice.reason
    assert ("encoder", f"{X264} ({choice.reason})") in acceleration_rows(Settings(), "cpu")


@without_nvenc
def test_nvenc_asked_for_by_name_is_refused_at_start_with_the_reason() -> None:
    with pytest.raises(EncoderUnavailable, match=f"{NVENC} was asked for, but"):
        choose_encoder(NVENC)
    with pytest.raises(RuntimeError, match=f"KIRIN_ENCODER={NVENC}: .*auto falls back"):
        settings_encoder(Settings(encoder=NVENC))
    doctor = dict(acceleration_rows(Settings(encoder=NVENC), "cpu"))
    assert doctor["encoder"].startswith(f"refused: {NVENC} was asked for")


@needs_nvenc
def test_auto_takes_nvenc_where_it_runs() -> None:
    assert choose_encoder("auto").codec == NVENC


def test_libx264_asked_for_is_taken_without_probing() -> None:
    assert choose_encoder(X264).codec == X264


@pytest.mark.parametrize(
    "codec", [X264, pytest.param(NVENC, marks=needs_nvenc)], ids=["libx264", "nvenc"]
)
def test_each_encoder_writes_the_same_geometry(tmp_path: Path, codec: str) -> None:
    [video] = encode_outputs(moving_frames(30), fps=30, video_path=tmp_path / "v.mp4", codec=codec)
    info = probe(video.path)
    assert (info.width, info.height, info.frames, info.fps) == (96, 64, 30, 30.0)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    wrote_x264 = b"x264 - core" in video.path.read_bytes()
    assert wrote_x264 == (codec == X264)
    if codec == X264:
        assert "crf=20.0" in x264_options(video.path)


@pytest.fixture
def fresh_probe() -> Iterator[None]:
    """NVENC's probe run again for this test (it is cached for the process)."""
    nvenc_unavailable.cache_clear()
    yield
    nvenc_unavailable.cache_clear()


@pytest.mark.parametrize(
    ("devices", "reason"),
    [
        (None, "no NVIDIA encoder on this machine (no NVIDIA driver)"),
        (0, "no NVIDIA encoder on this machine (no CUDA device)"),
    ],
)
@pytest.mark.usefixtures("fresh_probe")
def test_a_machine_without_a_gpu_is_told_so_not_a_permissions_fault(
    monkeypatch: pytest.MonkeyPatch, devices: int | None, reason: str
) -> None:
    monkeypatch.setattr(encoders, "cuda_device_count", lambda: devices)
    assert nvenc_unavailable() == reason
    assert choose_encoder("auto") == encoders.EncoderChoice(X264, reason)
    doctor = dict(acceleration_rows(Settings(encoder=NVENC), "cpu"))
    assert doctor["encoder"] == f"refused: {NVENC} was asked for, but {reason}"


@without_nvenc
@pytest.mark.usefixtures("fresh_probe")
def test_with_a_gpu_that_cannot_encode_ffmpegs_reason_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(encoders, "cuda_device_count", lambda: 1)
    if NVENC not in encoders.av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {NVENC}")
    reason = nvenc_unavailable()
    assert reason is not None and reason.startswith(f"{NVENC} does not open here (")
