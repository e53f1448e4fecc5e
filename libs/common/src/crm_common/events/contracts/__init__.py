"""The event contracts, one module per producing service: the single source of truth.

Producers build these models, consumers parse with them, and the AsyncAPI document and JSON
Schemas are generated from them. Every module of this package is imported here, so the
registry (``ce_type`` → model) always knows every contract.
"""

from __future__ import annotations

import importlib
import pkgutil

from crm_common.events.contracts.base import EventData, model_for, registry

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["EventData", "model_for", "registry"]
