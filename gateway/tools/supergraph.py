"""Write ``supergraph.graphql`` (join spec) for our five subgraphs, composed in-process.

Each service's SDL comes from ``crm_<svc>.api.schema.schema().as_str()`` — no server runs.
Outside the ``crm_gateway`` package on purpose: the gateway library never imports services.
The subgraph SDLs are also written to ``var/supergraph/`` for ``make supergraph-check``.

Usage: ``uv run python gateway/tools/supergraph.py [--out supergraph.graphql]``
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from crm_gateway.federation.supergraph.composition import compose
from crm_gateway.federation.supergraph.printer import print_supergraph
from crm_gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
MODULES = {
    "customer": "crm_customer",
    "engagement": "crm_engagement",
    "quoting": "crm_quoting",
    "service-desk": "crm_service_desk",
    "insights": "crm_insights",
}


def subgraph_sdls() -> dict[str, tuple[str, str]]:
    """``{name: (url, sdl)}`` in the gateway's default order and URLs."""
    urls = GatewaySettings(subgraphs=GatewaySettings.model_fields["subgraphs"].default)
    out: dict[str, tuple[str, str]] = {}
    for name, url in urls.subgraph_urls().items():
        module = importlib.import_module(f"{MODULES[name]}.api.schema")
        out[name] = (url, module.schema().as_str())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "supergraph.graphql")
    parser.add_argument("--sdl-dir", type=Path, default=ROOT / "var" / "supergraph")
    args = parser.parse_args()
    sdls = subgraph_sdls()
    args.sdl_dir.mkdir(parents=True, exist_ok=True)
    for name, (url, sdl) in sdls.items():
        (args.sdl_dir / f"{name}.graphql").write_text(f"# url: {url}\n{sdl}\n", encoding="utf-8")
    args.out.write_text(print_supergraph(compose(sdls)), encoding="utf-8")
    print(f"wrote {args.out} ({len(sdls)} subgraphs)")


if __name__ == "__main__":
    main()
