"""The engine in a child process per worker slot, so a crash, a hang or a cancel is a process's.

A child loads its engine once and takes jobs over a pipe, in the events of ``child_events``. It
answers with progress and, at the end, the path of a ``.npy`` file it wrote the frames to, which
the worker maps into memory instead of unpickling frames. A child that dies fails only its job
(``EngineCrashed``); one past the job's deadline (``DeadlineExceeded``), or that does not stop
within the grace after being told, is killed. Either way a fresh child starts at once and loads
the engine again, while the server and the other slots carry on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from kirin_video.contract.errors import EngineUnavailable, KirinError
from kirin_video.engines.base import Clip, Engine, Job, ProgressFn
from kirin_video.runtime.child_events import (
    Done,
    Ended,
    FromChild,
    JobStopped,
    Progress,
    Raised,
    RunJob,
    StopJob,
    ToChild,
    raised,
)

log = logging.getLogger(__name__)

#: Builds the engine inside the child; a module-level callable (or a partial of one), since the
#: child is spawned, not forked: CUDA and threads do not survive a fork.
EngineFactory = Callable[[], Engine]
#: How often a waiting worker hands progress on even when the child is quiet: each hand-off
#: asks whether the task is still ours, so a cancel is seen within this time.
CHECK_S = 0.5
#: The child hands progress on at most this often; a stop is heard at every step regardless.
PROGRESS_EVERY_S = 0.1
_CONTEXT = multiprocessing.get_context("spawn")
FRAMES_PREFIX = "kirin-frames-"  # then the owning process's pid


class EngineCrashed(Exception):
    """The engine's process died under a job: a segfault, an abort, the OOM killer."""


class DeadlineExceeded(Exception):
    """The job ran past its deadline; its child was killed."""


class ChildEngine:
    """An ``Engine`` whose work runs in child processes, one per concurrent caller (slot)."""

    def __init__(
        self,
        factory: EngineFactory,
        *,
        name: str,
        timeout_s: Callable[[Job], float],
        cancel_grace_s: float,
        slots: int = 1,
    ) -> None:
        self.name = name
        self._factory = factory
        self._timeout_s = timeout_s
        self._grace_s = cancel_grace_s
        self._slots = max(1, slots)
        self._idle: queue.SimpleQueue[_Child] = queue.SimpleQueue()
        self._all: list[_Child] = []
        self._lock = threading.RLock()
        self._dirs = [_own_frames_dir(base) for base in _frame_dirs()]

    def warm(self) -> None:
        """Start a child per slot now, so each loads its engine before the first task."""
        with self._lock:
            started = [self._spawn() for _ in range(self._slots - len(self._all))]
        for child in started:
            self._idle.put(child)

    def generate(self, job: Job, on_progress: ProgressFn) -> Clip:
        child = self._checkout()
        path = self._frames_dir(job) / f"{child.pid}-{time.monotonic_ns()}.npy"
        try:
            clip = self._run(child, job, path, on_progress)
        except BaseException:
            self._idle.put(child if child.alive() else self._replace(child))
            raise
        finally:
            path.unlink(missing_ok=True)  # mapped already, or left by a job that broke off
        self._idle.put(child)
        return clip

    def close(self) -> None:
        """Stop every child (the server or worker is shutting down)."""
        with self._lock:
            children, self._all = self._all, []
        for child in children:
            child.kill()
        for directory in self._dirs:
            shutil.rmtree(directory, ignore_errors=True)

    def children(self) -> list[int]:
        """The pids of the live children, for operators and tests."""
        with self._lock:
            return [child.pid for child in self._all if child.alive()]

    def _frames_dir(self, job: Job) -> Path:
        """Shared memory where the frames fit with room to spare, else the temporary directory."""
        geometry = job.geometry
        size = geometry.width * geometry.height * 3 * geometry.frames
        for directory in self._dirs[:-1]:
            if shutil.disk_usage(directory).free > 2 * size:
                return directory
        return self._dirs[-1]

    def _run(self, child: _Child, job: Job, path: Path, on_progress: ProgressFn) -> Clip:
        timeout_s = self._timeout_s(job)
        deadline = time.monotonic() + timeout_s
        child.send(RunJob(job, str(path)))
        last = 0.0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill(child, f"past its deadline of {timeout_s:.0f} s")
                raise DeadlineExceeded(f"generation: ran out of time ({timeout_s:.0f} s)")
            event = child.receive(min(CHECK_S, remaining))  # None: quiet, ask all the same
            if isinstance(event, Done):
                return _load_clip(Path(event.frames_path), fps=event.fps)
            if isinstance(event, Raised):
                raise event.error()
            if isinstance(event, Progress):
                last = event.value
            try:
                on_progress(last)  # still ours? raises on a cancel or a shutdown
            except BaseException:
                self._stop(child)
                raise

    def _stop(self, child: _Child) -> None:
        """Tell the child to drop its job; kill it if it has not within the grace."""
        child.send(StopJob())
        deadline = time.monotonic() + self._grace_s
        while (remaining := deadline - time.monotonic()) > 0:
            if isinstance(child.receive(remaining), Ended):
                return
        self._kill(child, f"still running {self._grace_s:.1f} s after it was told to stop")

    def _kill(self, child: _Child, why: str) -> None:
        log.warning("engine child %s killed: %s", child.pid, why)
        child.kill()

    def _checkout(self) -> _Child:
        """An idle child; a new one while there are fewer than slots; else wait for one."""
        with self._lock:
            try:
                child: _Child | None = self._idle.get_nowait()
            except queue.Empty:
                child = self._spawn() if len(self._all) < self._slots else None
        if child is None:
            child = self._idle.get()  # as many callers as slots, each child busy: wait
        return child if child.alive() else self._replace(child)

    def _replace(self, dead: _Child) -> _Child:
        with self._lock:
            if dead in self._all:
                self._all.remove(dead)
        log.info("engine child %s gone (exit code %s); starting another", dead.pid, dead.exitcode)
        return self._spawn()

    def _spawn(self) -> _Child:
        child = _Child(self._factory)
        with self._lock:
            self._all.append(child)
        return child


class _Child:
    """One child process and the parent's end of its pipe."""

    def __init__(self, factory: EngineFactory) -> None:
        self._conn, theirs = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(
            target=serve, args=(theirs, factory), name="kirin-engine", daemon=True
        )
        self._process.start()
        theirs.close()

    @property
    def pid(self) -> int:
        return self._process.pid or 0

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    def alive(self) -> bool:
        return self._process.is_alive()

    def send(self, message: ToChild) -> None:
        try:
            self._conn.send(message)
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise self._crashed() from exc

    def receive(self, timeout: float) -> FromChild | None:
        """The child's next message, None if none came in ``timeout``; raises if it died."""
        try:
            if not self._conn.poll(timeout):
                return None
            message: FromChild = self._conn.recv()
        except (EOFError, ConnectionResetError, OSError) as exc:
            raise self._crashed() from exc
        return message

    def kill(self) -> None:
        self._process.kill()
        self._process.join(10)
        self._conn.close()

    def _crashed(self) -> EngineCrashed:
        self._process.join(5)
        return EngineCrashed(f"generation: the engine process died (exit code {self.exitcode})")


def _frame_dirs() -> list[str | None]:
    """Where frames files may go, fastest first: shared memory if there is any, then tmp."""
    return ["/dev/shm", None] if os.path.isdir("/dev/shm") else [None]


def _own_frames_dir(base: str | None) -> Path:
    """This process's frames directory, after removing those of processes that died (SIGKILL).

    A worker killed while it held a clip leaves its file behind, in ``/dev/shm`` memory that
    nothing would give back until the machine restarts.
    """
    root = Path(base or tempfile.gettempdir())
    for stale in root.glob(f"{FRAMES_PREFIX}*"):
        owner = stale.name.removeprefix(FRAMES_PREFIX).split("-")[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{FRAMES_PREFIX}{os.getpid()}-", dir=root))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to clean up
        return True
    return True


def _load_clip(path: Path, *, fps: float) -> Clip:
    """The frames the child wrote, mapped rather than read; the file goes once it is mapped."""
    frames = np.load(path, mmap_mode="r")
    path.unlink()
    return Clip(frames=list(frames), fps=fps)


# The child's side.


class _Stop(Exception):
    """The parent told the child to drop its job."""


def serve(conn: Connection, factory: EngineFactory) -> None:
    """The child's loop: build the engine once, then run each job the parent sends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group; the parent decides
    engine: Engine | BaseException
    try:
        engine = factory()
        engine.warm()
    except KirinError as exc:  # every job will say why, as a failed warm-up does in-process
        engine = exc
    except Exception as exc:  # a library the engine needs is missing or broken
        engine = EngineUnavailable(f"the {_name(factory)} engine could not start: {exc!r}")
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if isinstance(message, RunJob):  # a stop that came after its job ended is dropped
            conn.send(_job(conn, engine, message.job, Path(message.frames_path)))


def _job(conn: Connection, engine: Engine | BaseException, job: Job, path: Path) -> Ended:
    sent = 0.0

    def progress(value: float) -> None:
        nonlocal sent
        while conn.poll():
            if isinstance(conn.recv(), StopJob):
                raise _Stop
        if time.monotonic() - sent >= PROGRESS_EVERY_S:  # the worker stores it throttled anyway
            sent = time.monotonic()
            conn.send(Progress(value))

    try:
        if isinstance(engine, BaseException):
            raise engine
        clip = engine.generate(job, progress)
        _save_clip(clip, path)
    except _Stop:
        return JobStopped()
    except Exception as exc:
        return raised(exc)
    return Done(str(path), clip.fps)


def _name(factory: EngineFactory) -> str:
    """The engine a factory builds, for the log: a partial's first argument names it."""
    args = getattr(factory, "args", ())
    return str(args[0]) if args else "configured"


def _save_clip(clip: Clip, path: Path) -> None:
    if not clip.frames:
        raise ValueError("the engine returned no frames")
    height, width = clip.frames[0].shape[:2]
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.uint8, shape=(len(clip.frames), height, width, 3)
    )
    for index, frame in enumerate(clip.frames):
        out[index] = frame
    out.flush()
    del out
