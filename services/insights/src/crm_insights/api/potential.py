"""GraphQL of customer potential (model potential-v2): ``Customer.potential`` and the
``potentialRanking`` list."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from crm_common.errors import BadUserInput
from crm_common.graphql.relay import Connection, Edge, PageInfo
from crm_insights.api.context import principal_of, services_of
from crm_insights.domain.potential import Dimension
from crm_insights.service.ports import HealthRecord

if TYPE_CHECKING:
    from crm_insights.api.types import Customer


@strawberry.enum(description="A dimension of customer potential (model potential-v2).")
class PotentialDimension(Enum):
    PURCHASE_POWER = strawberry.enum_value(
        Dimension.PURCHASE_POWER.value, description="Purchase power (购买力)."
    )
    GROWTH = strawberry.enum_value(Dimension.GROWTH.value, description="Growth potential (成长性).")
    LOYALTY = strawberry.enum_value(Dimension.LOYALTY.value, description="Loyalty (忠诚度).")


@strawberry.type(description="One reason behind a potential score: its input, weight and share.")
class PotentialDriver:
    name: str = strawberry.field(description="Machine name of the driver, e.g. won_revenue.")
    value: float = strawberry.field(
        description="The driver's input, in the unit its explanation names (amounts in minor "
        "units, counts, days, an average score, a signal 0-1 for the value tier)."
    )
    weight: int = strawberry.field(
        description="Its weight: the most it can add (a dimension's weights sum to 100)."
    )
    contribution: float = strawberry.field(
        description="What it adds to the score: weight × its signal (0-1), one decimal."
    )
    explanation: str = strawberry.field(description="The driver in words, for people.")


@strawberry.type(description="One dimension of potential: its score 0-100 and its drivers.")
class PotentialDimensionScore:
    score: int = strawberry.field(description="Score 0 (low) to 100 (high).")
    drivers: list[PotentialDriver] = strawberry.field(
        description="Every driver of the dimension, with its weight and contribution."
    )


@strawberry.type(description="An amount of money in one currency (minor units, as a string).")
class ForecastAmount:
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    amount_minor: str = strawberry.field(
        description="Amount in integer minor units (fen, cents), as a string."
    )


@strawberry.type(
    description="A customer's potential (客户潜力): purchase power, growth potential and "
    "loyalty, 0-100 each, explained by weighted drivers, with a revenue forecast."
)
class CustomerPotential:
    purchase_power: PotentialDimensionScore = strawberry.field(
        description="How much the customer can buy: revenue won, deal and quote sizes, value "
        "tier, open pipeline."
    )
    growth: PotentialDimensionScore = strawberry.field(
        description="How much more it is likely to buy: weighted pipeline, trends of "
        "opportunities, revenue and engagement, stage reached, value tier."
    )
    loyalty: PotentialDimensionScore = strawberry.field(
        description="How firmly it stays: tenure, repeat deals, regular contact, survey "
        "scores, complaints, churn signals."
    )
    forecast_90_days: list[ForecastAmount] = strawberry.field(
        name="forecast90Days",
        description="Expected revenue of the open pipeline (amount × win probability), per "
        "currency: an expectation over every open deal, not only those closing within 90 days "
        "(the contracts carry no close date).",
    )
    model_version: str = strawberry.field(description="The model that scored it: potential-v2.")
    scored_at: datetime = strawberry.field(description="When it was scored (ISO 8601, UTC).")

    @classmethod
    def from_record(cls, record: HealthRecord) -> CustomerPotential:
        assert record.potential_scores is not None
        assert record.computed_at is not None
        drivers = record.potential_drivers or {}

        def dimension(d: Dimension) -> PotentialDimensionScore:
            return PotentialDimensionScore(
                score=int((record.potential_scores or {}).get(d.value, 0)),
                drivers=[PotentialDriver(**x) for x in drivers.get(d.value, [])],
            )

        return cls(
            purchase_power=dimension(Dimension.PURCHASE_POWER),
            growth=dimension(Dimension.GROWTH),
            loyalty=dimension(Dimension.LOYALTY),
            forecast_90_days=[
                ForecastAmount(currency=f["currency"], amount_minor=str(f["amount_minor"]))
                for f in record.forecast
            ],
            model_version=record.potential_model or "",
            scored_at=record.computed_at,
        )


@strawberry.type(description="A customer in the potential ranking.")
class PotentialRankingRow:
    rank: int = strawberry.field(description="Position in the ranking, from 1.")
    customer: Annotated[Customer, strawberry.lazy("crm_insights.api.types")] = strawberry.field(
        description="The customer (other subgraphs add its name, status, ...)."
    )
    owner_id: str | None = strawberry.field(description="Its owner, as insights last saw it.")
    team: str | None = strawberry.field(description="Its owner's team, as insights last saw it.")
    score: int = strawberry.field(description="Its score in the ranked dimension, 0-100.")
    potential: CustomerPotential = strawberry.field(
        description="All three scores with their drivers."
    )


MAX_OFFSET = 10_000_000  # no tenant has more customers; larger is not a cursor we gave


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"rank:{offset}".encode()).decode()


def _offset(after: str | None) -> int:
    if after is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(after.encode()).decode()
        prefix, number = text.split(":", 1)
        offset = int(number)
        if prefix != "rank" or not 0 <= offset <= MAX_OFFSET:
            raise ValueError(prefix)
        return offset
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise BadUserInput("the cursor is not one this list gave", field="after") from None


POTENTIAL_RANKING_DESCRIPTION = (
    "Customers ranked by one potential dimension (model potential-v2), highest first, paged "
    "forward (`first` 1-100, `after`). A sales rep "
    "sees their own customers, a sales manager their team's; analysts and admins all. "
    "Deleted and unscored customers are left out."
)


async def potential_ranking(
    info: strawberry.Info,
    dimension: Annotated[
        PotentialDimension,
        strawberry.argument(description="The dimension to rank by."),
    ],
    owner_id: Annotated[
        str | None, strawberry.argument(description="Only this owner's customers.")
    ] = None,
    team: Annotated[str | None, strawberry.argument(description="Only this team's.")] = None,
    first: Annotated[int, strawberry.argument(description="Page size, 1-100.")] = 20,
    after: Annotated[
        str | None, strawberry.argument(description="`endCursor` of the previous page.")
    ] = None,
) -> Connection[PotentialRankingRow]:
    from crm_insights.api.types import Customer

    chosen = Dimension(dimension.name)
    service = services_of(info).potential(principal_of(info))
    page = await service.ranking(chosen, owner_id, team, first, _offset(after))
    edges = [
        Edge(
            node=PotentialRankingRow(
                rank=page.offset + n + 1,
                customer=Customer(id=strawberry.ID(record.customer_id)),
                owner_id=record.owner_id,
                team=record.team,
                score=int((record.potential_scores or {}).get(chosen.value, 0)),
                potential=CustomerPotential.from_record(record),
            ),
            cursor=_cursor(page.offset + n + 1),
        )
        for n, record in enumerate(page.records)
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total,
    )
