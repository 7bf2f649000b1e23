"""The same app under `kirin serve` (uvicorn), granian and hypercorn, side by side; prints a table.

    pip install granian hypercorn     # not dependencies of kirin-video: for this comparison only
    python benchmarks/servers.py [--seconds 12] [--servers kirin,granian,hypercorn]

Starts each server once (from `api.py`, embedded worker off) and drives `/healthz` and a task poll
with 1 and 16 clients in alternating short rounds, server after server, so that load elsewhere on
the machine falls on all of them alike. Each server's req/s is also given relative to the first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
from api import CREATE, KEY, ROUNDS, SERVERS, Measured, drive, one_megabyte_png, start_server

from kirin_video.contract.catalog import Model

Request = Callable[[httpx.Client], httpx.Response]


def measure(urls: dict[str, str], task_ids: dict[str, str], seconds: float) -> None:
    """Each (request, clients) row: every server in turn, ``ROUNDS`` times, ``seconds`` in all."""
    rows: dict[str, Callable[[str], Request]] = {
        "GET /healthz": lambda _name: lambda client: client.get("/healthz"),
        "GET …/task/{id}": lambda name: (
            lambda client: client.get(f"{CREATE}/task/{task_ids[name]}")
        ),
    }
    first = next(iter(urls))
    print(
        "| request | clients | "
        + " | ".join(f"{name} req/s" for name in urls)
        + " | p99 ms | errors |"
    )
    print("|---|---:|" + "---:|" * len(urls) + "---|---:|")
    for label, request in rows.items():
        for clients in (1, 16):
            totals = {name: Measured() for name in urls}
            for _ in range(ROUNDS):
                for name, url in urls.items():
                    run = drive(url, request(name), clients=clients, seconds=seconds / ROUNDS)
                    totals[name].add(run)
            cells = [f"{t.rps:.0f} ({t.rps / totals[first].rps:.0%})" for t in totals.values()]
            p99 = ", ".join(f"{t.percentile_ms(0.99):.0f}" for t in totals.values())
            errors = sum(t.errors for t in totals.values())
            print(f"| {label} | {clients} | {' | '.join(cells)} | {p99} | {errors} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="per server and row")
    parser.add_argument("--servers", default="kirin,granian,hypercorn")
    args = parser.parse_args()
    names = args.servers.split(",")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, sqlite\n")
    body = {"model": Model.I2V.value, "input": [{"params": {"image": one_megabyte_png()}}]}
    with tempfile.TemporaryDirectory() as tmp:
        started = {
            name: start_server(Path(tmp) / name, server=name) for name in names if name in SERVERS
        }
        try:
            urls = {name: url for name, (_process, url) in started.items()}
            task_ids = {}
            for name, url in urls.items():
                with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as c:
                    task_ids[name] = c.post(CREATE, json=body).json()["id"]
            measure(urls, task_ids, args.seconds)
        finally:
            for process, _url in started.values():
                process.terminate()
                process.wait(30)


if __name__ == "__main__":
    main()
