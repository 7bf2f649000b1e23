"""Counters of callback deliveries, exported at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter

DELIVERIES = Counter(
    "kirin_webhook_deliveries",
    "Callback attempts by result: sent (2xx), retried (failed, tried again), failed (given up).",
    ["result"],
)
