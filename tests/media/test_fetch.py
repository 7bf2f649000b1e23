"""SSRF-safe fetch: the address policy, redirects, size cap, deadline and clear errors."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.media.fetch import Fetcher, IPAddress, check_address

PUBLIC = "93.184.216.34"
HOSTS = {
    "cdn.test": PUBLIC,
    "mirror.test": "8.8.8.8",
    "internal.test": "10.0.0.7",
    "metadata.test": "169.254.169.254",
    "local.test": "127.0.0.1",
}
Handler = Callable[[httpx.Request], object]


async def fake_resolve(host: str, port: int) -> list[IPAddress]:
    return [ipaddress.ip_address(HOSTS[host])]


def fetcher(handler: Handler, *, max_bytes: int = 1000, **options: object) -> Fetcher:
    settings: dict[str, object] = {"timeout_s": 2.0, "allow_private": False, **options}
    return Fetcher(
        max_bytes=max_bytes,
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        resolve=fake_resolve,
        **settings,  # type: ignore[arg-type]
    )


def fetch(client: Fetcher, url: str) -> bytes:
    return asyncio.run(client.fetch(url, field="image"))


def refusal(client: Fetcher, url: str) -> str:
    with pytest.raises(InvalidRequest) as exc:
        fetch(client, url)
    assert exc.value.code is ErrorCode.IMAGE_INVALID
    return exc.value.message


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "not globally routable"),
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert check_address(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", [PUBLIC, "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert check_address(ipaddress.ip_address(address)) is None


def test_fetch_returns_the_body() -> None:
    assert fetch(fetcher(lambda r: httpx.Response(200, content=b"img")), "https://cdn.test/a") == (
        b"img"
    )


def test_fetch_connects_to_the_checked_address_with_the_original_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"img")

    fetch(fetcher(handler), "https://cdn.test:8443/a.png?x=1")
    assert seen[0].url == httpx.URL(f"https://{PUBLIC}:8443/a.png?x=1")
    assert seen[0].headers["host"] == "cdn.test:8443"
    assert seen[0].extensions["sni_hostname"] == "cdn.test"


def test_private_host_is_refused() -> None:
    message = refusal(fetcher(lambda r: httpx.Response(200)), "http://internal.test/x")
    assert message == (
        "image: URL must point to a public address; got 'http://internal.test/x' "
        "(internal.test resolves to 10.0.0.7, private)"
    )


def test_allow_private_lifts_the_policy() -> None:
    client = fetcher(lambda r: httpx.Response(200, content=b"ok"), allow_private=True)
    assert fetch(client, "http://local.test/x") == b"ok"


def test_only_http_and_https_are_fetched() -> None:
    assert "http or https" in refusal(fetcher(lambda r: httpx.Response(200)), "ftp://cdn.test/x")


def _redirects(target: Callable[[str], str]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        host = request.headers["host"]
        if host == "mirror.test":
            return httpx.Response(200, content=b"moved")
        return httpx.Response(302, headers={"location": target(request.url.path)})

    return handler


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/a.png",
        "http://256.256.256.256/a.png",
        "http://cdn.test\x00/a.png",
        "http://xn--/a.png",
        "http://☃.test/a.png",
        "http://cdn.test:99999/a.png",
    ],
)
def test_url_that_cannot_be_parsed_is_refused(url: str) -> None:
    message = refusal(fetcher(lambda r: httpx.Response(200)), url)
    assert message.startswith("image: URL must be an absolute http or https URL; got ")


def test_host_the_resolver_cannot_encode_is_refused() -> None:
    client = Fetcher(timeout_s=2.0, max_bytes=1000, allow_private=False)  # the system resolver
    assert "absolute http or https URL" in refusal(client, f"http://{'a' * 64}.test/a.png")


def test_redirect_is_followed() -> None:
    client = fetcher(_redirects(lambda path: "https://mirror.test/b"))
    assert fetch(client, "https://cdn.test/a") == b"moved"


def test_redirect_to_a_private_host_is_refused() -> None:
    client = fetcher(_redirects(lambda path: "http://metadata.test/latest/meta-data"))
    assert "metadata.test resolves to 169.254.169.254, link-local" in refusal(
        client, "https://cdn.test/a"
    )


def test_more_than_three_redirects_are_refused() -> None:
    client = fetcher(_redirects(lambda path: path + "x"))  # relative, endless
    assert "URL must answer within 3 redirects" in refusal(client, "https://cdn.test/a")


def test_three_redirects_are_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if len(request.url.path) > 4:
            return httpx.Response(200, content=b"done")
        return httpx.Response(301, headers={"location": request.url.path + "x"})

    assert fetch(fetcher(handler), "https://cdn.test/a") == b"done"


def test_oversize_body_is_cut_while_streaming() -> None:
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            sent.append(1)
            yield b"x" * 100

    client = fetcher(lambda r: httpx.Response(200, content=endless()), max_bytes=1000)
    assert "image: must be at most 1000 bytes" in refusal(client, "https://cdn.test/big")
    assert len(sent) <= 12


def test_declared_oversize_body_is_refused_before_reading() -> None:
    client = fetcher(lambda r: httpx.Response(200, headers={"content-length": "5000"}))
    assert "5000 bytes declared" in refusal(client, "https://cdn.test/big")


def test_http_error_status_names_the_status() -> None:
    client = fetcher(lambda r: httpx.Response(404))
    assert refusal(client, "https://cdn.test/missing.png") == (
        "image: URL must be reachable within 2s; got 'https://cdn.test/missing.png' (HTTP 404)"
    )


def test_connection_error_is_refused_clearly() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    assert "(ConnectError)" in refusal(fetcher(handler), "https://cdn.test/a")


def test_slow_server_hits_the_deadline() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    client = fetcher(handler, timeout_s=0.1)
    assert refusal(client, "https://cdn.test/slow") == (
        "image: URL must be reachable within 0.1s; got 'https://cdn.test/slow' (timed out)"
    )
