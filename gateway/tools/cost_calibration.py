"""Cost-limit calibration: estimated cost against actual work, and how fast hostile operations
are refused.

1. The public benchmark's deep query (`gateway/tests/cost_corpus.py`): its estimate under
   several default list sizes, against the actual answer (graphql-core over data of the
   benchmark's sizes): response bytes, fields (``actual_cost``: the estimate's own measure
   with real list lengths) and planned subgraph requests.
2. Every constant operation of tests/e2e and scripts/seed.py: the estimate under the same
   default list sizes (the heaviest ones printed).
3. With ``--record FILE`` (JSON lines written by a gateway run with
   ``GATEWAY_COST_RECORD=FILE``, e.g. during the e2e suite and ``make seed``): estimate against
   actual fields, bytes and subgraph requests per operation name (heaviest first).
4. The time the gateway takes to refuse a fragment bomb, a 10-deep nested list and a page of
   aliases (parse, limits, validation, cost; the median of 20 runs).

Usage: ``uv run python gateway/tools/cost_calibration.py [--record var/cost-record.jsonl]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import orjson
from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    build_schema,
    graphql_sync,
    parse,
    validate,
)

from crm_gateway.edge.cost import actual_cost, estimate_cost
from crm_gateway.edge.response import GatewayResponse
from crm_gateway.federation.execution.client import SubgraphClient
from crm_gateway.federation.planning.builder import Planner
from crm_gateway.federation.supergraph.file import parse_supergraph
from crm_gateway.gateway import Gateway
from crm_gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
LIST_SIZES = (10, 5, 3)


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


corpus = _load("cost_corpus", ROOT / "gateway" / "tests" / "cost_corpus.py")


def _estimate(schema: Any, text: str, size: int) -> list[int]:
    document = parse(text)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return [
        estimate_cost(schema, op, fragments, {}, default_list_size=size)
        for op in document.definitions
        if isinstance(op, OperationDefinitionNode)
    ]


def bench() -> None:
    schema = build_schema(corpus.BENCH_SDL)
    result = graphql_sync(schema, corpus.BENCH_QUERY, corpus.bench_root())
    assert not result.errors, result.errors
    body = orjson.dumps({"data": result.data})
    estimates = {size: _estimate(schema, corpus.BENCH_QUERY, size)[0] for size in LIST_SIZES}
    kit = _load("federation_kit", ROOT / "gateway" / "tests" / "federation_kit.py")
    supergraph = parse_supergraph(kit.JOIN_HEADER + corpus.BENCH_SUPERGRAPH)
    operation = parse(corpus.BENCH_QUERY)
    fragments = {
        d.name.value: d for d in operation.definitions if isinstance(d, FragmentDefinitionNode)
    }
    main_op = next(d for d in operation.definitions if isinstance(d, OperationDefinitionNode))
    plan = Planner(supergraph).plan(main_op, fragments, {})
    stages = [stage for phase in plan.phases for stage in phase.stages]
    requests = sum(len({f.subgraph for f in stage}) for stage in stages)
    print("benchmark deep query (users/topProducts)")
    print(f"  response {len(body):,} bytes, actual fields {actual_cost(result.data):,}")
    print(f"  our plan: {len(stages)} stages, {requests} subgraph requests")
    for size, estimate in estimates.items():
        print(f"  estimate with default list size {size:>2}: {estimate:>9,}")


def corpus_operations() -> None:
    test = _load("test_edge_units_corpus", ROOT / "gateway" / "tests" / "test_edge_units.py")
    schema = parse_supergraph((ROOT / "supergraph.graphql").read_text()).api_schema
    rows: list[tuple[list[int], str]] = []
    for source, text in test._client_operations():
        try:
            document = parse(text)
        except GraphQLError:
            continue
        if validate(schema, document):
            continue
        for i, _ in enumerate(
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ):
            costs = [_estimate(schema, text, size)[i] for size in LIST_SIZES]
            rows.append((costs, f"{source}: {' '.join(text.split())[:70]}"))
    rows.sort(reverse=True)
    print(f"\ne2e + seed operations ({len(rows)}): estimates at list sizes {LIST_SIZES}")
    for costs, label in rows[:8]:
        print("  " + " / ".join(f"{c:>6,}" for c in costs) + f"  {label}")


def recorded(path: Path) -> None:
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        by_name[entry["operation"] or entry["document"][:70]].append(entry)
    print(f"\nrecorded operations ({sum(map(len, by_name.values()))} in {path}):")
    print("  estimate | max fields | max bytes | requests | count | operation")
    rows = sorted(by_name.items(), key=lambda kv: -max(e["estimate"] for e in kv[1]))
    for name, entries in rows[:25]:
        print(
            f"  {max(e['estimate'] for e in entries):>8,} | "
            f"{max(e['actual'] for e in entries):>10,} | "
            f"{max(e['bytes'] for e in entries):>9,} | "
            f"{max(e['requests'] for e in entries):>8} | {len(entries):>5} | {name}"
        )


async def refusals() -> None:
    settings = GatewaySettings()
    supergraph = parse_supergraph((ROOT / "supergraph.graphql").read_text())
    async with aiohttp.ClientSession() as session:
        gateway = Gateway(
            supergraph,
            SubgraphClient(session, 1.0),
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            max_root_fields=settings.max_root_fields,
            max_cost=settings.max_cost,
            cost_default_list_size=settings.cost_default_list_size,
        )
        print(f"\nrefusals with the defaults (max_cost {settings.max_cost:,}), median of 20:")
        for label, text in (
            ("fragment bomb (2^40 naive)", corpus.fragment_bomb()),
            ("10-deep nested list", corpus.nested_lists()),
            ("19 aliases x 200 customers", corpus.wide_aliases()),
        ):
            times, cpu = [], []
            for i in range(20):
                # A fresh document each time: nothing cached from the run before.
                started, started_cpu = time.perf_counter(), time.process_time()
                response = await gateway.execute(f"{text}\n# {i}", None, None, None)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
            assert isinstance(response, GatewayResponse)
            assert response.status == 400, response
            error = response.body["errors"][0]
            print(
                f"  {label:<28} {statistics.median(times) * 1000:6.2f} ms "
                f"(CPU {statistics.median(cpu) * 1000:6.2f} ms)  "
                f"{error['extensions']['code']} {error['extensions'].get('cost', '')}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, help="JSON lines from GATEWAY_COST_RECORD")
    args = parser.parse_args()
    bench()
    corpus_operations()
    if args.record is not None:
        recorded(args.record)
    asyncio.run(refusals())


if __name__ == "__main__":
    main()
