"""The event catalogue: generated documents and the compatibility rules for contracts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from crm_common.events.catalog import asyncapi_document, check, compatibility_problems
from crm_common.events.contracts.base import EventData, registry

REPO = Path(__file__).resolve().parents[3]


def _schema(**fields: type) -> dict[str, object]:
    annotations = dict(fields)
    model = type(
        "Probe",
        (EventData,),
        {"__annotations__": annotations, "topic": "crm.test.v1"},
    )
    schema: dict[str, object] = model.model_json_schema()  # type: ignore[attr-defined]
    return schema


def test_growing_a_contract_is_compatible() -> None:
    old = _schema(customer_id=str)
    new = _schema(customer_id=str, note=str | None)  # type: ignore[arg-type]
    new["required"] = ["customer_id"]
    assert compatibility_problems(old, new) == []


def test_removing_retyping_or_requiring_fields_breaks_consumers() -> None:
    old = _schema(customer_id=str, amount=int)
    assert compatibility_problems(old, _schema(customer_id=str)) == ["field 'amount' was removed"]
    assert compatibility_problems(old, _schema(customer_id=str, amount=str)) == [
        "field 'amount' changed type"
    ]
    assert compatibility_problems(old, _schema(customer_id=str, amount=int, at=datetime)) == [
        "new required field 'at'"
    ]


def test_asyncapi_lists_every_contract_on_its_topic() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    messages = document["components"]["messages"]
    assert {m["name"] for m in messages.values()} == set(registry)
    for model in registry.values():
        channel = document["channels"][model.topic.replace(".", "_")]
        assert channel["address"] == model.topic


def test_committed_event_docs_match_the_contracts() -> None:
    """Fails when a contract changed incompatibly, or the docs were not regenerated."""
    assert check(REPO / "docs" / "events") == []
