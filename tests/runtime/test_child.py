"""The engine in a child process: frames back through a file, crash, deadline, stop and kill."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from kirin_video.contract.catalog import Model, output_geometry
from kirin_video.contract.errors import (
    EngineUnavailable,
    ErrorCode,
    GenerationFailed,
    KirinError,
    RateLimited,
)
from kirin_video.engines.base import Job
from kirin_video.runtime.child import (
    FRAMES_PREFIX,
    ChildEngine,
    DeadlineExceeded,
    EngineCrashed,
    EngineFactory,
    _own_frames_dir,
)
from kirin_video.runtime.child_events import EngineError
from kirin_video.runtime.progress import Stopped
from tests.runtime import fault_engines as faults

JOB = Job(
    model=Model.I2V,
    geometry=output_geometry(
        model=Model.I2V, mode="std", duration=5, aspect_ratio=None, first_image_size=(480, 320)
    ),
    seed=1,
)

Make = Callable[..., ChildEngine]
#: How long a test waits for what should take well under a second, on however busy a machine.
WAIT_S = 30


@pytest.fixture
def make() -> Iterator[Make]:
    engines: list[ChildEngine] = []

    def build(factory: EngineFactory, *, timeout_s: float = 60, grace_s: float = 2) -> ChildEngine:
        engine = ChildEngine(
            factory, name="test", timeout_s=lambda _job: timeout_s, cancel_grace_s=grace_s
        )
        engine.warm()
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        engine.close()


def test_frames_come_back_exactly_and_progress_is_handed_on(make: Make) -> None:
    engine = make(faults.Steady)
    seen: list[float] = []
    clip = engine.generate(JOB, seen.append)
    assert (len(clip.frames), clip.fps) == (21, faults.FPS)
    assert [int(frame[1, 1, 0]) for frame in clip.frames] == list(range(21))
    assert clip.frames[0].shape == (*faults.SIZE, 3)
    child = engine.children()
    assert int(clip.frames[0][0, 0, 0]) == child[0] % 256  # rendered in the child, not here
    assert seen[0] == 0.0 and seen == sorted(seen)  # handed on, throttled
    assert engine.generate(JOB, seen.append).fps == faults.FPS  # the same child, loaded once
    assert engine.children() == child
    assert not [f for d in engine._dirs for f in d.iterdir()]  # each goes once it is mapped


def test_a_child_that_aborts_fails_its_job_and_a_fresh_one_takes_the_next(
    make: Make, tmp_path: Path
) -> None:
    engine = make(partial(faults.AbortsOnce, str(tmp_path / "died")))
    first = engine.children()
    with pytest.raises(EngineCrashed, match=r"died \(exit code -6\)"):
        engine.generate(JOB, lambda _v: None)
    assert faults.gone(first[0], within_s=5)
    clip = engine.generate(JOB, lambda _v: None)
    assert len(clip.frames) == 21 and engine.children() != first


def test_a_hung_child_is_killed_at_the_deadline(make: Make) -> None:
    engine = make(faults.Hangs, timeout_s=1.5)
    child = engine.children()[0]
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"ran out of time \(2 s\)"):
        engine.generate(JOB, lambda _v: None)
    assert 1.4 < time.monotonic() - started < 15  # the hang itself never ends
    assert faults.gone(child, within_s=5)
    assert len(engine.children()) == 1  # already restarted, loading for the next job


def _cancel_after(seconds: float) -> Callable[[float], None]:
    """An ``on_progress`` that raises ``Stopped`` (the task was cancelled) after ``seconds``."""
    stop_at = time.monotonic() + seconds

    def report(_value: float) -> None:
        if time.monotonic() > stop_at:
            raise Stopped

    return report


def test_a_told_child_stops_and_is_kept(make: Make) -> None:
    engine = make(faults.Endless, grace_s=2 * WAIT_S)  # ended by the stop, not by a kill
    child = engine.children()
    with ThreadPoolExecutor(1) as pool, pytest.raises(Stopped):
        pool.submit(engine.generate, JOB, _cancel_after(0.3)).result(timeout=WAIT_S)
    assert engine.children() == child  # stopped cooperatively: nothing to reload


def test_a_child_that_ignores_stop_is_killed_after_the_grace(make: Make) -> None:
    engine = make(faults.IgnoresStop, grace_s=0.5)
    child = engine.children()[0]
    started = time.monotonic()
    with pytest.raises(Stopped):
        engine.generate(JOB, _cancel_after(0.3))
    assert time.monotonic() - started < 15  # it never stops by itself: the kill ended it
    assert faults.gone(child, within_s=5) and len(engine.children()) == 1


def test_a_quiet_child_still_hears_a_cancel(make: Make) -> None:
    engine = make(faults.Hangs, grace_s=0.5)
    started = time.monotonic()
    with pytest.raises(Stopped):  # the worker asks on its own every half second
        engine.generate(JOB, _cancel_after(0.2))
    assert time.monotonic() - started < 15  # it never reports: the worker's own ask ended it


def test_an_engine_error_comes_back_with_its_traceback(make: Make) -> None:
    engine = make(faults.Raises)
    with pytest.raises(EngineError) as caught:
        engine.generate(JOB, lambda _v: None)
    assert str(caught.value).startswith("OSError: cannot read /srv/models/")
    assert "Traceback" in str(caught.value) and "fault_engines.py" in str(caught.value)
    assert len(engine.children()) == 1  # the child survives its engine's exception


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (EngineUnavailable, "KIRIN_MODEL_PATH='/srv/models/nowhere' holds no weights"),
        (GenerationFailed, "the prompt asks for more frames than the engine can hold"),
    ],
)
def test_a_contract_error_raised_in_the_child_arrives_as_its_class(
    make: Make, error: type[KirinError], message: str
) -> None:
    engine = make(partial(faults.Refuses, error, message))
    with pytest.raises(KirinError) as caught:
        engine.generate(JOB, lambda _v: None)
    assert type(caught.value) is error
    assert (caught.value.code, caught.value.message) == (ErrorCode.GENERATION_FAILED, message)
    assert len(engine.children()) == 1


def test_an_errors_own_attributes_cross_with_it(make: Make) -> None:
    engine = make(partial(faults.Refuses, RateLimited, "slow down", retry_after_s=7.5))
    with pytest.raises(RateLimited) as caught:
        engine.generate(JOB, lambda _v: None)
    assert (caught.value.code, caught.value.message) == (ErrorCode.RATE_LIMITED, "slow down")
    assert (caught.value.retry_after_s, caught.value.concurrent) == (7.5, False)


def test_an_error_class_the_contract_does_not_name_arrives_as_kirin_error_with_its_code(
    make: Make,
) -> None:
    engine = make(partial(faults.Refuses, faults.OwnError, "the engine's own words"))
    with pytest.raises(KirinError) as caught:
        engine.generate(JOB, lambda _v: None)
    assert type(caught.value) is KirinError
    assert caught.value.code == ErrorCode.PROVIDER_UNAVAILABLE
    assert caught.value.message == "the engine's own words"


def test_an_engine_that_cannot_load_says_so_as_the_operators_words(make: Make) -> None:
    engine = make(faults.CannotLoad)
    with pytest.raises(EngineUnavailable, match=r"^KIRIN_MODEL_PATH='/srv/models/nowhere'"):
        engine.generate(JOB, lambda _v: None)
    assert len(engine.children()) == 1


def test_an_engine_that_cannot_be_built_is_unavailable_not_a_surprise(make: Make) -> None:
    engine = make(faults.CannotImport)
    with pytest.raises(EngineUnavailable, match="engine could not start: ImportError"):
        engine.generate(JOB, lambda _v: None)


def test_frames_left_by_a_killed_worker_are_removed_by_the_next_one(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = tmp_path / f"{FRAMES_PREFIX}{dead.pid}-abc"
    left.mkdir()
    (left / "1-2.npy").write_bytes(b"\0" * 1024)  # a clip it held when it was killed
    alive = tmp_path / f"{FRAMES_PREFIX}{os.getppid()}-def"
    alive.mkdir()
    own = _own_frames_dir(str(tmp_path))
    assert not left.exists()
    assert alive.exists()  # another live worker's: kept
    assert own.parent == tmp_path and own.name.startswith(f"{FRAMES_PREFIX}{os.getpid()}-")
