"""Hostile clients against one `kirin serve` while a well-behaved key works; prints a table.

    python -m benchmarks.hostile [--quick] [--seconds 20] [--nofile 1024] [--attack NAME …]

Starts `kirin serve` (a child process, SQLite in a temporary data dir, the preview engine, no
worker, its open files limited to `--nofile` as `ulimit -n` does) and a callback receiver, all on
loopback. Then, for each attack in turn: the attack sets up (sockets opened, tasks flooded) and
holds; for `--seconds` a well-behaved key polls a task of its own and, every second, creates a
task with a callback URL and cancels it; the attack stops and the callbacks that key is owed get
a few seconds to arrive. Each row says what the good key saw (latency of all its requests, the
delay from a status change to its callback, errors), the server's open files at most, the log
lines it wrote, and what the attacker got. Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from benchmarks.load import free_port, small_png, stop
from kirin_video.contract.catalog import MIN_IMAGE_SIDE, Model

GOOD, ATTACKER = "good-key", "attacker-key"
GENERATION = "/model/v1/generation"
SERVE = [sys.executable, "-m", "kirin_video.cli", "serve"]
#: Targets of the issue: the good key's p99, its callbacks' delay, and no error.
P99_TARGET_MS = 250.0
CALLBACK_TARGET_S = 2.0
POLL_EVERY_S = 0.05
CREATE_EVERY_S = 1.0
REQUEST_TIMEOUT_S = 5.0
#: Addresses of the receivers that never answer: one host each, none the good receiver's.
TARPIT_HOSTS = [f"127.0.0.{n}" for n in range(2, 10)]
COLUMNS = (
    "attack",
    "good p50 ms",
    "good p99 ms",
    "callback delay p50 / max s",
    "callbacks got / owed",
    "good errors",
    "server fds (max)",
    "log lines",
    "attacker saw",
    "targets",
)


@dataclass(frozen=True)
class Sizes:
    """How hard each attack pushes and how long each row measures."""

    seconds: float = 20.0
    idle: int = 2000
    trickle: int = 2000
    trickle_every_s: float = 3.0
    streams: int = 500
    flood_tasks: int = 120
    receivers: int = 6
    bad_passes: int = 3
    setup_s: float = 30.0  # at most, to open the sockets or flood the tasks
    settle_s: float = 6.0  # at most, for callbacks owed when the attack stops
    pause_s: float = 1.0  # between rows, for closed sockets to leave the server


FULL = Sizes()
QUICK = Sizes(
    seconds=8.0, idle=400, trickle=400, streams=100, flood_tasks=30, bad_passes=1, setup_s=15.0
)


# 1. The server and the receivers.


@dataclass
class Server:
    """A `kirin serve` child with its open files limited; its log goes to a file."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def open_files(self) -> int:
        try:
            return len(os.listdir(f"/proc/{self.process.pid}/fd"))
        except OSError:
            return -1

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def lines_since(self, offset: int) -> int:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return sum(chunk.count(b"\n") for chunk in iter(lambda: log.read(1 << 20), b""))


@contextmanager
def serving(data_dir: Path, *, nofile: int, env: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    log_path = data_dir.parent / "server.log"

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    environment = {
        **os.environ,
        "KIRIN_DATA_DIR": str(data_dir),
        "KIRIN_API_KEYS": f"{GOOD},{ATTACKER}",
        "KIRIN_ENGINE": "preview",
        "KIRIN_WORKERS": "0",  # tasks wait; callbacks come from cancels, so no render takes CPU
        "KIRIN_ALLOW_PRIVATE_URLS": "true",  # the receivers are on loopback
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*SERVE, "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_files,  # only setrlimit, before exec
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_healthy(server)
        yield server
    finally:
        stop(process)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited:\n{server.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError("server did not start")


@dataclass
class Received:
    """Callbacks that reached the good receiver: external id → (delay after the change, s)."""

    delays: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def receiver(received: Received) -> Iterator[str]:
    """The good key's callback receiver: answers 204 at once and notes each callback's delay."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived = time.time()
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            changed = float(body.get("updated_at", arrived * 1000)) / 1000
            with received.lock:
                received.delays.setdefault(self.path.rsplit("/", 1)[-1], arrived - changed)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def tarpits(count: int) -> Iterator[list[str]]:
    """Receivers that accept connections and never answer, one per loopback address."""
    listeners, held, stop = [], [], threading.Event()
    for host in TARPIT_HOSTS[:count]:
        listener = socket.create_server((host, 0), backlog=512)
        listener.settimeout(0.2)
        listeners.append(listener)

    def hold(listener: socket.socket) -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    threads = [threading.Thread(target=hold, args=(each,), daemon=True) for each in listeners]
    for thread in threads:
        thread.start()
    try:
        yield [f"http://{host}:{port}/hook" for host, port in (s.getsockname() for s in listeners)]
    finally:
        stop.set()
        for thread in threads:
            thread.join(2)
        for each in [*listeners, *held]:
            each.close()


# 2. The well-behaved key.


@dataclass
class GoodKey:
    """Polls its own task and creates then cancels one task a second with a callback URL."""

    url: str
    hook: str
    image: str
    task_id: str = ""
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    owed: set[str] = field(default_factory=set)

    def prepare(self) -> None:
        with self._client() as client:
            self.task_id = create(client, self.image).json()["id"]

    def run(self, seconds: float) -> None:
        stop_at = time.monotonic() + seconds
        poller = threading.Thread(target=self._poll, args=(stop_at,))
        poller.start()
        with self._client() as client:
            while time.monotonic() < stop_at:
                started = time.monotonic()
                self._create_and_cancel(client)
                time.sleep(max(0.0, CREATE_EVERY_S - (time.monotonic() - started)))
        poller.join()

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {GOOD}"},
            timeout=REQUEST_TIMEOUT_S,
        )

    def _poll(self, stop_at: float) -> None:
        with self._client() as client:
            while time.monotonic() < stop_at:
                self._timed(lambda: client.get(f"{GENERATION}/task/{self.task_id}"))
                time.sleep(POLL_EVERY_S)

    def _create_and_cancel(self, client: httpx.Client) -> None:
        external = uuid.uuid4().hex
        created = self._timed(
            lambda: create(client, self.image, callback=f"{self.hook}/{external}", ref=external)
        )
        if created is None:
            return
        if self._timed(lambda: client.post(f"{GENERATION}/task/{external}/cancel")) is not None:
            self.owed.add(external)

    def _timed(self, send: Callable[[], httpx.Response]) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = send()
        except httpx.HTTPError as exc:
            self.errors[type(exc).__name__] += 1
            return None
        self.latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            self.errors[str(response.status_code)] += 1
            return None
        return response


def create(
    client: httpx.Client, image: str, *, callback: str | None = None, ref: str | None = None
) -> httpx.Response:
    params: dict[str, object] = {"image": image}
    if callback:
        params.update(callback_url=callback, external_task_id=ref)
    body = {"model": Model.I2V.value, "input": [{"params": params}]}
    return client.post(GENERATION, json=body)


# 3. The attacks. Each sets up (bounded by ``setup_s``), holds while the good key measures, stops.


class Attack:
    """An attack run on its own thread; ``summary`` says what the attacker got."""

    name = "baseline"

    def __init__(self, server: Server, sizes: Sizes) -> None:
        self.server, self.sizes = server, sizes
        self.seen: Counter[str] = Counter()
        self.ready, self.stopping = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.ready.wait(self.sizes.setup_s + 5)

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(self.sizes.setup_s + 30)

    def summary(self) -> str:
        return ", ".join(f"{kind}: {count}" for kind, count in sorted(self.seen.items())) or "-"

    def _main(self) -> None:
        self.ready.set()


class SocketAttack(Attack):
    """Many loopback connections opened at once, held by one event loop until stopped."""

    count = 0
    first: bytes = b""

    def _main(self) -> None:
        asyncio.run(self._hold())

    async def _hold(self) -> None:
        deadline = time.monotonic() + self.sizes.setup_s
        opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        for start in range(0, self.count, 100):  # in batches: a SYN flood is another attack
            if time.monotonic() > deadline:
                break
            batch = range(start, min(start + 100, self.count))
            results = await asyncio.gather(*(self._open() for _ in batch))
            opened.extend(pair for pair in results if pair is not None)
        self.seen["opened"] = len(opened)
        self.ready.set()
        await self._keep(opened)
        await self._tally(opened)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        host, port = self.server.url.removeprefix("http://").split(":")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 3)
            if self.first:
                writer.write(self.first)
                await writer.drain()
        except (OSError, TimeoutError):
            self.seen["refused"] += 1
            return None
        return reader, writer

    async def _keep(self, opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(0.1)

    async def _tally(self, opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
        """What the server did with each socket, all looked at together."""
        fates = await asyncio.gather(*(self._fate(reader) for reader, _writer in opened))
        self.seen.update(fates)
        for _reader, writer in opened:
            writer.close()

    async def _fate(self, reader: asyncio.StreamReader) -> str:
        """Closed by the server, answered (with which status), or still open."""
        try:
            data = await asyncio.wait_for(reader.read(64), 0.2)
        except TimeoutError:
            return "still open"
        except OSError:
            return "closed by server"
        return f"answered {_status(data)}" if data.startswith(b"HTTP/") else "closed by server"


def _status(head: bytes) -> str:
    return head.split(b" ", 2)[1].decode(errors="replace")


class IdleSockets(SocketAttack):
    name = "idle sockets"

    def __init__(self, server: Server, sizes: Sizes) -> None:
        super().__init__(server, sizes)
        self.count = sizes.idle


class TricklingSockets(SocketAttack):
    """Slowloris: a request line, then one header byte per socket every few seconds."""

    name = "trickling sockets"
    first = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "

    def __init__(self, server: Server, sizes: Sizes) -> None:
        super().__init__(server, sizes)
        self.count = sizes.trickle

    async def _keep(self, opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
        next_byte = time.monotonic()
        while not self.stopping.is_set():
            if time.monotonic() >= next_byte:
                for _reader, writer in opened:
                    if not writer.is_closing():
                        writer.write(b"a")
                next_byte += self.sizes.trickle_every_s
            await asyncio.sleep(0.1)


class Streams(SocketAttack):
    """Task streams opened by one key on its own waiting task, read and held."""

    name = "streams of one key"

    def __init__(self, server: Server, sizes: Sizes, image: str) -> None:
        super().__init__(server, sizes)
        self.count = sizes.streams
        with _client(server.url, ATTACKER) as client:
            task_id = create(client, image).json()["id"]
        self.task_id = task_id
        self.first = (
            f"GET {GENERATION}/task/{task_id}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {ATTACKER}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()

    async def _fate(self, reader: asyncio.StreamReader) -> str:
        """Answered (with which status) or not answered at all."""
        try:
            data = await asyncio.wait_for(reader.read(64), 0.2)
        except (TimeoutError, OSError):
            return "no answer"
        return f"answered {_status(data)}" if data.startswith(b"HTTP/") else "no answer"

    def stop(self) -> None:
        super().stop()
        with _client(self.server.url, ATTACKER) as client:
            client.post(f"{GENERATION}/task/{self.task_id}/cancel")


class BadInputs(Attack):
    """Lone surrogates, NUL and odd digits in every input path; counts the 5xx answers."""

    name = "bad inputs"

    def __init__(self, server: Server, sizes: Sizes, image: str) -> None:
        super().__init__(server, sizes)
        self.image = image

    def _main(self) -> None:
        self.ready.set()
        with _client(self.server.url, ATTACKER) as client:
            for _ in range(self.sizes.bad_passes):
                for request in bad_requests(client, self.image):
                    if self.stopping.is_set():
                        return
                    try:
                        status = client.send(request).status_code
                    except httpx.HTTPError as exc:
                        self.seen[type(exc).__name__] += 1
                        continue
                    self.seen["5xx" if status >= 500 else f"{status // 100}xx"] += 1
                self.stopping.wait(self.sizes.seconds / (self.sizes.bad_passes + 1))


def bad_requests(client: httpx.Client, image: str) -> list[httpx.Request]:
    """One request per hostile input of the issue."""
    as_json = {"Content-Type": "application/json"}
    png = ("a.png", base64.b64decode(image), "image/png")

    def jwt(issuer_json: str) -> dict[str, str]:
        head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
        claims = f'{{"iss":{issuer_json},"exp":4102444800}}'.encode()
        body = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
        return {"Authorization": f"Bearer {head}.{body}.c2lnbmF0dXJl"}

    def kirin(extra: str) -> str:
        return f'{{"model":"kirin_v1_6_i2v","input":[{{"params":{{"image":"{image}",{extra}}}}}]}}'

    openai = f'{{"model":"kirin_v1_6_i2v","prompt":"\\ud800","input_reference":"{image}"}}'
    build = client.build_request
    return [
        build("GET", f"{GENERATION}/task/x", headers=jwt('"\\ud800"')),
        build("GET", f"{GENERATION}/task/x", headers=jwt('"\\u0000"')),
        build("POST", "/v1/videos", headers=as_json, content=openai),
        build("GET", "/v1/videos"),
        build("POST", GENERATION, headers=as_json, content=kirin('"prompt":"\\ud800"')),
        build("GET", GENERATION),
        build("POST", GENERATION, headers=as_json, content=kirin('"external_task_id":"a\\u0000b"')),
        build("GET", f"{GENERATION}/task/a%00b"),
        build("GET", "/v1/videos/image2video?external_task_id=%00"),
        build("GET", f"{GENERATION}?cursor=%00"),
        build("GET", "/v1/videos?after=%00"),
        build(
            "POST",
            "/v1/videos",
            data={"model": Model.I2V.value, "seed": "²"},
            files={"input_reference": png},
        ),
        build(
            "POST",
            "/v1/videos",
            data={"model": Model.I2V.value, "seed": "9" * 4300},
            files={"input_reference": png},
        ),
        build("GET", "/healthz%0d%0aINFO:%20forged%20POST%20/model/v1/generation"),
    ]


class StuckCallbacks(Attack):
    """One key creates and at once cancels many tasks whose callbacks go to tarpits."""

    name = "stuck callbacks of one key"

    def __init__(self, server: Server, sizes: Sizes, image: str, hooks: Sequence[str]) -> None:
        super().__init__(server, sizes)
        self.image, self.hooks = image, list(hooks)

    def _main(self) -> None:
        deadline = time.monotonic() + self.sizes.setup_s
        with _client(self.server.url, ATTACKER) as client:
            made = 0
            while made < self.sizes.flood_tasks and time.monotonic() < deadline:
                hook = self.hooks[made % len(self.hooks)]
                try:
                    created = create(client, self.image, callback=f"{hook}/{made}")
                    if created.status_code == 429:
                        time.sleep(0.2)
                        continue
                    cancel = client.post(f"{GENERATION}/task/{created.json()['id']}/cancel")
                    self.seen[f"cancel {cancel.status_code}"] += 1
                    made += 1
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    self.seen[type(exc).__name__] += 1
        self.ready.set()


def _client(url: str, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=REQUEST_TIMEOUT_S
    )


ATTACKS = (
    "baseline",
    IdleSockets.name,
    TricklingSockets.name,
    Streams.name,
    BadInputs.name,
    StuckCallbacks.name,  # last: its stuck deliveries outlive the row
)


# 4. One row per attack.


@dataclass
class Row:
    attack: str
    latencies_s: list[float]
    delays_s: list[float]
    owed: int
    errors: Counter[str]
    max_fds: int
    log_lines: int
    attacker: str

    @property
    def good_errors(self) -> int:
        return sum(self.errors.values()) + self.owed - len(self.delays_s)

    def p_ms(self, fraction: float) -> float | None:
        ordered = sorted(self.latencies_s)
        if not ordered:
            return None
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1e3

    def missed(self) -> list[str]:
        """The issue's targets this row does not meet."""
        p99 = self.p_ms(0.99)
        missed = []
        if p99 is None or p99 >= P99_TARGET_MS:
            missed.append("p99")
        if len(self.delays_s) < self.owed or max(self.delays_s, default=0) > CALLBACK_TARGET_S:
            missed.append("callbacks")
        if self.good_errors:
            missed.append("errors")
        return missed

    def cells(self) -> list[str]:
        p50, p99 = self.p_ms(0.5), self.p_ms(0.99)
        delays = (
            f"{statistics.median(self.delays_s):.2f} / {max(self.delays_s):.2f}"
            if self.delays_s
            else "-"
        )
        errors = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.errors.items()))
        missing = self.owed - len(self.delays_s)
        if missing:
            errors = ", ".join(filter(None, [errors, f"callbacks missing: {missing}"]))
        missed = self.missed()
        return [
            self.attack,
            "-" if p50 is None else f"{p50:.1f}",
            "-" if p99 is None else f"{p99:.1f}",
            delays,
            f"{len(self.delays_s)} / {self.owed}",
            f"{self.good_errors} ({errors})" if errors else "0",
            str(self.max_fds),
            str(self.log_lines),
            self.attacker,
            "hold" if not missed else "missed: " + ", ".join(missed),
        ]


@contextmanager
def sampling_fds(server: Server) -> Iterator[list[int]]:
    """The server's open files, sampled every 0.2 s while the block runs."""
    samples, stop = [server.open_files()], threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            samples.append(server.open_files())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(2)


def measure(attack: Attack, *, good: GoodKey, received: Received, sizes: Sizes) -> Row:
    """Set the attack up, let the good key work while it holds, then collect the row."""
    server = attack.server
    offset = server.log_size()
    good.latencies, good.errors, good.owed = [], Counter(), set()
    with sampling_fds(server) as fds:
        attack.start()
        good.run(sizes.seconds)
        attack.stop()
        deadline = time.monotonic() + sizes.settle_s
        while time.monotonic() < deadline and not good.owed <= set(received.delays):
            time.sleep(0.1)
    with received.lock:
        delays = [received.delays[ref] for ref in good.owed if ref in received.delays]
    return Row(
        attack=attack.name,
        latencies_s=good.latencies,
        delays_s=delays,
        owed=len(good.owed),
        errors=good.errors,
        max_fds=max(fds),
        log_lines=server.lines_since(offset),
        attacker=attack.summary(),
    )


def run(
    sizes: Sizes = FULL,
    *,
    nofile: int = 1024,
    attacks: Sequence[str] = ATTACKS,
    env: dict[str, str] | None = None,
) -> list[Row]:
    """Every chosen attack in turn against one server; the rows in the order run."""
    _raise_own_file_limit(sizes)
    image = small_png(MIN_IMAGE_SIDE)
    rows = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server = stack.enter_context(serving(tmp / "data", nofile=nofile, env=env or {}))
        received = Received()
        good = GoodKey(server.url, stack.enter_context(receiver(received)), image)
        good.prepare()
        hooks = stack.enter_context(tarpits(sizes.receivers))
        makers: dict[str, Callable[[], Attack]] = {
            "baseline": lambda: Attack(server, sizes),
            IdleSockets.name: lambda: IdleSockets(server, sizes),
            TricklingSockets.name: lambda: TricklingSockets(server, sizes),
            Streams.name: lambda: Streams(server, sizes, image),
            BadInputs.name: lambda: BadInputs(server, sizes, image),
            StuckCallbacks.name: lambda: StuckCallbacks(server, sizes, image, hooks),
        }
        for name in attacks:
            row = measure(makers[name](), good=good, received=received, sizes=sizes)
            rows.append(row)
            print_rows([row], header=not rows[:-1])
            time.sleep(sizes.pause_s)
    return rows


def _raise_own_file_limit(sizes: Sizes) -> None:
    """This process holds every attacking socket at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sizes.idle + sizes.trickle + sizes.streams + 1024
    if soft < wanted:
        ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))


def print_rows(rows: Sequence[Row], *, header: bool = True) -> None:
    if header:
        print("| " + " | ".join(COLUMNS) + " |")
        print("|---|" + "---:|" * 7 + "---|---|")
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, shorter rows")
    parser.add_argument("--seconds", type=float, help="how long the good key measures each row")
    parser.add_argument("--nofile", type=int, default=1024, help="the server's `ulimit -n`")
    parser.add_argument("--attack", action="append", choices=ATTACKS, help="only these (repeat)")
    parser.add_argument("--env", action="append", default=[], help="KIRIN_X=value for the server")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.seconds:
        sizes = Sizes(**{**sizes.__dict__, "seconds": args.seconds})
    env = dict(item.split("=", 1) for item in args.env)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; server: ulimit -n {args.nofile}, "
        f"SQLite, preview engine, no worker; each row {sizes.seconds:g} s\n"
    )
    rows = run(sizes, nofile=args.nofile, attacks=args.attack or ATTACKS, env=env)
    held = [row.attack for row in rows if not row.missed()]
    print(
        f"\ntargets (p99 < {P99_TARGET_MS:g} ms, callbacks within {CALLBACK_TARGET_S:g} s, no "
        f"error) hold for {len(held)} of {len(rows)} rows"
    )


if __name__ == "__main__":
    main()
