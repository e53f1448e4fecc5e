"""Prometheus metrics shared by every service (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "crm_http_requests_total", "HTTP requests served", ["service", "path", "status"]
)
HTTP_LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "path"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter("crm_events_published_total", "Events relayed to Kafka", ["service"])
EVENTS_HANDLED = Counter("crm_events_handled_total", "Events consumed", ["service", "outcome"])
EMAIL_ATTEMPTS = Counter(
    "crm_email_attempts_total",
    "SMTP attempts by outcome: sent, retry (temporary failure), failed (refused or given up)",
    ["service", "outcome"],
)
