"""schemathesis in GraphQL mode against the gateway and each subgraph: no 5xx, no internals.

For every query and mutation field of each schema (loaded by introspection, with a valid
token), schemathesis generates a few operations — arguments, input objects and selections drawn
from the schema — and sends them. Every response must be below 500, free of tracebacks and
internal names, and every error must carry an ``extensions.code``. Mutations run as an admin of
a throwaway tenant. Generation is derandomized (a fixed seed per test), so CI sees the same cases
every run; the number of examples per operation is bounded to keep the run short.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
import stack
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from schemathesis.core.result import Ok

from tests.e2e.client import new_tenant, token_for
from tests.e2e.hostile_support import error_codes, leaks, subgraph_url

pytestmark = [pytest.mark.e2e]

TARGETS = ["gateway", *(c.name for c in stack.SERVICES)]
# The gateway serves the union of the subgraphs' fields (fuzzed directly as well), so it gets
# fewer examples per operation; this keeps the module near 40 s on the 2-core CI machine.
EXAMPLES_PER_OPERATION = {"gateway": 2}
DEFAULT_EXAMPLES = 3


def _url(config: stack.StackConfig, target: str) -> str:
    return config.gateway_url if target == "gateway" else subgraph_url(config, target)


def _problem(response: Any, sent: str) -> str | None:
    """What is wrong with one response to the request ``sent``, or None."""
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    # A marker the request itself carried is an echo of the input in an error message, not a
    # leak (Hypothesis draws strings from constants of loaded modules, e.g. "crm_customer.main").
    found = sorted(set(leaks(response.text)) - set(leaks(sent)))
    if found:
        return f"leaks {found}"
    try:
        body = json.loads(response.text)
    except ValueError:
        return "not JSON"
    if "<none>" in error_codes(body):
        return "an error without extensions.code"
    if "INTERNAL_SERVER_ERROR" in error_codes(body):
        return "INTERNAL_SERVER_ERROR"
    return None


def _fuzz(operation: Any, headers: dict[str, str], problems: list[str], examples: int) -> int:
    """Send the generated cases of one operation; returns how many were sent."""
    sent = 0

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(case=operation.as_strategy())
    def exercise(case: Any) -> None:
        nonlocal sent
        response = case.call(headers=headers, timeout=20)
        sent += 1
        problem = _problem(response, json.dumps(case.body, ensure_ascii=False))
        if problem:
            problems.append(
                f"{operation.label}: {problem}\n  query: {case.body}\n"
                f"  answer: {response.text[:300]}"
            )

    exercise()
    return sent


@pytest.mark.timeout(120)
@pytest.mark.parametrize("target", TARGETS)
def test_fuzzed_operations_never_fail_on_the_server(
    live_stack: stack.StackConfig, target: str
) -> None:
    token = token_for(live_stack.var_dir, new_tenant(), ["admin"], user_id="fuzzer")
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.graphql.from_url(_url(live_stack, target), headers=headers)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # an Err is a schema schemathesis cannot read
        operations.append(result.ok())
    assert len(operations) >= 5, operations

    problems: list[str] = []
    examples = EXAMPLES_PER_OPERATION.get(target, DEFAULT_EXAMPLES)
    sent = sum(_fuzz(operation, headers, problems, examples) for operation in operations)
    print(f"\n[fuzz] {target}: {len(operations)} operations, {sent} requests")
    assert not problems, f"{len(problems)} bad responses:\n" + "\n".join(problems[:15])
