"""Process entry point: logging, tracing, then the aiohttp app until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import sys

import uvloop
from aiohttp import web

from crm_common.logging import setup_logging
from crm_common.tracing import setup_tracing
from crm_gateway.edge.persisted import load_manifest
from crm_gateway.http.app import create_app
from crm_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


async def serve(settings: GatewaySettings) -> int:
    """Run until a signal arrives or composition fails; returns the exit code."""
    stop = asyncio.Event()
    exit_code = 0

    def composition_failed(_reason: str) -> None:
        nonlocal exit_code
        exit_code = 1
        stop.set()

    app = create_app(settings, on_compose_failure=composition_failed)
    runner = web.AppRunner(app, shutdown_timeout=10.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner, settings.host, settings.port, reuse_port=settings.workers > 1 or None
    )
    await site.start()
    log.info("gateway listening on http://%s:%s/graphql", settings.host, settings.port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("gateway shutting down")
        await runner.cleanup()
    return exit_code


def _worker(settings: GatewaySettings) -> None:
    setup_logging("gateway", settings.log_level)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("CRM_TRACE_FILE"):
        setup_tracing("gateway")
    # Otherwise spans would be recorded for nobody (a measurable share of a cheap request's
    # CPU); the no-op tracer remains and an incoming traceparent is still forwarded as is
    # (crm_gateway.edge.headers).
    # The cyclic garbage collector ran on every 700 net allocations and took about a fifth of
    # the gateway's CPU on large answers (py-spy, docs/benchmarks.md); a request's objects
    # are nearly all freed by reference counting, so collect far less often: -21% CPU per
    # request measured on the public scenario (A/B, same run).
    gc.set_threshold(50_000, 20, 100)
    # uvloop: a faster event loop (libuv); the same asyncio API, so nothing else changes.
    sys.exit(uvloop.run(serve(settings)))


def main() -> None:
    settings = GatewaySettings()
    setup_logging("gateway", settings.log_level)
    try:
        settings.check_safe()
        if settings.persisted_queries_file is not None:
            load_manifest(settings.persisted_queries_file)  # fail before forking workers
    except ValueError as exc:
        log.error("refusing to start: %s", exc)
        sys.exit(2)
    if settings.workers == 1:
        _worker(settings)
    # Several processes share the port (SO_REUSEPORT; the kernel balances connections). The
    # parent only forwards SIGTERM/SIGINT and exits with the first failing child's code.
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_worker, args=(settings,)) for _ in range(settings.workers)]
    for child in children:
        child.start()

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    for child in children:
        child.join()
        code = code or (child.exitcode or 0)
    sys.exit(code)


if __name__ == "__main__":
    main()
