"""Which addresses may be fetched or called back: one policy for image URLs and callbacks.

A client names a URL; the server connects to it. Without a policy that is a way into the
server's own network (SSRF): loopback, the cloud metadata address, private ranges. Every host is
resolved once, each address is checked, and the connection goes to the checked address itself,
so DNS cannot answer differently between the check and the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Resolves (host, port) to the addresses a connection could reach.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

#: The rule a URL breaks when it is not one the server can connect to at all.
ABSOLUTE_URL = "URL must be an absolute http or https URL"
_SCHEMES = {"http": 80, "https": 443}
_MAX_PORT = 65535
_FORBIDDEN = (
    ("is_loopback", "loopback"),
    ("is_unspecified", "unspecified"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),  # last: Python counts the more specific ranges above as private too
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: a gateway forwards to the IPv4 inside


class AddressRefused(Exception):
    """A URL broke the policy; carries the rule and what was seen."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(rule)
        self.rule = rule
        self.detail = detail


def parse_callback_url(value: str) -> httpx.URL:
    """``value`` parsed as the sender will parse it; ValueError when it is no absolute http(s) URL.

    httpx refuses more than ``urlsplit`` does (a bad IPv4, a NUL, broken IDNA), so a URL
    accepted here is one the sender can at least try.
    """
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises for a port that is not a number in 0-65535
        url = httpx.URL(value)
    except (ValueError, httpx.InvalidURL) as exc:  # UnicodeError (IDNA) is a ValueError
        raise ValueError(f"{ABSOLUTE_URL}: {exc}") from exc
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise ValueError(f"{ABSOLUTE_URL}: scheme {parts.scheme!r}, host {parts.hostname!r}")
    return url


def check_address(ip: IPAddress) -> str | None:
    """Why a connection must not go to ``ip`` (None when it is a public address).

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


async def pinned(
    url: httpx.URL, *, resolve: Resolver, allow_private: bool
) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """``url`` rewritten to a checked address, with the Host header and TLS name it needs."""
    if url.scheme not in _SCHEMES or not url.host:
        raise AddressRefused(ABSOLUTE_URL, f"scheme {url.scheme!r}")
    port = url.port or _SCHEMES[url.scheme]
    if port > _MAX_PORT:
        raise AddressRefused(ABSOLUTE_URL, f"port {port}")
    try:
        addresses = await resolve(url.host, port)
    except OSError as exc:  # the resolver's own words (errno) stay out of answers
        raise AddressRefused("URL host must resolve", f"{url.host} does not resolve") from exc
    if not addresses:
        raise AddressRefused("URL host must resolve", f"{url.host} does not resolve")
    if not allow_private:
        for candidate in addresses:
            reason = check_address(candidate)
            if reason is not None:
                raise AddressRefused(
                    "URL must point to a public address", _not_allowed(url, reason)
                )
    extensions: dict[str, Any] = {"sni_hostname": url.host} if url.scheme == "https" else {}
    headers = {"Host": url.netloc.decode("ascii")}
    return url.copy_with(host=str(addresses[0])), headers, extensions


def _not_allowed(url: httpx.URL, reason: str) -> str:
    """Why the host is refused; never the address a name resolves to, which is the server's."""
    if _literal(url.host):
        return f"{url.host} is not allowed here ({reason})"
    kind = reason.partition(" (")[0]  # "private (6to4 of 10.0.0.1)": the address stays out
    return f"{url.host} resolves to an address not allowed here ({kind})"


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def connection_failure(exc: httpx.HTTPError) -> str:
    """A failed exchange with a client's URL in our words, not the library's class or text."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the answer was not valid HTTP"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    return "the connection broke off"
