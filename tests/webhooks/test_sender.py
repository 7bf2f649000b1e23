"""One attempt against receivers that misbehave: an overall deadline, a capped read, pinning."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from kirin_video.netpolicy import IPAddress
from kirin_video.webhooks.sender import MAX_RESPONSE_BYTES, Outcome, Sender

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100000000\r\n\r\n"
GENEROUS_S = 30.0  # a deadline no answer read to the cap comes near, however busy the machine
GUARD_S = 60.0  # a send that outlives this never ended on its own


class RawReceiver:
    """A loopback socket that reads one request, then writes ``answer`` chunk by chunk."""

    def __init__(self, answer: Iterator[bytes], *, pause_s: float) -> None:
        self.sent = 0
        self._answer = answer
        self._pause_s = pause_s
        self._stop = threading.Event()
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/hook"

    def _serve(self) -> None:
        connection, _ = self._socket.accept()
        with connection:
            connection.recv(65536)  # the request: its content does not matter here
            for chunk in self._answer:
                if self._stop.is_set():
                    return
                try:
                    connection.sendall(chunk)
                except OSError:  # the sender hung up
                    return
                self.sent += len(chunk)
                self._stop.wait(self._pause_s)

    def close(self) -> None:
        self._stop.set()
        self._socket.close()
        self._thread.join(GUARD_S)


def one_byte_at_a_time(data: bytes) -> Iterator[bytes]:
    """``data``, then an endless body, a byte per write."""
    yield from (data[i : i + 1] for i in range(len(data)))
    while True:
        yield b"x"


def headers_then_endless(chunk: bytes) -> Iterator[bytes]:
    """A 2xx status and headers at once, then ``chunk`` after ``chunk`` for ever."""
    yield ANSWER
    while True:
        yield chunk


def post(sender: Sender, url: str) -> tuple[Outcome, float]:
    """One attempt, and how long it took; fails rather than hangs."""

    async def attempt() -> Outcome:
        try:
            return await asyncio.wait_for(sender.post(url, body=b"{}", headers={}), GUARD_S)
        finally:
            await sender.aclose()

    started = time.monotonic()
    outcome = asyncio.run(attempt())
    return outcome, time.monotonic() - started


@pytest.mark.parametrize(
    "answer",
    [lambda: one_byte_at_a_time(ANSWER), lambda: headers_then_endless(b"x")],
    ids=["headers", "body"],
)
def test_a_receiver_dripping_its_answer_is_cut_off_at_the_timeout(
    answer: Callable[[], Iterator[bytes]],
) -> None:
    # a byte every 0.1 s: httpx's read timeout (0.6 s) restarts with each and never fires
    receiver = RawReceiver(answer(), pause_s=0.1)
    try:
        outcome, took = post(Sender(timeout_s=0.6, allow_private=True), receiver.url)
    finally:
        receiver.close()
    assert not outcome.delivered and outcome.retryable
    assert outcome.error is not None and outcome.error.startswith("timed out")
    assert took < 15  # it drips forever: only the attempt's deadline ends it
    assert receiver.sent >= 3  # it was still dripping when the attempt gave up


def test_an_endless_2xx_answer_is_delivered_without_reading_it_all() -> None:
    receiver = RawReceiver(headers_then_endless(b"x" * 16384), pause_s=0.0)
    try:
        outcome, _ = post(Sender(timeout_s=GENEROUS_S, allow_private=True), receiver.url)
    finally:
        receiver.close()
    assert outcome == Outcome(http_status=200)  # not "timed out": the read stopped at the cap


def test_the_answer_is_read_no_further_than_the_cap() -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 4096
            yield b"x" * 4096

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    async def public(_host: str, _port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.216.34")]

    sender = Sender(
        timeout_s=2.0, allow_private=False, resolve=public, transport=httpx.MockTransport(handler)
    )
    outcome, _ = post(sender, "http://hooks.example.com/hook")
    assert outcome.delivered
    assert MAX_RESPONSE_BYTES <= pulled <= MAX_RESPONSE_BYTES + 4096


def test_a_host_that_rebinds_to_a_private_address_is_refused_at_send_time() -> None:
    answers = iter(["93.184.216.34", "10.0.0.7"])  # public when first checked, private later
    requests: list[httpx.Request] = []

    async def rebinding(_host: str, _port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(next(answers))]

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(204, stream=httpx.ByteStream(b""))  # unread, as off a socket

    sender = Sender(
        timeout_s=2.0,
        allow_private=False,
        resolve=rebinding,
        transport=httpx.MockTransport(handler),
    )

    async def twice() -> list[Outcome]:
        try:
            return [
                await sender.post("http://hooks.example.com/hook", body=b"{}", headers={})
                for _ in range(2)
            ]
        finally:
            await sender.aclose()

    first, second = asyncio.run(twice())
    assert first == Outcome(http_status=204)
    assert not second.delivered and not second.retryable
    assert second.error == (
        "URL must point to a public address: "
        "hooks.example.com resolves to an address not allowed here (private)"
    )
    [request] = requests  # the refused attempt never connected
    assert request.url.host == "93.184.216.34"  # the checked address, not a second lookup
    assert request.headers["host"] == "hooks.example.com"


def test_a_receiver_that_refuses_the_connection_is_named_in_our_words() -> None:
    with socket.socket() as unused:  # a loopback port where nothing listens
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/hook"
    outcome, _ = post(Sender(timeout_s=2, allow_private=True), url)
    assert (outcome.error, outcome.retryable) == ("could not connect", True)
