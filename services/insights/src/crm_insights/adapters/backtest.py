"""Backtest of model potential-v2 on a tenant's history (docs/insights-potential.md).

    uv run python -m crm_insights.adapters.backtest --tenant demo [--cut 2026-11-05T00:00:00Z]
        [--cut-days-ago 30] [--horizon-days 90]

Reads insights' read models of one tenant (read only; ``MONGODB_URI``, database
``crm_insights``), cuts the history at T, scores every customer known at T (any fact at or
before T) with what was known at T — `domain.potential.score_potential(history, T)` ignores
later facts; churn risk, which the live pass takes from health-v1, is left out — and compares
with what happened in (T, T + horizon]:

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.mongo import Document, create_client, tenant_collection
from crm_insights.adapters.mongo import customer_history, deal_of
from crm_insights.domain.backtest import auc, spearman, top_share_lift
from crm_insights.domain.potential import (
    MODEL_VERSION,
    CustomerHistory,
    Survey,
    Ticket,
    first_seen,
    score_potential,
)
from crm_insights.service.ports import Fact


@dataclass(frozen=True, slots=True)
class Outcome:
    revenue_won: int
    deals_won: int
    opportunities: int  # created or won after T
    churned: bool
    forecast_revenue: int  # won within 90 days of T (the forecast's horizon)


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


def outcome(history: CustomerHistory, cut: datetime, horizon: timedelta) -> Outcome:
    end = cut + horizon
    won = [
        d for d in history.deals if d.outcome == "WON" and d.closed_at and cut < d.closed_at <= end
    ]
    created = [d for d in history.deals if cut < d.created_at <= end]
    forecast_end = cut + timedelta(days=90)
    return Outcome(
        revenue_won=sum(d.amount_minor for d in won),
        deals_won=len(won),
        opportunities=len({id(d) for d in (*won, *created)}),
        churned=any(cut < t <= end for t in history.churned_at),
        forecast_revenue=sum(
            d.amount_minor for d in won if d.closed_at is not None and d.closed_at <= forecast_end
        ),
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def report(histories: dict[str, CustomerHistory], cut: datetime, horizon: timedelta) -> list[str]:
    rows: list[tuple[dict[str, int], int, Outcome]] = []
    for history in histories.values():
        if first_seen(history, cut) is None:
            continue  # not known at T
        scored = score_potential(history, cut)
        if scored is None:
            continue
        forecast = sum(f.amount_minor for f in scored.forecast)
        rows.append((scored.scores(), forecast, outcome(history, cut, horizon)))
    n = len(rows)
    pp = [r[0]["PURCHASE_POWER"] for r in rows]
    growth = [r[0]["GROWTH"] for r in rows]
    loyalty = [r[0]["LOYALTY"] for r in rows]
    revenue = [r[2].revenue_won for r in rows]
    opportunities = [r[2].opportunities for r in rows]
    won_any = [r[2].deals_won > 0 for r in rows]
    new_any = [r[2].opportunities > 0 for r in rows]
    stayed = [not r[2].churned for r in rows]
    forecast_total = sum(r[1] for r in rows)
    actual_90 = sum(r[2].forecast_revenue for r in rows)
    return [
        f"model {MODEL_VERSION}; cut T = {cut.isoformat()}; horizon {horizon.days} days",
        f"customers known at T: {n} of {len(histories)} live customers",
        f"after T: {sum(won_any)} won a deal, {sum(new_any)} had a new opportunity or win, "
        f"{n - sum(stayed)} churned",
        "",
        "| dimension | outcome after T | Spearman | AUC | top-20% lift |",
        "|---|---|---|---|---|",
        f"| purchase power | revenue won / won a deal | {_fmt(spearman(pp, revenue))} | "
        f"{_fmt(auc(pp, won_any))} | {_fmt(top_share_lift(pp, revenue, 0.2))} |",
        f"| growth | opportunities created or won / any | "
        f"{_fmt(spearman(growth, opportunities))} | {_fmt(auc(growth, new_any))} | "
        f"{_fmt(top_share_lift(growth, opportunities, 0.2))} |",
        f"| loyalty | did not churn | n/a | {_fmt(auc(loyalty, stayed))} | n/a |",
        "",
        f"forecast at T (open pipeline × win probability, all currencies): "
        f"{forecast_total / 100:,.2f}; won within 90 days of T: {actual_90 / 100:,.2f}"
        + (f" (ratio {forecast_total / actual_90:.2f})" if actual_90 else ""),
        f"score spread at T: purchase power {_spread(pp)}, growth {_spread(growth)}, "
        f"loyalty {_spread(loyalty)}",
    ]


def _spread(values: Sequence[int]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    return f"min {ordered[0]} / median {ordered[len(ordered) // 2]} / max {ordered[-1]}"


async def _main(args: argparse.Namespace) -> None:
    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    client = create_client(uri, "insights-backtest")
    try:
        histories = await load_histories(client[args.database], args.tenant)
    finally:
        await client.close()
    cut = (
        datetime.fromisoformat(args.cut.replace("Z", "+00:00"))
        if args.cut
        else datetime.now(UTC) - timedelta(days=args.cut_days_ago)
    )
    for line in report(histories, cut, timedelta(days=args.horizon_days)):
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--database", default="crm_insights")
    parser.add_argument("--cut", help="ISO 8601 moment T (default: now - --cut-days-ago)")
    parser.add_argument("--cut-days-ago", type=float, default=30)
    parser.add_argument("--horizon-days", type=int, default=90)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
