"""Image fetch: the address policy applied, redirects, size cap, deadline and clear errors."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient

from kirin_video.contract import catalog
from kirin_video.contract.errors import ErrorCode, InvalidRequest
from kirin_video.media.fetch import Fetcher
from kirin_video.netpolicy import IPAddress

PUBLIC = "93.184.216.34"
HOSTS = {
    "cdn.test": PUBLIC,
    "mirror.test": "8.8.8.8",
    "internal.test": "10.0.0.7",
    "metadata.test": "169.254.169.254",
    "local.test": "127.0.0.1",
    "tunnel.test": "2002:a9fe:a9fe::",  # 6to4 of the cloud metadata address
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
        "(internal.test resolves to an address not allowed here (private))"
    )


def test_host_behind_a_6to4_address_of_a_private_one_is_refused() -> None:
    message = refusal(fetcher(lambda r: httpx.Response(200)), "http://tunnel.test/x")
    assert "(tunnel.test resolves to an address not allowed here (link-local))" in message
    assert "2002:" not in message and "169.254" not in message  # the server's, not the client's


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
    message = refusal(client, "https://cdn.test/a")
    assert "metadata.test resolves to an address not allowed here (link-local)" in message
    assert "169.254" not in message


@pytest.mark.parametrize(
    ("location", "detail"),
    [("ftp://mirror.test/a.png", "scheme 'ftp'"), ("file:///etc/passwd", "scheme 'file'")],
)
def test_redirect_to_another_scheme_is_refused(location: str, detail: str) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": location})

    message = refusal(fetcher(handler), "https://cdn.test/a")
    assert message == (
        f"image: URL must be an absolute http or https URL; got 'https://cdn.test/a' ({detail})"
    )
    assert len(seen) == 1  # nothing was requested at the redirect's target


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

    assert refusal(fetcher(handler), "https://cdn.test/a") == (
        "image: URL must be reachable within 2s; got 'https://cdn.test/a' (could not connect)"
    )


def test_slow_server_hits_the_deadline() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    client = fetcher(handler, timeout_s=0.1)
    assert refusal(client, "https://cdn.test/slow") == (
        "image: URL must be reachable within 0.1s; got 'https://cdn.test/slow' (timed out)"
    )


def test_dripping_body_is_cut_by_the_total_deadline() -> None:
    async def drip() -> AsyncIterator[bytes]:
        while True:  # each byte well within any per-read timeout, the whole never done
            await asyncio.sleep(0.05)
            yield b"x"

    client = fetcher(lambda r: httpx.Response(200, content=drip()), timeout_s=0.3)
    started = time.monotonic()
    assert refusal(client, "https://cdn.test/drip") == (
        "image: URL must be reachable within 0.3s; got 'https://cdn.test/drip' (timed out)"
    )
    assert time.monotonic() - started < 15  # the drip never ends: only the deadline does


class _Declares(BaseHTTPRequestHandler):
    """Declares a body one byte over the contract's image limit, then sends nothing."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(catalog.MAX_IMAGE_BYTES + 1))
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_apps_fetcher_caps_downloads_at_ten_mebibytes(
    make_client: Callable[..., TestClient],
) -> None:
    app_fetcher = make_client(allow_private_urls=True).app.state.services.fetcher  # type: ignore[attr-defined]
    assert catalog.MAX_IMAGE_BYTES == 10 * 1024 * 1024
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Declares)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        message = refusal(app_fetcher, f"http://127.0.0.1:{server.server_address[1]}/big.png")
    finally:
        server.shutdown()
        server.server_close()
    assert f"image: must be at most {10 * 1024 * 1024} bytes" in message
    assert f"({10 * 1024 * 1024 + 1} bytes declared)" in message
