"""Rules of service orders, surveys and articles (pure, no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from crm_common.errors import BadUserInput
from crm_service_desk.domain.article import keywords_of, normalise_tags, query_tokens, tokens
from crm_service_desk.domain.service_order import (
    STAGES,
    DeliverableKind,
    OrderSource,
    OrderStatus,
    ServiceOrder,
    Stage,
    advance,
    initial_stages,
    set_progress,
    validate_deliverable,
    validate_details,
)
from crm_service_desk.domain.survey import (
    DimensionCsat,
    default_template,
    hash_token,
    new_token,
    validate_response,
    validate_template,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _order() -> ServiceOrder:
    return ServiceOrder(
        id="o1",
        tenant_id="t1",
        customer_id="c1",
        title="Delivery",
        content="",
        source=OrderSource.MANUAL,
        owner_id="u1",
        status=OrderStatus.OPEN,
        created_at=NOW,
        stages=initial_stages(),
    )


def _deliver_file(order: ServiceOrder, stage: Stage) -> ServiceOrder:
    deliverable = validate_deliverable(
        order,
        stage,
        name="Acceptance record",
        kind=DeliverableKind.FILE,
        reference="file-123",
        actor_id="u1",
        now=NOW,
    )
    stages = tuple(
        replace(s, deliverables=(*s.deliverables, deliverable)) if s.stage is stage else s
        for s in order.stages
    )
    return replace(order, stages=stages)


def test_an_order_goes_through_the_four_stages_in_order_and_is_delivered() -> None:
    order = _order()
    visited = []
    for _ in STAGES:
        move = advance(order, NOW)
        order = move.order
        visited.append(move.to_stage)
    assert visited == list(STAGES)
    assert order.status is OrderStatus.IN_DELIVERY
    with pytest.raises(BadUserInput):  # delivery needs a deliverable on the last stage
        advance(order, NOW)
    order = _deliver_file(order, Stage.ACCEPTANCE_AND_DELIVERY)
    done = advance(order, NOW)
    assert (done.to_stage, done.order.status, done.order.progress) == (
        None,
        OrderStatus.DELIVERED,
        100,
    )
    with pytest.raises(BadUserInput):
        advance(done.order, NOW)


def test_progress_only_on_the_stage_in_work_and_below_100() -> None:
    order = advance(_order(), NOW).order
    order = set_progress(order, Stage.REQUIREMENTS_RESEARCH, 60, NOW)
    assert order.progress == 15  # mean over four stages
    with pytest.raises(BadUserInput) as exc:
        set_progress(order, Stage.BUILD_AND_TEST, 10, NOW)
    assert exc.value.field == "input.stage"
    with pytest.raises(BadUserInput):
        set_progress(order, Stage.REQUIREMENTS_RESEARCH, 100, NOW)


def test_progress_before_any_stage_started_says_which_stage_to_start() -> None:
    with pytest.raises(BadUserInput) as exc:
        set_progress(_order(), Stage.REQUIREMENTS_RESEARCH, 10, NOW)
    ext = exc.value.extensions()
    assert ext["field"] == "input.stage"
    assert ext["reason"] == "NO_STAGE_STARTED"
    assert ext["nextStage"] == "REQUIREMENTS_RESEARCH"
    assert ext["status"] == "OPEN"
    assert "start stage REQUIREMENTS_RESEARCH first" in exc.value.message
    started = advance(_order(), NOW).order
    with pytest.raises(BadUserInput) as other:
        set_progress(started, Stage.SOLUTION_DESIGN, 10, NOW)
    assert other.value.extensions()["reason"] == "NOT_STAGE_IN_WORK"
    assert other.value.extensions()["stageInWork"] == "REQUIREMENTS_RESEARCH"


def test_deliverable_links_must_be_http_urls() -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_deliverable(
            _order(),
            Stage.SOLUTION_DESIGN,
            name="Design",
            kind=DeliverableKind.LINK,
            reference="javascript:alert(1)",
            actor_id="u1",
            now=NOW,
        )
    assert exc.value.field == "input.reference"


def test_delivery_period_must_not_end_before_it_starts() -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_details(
            title="X",
            content=None,
            owner_id=None,
            team=None,
            delivery_start=date(2026, 12, 1),
            delivery_end=date(2026, 11, 1),
        )
    assert exc.value.field == "input.deliveryEnd"


def test_tokens_are_random_and_stored_hashed() -> None:
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 43
    assert hash_token(first) != first and hash_token(first) == hash_token(first)


_ALL_FIVE = {"service_quality": 5, "response_speed": 5, "professionalism": 5}


def test_a_response_scores_every_dimension_from_1_to_5() -> None:
    dimensions = default_template("t1").dimensions
    scores, comment = validate_response(dimensions, {**_ALL_FIVE, "response_speed": 3}, "  ok ")
    assert scores["response_speed"] == 3
    assert comment == "ok"


@pytest.mark.parametrize(
    ("scores", "field"),
    [
        ({**_ALL_FIVE, "service_quality": 6}, "scores.service_quality"),
        ({**_ALL_FIVE, "service_quality": 0}, "scores.service_quality"),
        ({**_ALL_FIVE, "service_quality": True}, "scores.service_quality"),
        ({**_ALL_FIVE, "extra": 3}, "scores.extra"),
        ({"service_quality": 5, "response_speed": 5}, "scores.professionalism"),
    ],
)
def test_bad_scores_are_refused_on_their_field(scores: dict[str, object], field: str) -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_response(default_template("t1").dimensions, scores, None)
    assert exc.value.field == field


def test_template_dimensions_are_unique_snake_case_keys() -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_template("T", [("speed", "Speed"), ("speed", "Again")], None)
    assert exc.value.field == "input.dimensions.1.key"
    with pytest.raises(BadUserInput):
        validate_template("T", [("Bad Key", "x")], None)


def test_csat_is_the_share_of_four_and_five() -> None:
    row = DimensionCsat("service_quality", responses=4, score_sum=15, satisfied=3)
    assert (row.average, row.csat_percent) == (3.75, 75.0)


def test_search_tokens_are_case_and_width_insensitive_with_cjk_bigrams() -> None:
    assert tokens("VPN Drops, ＶＰＮ drops!") == ["vpn", "drops"]
    assert tokens("路由器故障") == ["路由", "由器", "器故", "故障"]
    keywords = keywords_of("Router firmware", "路由器故障 after upgrade", ("network",))
    assert set(query_tokens("路由器 FIRMWARE")) <= set(keywords)
    with pytest.raises(BadUserInput):
        query_tokens("  !!! ")
    assert normalise_tags(["Network", "network", " VPN "]) == ("network", "vpn")
