"""Backtest of model potential-v2 on a tenant's history (docs/insights-potential.md).

    uv run python -m crm_insights.adapters.backtest --tenant demo [--cut 2026-11-05T00:00:00Z |
        --cut creation] [--cut-days-ago 30] [--horizon-days 90]

Reads insights' read models of one tenant (read only; ``MONGODB_URI``, database
``crm_insights``), cuts the history at T (one moment, or ``creation``: each customer at its
own creation), scores every customer known at T (any fact at or before T) with what was known
at T — `domain.potential.score_potential(history, T)` ignores later facts, and a tier or
profile set after T; churn risk, which the live pass takes from health-v1, is left out — and
compares with what happened after T (`domain.backtest`):

- purchase power → revenue won after T (Spearman), "won a deal" (AUC), top-20% revenue lift;
- growth → opportunities created or won after T (Spearman), "any new opportunity or win" (AUC),
  top-20% lift on that count;
- loyalty → "did not churn" (AUC: stayers above churners);
- forecast (open pipeline × win probability at T) → revenue actually won in the horizon.

Limits it cannot remove: the stored stage and probability of an opportunity are its latest, so
a deal open at T and closed later is judged at T by the first stage's default; value tiers are
the current ones; facts that were later re-pointed by a merge count for the kept customer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.mongo import Document, create_client, tenant_collection
from crm_insights.adapters.mongo import customer_history, deal_of
from crm_insights.domain.backtest import backtest, render
from crm_insights.domain.potential import CustomerHistory, Survey, Ticket
from crm_insights.service.ports import Fact


async def load_histories(db: AsyncDatabase[Document], tenant: str) -> dict[str, CustomerHistory]:
    """Every live customer's full history (one read per collection for the whole tenant)."""

    def facts(fact: Fact) -> Any:
        return tenant_collection(db, fact.value, tenant)

    grouped: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    async for doc in facts(Fact.OPPORTUNITIES).find({}):
        deal = deal_of(doc)
        if deal is not None and doc.get("customer_id"):
            grouped[doc["customer_id"]]["deals"].append(deal)
    async for doc in facts(Fact.QUOTES).find({}):
        at = doc.get("created_at") or doc.get("submitted_at")
        if at is not None and doc.get("customer_id"):
            grouped[doc["customer_id"]]["quotes"].append((at, int(doc.get("total_minor") or 0)))
    async for doc in facts(Fact.INTERACTIONS).find({}, {"customer_id": 1, "occurred_at": 1}):
        grouped[doc["customer_id"]]["interactions"].append(doc["occurred_at"])
    async for doc in facts(Fact.SURVEYS).find({}):
        grouped[doc["customer_id"]]["surveys"].append(
            Survey(doc["responded_at"], int(doc["score_sum"]), int(doc["score_count"]))
        )
    async for doc in facts(Fact.TICKETS).find(
        {}, {"customer_id": 1, "opened_at": 1, "category": 1}
    ):
        if doc.get("opened_at") is not None:
            grouped[doc["customer_id"]]["tickets"].append(
                Ticket(doc["opened_at"], doc.get("category"))
            )
    async for doc in facts(Fact.STATUS_CHANGES).find({}):
        grouped[doc["customer_id"]]["moves"].append(doc)
    histories: dict[str, CustomerHistory] = {}
    async for customer in facts(Fact.CUSTOMERS).find(
        {"merged_into": None, "deleted": {"$ne": True}}
    ):
        g = grouped.get(customer["_id"], {})
        histories[customer["_id"]] = customer_history(
            customer,
            g.get("deals", []),
            g.get("quotes", []),
            g.get("interactions", []),
            g.get("surveys", []),
            g.get("tickets", []),
            g.get("moves", []),
        )
    return histories


async def _main(args: argparse.Namespace) -> None:
    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    client = create_client(uri, "insights-backtest")
    try:
        histories = list((await load_histories(client[args.database], args.tenant)).values())
    finally:
        await client.close()
    now = datetime.now(UTC)
    horizon = timedelta(days=args.horizon_days)
    if args.cut == "creation":
        # Each customer at its own creation (one second after): what the profile and any older
        # facts said then, against everything that happened to it since.
        def at_creation(h: CustomerHistory) -> datetime | None:
            return h.created_at + timedelta(seconds=1) if h.created_at else None

        result = backtest(histories, at_creation, lambda _: now)
        title = "cut: each customer one second after its creation; outcomes: until now"
    else:
        cut = (
            datetime.fromisoformat(args.cut.replace("Z", "+00:00"))
            if args.cut
            else now - timedelta(days=args.cut_days_ago)
        )
        result = backtest(histories, lambda _: cut, lambda c: c + horizon)
        title = f"cut T = {cut:%Y-%m-%d %H:%M} UTC; outcomes: T to T + {horizon.days} days"
    for line in render(result, title):
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--database", default="crm_insights")
    parser.add_argument(
        "--cut",
        help="ISO 8601 moment T, or 'creation' (each customer at its own creation); default: "
        "now - --cut-days-ago",
    )
    parser.add_argument("--cut-days-ago", type=float, default=30)
    parser.add_argument("--horizon-days", type=int, default=90)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
