"""``Client`` and ``AsyncClient``: the same methods, blocking and awaitable."""

from __future__ import annotations

import asyncio
import builtins
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from kirin_video.client import _protocol as p
from kirin_video.client._images import ImageLike
from kirin_video.client._models import Page, Task

ProgressCallback = Callable[[Task], None]


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": "kirin-video-sdk"}


class Client:
    """A blocking client for the Kirin task API (this server or the hosted service)."""

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
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=_headers(api_key),
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return p.parse(self._http.request(method, path, **kwargs))
        except httpx.TransportError as exc:
            raise p.transport_error(exc) from exc

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
        """Create a task; images may be paths, bytes, PIL images or URLs."""
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
        return Task.from_json(self._call("POST", p.GENERATION, json=body))

    def get(self, task: Task | str) -> Task:
        """A task by id or by your external_task_id."""
        return Task.from_json(self._call("GET", f"{p.GENERATION}/{p.task_id(task)}"))

    def list(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page:
        params = p.list_params(status=status, model=model, limit=limit, cursor=cursor)
        return p.parse_page(self._call("GET", p.GENERATION, params=params))

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

    def cancel(self, task: Task | str) -> Task:
        return Task.from_json(self._call("POST", f"{p.GENERATION}/{p.task_id(task)}/cancel"))

    def callbacks(self, task: Task | str) -> builtins.list[dict[str, Any]]:
        """The task's callback deliveries, oldest first, each with its attempts."""
        return list(self._call("GET", p.callbacks_path(task))["data"])

    def models(self) -> builtins.list[dict[str, Any]]:
        return list(self._call("GET", "/v1/models")["data"])

    def wait(
        self,
        task: Task | str,
        *,
        timeout: float = 900.0,
        on_progress: ProgressCallback | None = None,
    ) -> Task:
        """Poll with backoff until completed; a failed or cancelled task raises its error."""
        deadline = time.monotonic() + timeout
        for delay in p.delays(self.poll_interval):
            current = self.get(task)
            if on_progress is not None:
                on_progress(current)
            if p.finished_or_raise(current):
                return current
            if time.monotonic() + delay > deadline:
                raise p.wait_timeout(current, timeout)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def download(
        self, task: Task | str, path: str | os.PathLike[str], *, watermarked: bool = False
    ) -> Path:
        """Stream the task's video (or its watermarked copy) to ``path``."""
        current = task if isinstance(task, Task) and task.output else self.get(task)
        target = Path(path)
        request = p.file_request(self._http, current, watermarked=watermarked)
        try:
            response = self._http.send(request, stream=True)
            try:
                if not response.is_success:
                    response.read()
                    p.parse(response)
                with target.open("wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
            finally:
                response.close()
        except httpx.TransportError as exc:
            raise p.transport_error(exc) from exc
        return target


class AsyncClient:
    """The awaitable twin of ``Client``."""

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
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=_headers(api_key),
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return p.parse(await self._http.request(method, path, **kwargs))
        except httpx.TransportError as exc:
            raise p.transport_error(exc) from exc

    async def create(self, model: str, **fields: Any) -> Task:
        """Create a task; same keyword arguments as ``Client.create``."""
        body = p.create_body(model, **fields)
        return Task.from_json(await self._call("POST", p.GENERATION, json=body))

    async def get(self, task: Task | str) -> Task:
        return Task.from_json(await self._call("GET", f"{p.GENERATION}/{p.task_id(task)}"))

    async def list(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page:
        params = p.list_params(status=status, model=model, limit=limit, cursor=cursor)
        return p.parse_page(await self._call("GET", p.GENERATION, params=params))

    async def iter_tasks(
        self, *, status: str | None = None, model: str | None = None, limit: int | None = None
    ) -> AsyncIterator[Task]:
        cursor = None
        while True:
            page = await self.list(status=status, model=model, limit=limit, cursor=cursor)
            for task in page.data:
                yield task
            if not (cursor := page.next_cursor):
                return

    async def cancel(self, task: Task | str) -> Task:
        path = f"{p.GENERATION}/{p.task_id(task)}/cancel"
        return Task.from_json(await self._call("POST", path))

    async def callbacks(self, task: Task | str) -> builtins.list[dict[str, Any]]:
        return list((await self._call("GET", p.callbacks_path(task)))["data"])

    async def models(self) -> builtins.list[dict[str, Any]]:
        return list((await self._call("GET", "/v1/models"))["data"])

    async def wait(
        self,
        task: Task | str,
        *,
        timeout: float = 900.0,
        on_progress: ProgressCallback | None = None,
    ) -> Task:
        deadline = time.monotonic() + timeout
        for delay in p.delays(self.poll_interval):
            current = await self.get(task)
            if on_progress is not None:
                on_progress(current)
            if p.finished_or_raise(current):
                return current
            if time.monotonic() + delay > deadline:
                raise p.wait_timeout(current, timeout)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def download(
        self, task: Task | str, path: str | os.PathLike[str], *, watermarked: bool = False
    ) -> Path:
        current = task if isinstance(task, Task) and task.output else await self.get(task)
        target = Path(path)
        request = p.file_request(self._http, current, watermarked=watermarked)
        try:
            response = await self._http.send(request, stream=True)
            try:
                if not response.is_success:
                    await response.aread()
                    p.parse(response)
                with target.open("wb") as handle:
                    async for chunk in response.aiter_bytes():
                        handle.write(chunk)
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise p.transport_error(exc) from exc
        return target
