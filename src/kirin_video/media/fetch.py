"""Fetch an image URL under the address policy (``netpolicy``), with a deadline and a size cap."""

from __future__ import annotations

import asyncio

import httpx

from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.contract.params import shown
from kirin_video.netpolicy import (
    ABSOLUTE_URL,
    AddressRefused,
    Resolver,
    connection_failure,
    pinned,
    resolve_host,
)

MAX_REDIRECTS = 3


class Fetcher:
    """Downloads client images over http(s) with a deadline, a size cap and an address policy."""

    def __init__(
        self,
        *,
        timeout_s: float,
        max_bytes: int,
        allow_private: bool,
        transport: httpx.AsyncBaseTransport | None = None,
        resolve: Resolver = resolve_host,
    ) -> None:
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._allow_private = allow_private
        self._transport = transport
        self._resolve = resolve

    async def fetch(self, url: str, *, field: str) -> bytes:
        """The body at ``url``; any failure is an IMAGE_INVALID error naming the field and URL."""
        reach = f"URL must be reachable within {self._timeout_s:g}s"
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._follow(url)
        except AddressRefused as exc:
            raise self._error(field, exc.rule, url, exc.detail) from exc
        except TimeoutError as exc:
            raise self._error(field, reach, url, "timed out") from exc
        except httpx.HTTPError as exc:
            raise self._error(field, reach, url, connection_failure(exc)) from exc
        except (httpx.InvalidURL, UnicodeError) as exc:  # not parseable, or a host IDNA refuses
            raise self._error(field, ABSOLUTE_URL, url, "it cannot be parsed") from exc

    @staticmethod
    def _error(field: str, rule: str, url: str, detail: str) -> InvalidRequest:
        return InvalidRequest(
            f"{field}: {rule}; got {shown(url)} ({detail})", code=ErrorCode.IMAGE_INVALID
        )

    async def _follow(self, url: str) -> bytes:
        async with httpx.AsyncClient(
            transport=self._transport,
            follow_redirects=False,
            trust_env=False,
            timeout=self._timeout_s,
        ) as client:
            current = httpx.URL(url)
            for _ in range(MAX_REDIRECTS + 1):
                request = await self._pinned_request(client, current)
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if not (response.is_redirect and location):
                        return await self._body(response)
                finally:
                    await response.aclose()
                current = current.join(location)
        raise AddressRefused(f"URL must answer within {MAX_REDIRECTS} redirects", "more redirects")

    async def _pinned_request(self, client: httpx.AsyncClient, url: httpx.URL) -> httpx.Request:
        """A request to the checked address itself, so DNS cannot change between check and use."""
        target, headers, extensions = await pinned(
            url, resolve=self._resolve, allow_private=self._allow_private
        )
        headers["Accept-Encoding"] = "identity"
        return client.build_request("GET", target, headers=headers, extensions=extensions)

    async def _body(self, response: httpx.Response) -> bytes:
        if not response.is_success:
            reach = f"URL must be reachable within {self._timeout_s:g}s"
            raise AddressRefused(reach, f"HTTP {response.status_code}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise AddressRefused(
                f"must be at most {self._max_bytes} bytes", f"{declared} bytes declared"
            )
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self._max_bytes:
                raise AddressRefused(f"must be at most {self._max_bytes} bytes", "a larger body")
        return bytes(body)
