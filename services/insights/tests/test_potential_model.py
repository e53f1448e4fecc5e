"""The potential-v2 model: drivers, weights, explanations, edge cases, as-of-a-cut semantics."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm_insights.domain.potential import (
    AMOUNT_FLOOR,
    AMOUNT_FULL,
    MODEL_VERSION,
    WEIGHTS,
    CustomerHistory,
    Deal,
    Dimension,
    Survey,
    Ticket,
    amount_signal,
    moved_meaningfully,
    next_change_at,
    score_potential,
    size_signal,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def drivers(score: object, dimension: Dimension) -> dict[str, float]:
    assert score is not None
    return {d.name: d.contribution for d in score.dimension(dimension).drivers}  # type: ignore[attr-defined]


def test_every_dimension_weighs_100() -> None:
    for dimension, weights in WEIGHTS.items():
        assert sum(weights.values()) == 100, dimension


def test_a_customer_with_nothing_known_scores_zero_everywhere() -> None:
    result = score_potential(CustomerHistory(created_at=NOW - days(1)), NOW)
    assert result is not None
    assert result.scores() == {"PURCHASE_POWER": 0, "GROWTH": 0, "LOYALTY": 0}
    assert result.model_version == MODEL_VERSION == "potential-v2"
    assert result.forecast == ()
    # Still explained: every driver is there, with its weight and a sentence.
    for dimension in Dimension:
        ds = result.dimension(dimension).drivers
        assert {d.name for d in ds} == set(WEIGHTS[dimension])
        assert all(d.explanation and d.contribution == 0 for d in ds)
    loyalty = {d.name: d.explanation for d in result.loyalty.drivers}
    assert loyalty["churn_signals"] == "no relationship yet"


def test_merged_and_deleted_customers_are_not_scored() -> None:
    assert score_potential(CustomerHistory(merged_into="c-kept"), NOW) is None
    assert score_potential(CustomerHistory(deleted=True), NOW) is None


def test_amount_signal_is_a_log_scale_between_floor_and_full() -> None:
    assert amount_signal(0) == 0
    assert amount_signal(AMOUNT_FLOOR) == 0
    assert amount_signal(AMOUNT_FULL) == 1
    assert amount_signal(AMOUNT_FULL * 10) == 1
    assert amount_signal(10**7) == pytest.approx(1 / 3)  # 100,000.00: one decade of three


def rich_history() -> CustomerHistory:
    return CustomerHistory(
        created_at=NOW - days(400),
        value_tier="A",
        employees=120,
        revenue_band="FROM_100M_TO_1B",
        budget_max_minor=2_000_000_000,
        deals=(
            Deal(NOW - days(300), 100_000_000, outcome="WON", closed_at=NOW - days(250)),
            Deal(NOW - days(120), 100_000_000, outcome="WON", closed_at=NOW - days(60)),
            Deal(NOW - days(20), 500_000_000, stage="NEGOTIATION", probability=80),
        ),
        quotes=((NOW - days(10), 400_000_000),),
        interactions=tuple(NOW - days(d) for d in (2, 5, 9, 40, 70, 100, 130, 160)),
        surveys=(Survey(NOW - days(30), 9, 2),),
        tickets=(Ticket(NOW - days(50), "COMPLAINT"),),
    )


def test_a_rich_customer_scores_with_explained_drivers() -> None:
    result = score_potential(rich_history(), NOW)
    assert result is not None
    pp = drivers(result, Dimension.PURCHASE_POWER)
    assert pp["value_tier"] == 10
    assert pp["won_revenue"] == pytest.approx(25 * amount_signal(200_000_000), abs=0.1)
    assert pp["budget"] == 20  # 10,000,000.00 and more: full
    assert pp["company_size"] == pytest.approx(10 * 0.85)  # the revenue band beats 120 people
    assert result.purchase_power.score == round(sum(pp.values()))
    growth = drivers(result, Dimension.GROWTH)
    assert growth["stage_progress"] == 10  # NEGOTIATION
    assert growth["pipeline_trend"] == 10  # 1 in the last 90 days, 1 in the 90 before
    loyalty = {d.name: d for d in result.loyalty.drivers}
    assert loyalty["regularity"].value == 6
    assert loyalty["repeat_deals"].value == 2
    assert loyalty["satisfaction"].explanation == "average survey score 4.50 over 365 days"
    assert loyalty["no_complaints"].value == 1
    assert loyalty["no_complaints"].contribution == pytest.approx(10 * 2 / 3, abs=0.1)
    assert result.forecast[0].currency == "CNY"
    assert result.forecast[0].amount_minor == 400_000_000  # 500m × 80 %
    for dimension in Dimension:
        ds = result.dimension(dimension).drivers
        assert all(0 <= d.contribution <= d.weight for d in ds)
        assert 0 <= result.dimension(dimension).score <= 100


def test_company_size_and_budget_signals() -> None:
    assert size_signal(None, None) == 0
    assert size_signal(10, None) == 0
    assert size_signal(10_000, None) == 1
    assert size_signal(100, None) == pytest.approx(1 / 3)
    assert size_signal(100, "OVER_1B") == 1
    result = score_potential(CustomerHistory(budget_max_minor=10**7), NOW)
    assert result is not None
    budget = {d.name: d for d in result.purchase_power.drivers}["budget"]
    assert budget.explanation == "budget up to 100,000.00"
    assert budget.contribution == pytest.approx(20 / 3, abs=0.1)


def test_the_score_uses_only_what_was_known_at_the_cut() -> None:
    history = rich_history()
    cut = NOW - days(100)
    at_cut = score_potential(history, cut)
    assert at_cut is not None
    pp = {d.name: d for d in at_cut.purchase_power.drivers}
    assert pp["won_revenue"].value == 100_000_000  # the second win came after the cut
    assert pp["quote_size"].value == 0
    growth = {d.name: d for d in at_cut.growth.drivers}
    # The deal won after the cut was open at the cut, judged by the first stage's default.
    assert growth["weighted_pipeline"].value == pytest.approx(100_000_000 * 0.1)
    assert growth["stage_progress"].value == 1
    assert at_cut.forecast[0].amount_minor == 10_000_000


def test_churn_signals_fall_when_churned_and_halve_after_a_comeback() -> None:
    base = CustomerHistory(created_at=NOW - days(200), interactions=(NOW - days(3),))
    healthy = score_potential(base, NOW)
    assert healthy is not None and drivers(healthy, Dimension.LOYALTY)["churn_signals"] == 10
    churned = score_potential(
        CustomerHistory(
            created_at=base.created_at, interactions=base.interactions, churned_at=(NOW - days(1),)
        ),
        NOW,
    )
    assert churned is not None and drivers(churned, Dimension.LOYALTY)["churn_signals"] == 0
    back = score_potential(
        CustomerHistory(
            created_at=base.created_at,
            interactions=base.interactions,
            churned_at=(NOW - days(10),),
            reactivated_at=(NOW - days(2),),
            churn_risk=40,
        ),
        NOW,
    )
    assert back is not None
    assert drivers(back, Dimension.LOYALTY)["churn_signals"] == pytest.approx(10 * 0.6 * 0.5)


def test_a_merged_customers_facts_count_for_the_kept_one() -> None:
    """After a merge the kept customer's history holds both customers' facts (re-pointed)."""
    kept = CustomerHistory(created_at=NOW - days(30), interactions=(NOW - days(1),))
    merged_in = CustomerHistory(
        created_at=kept.created_at,
        interactions=(*kept.interactions, NOW - days(500)),
        deals=(Deal(NOW - days(400), 50_000_000, outcome="WON", closed_at=NOW - days(380)),),
    )
    before, after = score_potential(kept, NOW), score_potential(merged_in, NOW)
    assert before is not None and after is not None
    assert after.loyalty.score > before.loyalty.score  # tenure from the earliest fact, a deal
    assert after.purchase_power.score > before.purchase_power.score


def test_meaningful_moves() -> None:
    assert moved_meaningfully(None, {"GROWTH": 3, "LOYALTY": 0})
    assert not moved_meaningfully(None, {"GROWTH": 0, "LOYALTY": 0})
    assert not moved_meaningfully({"GROWTH": 3}, {"GROWTH": 7})
    assert moved_meaningfully({"GROWTH": 3}, {"GROWTH": 8})
    assert moved_meaningfully({"GROWTH": 3}, None)


def test_next_change_is_the_next_window_edge() -> None:
    history = CustomerHistory(interactions=(NOW - days(29),))
    assert next_change_at(history, NOW) == NOW + days(1)
    assert next_change_at(CustomerHistory(), NOW) is None


def test_backtest_measures() -> None:
    from crm_insights.domain.backtest import auc, ranks, spearman, top_share_lift

    assert ranks([3, 1, 3, 2]) == [3.5, 1, 3.5, 2]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert auc([0.9, 0.8, 0.1], [True, False, False]) == 1
    assert auc([0.5, 0.5], [True, False]) == 0.5
    assert auc([1, 2], [True, True]) is None
    assert top_share_lift([9, 1, 1, 1, 1], [10, 0, 0, 0, 0], 0.2) == pytest.approx(5)
    assert top_share_lift([1, 2], [0, 0], 0.5) is None


def test_a_tier_or_profile_set_after_the_cut_is_unknown_at_the_cut() -> None:
    history = CustomerHistory(
        created_at=NOW - days(100),
        value_tier="A",
        tier_known_at=NOW - days(10),
        budget_max_minor=10**9,
        profile_known_at=NOW - days(100),
    )
    before, after = score_potential(history, NOW - days(20)), score_potential(history, NOW)
    assert before is not None and after is not None
    assert drivers(before, Dimension.PURCHASE_POWER)["value_tier"] == 0
    assert drivers(after, Dimension.PURCHASE_POWER)["value_tier"] == 10
    assert drivers(before, Dimension.PURCHASE_POWER)["budget"] == 20


def test_the_backtest_harness_finds_a_planted_signal_and_no_more() -> None:
    """Synthetic histories: big budgets buy after the cut, small ones do not. The harness must
    rank them perfectly; with the outcome unrelated to the scores it must find ~nothing."""
    from crm_insights.domain.backtest import backtest, render

    cut = NOW - days(60)
    planted, unrelated = [], []
    for n in range(20):
        big = n % 2 == 0
        base = CustomerHistory(
            created_at=NOW - days(200),
            budget_max_minor=10**9 if big else 2 * 10**6,
            interactions=(NOW - days(90),),
        )
        sale = Deal(cut + days(5), 10**8, outcome="WON", closed_at=cut + days(20))
        planted.append(replace(base, deals=(sale,) if big else ()))
        unrelated.append(replace(base, deals=(sale,) if n % 4 < 2 else ()))
    result = backtest(planted, lambda _: cut, lambda c: c + days(90))
    assert result.customers == 20
    assert result.won_a_deal == 10
    assert result.purchase_power_auc == 1
    assert result.purchase_power_spearman == pytest.approx(1)
    assert result.purchase_power_lift == pytest.approx(2.0)  # top 4 of 20 hold 4 of 10 sales
    noise = backtest(unrelated, lambda _: cut, lambda c: c + days(90))
    assert noise.purchase_power_auc == pytest.approx(0.5)
    assert any("purchase power" in line for line in render(result, "synthetic"))


def test_the_forecast_leaves_out_deals_expected_to_close_after_90_days() -> None:
    soon = Deal(NOW - days(5), 10**8, stage="QUOTE", expected_close=(NOW + days(30)).date())
    late = Deal(NOW - days(5), 10**9, stage="QUOTE", expected_close=(NOW + days(200)).date())
    undated = Deal(NOW - days(5), 10**7, currency="USD", stage="NEGOTIATION")
    result = score_potential(CustomerHistory(deals=(soon, late, undated)), NOW)
    assert result is not None
    assert [(f.currency, f.amount_minor) for f in result.forecast] == [
        ("CNY", 60_000_000),
        ("USD", 8_000_000),
    ]
