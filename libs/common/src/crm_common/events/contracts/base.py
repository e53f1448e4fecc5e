"""Base of every event contract and the registry that maps ``ce_type`` to its model."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """The JSON body of one event. Subclasses name their ``ce_type``, topic and version.

    A tolerant reader: fields it does not know are ignored, so a producer may add an optional
    field while replicas still running the previous release keep consuming (rolling upgrades).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            registry[cls.event_type] = cls


registry: dict[str, type[EventData]] = {}


def model_for(event_type: str) -> type[EventData] | None:
    return registry.get(event_type)
