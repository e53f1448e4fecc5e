"""A readable JSON view of a `QueryPlan` for debugging (``X-Gateway-Plan: true``).

Shows what the executor will do: phases (a mutation's root fields run in order), their
stages (fetches of one stage run in parallel, one request per subgraph), and per request the
subgraph, the response path it fills, the entity types it resolves and the document it sends.
"""

from __future__ import annotations

from typing import Any

from crm_gateway.federation.planning.plan import Fetch, QueryPlan


def describe_plan(plan: QueryPlan) -> dict[str, Any]:
    phases: list[dict[str, Any]] = []
    for phase in plan.phases:
        stages: list[list[dict[str, Any]]] = []
        for stage in phase.stages:
            # Root fetches are sent one by one; entity fetches of a subgraph share a request.
            groups: list[list[Fetch]] = []
            entity_groups: dict[str, list[Fetch]] = {}
            for fetch in stage:
                if fetch.is_root:
                    groups.append([fetch])
                elif fetch.subgraph in entity_groups:
                    entity_groups[fetch.subgraph].append(fetch)
                else:
                    entity_groups[fetch.subgraph] = [fetch]
                    groups.append(entity_groups[fetch.subgraph])
            requests = []
            for fetches in groups:
                first = fetches[0]
                operation = phase.operation if first.is_root else "query"
                requests.append(
                    {
                        "subgraph": first.subgraph,
                        "kind": "root" if first.is_root else "entities",
                        "paths": [".".join(f.path) for f in fetches if f.path],
                        "entityTypes": sorted({t for f in fetches for t in f.entities}),
                        "document": plan.document(operation, fetches),
                    }
                )
            stages.append(requests)
        phases.append({"operation": phase.operation, "stages": stages})
    return {"operationName": plan.operation_name, "phases": phases}
