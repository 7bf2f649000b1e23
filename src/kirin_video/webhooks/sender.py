"""POST one callback to a client's URL, under the same address policy as image URLs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from kirin_video.netpolicy import (
    ABSOLUTE_URL,
    AddressRefused,
    Resolver,
    connection_failure,
    pinned,
    resolve_host,
)
from kirin_video.webhooks.backoff import retry_after

MAX_RESPONSE_BYTES = 64 * 1024  # what is read of a receiver's answer, at most
_CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a 2xx, or an error to record, and whether retrying can help."""

    http_status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    retryable: bool = True

    @property
    def delivered(self) -> bool:
        return self.error is None

    def final(self) -> Outcome:
        """The same outcome, marked as one that no retry can change."""
        return Outcome(self.http_status, self.error, self.retry_after_s, retryable=False)


class Sender:
    """One pooled HTTP client; redirects not followed, answers read up to a cap, one deadline."""

    def __init__(
        self,
        *,
        timeout_s: float,
        allow_private: bool,
        resolve: Resolver = resolve_host,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._allow_private = allow_private
        self._resolve = resolve
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout_s, connect=min(_CONNECT_TIMEOUT_S, timeout_s)),
        )

    async def post(self, url: str, *, body: bytes, headers: dict[str, str]) -> Outcome:
        """Send ``body``; never raises for the receiver's or the network's failures."""
        try:
            async with asyncio.timeout(self._timeout_s):  # httpx's read timeout restarts per chunk
                return await self._exchange(url, body=body, headers=headers)
        except TimeoutError:
            return Outcome(error=f"timed out (no whole answer within {self._timeout_s:g}s)")

    async def _exchange(self, url: str, *, body: bytes, headers: dict[str, str]) -> Outcome:
        """Resolve, check, connect, send and read the answer up to the cap."""
        try:
            target, host, extensions = await pinned(
                httpx.URL(url), resolve=self._resolve, allow_private=self._allow_private
            )
            request = self._client.build_request(
                "POST", target, content=body, headers={**headers, **host}, extensions=extensions
            )
            response = await self._client.send(request, stream=True)
        except (httpx.InvalidURL, UnicodeError):
            return Outcome(error=f"{ABSOLUTE_URL}: it cannot be parsed").final()
        except AddressRefused as exc:
            return Outcome(
                error=f"{exc.rule}: {exc.detail}", retryable=exc.rule.endswith("resolve")
            )
        except httpx.HTTPError as exc:  # shown in the task's callback listing: our own words
            return Outcome(error=connection_failure(exc))
        except ValueError:
            return Outcome(error="the request could not be sent")
        try:
            await _drain(response)
        finally:
            await response.aclose()
        return _judged(response)

    async def aclose(self) -> None:
        await self._client.aclose()


async def _drain(response: httpx.Response) -> None:
    """Read at most ``MAX_RESPONSE_BYTES`` so the connection can be reused or dropped."""
    read = 0
    try:
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= MAX_RESPONSE_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status line is what counts


def _judged(response: httpx.Response) -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(http_status=status)
    if response.is_redirect:
        return Outcome(http_status=status, error=f"HTTP {status}: redirects are not followed")
    wait = retry_after(response.headers.get("retry-after"))
    return Outcome(http_status=status, error=f"HTTP {status}", retry_after_s=wait)
