"""Fetch an image URL without letting a client reach private networks (SSRF) or exhaust memory."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.contract.params import shown

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Resolves (host, port) to the addresses a connection could reach.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

MAX_REDIRECTS = 3
_SCHEMES = {"http": 80, "https": 443}
_MAX_PORT = 65535
_ABSOLUTE = "URL must be an absolute http or https URL"
_FORBIDDEN = (
    ("is_loopback", "loopback"),
    ("is_unspecified", "unspecified"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),  # last: Python counts the more specific ranges above as private too
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: a gateway forwards to the IPv4 inside


def check_address(ip: IPAddress) -> str | None:
    """Why a fetch must not connect to ``ip`` (None when it is a public address).

    An IPv6 address that carries an IPv4 one (mapped, 6to4, NAT64, Teredo) reaches that IPv4
    host, so it is judged by the IPv4 address inside it.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _check_plain(ip.ipv4_mapped)
        carried = _tunnelled(ip)
        if carried:
            return _check_carried(carried)
    return _check_plain(ip)


def _tunnelled(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses that a 6to4, NAT64 or Teredo address carries (none for the others)."""
    if ip.sixtofour is not None:
        return [("6to4", ip.sixtofour)]
    if ip in _NAT64:
        return [("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))]
    if ip.teredo is not None:
        server, client = ip.teredo
        return [("Teredo server", server), ("Teredo client", client)]
    return []


def _check_carried(carried: list[tuple[str, ipaddress.IPv4Address]]) -> str | None:
    """The first IPv4 address inside that breaks the policy, named with its form."""
    for form, inside in carried:
        reason = _check_plain(inside)
        if reason is not None:
            return f"{reason} ({form} of {inside})"
    return None


def _check_plain(ip: IPAddress) -> str | None:
    for attribute, reason in _FORBIDDEN:
        if getattr(ip, attribute):
            return reason
    return None if ip.is_global else "not globally routable"


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for ``host``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


class AddressRefused(Exception):
    """A URL broke the policy; carries the rule and what was seen."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(rule)
        self.rule = rule
        self.detail = detail


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

    @property
    def max_bytes(self) -> int:
        """The largest body a fetch returns; a larger one is cut off while it streams."""
        return self._max_bytes

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
            raise self._error(field, reach, url, type(exc).__name__) from exc
        except (httpx.InvalidURL, UnicodeError) as exc:  # not parseable, or a host IDNA refuses
            raise self._error(field, _ABSOLUTE, url, str(exc)) from exc

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


async def pinned(
    url: httpx.URL, *, resolve: Resolver, allow_private: bool
) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """``url`` rewritten to a checked address, with the Host header and TLS name it needs."""
    if url.scheme not in _SCHEMES or not url.host:
        raise AddressRefused(_ABSOLUTE, f"scheme {url.scheme!r}")
    port = url.port or _SCHEMES[url.scheme]
    if port > _MAX_PORT:
        raise AddressRefused(_ABSOLUTE, f"port {port}")
    try:
        addresses = await resolve(url.host, port)
    except OSError as exc:
        raise AddressRefused("URL host must resolve", f"{url.host}: {exc}") from exc
    if not addresses:
        raise AddressRefused("URL host must resolve", f"{url.host}: no address")
    if not allow_private:
        for candidate in addresses:
            reason = check_address(candidate)
            if reason is not None:
                raise AddressRefused(
                    "URL must point to a public address",
                    f"{url.host} resolves to {candidate}, {reason}",
                )
    extensions: dict[str, Any] = {"sni_hostname": url.host} if url.scheme == "https" else {}
    headers = {"Host": url.netloc.decode("ascii")}
    return url.copy_with(host=str(addresses[0])), headers, extensions
