"""The event catalogue, generated from the pydantic contracts: JSON Schemas and AsyncAPI 3.

    python -m crm_common.events.catalog write docs/events   # regenerate the documents
    python -m crm_common.events.catalog check docs/events   # fail on incompatible changes

A contract may grow (new optional fields, new event types) within a topic version. Removing a
field, changing its type, or adding a required field breaks consumers that read the topic from
the beginning, so such a change needs a new version (a new ``crm.<service>.v2`` topic); the
check compares the contracts with the committed schemas and names every break.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from crm_common.events.contracts import registry
from crm_common.events.contracts.base import EventData

ASYNCAPI_VERSION = "3.0.0"
CE_HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 binary mode attributes carried as Kafka headers.",
    "required": ["ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion", "ce_tenantid"],
    "properties": {
        "ce_id": {"type": "string", "description": "Unique event id (consumers dedupe on it)"},
        "ce_type": {"type": "string", "description": "e.g. crm.customer.created"},
        "ce_source": {"type": "string", "description": "e.g. crm/customer"},
        "ce_time": {"type": "string", "format": "date-time", "description": "When it happened"},
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_tenantid": {"type": "string", "description": "The tenant the event belongs to"},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context of the change"},
        "tracestate": {"type": "string"},
    },
}


def _message_name(event_type: str) -> str:
    return event_type.removeprefix("crm.").replace(".", "_")


def json_schema(model: type[EventData]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization")
    schema["$id"] = f"urn:crm:event:{model.event_type}"
    schema["x-topic"] = model.topic
    return schema


def json_schemas() -> dict[str, dict[str, Any]]:
    return {event_type: json_schema(model) for event_type, model in sorted(registry.items())}


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, model in sorted(registry.items()):
        name = _message_name(event_type)
        channel_id = model.topic.replace(".", "_")
        messages[name] = {
            "name": event_type,
            "title": event_type,
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "",
            "contentType": "application/json",
            "headers": CE_HEADERS_SCHEMA,
            "payload": json_schema(model),
            "bindings": {"kafka": {"key": {"type": "string", "description": "customer id"}}},
        }
        channel = channels.setdefault(
            channel_id,
            {
                "address": model.topic,
                "description": f"Events of {model.topic}, keyed by customer id.",
                "messages": {},
            },
        )
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for channel_id, channel in channels.items():
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in channel["messages"]
            ],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "CRM suite events",
            "version": "1.0.0",
            "description": (
                "Every event the CRM services publish. CloudEvents 1.0 binary mode over Kafka; "
                "at-least-once delivery: consumers deduplicate on ce_id."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _property_type(schema: dict[str, Any], prop: dict[str, Any]) -> Any:
    """A comparable description of a property's type (refs resolved one level)."""
    if "$ref" in prop:
        ref = prop["$ref"].split("/")[-1]
        return _property_type(schema, schema.get("$defs", {}).get(ref, {}))
    if "anyOf" in prop:
        return sorted(json.dumps(_property_type(schema, p), sort_keys=True) for p in prop["anyOf"])
    return {k: prop[k] for k in ("type", "format", "enum", "items") if k in prop}


def compatibility_problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What in ``new`` breaks a consumer written against ``old`` (empty when compatible)."""
    problems: list[str] = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, prop in old_props.items():
        if name not in new_props:
            problems.append(f"field '{name}' was removed")
        elif _property_type(old, prop) != _property_type(new, new_props[name]):
            problems.append(f"field '{name}' changed type")
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        if name not in old_props:
            problems.append(f"new required field '{name}'")
    return problems


def write(directory: Path) -> None:
    schemas_dir = directory / "schemas"
    schemas_dir.mkdir(parents=True, exist_ok=True)
    for stale in schemas_dir.glob("*.json"):
        stale.unlink()
    for event_type, schema in json_schemas().items():
        path = schemas_dir / f"{event_type}.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
    (directory / "asyncapi.json").write_text(
        json.dumps(asyncapi_document(), indent=2, ensure_ascii=False) + "\n"
    )


def check(directory: Path) -> list[str]:
    """Incompatible changes against the committed schemas, plus documents left stale."""
    problems: list[str] = []
    current = json_schemas()
    for path in sorted((directory / "schemas").glob("*.json")):
        event_type = path.stem
        committed = json.loads(path.read_text())
        if event_type not in current:
            problems.append(f"{event_type}: contract removed (publish a new topic version)")
            continue
        breaks = compatibility_problems(committed, current[event_type])
        problems += [f"{event_type}: {p}" for p in breaks]
        if committed != current[event_type]:
            problems.append(f"{event_type}: docs out of date (run `make event-docs`)")
    for event_type in current:
        if not (directory / "schemas" / f"{event_type}.json").exists():
            problems.append(f"{event_type}: no committed schema (run `make event-docs`)")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["write", "check"])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    if args.action == "write":
        write(args.directory)
        print(f"wrote {len(registry)} event schemas and asyncapi.json to {args.directory}")
        return
    problems = check(args.directory)
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
