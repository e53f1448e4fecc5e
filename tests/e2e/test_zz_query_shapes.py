"""Every query shape the services sent during this e2e session is on the reviewed list.

The services of the e2e stack record each new shape they send (``CRM_QUERY_SHAPES_FILE``, set
by the root conftest; ``crm_common.query_shapes``). Named to run after the other e2e modules,
so it sees what they made the services send; ``tests/test_query_shapes.py`` checks that every
listed shape has its index. A shape missing here is printed as a draft entry: add it to
``tests/query_shapes.json`` with the index that serves it (or a reason to scan).
"""

from __future__ import annotations

import json

import pytest
import stack

from crm_common.query_shapes import ShapeRule, draft_rule, read_recorded
from tests.support.query_shapes import DECLARED, load_rules
from tests.support.recording import shapes_file

pytestmark = [pytest.mark.e2e]


def test_every_recorded_shape_is_listed(e2e_config: stack.StackConfig) -> None:
    path = shapes_file(e2e_config.var_dir)
    recorded = read_recorded(path)
    if not recorded:
        pytest.skip(f"no services ran in this session ({path} is empty)")
    rules: list[ShapeRule] = load_rules()
    unlisted = [
        shape
        for shape in recorded
        if shape.db in DECLARED
        # A lookup by `_id` is served by the `_id` index on every store, whatever else it
        # filters; such lookups also come from timing-dependent paths (a lease contended by
        # two replicas, the outbox sweep resolving a dead writer's entries), which would make
        # this check depend on the machine's speed.
        and "_id" not in shape.eq
        and not any(rule.matches(shape) for rule in rules)
    ]
    drafts = sorted(json.dumps(draft_rule(shape), sort_keys=True) for shape in unlisted)
    assert not unlisted, "shapes not on tests/query_shapes.json:\n" + "\n".join(drafts)
