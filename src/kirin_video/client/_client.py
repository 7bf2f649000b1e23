"""``Client`` and ``AsyncClient``: the same methods, blocking and awaitable, on the same wire.

Point either at this project's server or at the hosted service (``https://cloud.vtrix.ai``):
the base URL and the key are all that differ.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from kirin_video.client import _exceptions as e
from kirin_video.client import _protocol as p
from kirin_video.client import _stream as s
from kirin_video.client._images import ImageLike
from kirin_video.client._models import Page, Task

ProgressCallback = Callable[[Task], None]


def _user_agent() -> str:
    try:
        return f"kirin-video-sdk/{version('kirin-video')}"
    except PackageNotFoundError:
        return "kirin-video-sdk"


def _options(base_url: str, api_key: str) -> dict[str, Any]:
    """What both clients hand httpx; refuses a base URL or key that cannot work."""
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url: must be an http(s) URL; got {base_url!r}")
    if not api_key:
        raise ValueError("api_key: must be an API key or a JWT; got an empty string")
    return {
        "base_url": p.root_url(base_url),
        "headers": {"Authorization": f"Bearer {api_key}", "User-Agent": _user_agent()},
    }


class Client:
    """A blocking client for the Kirin task API."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        poll_interval: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.poll_interval = poll_interval
        self._streams = True  # until the server turns out to have no task stream
        self._http = httpx.Client(
            **_options(base_url, api_key), timeout=timeout, transport=transport
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(
        self, method: str, path: str, *, not_found: type[e.NotFound] | None = None, **kwargs: Any
    ) -> Any:
        headers = {p.REQUEST_ID: p.new_request_id()}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise p.transport_error(exc) from exc
        return p.decode(response, not_found=not_found)

    def create(
        self,
        model: str,
        *,
        image: ImageLike | None = None,
        image_tail: ImageLike | None = None,
        image_list: Sequence[ImageLike] | None = None,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        mode: str | None = None,
        duration: int | str | None = None,
        aspect_ratio: str | None = None,
        cfg_scale: float | None = None,
        watermark: bool | None = None,
        seed: int | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        **extra: Any,
    ) -> Task:
        """Create a task; images may be paths, bytes, PIL images or URLs; None is left out."""
        body = p.create_body(
            model,
            image=image,
            image_tail=image_tail,
            image_list=image_list,
            prompt=prompt,
            negative_prompt=negative_prompt,
            mode=mode,
            duration=duration,
            aspect_ratio=aspect_ratio,
            cfg_scale=cfg_scale,
            watermark=watermark,
            seed=seed,
            callback_url=callback_url,
            external_task_id=external_task_id,
            **extra,
        )
        return p.parse_task(self._call("POST", p.GENERATION, json=body))

    def get(self, task: Task | str) -> Task:
        """A task by id or by your external_task_id."""
        return p.parse_task(self._call("GET", p.task_path(task), not_found=e.TaskNotFound))

    def list(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page:
        """One page of your tasks, newest first (the hosted service lists none: NotSupported)."""
        params = p.list_params(status=status, model=model, limit=limit, cursor=cursor)
        try:
            return p.parse_page(self._call("GET", p.GENERATION, params=params))
        except e.NotFound as error:
            raise p.unsupported(error, "list tasks", p.GENERATION) from error

    def iter_tasks(
        self, *, status: str | None = None, model: str | None = None, limit: int | None = None
    ) -> Iterator[Task]:
        """Every task, following cursors page by page."""
        cursor = None
        while True:
            page = self.list(status=status, model=model, limit=limit, cursor=cursor)
            yield from page.data
            if not (cursor := page.next_cursor):
                return

    def stream(self, task: Task | str) -> Iterator[Task]:
        """The task at every change until it has finished; a dropped connection is resumed.

        Raises ``NotSupported`` where the server has no task stream (the hosted service).
        """
        return self._stream(task, deadline=None)

    def _stream(self, task: Task | str, *, deadline: float | None) -> Iterator[Task]:
        resume, path = s.Resume(), p.task_path(task, s.ACTION)
        while not s.past(deadline):
            try:
                with self._http.stream("GET", path, headers=resume.headers()) as response:
                    if not response.is_success:
                        response.read()
                    if response.status_code in s.NO_ROUTE:
                        # a missing task raises TaskNotFound here; a found one, no stream
                        raise s.NoStream(response, self.get(task))
                    if not s.opened(response):
                        return
                    for sse in s.events(response, deadline):
                        if (current := resume.take(sse)) is not None:
                            yield current
                            if current.done:
                                return
                error: e.KirinError = s.closed_early()
            except httpx.TransportError as exc:
                error = p.transport_error(exc)
            if s.past(deadline):
                return
            time.sleep(resume.after_drop(error))

    def cancel(self, task: Task | str) -> Task:
        """Cancel a task not yet finished; it comes back ``failed`` with the cancelled code."""
        path = p.task_path(task, "cancel")
        return p.parse_task(self._call("POST", path, not_found=e.TaskNotFound))

    def callbacks(self, task: Task | str) -> builtins.list[dict[str, Any]]:
        """The task's callback deliveries, oldest first, each with its attempts."""
        body = self._call("GET", p.task_path(task, "callbacks"), not_found=e.TaskNotFound)
        return p.parse_list(body, "delivery")

    def models(self) -> builtins.list[dict[str, Any]]:
        """The models the server offers, with their parameters and defaults."""
        try:
            return p.parse_list(self._call("GET", p.MODELS), "model")
        except e.NotFound as error:
            raise p.unsupported(error, "describe its models", p.MODELS) from error

    def wait(
        self,
        task: Task | str,
        *,
        timeout: float = 900.0,
        on_progress: ProgressCallback | None = None,
        raise_on_failure: bool = True,
    ) -> Task:
        """Follow the task until done; a failed task raises ``TaskFailed`` unless told not to.

        Where the server has no stream (the hosted service), or it fails, poll with backoff
        instead; a poll answered 429, 5xx or not at all is retried until ``timeout``.
        """
        waiter = p.Waiter(
            task, timeout=timeout, interval=self.poll_interval, raise_on_failure=raise_on_failure
        )
        latest: Task | None = None
        if self._streams:
            try:
                for current in self._stream(task, deadline=waiter.deadline):
                    if on_progress is not None:
                        on_progress(current)
                    if waiter.settled(current):
                        return current
            except s.NoStream as missing:
                self._streams, latest = False, missing.task
            except e.NotSupported:
                self._streams = False
            except (e.APIError, e.TransportError) as error:
                if p.retry_delay(error, 0.0) is None:
                    raise  # polling would meet it again
        while True:
            if latest is None:
                try:
                    latest = self.get(task)
                except e.KirinError as error:
                    time.sleep(waiter.after_error(error))
                    continue
            if on_progress is not None:
                on_progress(latest)
            pause = waiter.after(latest)
            if pause is None:
                return latest
            time.sleep(pause)
            latest = None

    def download(
        self, task: Task | str, path: str | os.PathLike[str], *, watermarked: bool = False
    ) -> Path:
        """Stream the task's video (or its watermarked copy) to ``path``."""
        current = task if isinstance(task, Task) and task.content else self.get(task)
        target = Path(path)
        request = p.file_request(self._http, current, watermarked=watermarked)
        try:
            answer = self._http.send(request, stream=True)
            try:
                if not answer.is_success:
                    answer.read()
                    p.decode(answer)
                with target.open("wb") as handle:
                    for chunk in answer.iter_bytes():
                        handle.write(chunk)
            finally:
                answer.close()
        except httpx.TransportError as exc:
            raise p.transport_error(exc) from exc
        return target


class AsyncClient:
    """The awaitable twin of ``Client``: the same methods and arguments."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        poll_interval: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.poll_interval = poll_interval
        self._streams = True  # until the server turns out to have no task stream
        self._http = httpx.AsyncClient(
            **_options(base_url, api_key), timeout=timeout, transport=transport
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, *, not_found: type[e.NotFound] | None = None, **kwargs: Any
    ) -> Any:
        headers = {p.REQUEST_ID: p.new_request_id()}
        try:
            response = await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise p.transport_error(exc) from exc
        return p.decode(response, not_found=not_found)

    async def create(
        self,
        model: str,
        *,
        image: ImageLike | None = None,
        image_tail: ImageLike | None = None,
        image_list: Sequence[ImageLike] | None = None,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        mode: str | None = None,
        duration: int | str | None = None,
        aspect_ratio: str | None = None,
        cfg_scale: float | None = None,
        watermark: bool | None = None,
        seed: int | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        **extra: Any,
    ) -> Task:
        """Create a task; images may be paths, bytes, PIL images or URLs; None is left out."""
        body = p.create_body(
            model,
            image=image,
            image_tail=image_tail,
            image_list=image_list,
            prompt=prompt,
            negative_prompt=negative_prompt,
            mode=mode,
            duration=duration,
            aspect_ratio=aspect_ratio,
            cfg_scale=cfg_scale,
            watermark=watermark,
            seed=seed,
            callback_url=callback_url,
            external_task_id=external_task_id,
            **extra,
        )
        return p.parse_task(await self._call("POST", p.GENERATION, json=body))

    async def get(self, task: Task | str) -> Task:
        """A task by id or by your external_task_id."""
        return p.parse_task(await self._call("GET", p.task_path(task), not_found=e.TaskNotFound))

    async def list(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page:
        """One page of your tasks, newest first (the hosted service lists none: NotSupported)."""
        params = p.list_params(status=status, model=model, limit=limit, cursor=cursor)
        try:
            return p.parse_page(await self._call("GET", p.GENERATION, params=params))
        except e.NotFound as error:
            raise p.unsupported(error, "list tasks", p.GENERATION) from error

    async def iter_tasks(
        self, *, status: str | None = None, model: str | None = None, limit: int | None = None
    ) -> AsyncIterator[Task]:
        """Every task, following cursors page by page."""
        cursor = None
        while True:
            page = await self.list(status=status, model=model, limit=limit, cursor=cursor)
            for task in page.data:
                yield task
            if not (cursor := page.next_cursor):
                return

    def stream(self, task: Task | str) -> AsyncIterator[Task]:
        """The task at every change until it has finished; a dropped connection is resumed.

        Raises ``NotSupported`` where the server has no task stream (the hosted service).
        """
        return self._stream(task, deadline=None)

    async def _stream(self, task: Task | str, *, deadline: float | None) -> AsyncIterator[Task]:
        resume, path = s.Resume(), p.task_path(task, s.ACTION)
        while not s.past(deadline):
            try:
                async with self._http.stream("GET", path, headers=resume.headers()) as response:
                    if not response.is_success:
                        await response.aread()
                    if response.status_code in s.NO_ROUTE:
                        # a missing task raises TaskNotFound here; a found one, no stream
                        raise s.NoStream(response, await self.get(task))
                    if not s.opened(response):
                        return
                    async for sse in s.aevents(response, deadline):
                        if (current := resume.take(sse)) is not None:
                            yield current
                            if current.done:
                                return
                error: e.KirinError = s.closed_early()
            except httpx.TransportError as exc:
                error = p.transport_error(exc)
            if s.past(deadline):
                return
            await asyncio.sleep(resume.after_drop(error))

    async def cancel(self, task: Task | str) -> Task:
        """Cancel a task not yet finished; it comes back ``failed`` with the cancelled code."""
        path = p.task_path(task, "cancel")
        return p.parse_task(await self._call("POST", path, not_found=e.TaskNotFound))

    async def callbacks(self, task: Task | str) -> builtins.list[dict[str, Any]]:
        """The task's callback deliveries, oldest first, each with its attempts."""
        body = await self._call("GET", p.task_path(task, "callbacks"), not_found=e.TaskNotFound)
        return p.parse_list(body, "delivery")

    async def models(self) -> builtins.list[dict[str, Any]]:
        """The models the server offers, with their parameters and defaults."""
        try:
            return p.parse_list(await self._call("GET", p.MODELS), "model")
        except e.NotFound as error:
            raise p.unsupported(error, "describe its models", p.MODELS) from error

    async def wait(
        self,
        task: Task | str,
        *,
        timeout: float = 900.0,
        on_progress: ProgressCallback | None = None,
        raise_on_failure: bool = True,
    ) -> Task:
        """Follow the task until done; a failed task raises ``TaskFailed`` unless told not to.

        Where the server has no stream (the hosted service), or it fails, poll with backoff
        instead; a poll answered 429, 5xx or not at all is retried until ``timeout``.
        """
        waiter = p.Waiter(
            task, timeout=timeout, interval=self.poll_interval, raise_on_failure=raise_on_failure
        )
        latest: Task | None = None
        if self._streams:
            try:
                async for current in self._stream(task, deadline=waiter.deadline):
                    if on_progress is not None:
                        on_progress(current)
                    if waiter.settled(current):
                        return current
            except s.NoStream as missing:
                self._streams, latest = False, missing.task
            except e.NotSupported:
                self._streams = False
            except (e.APIError, e.TransportError) as error:
                if p.retry_delay(error, 0.0) is None:
                    raise  # polling would meet it again
        while True:
            if latest is None:
                try:
                    latest = await self.get(task)
                except e.KirinError as error:
                    await asyncio.sleep(waiter.after_error(error))
                    continue
            if on_progress is not None:
                on_progress(latest)
            pause = waiter.after(latest)
            if pause is None:
                return latest
            await asyncio.sleep(pause)
            latest = None

    async def download(
        self, task: Task | str, path: str | os.PathLike[str], *, watermarked: bool = False
    ) -> Path:
        """Stream the task's video (or its watermarked copy) to ``path``."""
        current = task if isinstance(task, Task) and task.content else await self.get(task)
        target = Path(path)
        request = p.file_request(self._http, current, watermarked=watermarked)
        try:
            answer = await self._http.send(request, stream=True)
            try:
                if not answer.is_success:
                    await answer.aread()
                    p.decode(answer)
                with target.open("wb") as handle:
                    async for chunk in answer.aiter_bytes():
                        handle.write(chunk)
            finally:
                await answer.aclose()
        except httpx.TransportError as exc:
            raise p.transport_error(exc) from exc
        return target
