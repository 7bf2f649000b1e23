"""A chaos run: tasks with callbacks through a small cluster while its parts are killed at random.

    python -m benchmarks.chaos [--tasks 60] [--seconds 180] [--seed 1]

Starts, on loopback: a PostgreSQL of its own (initdb), a redis-server of its own, two API nodes
and two Celery workers (preview engine, each engine in its child process), and a callback
receiver. Clients of three keys create tasks with callbacks on both API nodes while faults are
injected at random times: a worker, an API node or an engine child killed with SIGKILL (and the
process started again, as a supervisor would), Redis restarted empty, PostgreSQL restarted once.
Then it waits for every task to finish and checks:
- every accepted task is ``completed``, or ``failed`` with a reason (after its attempts);
- each task has one completion and its video lies under its own id;
- every callback the outbox owes arrived, by ``webhook-id``, and no event of a task came twice
  under two ids (the same id twice is a redelivery, counted, which receivers drop);
- no answer was a 5xx other than 503 (the database or broker away).
Prints a table and exits 1 on any loss.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from benchmarks.load import small_png
from tests.e2e.cluster import Cluster, Node, PrivatePostgres, RedisServer, private_postgres

KEYS = ("chaos-a", "chaos-b", "chaos-c")
GENERATION = "/model/v1/generation"
FAULTS = ("kill worker", "kill API node", "kill engine child", "restart Redis empty")
ONCE = "restart PostgreSQL"
PG_DOWN_S = 3.0


@dataclass
class Received:
    """What the callback receiver got: each delivery's ``webhook-id`` with its task and status."""

    deliveries: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def receiver(received: Received) -> Iterator[str]:
    """A loopback HTTP receiver that answers 204 and records every callback."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with received.lock:
                received.deliveries.append(
                    (self.headers.get("webhook-id", ""), str(body["id"]), str(body["status"]))
                )
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


@dataclass
class Tally:
    """What the clients saw: accepted tasks (id → key) and every 5xx that was not a 503."""

    accepted: dict[str, str] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, response: httpx.Response) -> None:
        if response.status_code >= 500 and response.status_code != 503:
            with self.lock:
                self.unexpected.append(f"{response.request.method} {response.status_code}")


@dataclass
class Chaos:
    """The cluster under test and the faults it took."""

    cluster: Cluster
    postgres: PrivatePostgres
    redis: RedisServer
    apis: list[tuple[Node, str]]
    workers: list[Node]
    faults: Counter[str] = field(default_factory=Counter)
    fault_times: list[tuple[float, str]] = field(default_factory=list)

    def urls(self) -> list[str]:
        return [url for _, url in self.apis]

    def inject(self, kind: str, rng: random.Random) -> None:
        """One fault; the killed process is started again, as its supervisor would."""
        if kind == "kill worker":
            index = rng.randrange(len(self.workers))
            self.workers[index].kill()
            self.workers[index] = self.cluster.worker(f"worker-{len(self.cluster.nodes)}")
        elif kind == "kill API node":
            index = rng.randrange(len(self.apis))
            node, url = self.apis[index]
            node.kill()
            self.apis[index] = self.cluster.api(int(url.rsplit(":", 1)[1]))
        elif kind == "kill engine child":
            if not _kill_engine_child(rng.choice(self.workers)):
                return  # that worker's child was starting: no fault this time
        elif kind == "restart Redis empty":
            self.redis.restart_empty()
        elif kind == ONCE:
            self.postgres.stop()
            time.sleep(PG_DOWN_S)
            self.postgres.start()
        self.faults[kind] += 1
        self.fault_times.append((time.time(), kind))


def _kill_engine_child(worker: Node) -> bool:
    """SIGKILL the engine process (a spawned child) of one worker."""
    found = subprocess.run(
        ["pgrep", "-P", str(worker.pid), "-f", "spawn_main"], capture_output=True, text=True
    )
    pids = [int(pid) for pid in found.stdout.split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return bool(pids)


def _create(url: str, key: str, image: str, hook: str, number: int, tally: Tally) -> None:
    """Create one task, retrying through faults; a 409 on a retry means the first try landed."""
    params = {"image": image, "callback_url": hook, "external_task_id": f"chaos-{number}"}
    body = {"model": "kirin_v1_6_i2v", "input": [{"params": params}]}
    headers = {"Authorization": f"Bearer {key}"}
    for _ in range(120):
        try:
            answer = httpx.post(f"{url}{GENERATION}", json=body, headers=headers, timeout=30)
        except httpx.TransportError:
            time.sleep(0.5)  # that node is down: its supervisor brings it back
            continue
        tally.answer(answer)
        if answer.status_code in (200, 409):
            ref = params["external_task_id"]
            task = httpx.get(f"{url}{GENERATION}/task/{ref}", headers=headers, timeout=30)
            if task.status_code == 200:
                with tally.lock:
                    tally.accepted[task.json()["id"]] = key
                return
        time.sleep(0.5)
    raise RuntimeError(f"task chaos-{number} could not be created in a minute of tries")


def _observe(chaos: Chaos, tally: Tally, stop: threading.Event) -> None:
    """Poll tasks on every node through the run, noting any 5xx that is not a 503."""
    while not stop.wait(0.3):
        for url in chaos.urls():
            with tally.lock:
                ids = list(tally.accepted.items())[-5:]
            for task_id, key in ids:
                try:
                    answer = httpx.get(
                        f"{url}{GENERATION}/task/{task_id}",
                        headers={"Authorization": f"Bearer {key}"},
                        timeout=10,
                    )
                except httpx.TransportError:
                    continue
                tally.answer(answer)


@dataclass(frozen=True)
class Report:
    faults: Counter[str]
    accepted: int
    completed: int
    failed_with_reason: int
    lost: list[str]
    duplicated: list[str]
    wrong_output: list[str]
    owed: int
    received: int
    missing: list[str]
    redelivered: int
    double_events: list[str]
    unexpected_5xx: list[str]
    recovery_s: float
    elapsed_s: float

    @property
    def ok(self) -> bool:
        problems = (self.lost, self.duplicated, self.wrong_output, self.missing)
        return not any(problems) and not self.double_events and not self.unexpected_5xx


def audit(chaos: Chaos, tally: Tally, received: Received, elapsed_s: float) -> Report:
    """Check the database, the outputs and the callbacks against what the clients were told."""
    engine = create_engine(chaos.postgres.url)
    with engine.connect() as db:
        tasks = {
            row[0]: row[1:]
            for row in db.execute(text("SELECT id, status, error_message, outputs FROM tasks"))
        }
        owed = [
            row for row in db.execute(text("SELECT id, task_id, event FROM webhook_deliveries"))
        ]
        finished = sorted(
            row[0]
            for row in db.execute(
                text("SELECT finished_ts FROM tasks WHERE finished_ts IS NOT NULL")
            )
        )
    engine.dispose()
    completions = Counter(event_task for _id, event_task, event in owed if event == "completed")
    lost = [t for t in tally.accepted if t not in tasks or tasks[t][0] not in _ENDED]
    duplicated = [t for t, n in completions.items() if n > 1]
    wrong = [
        t
        for t, (status, _message, outputs) in tasks.items()
        if status == "completed" and not all(o["key"].startswith(f"{t}/") for o in outputs or [])
    ]
    ids = {webhook_id for webhook_id, _task, _status in received.deliveries}
    by_event = Counter(
        (task, status) for _w, task, status in set(received.deliveries) if status in _ENDED
    )
    return Report(
        faults=chaos.faults,
        accepted=len(tally.accepted),
        completed=sum(1 for t in tally.accepted if tasks.get(t, ("",))[0] == "completed"),
        failed_with_reason=sum(
            1 for t in tally.accepted if tasks.get(t, ("",))[0] == "failed" and tasks[t][1]
        ),
        lost=lost,
        duplicated=duplicated,
        wrong_output=wrong,
        owed=len(owed),
        received=len(ids),
        missing=[delivery_id for delivery_id, _t, _e in owed if delivery_id not in ids],
        redelivered=len(received.deliveries) - len(ids),
        double_events=[f"{t} {s}" for (t, s), n in by_event.items() if n > 1],
        unexpected_5xx=tally.unexpected,
        recovery_s=_recovery(chaos.fault_times, finished),
        elapsed_s=elapsed_s,
    )


_ENDED = {"completed", "failed"}


def _recovery(fault_times: list[tuple[float, str]], finished: list[float]) -> float:
    """The longest wait, after any fault, for the next task to finish."""
    waits = [next((f - at for f in finished if f > at), 0.0) for at, _kind in fault_times]
    return max(waits, default=0.0)


def _wait_all_finished(chaos: Chaos, tally: Tally, *, timeout_s: float) -> None:
    engine = create_engine(chaos.postgres.url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as db:
                statuses = dict(db.execute(text("SELECT id, status FROM tasks")).all())
                pending = db.execute(
                    text("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'")
                ).scalar_one()
            if all(statuses.get(t) in _ENDED for t in tally.accepted) and pending == 0:
                return
            time.sleep(0.5)
    finally:
        engine.dispose()


def run(*, tasks: int, seconds: float, seed: int) -> Report:
    """Start the cluster, drive ``tasks`` tasks for about ``seconds`` under faults, audit."""
    rng = random.Random(seed)
    image = small_png(480)
    received, tally = Received(), Tally()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kirin-chaos-")))
        postgres = stack.enter_context(private_postgres())
        redis = RedisServer(_redis_binary(), workdir).start()
        stack.callback(redis.stop)
        hook = stack.enter_context(receiver(received))
        (workdir / "logs").mkdir()
        env = {
            "KIRIN_DATA_DIR": str(workdir / "data"),
            "KIRIN_DATABASE_URL": postgres.url,
            "KIRIN_BROKER_URL": redis.url,
            "KIRIN_API_KEYS": ",".join(KEYS),
            "KIRIN_ENGINE": "preview",
            "KIRIN_ENCODE_PRESET": "ultrafast",
            "KIRIN_ALLOW_PRIVATE_URLS": "true",
            "KIRIN_LEASE_S": "4",
            "KIRIN_MAX_ATTEMPTS": "5",
            "KIRIN_WEBHOOK_BACKOFF_S": "0.5",
            "KIRIN_WEBHOOK_BACKOFF_MAX_S": "2",
            "KIRIN_WEBHOOK_MAX_ATTEMPTS": "100",
            "KIRIN_RATE_LIMIT": "1000000/second",
        }
        cluster = Cluster(env, workdir / "logs")
        stack.callback(cluster.stop)
        chaos = Chaos(
            cluster=cluster,
            postgres=postgres,
            redis=redis,
            apis=[cluster.api(), cluster.api()],
            workers=[cluster.worker("worker-1"), cluster.worker("worker-2")],
        )
        started = time.monotonic()
        stop = threading.Event()
        observer = threading.Thread(target=_observe, args=(chaos, tally, stop), daemon=True)
        observer.start()
        creators = [
            threading.Thread(
                target=_create_at,
                args=(chaos, number, tasks, seconds, image, hook, tally, started),
                daemon=True,
            )
            for number in range(tasks)
        ]
        for creator in creators:
            creator.start()
        _inject_faults(chaos, rng, seconds=seconds, started=started)
        for creator in creators:
            creator.join()
        _wait_all_finished(chaos, tally, timeout_s=max(120.0, seconds))
        stop.set()
        observer.join()
        report = audit(chaos, tally, received, time.monotonic() - started)
    return report


def _create_at(
    chaos: Chaos,
    number: int,
    tasks: int,
    seconds: float,
    image: str,
    hook: str,
    tally: Tally,
    started: float,
) -> None:
    """Create task ``number`` at its time: the tasks are spread over the first half of the run."""
    time.sleep(max(0.0, started + seconds / 2 * number / tasks - time.monotonic()))
    url = chaos.urls()[number % 2]
    _create(url, KEYS[number % len(KEYS)], image, hook, number, tally)


def _inject_faults(chaos: Chaos, rng: random.Random, *, seconds: float, started: float) -> None:
    """Every kind at least once, in a random order at random times; PostgreSQL once, midway."""
    kinds = [*FAULTS, *rng.choices(FAULTS, k=max(0, int(seconds / 15) - len(FAULTS)))]
    rng.shuffle(kinds)
    kinds.insert(len(kinds) // 2, ONCE)
    times = sorted(rng.uniform(2, seconds * 0.8) for _ in kinds)
    for at, kind in zip(times, kinds, strict=True):
        time.sleep(max(0.0, started + at - time.monotonic()))
        chaos.inject(kind, rng)


def _redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("the chaos run needs redis-server on PATH")
    return binary


def print_report(report: Report) -> None:
    rows = [
        *(f"faults: {kind:<22} {count:>6}" for kind, count in sorted(report.faults.items())),
        f"tasks accepted                 {report.accepted:>6}",
        f"  completed                    {report.completed:>6}",
        f"  failed with a reason         {report.failed_with_reason:>6}",
        f"  lost                         {len(report.lost):>6}",
        f"  completed twice              {len(report.duplicated):>6}",
        f"  output under another task    {len(report.wrong_output):>6}",
        f"callbacks owed                 {report.owed:>6}",
        f"  received (by webhook-id)     {report.received:>6}",
        f"  missing                      {len(report.missing):>6}",
        f"  redelivered (same id again)  {report.redelivered:>6}",
        f"  one event under two ids      {len(report.double_events):>6}",
        f"5xx other than 503             {len(report.unexpected_5xx):>6}",
        f"longest wait after a fault for the next finished task: {report.recovery_s:.1f} s",
        f"run took {report.elapsed_s:.0f} s",
    ]
    print("\n".join(rows))
    for name in ("lost", "duplicated", "wrong_output", "missing", "double_events"):
        if getattr(report, name):
            print(f"{name}: {getattr(report, name)[:10]}")
    print("OK: nothing lost" if report.ok else "FAILED: see above")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = run(tasks=args.tasks, seconds=args.seconds, seed=args.seed)
    print_report(report)
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
