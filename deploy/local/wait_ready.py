"""Wait until the local infrastructure answers real client round trips.

Usage (from the repo root):

    uv run --frozen python deploy/local/wait_ready.py [--mongo-uri URI] [--kafka BOOTSTRAP]
        [--skip-mongo] [--skip-kafka] [--timeout SECONDS]

Defaults come from MONGODB_URI / KAFKA_BOOTSTRAP_SERVERS, else 127.0.0.1 with
FERRETDB_PORT (27017) / KAFKA_PORT (9092). Exits non-zero with a clear message
if a service is not ready before the timeout (default 120 s, env WAIT_READY_TIMEOUT).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable
from typing import Any


def _default_mongo_uri() -> str:
    return os.environ.get("MONGODB_URI") or (
        f"mongodb://127.0.0.1:{os.environ.get('FERRETDB_PORT', '27017')}/"
    )


def _default_kafka() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or (
        f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
    )


def check_mongo(uri: str, deadline: float) -> str:
    """ping + insert/find/delete on a scratch collection; retries until deadline."""
    import pymongo
    from pymongo.errors import PyMongoError

    last: Exception | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            detail = repr(last) if last else "no attempt finished before the deadline"
            raise TimeoutError(f"MongoDB at {uri} not ready: {detail}")
        client: pymongo.MongoClient[dict[str, Any]] | None = None
        try:
            ms = int(max(1.0, min(5.0, remaining)) * 1000)
            client = pymongo.MongoClient(
                uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms * 2
            )
            client.admin.command("ping")
            coll = client["crm_readiness"]["probe"]
            marker = uuid.uuid4().hex
            coll.insert_one({"_id": marker, "at": time.time()})
            doc = coll.find_one({"_id": marker})
            if doc is None:
                raise RuntimeError("inserted probe document not found")
            coll.delete_one({"_id": marker})
            return "version " + str(client.server_info().get("version", "?"))
        except (PyMongoError, OSError, RuntimeError) as exc:
            last = exc
            time.sleep(0.5)
        finally:
            if client is not None:
                client.close()


async def check_kafka(bootstrap: str, deadline: float) -> str:
    """describe_cluster via the admin client; retries until deadline."""
    from aiokafka.admin import AIOKafkaAdminClient

    last: Exception | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            detail = repr(last) if last else "no attempt finished before the deadline"
            raise TimeoutError(f"Kafka at {bootstrap} not ready: {detail}")
        step = max(1.0, min(10.0, remaining))
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=int(step * 1000)
        )
        try:
            await asyncio.wait_for(admin.start(), timeout=step)
            info = await asyncio.wait_for(admin.describe_cluster(), timeout=step)
            brokers = info.get("brokers") or []
            if not brokers:
                raise RuntimeError("cluster metadata lists no brokers")
            return (
                f"cluster_id={info.get('cluster_id')} brokers={len(brokers)}"
                f" controller={info.get('controller_id')}"
            )
        except Exception as exc:  # aiokafka raises many kinds while the broker boots
            last = exc
            await asyncio.sleep(0.5)
        finally:
            with contextlib.suppress(Exception):
                await admin.close()


async def _timed(name: str, target: str, coro: Awaitable[str]) -> bool:
    t0 = time.monotonic()
    try:
        desc = await coro
    except Exception as exc:
        elapsed = time.monotonic() - t0
        print(f"ERROR: {name} not ready after {elapsed:.1f}s: {exc}", file=sys.stderr, flush=True)
        return False
    print(f"{name:<6} ready in {time.monotonic() - t0:5.1f}s  {target} ({desc})", flush=True)
    return True


async def _run(args: argparse.Namespace, deadline: float) -> bool:
    """Both checks run concurrently, each with the whole timeout budget."""
    checks = []
    if not args.skip_mongo:
        mongo = asyncio.to_thread(check_mongo, args.mongo_uri, deadline)
        checks.append(_timed("mongo", args.mongo_uri, mongo))
    if not args.skip_kafka:
        checks.append(_timed("kafka", args.kafka, check_kafka(args.kafka, deadline)))
    return all(await asyncio.gather(*checks))


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--mongo-uri", default=_default_mongo_uri())
    ap.add_argument("--kafka", default=_default_kafka(), help="bootstrap servers")
    ap.add_argument("--skip-mongo", action="store_true")
    ap.add_argument("--skip-kafka", action="store_true")
    default_timeout = float(os.environ.get("WAIT_READY_TIMEOUT", "120"))
    ap.add_argument("--timeout", type=float, default=default_timeout)
    ap.add_argument("-v", "--verbose", action="store_true", help="show client library logs")
    args = ap.parse_args()
    # aiokafka logs every refused connection at ERROR while the broker boots; we report ourselves.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL)

    start = time.monotonic()
    deadline = start + args.timeout
    ok = asyncio.run(_run(args, deadline))

    if not ok:
        print(
            f"ERROR: infrastructure not ready (timeout {args.timeout:.0f}s); see var/log/*.log",
            file=sys.stderr,
        )
        return 1
    print(f"all ready in {time.monotonic() - start:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
