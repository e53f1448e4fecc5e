"""Quoting end to end through the gateway: pipeline, solution library, quotes with approval,
the customer's answer, the PDF, the ``quote_accepted`` event on Kafka, and permissions.
"""

from __future__ import annotations

import base64
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack
from aiokafka import AIOKafkaConsumer
from pypdf import PdfReader

from crm_common.events.contracts.quoting import QuoteAccepted
from crm_common.events.envelope import CloudEvent
from tests.e2e.client import GraphQLClient, eventually, new_tenant, token_for

pytestmark = [pytest.mark.e2e]

OPPORTUNITY_FIELDS = """
id customerId name stage probability lossReason ownerId
amount { amountMinor currency }
stageHistory { fromStage toStage actorId at note }
"""
QUOTE_FIELDS = """
id number version status superseded currency validUntil maxDiscountBp opportunityId
responseComment previousVersionId
lines { position description unit quantity catalogueCode priceVersion discountBp taxRateBp
        unitPrice { amountMinor } net { amountMinor } tax { amountMinor }
        total { amountMinor } }
subtotal { amountMinor } discountTotal { amountMinor } netTotal { amountMinor }
taxTotal { amountMinor } total { amountMinor currency }
approval { decision actorId comment }
"""
CREATE_OPPORTUNITY = f"""
mutation($input: CreateOpportunityInput!) {{
  createOpportunity(input: $input) {{ opportunity {{ {OPPORTUNITY_FIELDS} }} }} }}"""
MOVE_OPPORTUNITY = f"""
mutation($input: MoveOpportunityInput!) {{
  moveOpportunity(input: $input) {{ opportunity {{ {OPPORTUNITY_FIELDS} }} }} }}"""
OPPORTUNITY = f"query($id: ID!) {{ opportunity(id: $id) {{ {OPPORTUNITY_FIELDS} }} }}"
CREATE_QUOTE = f"""mutation($input: CreateQuoteInput!) {{
  createQuote(input: $input) {{ quote {{ {QUOTE_FIELDS} }} }} }}"""
CREATE_SOLUTION = """mutation($input: CreateSolutionInput!) {
  createSolution(input: $input) { solution { id name kind } } }"""
CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } } }"""
DELETE_CUSTOMER = """mutation($input: DeleteCustomerInput!) {
  deleteCustomer(input: $input) { customer { id } } }"""
RESTORE_CUSTOMER = """mutation($input: RestoreCustomerInput!) {
  restoreCustomer(input: $input) { customer { id } } }"""
MERGE_CUSTOMERS = """mutation($input: MergeCustomersInput!) {
  mergeCustomers(input: $input) { customer { id } } }"""
QUOTE = f"""query($id: ID!) {{ quote(id: $id) {{ {QUOTE_FIELDS}
  versions {{ id version status superseded }} }} }}"""


def _quote_mutation(name: str, input_type: str) -> str:
    return f"""mutation($input: {input_type}!) {{
      {name}(input: $input) {{ quote {{ {QUOTE_FIELDS} }} }} }}"""


SUBMIT = _quote_mutation("submitQuote", "QuoteIdInput")
SEND = _quote_mutation("sendQuote", "QuoteIdInput")
APPROVE = _quote_mutation("approveQuote", "DecideQuoteInput")
REJECT = _quote_mutation("rejectQuote", "DecideQuoteInput")
RESPOND = _quote_mutation("respondToQuote", "RespondToQuoteInput")
REVISE = _quote_mutation("reviseQuote", "ReviseQuoteInput")


def client(config: stack.StackConfig, tenant: str, roles: list[str], **kw: Any) -> GraphQLClient:
    return GraphQLClient(config.gateway_url, token_for(config.var_dir, tenant, roles, **kw))


def _in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


async def _data(gql: GraphQLClient, query: str, variables: dict[str, Any]) -> Any:
    return (await gql.execute(query, variables)).ok()


async def _new_customer(gql: GraphQLClient) -> str:
    data = await _data(gql, CREATE_CUSTOMER, {"input": {"name": f"Buyer {uuid.uuid4().hex[:8]}"}})
    return str(data["createCustomer"]["customer"]["id"])


async def _open_opportunity(gql: GraphQLClient, customer_id: str, minor: str = "0") -> Any:
    variables = {
        "input": {
            "customerId": customer_id,
            "name": "CRM rollout 客户管理系统",
            "amount": {"amountMinor": minor, "currency": "CNY"},
            "expectedCloseDate": _in_days(60),
        }
    }

    async def opened() -> Any:
        response = await gql.execute(CREATE_OPPORTUNITY, variables)
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None  # quoting learns the new customer from Kafka a moment later
        return response.ok()["createOpportunity"]["opportunity"]

    return await eventually(opened, timeout_s=30)


async def _move(gql: GraphQLClient, opportunity_id: str, stage: str, **extra: Any) -> Any:
    return await gql.execute(
        MOVE_OPPORTUNITY, {"input": {"id": opportunity_id, "stage": stage, **extra}}
    )


async def _library(admin: GraphQLClient) -> dict[str, Any]:
    """A standard product with one item (¥1,999.99 per seat, 13 % VAT) and a support package."""
    solution = (
        await _data(
            admin,
            """mutation($input: CreateSolutionInput!) {
                 createSolution(input: $input) { solution { id name kind } } }""",
            {"input": {"name": "CRM Cloud", "kind": "STANDARD_PRODUCT", "description": "seats"}},
        )
    )["createSolution"]["solution"]
    await _data(
        admin,
        CREATE_SOLUTION,
        {"input": {"name": "Gold Support", "kind": "AFTER_SALES_PACKAGE", "description": "7x24"}},
    )
    item = (
        await _data(
            admin,
            """mutation($input: AddCatalogueItemInput!) { addCatalogueItem(input: $input) {
                 item { id code currentPrice { version listPrice { amountMinor } } } } }""",
            {
                "input": {
                    "solutionId": solution["id"],
                    "code": f"crm-seat-{uuid.uuid4().hex[:4]}",
                    "name": "CRM 座席 seat licence",
                    "unit": "seat",
                    "listPrice": {"amountMinor": "199999", "currency": "CNY"},
                    "taxRateBp": 1300,
                }
            },
        )
    )["addCatalogueItem"]["item"]
    await _data(
        admin,
        """mutation($input: QuotingSettingsInput!) { updateQuotingSettings(input: $input) {
             settings { autoApproveDiscountBelowBp } } }""",
        {
            "input": {
                "autoApproveDiscountBelowBp": 1000,
                "companyName": "杭州西湖软件有限公司",
                "companyAddress": "1 West Lake Road, Hangzhou",
                "companyPhone": "+86 571 0000 0000",
            }
        },
    )
    return {"solution": solution, "item": item}


async def test_pipeline_moves_history_board_and_customer_opportunities(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rita", team="north")
    customer = (
        await _data(
            rep,
            CREATE_CUSTOMER,
            {"input": {"name": f"Pipeline Customer {uuid.uuid4().hex[:6]}"}},
        )
    )["createCustomer"]["customer"]
    first = await _open_opportunity(rep, customer["id"], "5000000")
    second = await _open_opportunity(rep, customer["id"], "1250050")
    # A customer quoting does not know in this tenant takes no opportunity (nothing stored:
    # the board below counts only the two above).
    ghost = await rep.execute(
        CREATE_OPPORTUNITY, {"input": {"customerId": f"cust-{uuid.uuid4().hex}", "name": "Ghost"}}
    )
    assert ghost.error_codes() == ["NOT_FOUND"]
    assert ghost.errors[0]["extensions"]["field"] == "input.customerId"
    assert (first["stage"], first["probability"]) == ("INITIAL_CONTACT", 10)
    assert first["amount"] == {"amountMinor": "5000000", "currency": "CNY"}

    # Forward one step at a time; probability follows the stage unless overridden.
    moved = (await _move(rep, first["id"], "NEEDS_ANALYSIS")).ok()["moveOpportunity"]["opportunity"]
    assert (moved["stage"], moved["probability"]) == ("NEEDS_ANALYSIS", 20)
    moved = (await _move(rep, first["id"], "SOLUTION", probability=55)).ok()["moveOpportunity"][
        "opportunity"
    ]
    assert (moved["stage"], moved["probability"]) == ("SOLUTION", 55)

    skipped = await _move(rep, first["id"], "NEGOTIATION")
    assert skipped.error_codes() == ["BAD_USER_INPUT"]
    assert skipped.errors[0]["extensions"]["field"] == "input.stage"
    no_reason = await _move(rep, second["id"], "LOST")
    assert no_reason.error_codes() == ["BAD_USER_INPUT"]
    assert no_reason.errors[0]["extensions"]["field"] == "input.lossReason"
    unchanged = (await rep.execute(OPPORTUNITY, {"id": second["id"]})).ok()["opportunity"]
    assert unchanged["stage"] == "INITIAL_CONTACT" and len(unchanged["stageHistory"]) == 1

    lost = (await _move(rep, second["id"], "LOST", lossReason="budget frozen")).ok()
    lost_opportunity = lost["moveOpportunity"]["opportunity"]
    assert (lost_opportunity["stage"], lost_opportunity["probability"]) == ("LOST", 0)
    assert lost_opportunity["lossReason"] == "budget frozen"
    assert (await _move(rep, second["id"], "QUOTE")).error_codes() == ["BAD_USER_INPUT"]

    history = (await rep.execute(OPPORTUNITY, {"id": first["id"]})).ok()["opportunity"][
        "stageHistory"
    ]
    assert [(h["fromStage"], h["toStage"]) for h in history] == [
        (None, "INITIAL_CONTACT"),
        ("INITIAL_CONTACT", "NEEDS_ANALYSIS"),
        ("NEEDS_ANALYSIS", "SOLUTION"),
    ]
    assert {h["actorId"] for h in history} == {"rita"}

    board = (
        await rep.execute("{ opportunityBoard { stage count amounts { currency amountMinor } } }")
    ).ok()["opportunityBoard"]
    columns = {c["stage"]: c for c in board}
    assert [c["stage"] for c in board][:3] == ["INITIAL_CONTACT", "NEEDS_ANALYSIS", "SOLUTION"]
    assert columns["SOLUTION"]["count"] == 1
    assert columns["SOLUTION"]["amounts"] == [{"currency": "CNY", "amountMinor": "5000000"}]
    assert columns["LOST"]["amounts"] == [{"currency": "CNY", "amountMinor": "1250050"}]
    assert columns["INITIAL_CONTACT"] == {"stage": "INITIAL_CONTACT", "count": 0, "amounts": []}

    # Federation: the customer subgraph's Customer gains `opportunities` from quoting.
    stitched = (
        await rep.execute(
            """query($id: ID!) { customer(id: $id) { id
                 opportunities(first: 10) { totalCount edges { node { id stage } } } } }""",
            {"id": customer["id"]},
        )
    ).ok()["customer"]
    assert stitched["opportunities"]["totalCount"] == 2
    assert {e["node"]["id"] for e in stitched["opportunities"]["edges"]} == {
        first["id"],
        second["id"],
    }


async def test_deleted_customer_takes_no_opportunity_until_restored(
    live_stack: stack.StackConfig,
) -> None:
    admin = client(live_stack, new_tenant(), ["admin"], user_id="root")
    customer_id = await _new_customer(admin)
    await _open_opportunity(admin, customer_id)  # quoting knows the customer now
    (await admin.execute(DELETE_CUSTOMER, {"input": {"id": customer_id}})).ok()

    async def refused() -> Any:
        response = await admin.execute(
            CREATE_OPPORTUNITY, {"input": {"customerId": customer_id, "name": "After delete"}}
        )
        return response if response.error_codes() == ["NOT_FOUND"] else None

    assert (await eventually(refused, timeout_s=30)).errors[0]["extensions"][
        "field"
    ] == "input.customerId"
    (await admin.execute(RESTORE_CUSTOMER, {"input": {"id": customer_id}})).ok()
    restored = await _open_opportunity(admin, customer_id)
    assert restored["customerId"] == customer_id


async def test_merged_customer_hands_its_opportunities_to_the_kept_one(
    live_stack: stack.StackConfig,
) -> None:
    admin = client(live_stack, new_tenant(), ["admin"], user_id="root")
    kept_id, merged_id = await _new_customer(admin), await _new_customer(admin)
    await _open_opportunity(admin, kept_id)
    moved = await _open_opportunity(admin, merged_id)
    (
        await admin.execute(MERGE_CUSTOMERS, {"input": {"keepId": kept_id, "mergeId": merged_id}})
    ).ok()

    async def repointed() -> Any:
        found = (await admin.execute(OPPORTUNITY, {"id": moved["id"]})).ok()["opportunity"]
        return found if found["customerId"] == kept_id else None

    await eventually(repointed, timeout_s=30)
    refused = await admin.execute(
        CREATE_OPPORTUNITY, {"input": {"customerId": merged_id, "name": "To the tombstone"}}
    )
    assert refused.error_codes() == ["NOT_FOUND"]
    assert refused.errors[0]["extensions"]["field"] == "input.customerId"


async def test_quote_approval_revision_acceptance_and_event(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"], user_id="root")
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rita", team="north")
    manager = client(live_stack, tenant, ["sales_manager"], user_id="mike", team="north")
    other_manager = client(live_stack, tenant, ["sales_manager"], user_id="sue", team="south")
    library = await _library(admin)
    item = library["item"]
    customer_id = await _new_customer(rep)
    opportunity = await _open_opportunity(rep, customer_id, "800000")
    for stage in ("NEEDS_ANALYSIS", "SOLUTION", "QUOTE"):
        (await _move(rep, opportunity["id"], stage)).ok()

    need = (
        await _data(
            rep,
            """mutation($input: AddNeedInput!) { addNeed(input: $input) {
                 need { id category matchedSolutions { name kind } } } }""",
            {
                "input": {
                    "opportunityId": opportunity["id"],
                    "category": "PRODUCT",
                    "description": "cloud CRM seats for the sales team",
                }
            },
        )
    )["addNeed"]["need"]
    assert need["matchedSolutions"] == [{"name": "CRM Cloud", "kind": "STANDARD_PRODUCT"}]

    lines = [
        {"catalogueItemId": item["id"], "quantity": "3", "discountBp": 1500},
        {
            "description": "Onboarding workshop 上线培训",
            "unit": "day",
            "quantity": "1.5",
            "unitPriceMinor": "300000",
            "taxRateBp": 600,
        },
    ]
    quote = (
        await _data(
            rep,
            CREATE_QUOTE,
            {
                "input": {
                    "opportunityId": opportunity["id"],
                    "currency": "CNY",
                    "validUntil": _in_days(30),
                    "lines": lines,
                }
            },
        )
    )["createQuote"]["quote"]
    # 1,999.99 × 3 = 5,999.97; −15 % → 5,099.9745 → 5,099.97; VAT 13 % = 662.9961 → 663.00
    # 3,000.00 × 1.5 = 4,500.00; VAT 6 % = 270.00. Total = 5,762.97 + 4,770.00 = 10,532.97
    first_line, second_line = quote["lines"]
    assert (first_line["net"], first_line["tax"]) == (
        {"amountMinor": "509997"},
        {"amountMinor": "66300"},
    )
    assert first_line["total"] == {"amountMinor": "576297"}
    assert first_line["priceVersion"] == 1 and first_line["unitPrice"] == {"amountMinor": "199999"}
    assert second_line["total"] == {"amountMinor": "477000"} and second_line["quantity"] == "1.5"
    assert quote["total"] == {"amountMinor": "1053297", "currency": "CNY"}
    assert quote["status"] == "DRAFT" and quote["version"] == 1
    assert quote["number"].startswith("QUO")

    # A later price change does not touch the quote: it keeps the version it was made with.
    await _data(
        admin,
        """mutation($input: SetCataloguePriceInput!) { setCataloguePrice(input: $input) {
             item { currentPrice { version } } } }""",
        {
            "input": {
                "itemId": item["id"],
                "listPrice": {"amountMinor": "249999", "currency": "CNY"},
                "taxRateBp": 1300,
            }
        },
    )
    kept = (await rep.execute(QUOTE, {"id": quote["id"]})).ok()["quote"]
    assert kept["lines"][0]["unitPrice"] == {"amountMinor": "199999"}
    assert kept["total"]["amountMinor"] == "1053297"

    # An illegal move is BAD_USER_INPUT and changes nothing.
    early = await rep.execute(SEND, {"input": {"id": quote["id"]}})
    assert early.error_codes() == ["BAD_USER_INPUT"]
    assert (await rep.execute(QUOTE, {"id": quote["id"]})).ok()["quote"]["status"] == "DRAFT"

    # 15 % discount is over the tenant's 10 % threshold: a manager must decide.
    pending = (await rep.execute(SUBMIT, {"input": {"id": quote["id"]}})).ok()["submitQuote"][
        "quote"
    ]
    assert pending["status"] == "PENDING_APPROVAL"
    assert (await rep.execute(APPROVE, {"input": {"id": quote["id"]}})).error_codes() == [
        "FORBIDDEN"
    ]
    assert (await other_manager.execute(APPROVE, {"input": {"id": quote["id"]}})).error_codes() == [
        "NOT_FOUND"
    ]
    no_comment = await manager.execute(REJECT, {"input": {"id": quote["id"]}})
    assert no_comment.error_codes() == ["BAD_USER_INPUT"]
    rejected = (
        await manager.execute(REJECT, {"input": {"id": quote["id"], "comment": "max 8 % off"}})
    ).ok()["rejectQuote"]["quote"]
    assert rejected["status"] == "REJECTED"
    assert rejected["approval"] == {
        "decision": "REJECTED",
        "actorId": "mike",
        "comment": "max 8 % off",
    }

    # Revise: v2 with a smaller discount (new catalogue price now applies), v1 stays readable.
    lines[0]["discountBp"] = 800
    v2 = (await rep.execute(REVISE, {"input": {"id": quote["id"], "lines": lines}})).ok()[
        "reviseQuote"
    ]["quote"]
    assert (v2["number"], v2["version"], v2["status"]) == (quote["number"], 2, "DRAFT")
    assert v2["lines"][0]["priceVersion"] == 2 and v2["previousVersionId"] == quote["id"]
    v1 = (await rep.execute(QUOTE, {"id": quote["id"]})).ok()["quote"]
    assert (v1["status"], v1["superseded"], v1["total"]["amountMinor"]) == (
        "REJECTED",
        True,
        "1053297",
    )
    assert [(v["version"], v["superseded"]) for v in v1["versions"]] == [(1, True), (2, False)]
    assert (await rep.execute(REVISE, {"input": {"id": quote["id"]}})).error_codes() == [
        "BAD_USER_INPUT"
    ]

    # 8 % is under the threshold: approved automatically on submit.
    auto = (await rep.execute(SUBMIT, {"input": {"id": v2["id"]}})).ok()["submitQuote"]["quote"]
    assert auto["status"] == "APPROVED" and auto["approval"]["decision"] == "AUTO_APPROVED"
    sent = (await rep.execute(SEND, {"input": {"id": v2["id"]}})).ok()["sendQuote"]["quote"]
    assert sent["status"] == "SENT"

    accepted = (
        await rep.execute(
            RESPOND, {"input": {"id": v2["id"], "response": "ACCEPT", "comment": "签约"}}
        )
    ).ok()["respondToQuote"]["quote"]
    assert accepted["status"] == "ACCEPTED" and accepted["responseComment"] == "签约"
    won = (await rep.execute(OPPORTUNITY, {"id": opportunity["id"]})).ok()["opportunity"]
    assert (won["stage"], won["probability"]) == ("WON", 100)
    assert won["stageHistory"][-1]["fromStage"] == "QUOTE"
    again = await rep.execute(RESPOND, {"input": {"id": v2["id"], "response": "DECLINE"}})
    assert again.error_codes() == ["BAD_USER_INPUT"]

    # The acceptance reached Kafka as a CloudEvent whose body fits the contract.
    event = await _quote_accepted_on_topic(live_stack, v2["id"])
    payload = event.parse()
    assert isinstance(payload, QuoteAccepted)
    assert (payload.quote_number, payload.version, payload.opportunity_id) == (
        quote["number"],
        2,
        opportunity["id"],
    )
    assert (payload.customer_id, payload.owner_id, payload.currency) == (customer_id, "rita", "CNY")
    assert str(payload.total_minor) == accepted["total"]["amountMinor"]
    assert event.tenant_id == tenant and event.key == customer_id
    assert event.source == "crm/quoting"


async def _quote_accepted_on_topic(config: stack.StackConfig, quote_id: str) -> CloudEvent:
    consumer = AIOKafkaConsumer(
        "crm.quoting.v1",
        bootstrap_servers=config.kafka_bootstrap,
        group_id=None,  # no group to join: read every partition from the start, quickly
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:

        async def find() -> CloudEvent | None:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    headers = list(record.headers)
                    event = CloudEvent.from_record(record.key, record.value, headers)
                    if (
                        event.type == QuoteAccepted.event_type
                        and event.data["quote_id"] == quote_id
                    ):
                        names = {name for name, _ in headers}
                        assert {
                            "ce_id",
                            "ce_type",
                            "ce_source",
                            "ce_time",
                            "ce_specversion",
                        } <= names
                        assert {"ce_tenantid", "traceparent"} <= names
                        return event
            return None

        return await eventually(find, timeout_s=30)
    finally:
        await consumer.stop()


async def test_quote_pdf_through_the_gateway(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"], user_id="root")
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rita", team="north")
    library = await _library(admin)
    company = f"杭州云启科技有限公司 {uuid.uuid4().hex[:6]}"
    customer_id = (
        await _data(
            rep,
            CREATE_CUSTOMER,
            {
                "input": {
                    "name": company,
                    "contacts": [
                        {
                            "name": "王芳",
                            "phone": "13800001234",
                            "email": "wang.fang@yunqi.example.cn",
                            "isPrimary": True,
                        }
                    ],
                }
            },
        )
    )["createCustomer"]["customer"]["id"]
    opportunity = await _open_opportunity(rep, customer_id)
    quote = (
        await _data(
            rep,
            CREATE_QUOTE,
            {
                "input": {
                    "opportunityId": opportunity["id"],
                    "currency": "CNY",
                    "validUntil": _in_days(14),
                    "lines": [
                        {"catalogueItemId": library["item"]["id"], "quantity": "2"},
                        {
                            "description": "数据迁移 data migration",
                            "quantity": "1",
                            "unitPriceMinor": "100050",
                            "taxRateBp": 600,
                        },
                    ],
                }
            },
        )
    )["createQuote"]["quote"]
    document = (
        await rep.execute(
            "query($id: ID!) { quoteDocument(id: $id) { filename contentType base64 sizeBytes } }",
            {"id": quote["id"]},
        )
    ).ok()["quoteDocument"]
    assert document["contentType"] == "application/pdf"
    assert document["filename"] == f"{quote['number']}-v1.pdf"
    content = base64.b64decode(document["base64"])
    assert content.startswith(b"%PDF") and len(content) == document["sizeBytes"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    for expected in (
        "杭州西湖软件有限公司",  # company details, in Chinese
        "1 West Lake Road, Hangzhou",
        quote["number"],
        "数据迁移 data migration",
        f"有效期至 Valid until: {quote['validUntil']}",
        f"客户 Customer: {company}",  # the customer by name, with its primary contact
        "联系人 Contact: 王芳",
        "wang.fang@yunqi.example.cn",
        "CNY 1,999.99",  # unit price of the catalogue line
        # 2 × 1,999.99 = 3,999.98 + 13 % = 4,519.98; 1,000.50 + 6 % = 1,060.53
        "CNY 5,580.51",
    ):
        assert expected in text, expected
    assert customer_id not in text
    assert quote["total"]["amountMinor"] == "558051"
    # The glyphs travel in the file (a subset of Noto Sans CJK SC), not the viewer's fonts.
    assert b"NotoSansCJKsc-Regular" in content and b"/FontFile2" in content
    assert b"STSong" not in content

    stranger = client(live_stack, tenant, ["sales_rep"], user_id="sam")
    hidden = await stranger.execute(
        "query($id: ID!) { quoteDocument(id: $id) { filename } }", {"id": quote["id"]}
    )
    assert hidden.error_codes() == ["NOT_FOUND"]


async def test_quote_permissions_by_role(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rita = client(live_stack, tenant, ["sales_rep"], user_id="rita", team="north")
    bob = client(live_stack, tenant, ["sales_rep"], user_id="bob", team="north")
    mike = client(live_stack, tenant, ["sales_manager"], user_id="mike", team="north")
    sue = client(live_stack, tenant, ["sales_manager"], user_id="sue", team="south")
    analyst = client(live_stack, tenant, ["analyst"], user_id="ann")
    agent = client(live_stack, tenant, ["service_agent"], user_id="sam")
    opportunity = await _open_opportunity(rita, await _new_customer(rita))
    quote_input = {
        "input": {
            "opportunityId": opportunity["id"],
            "currency": "CNY",
            "validUntil": _in_days(10),
            "lines": [
                {
                    "description": "Consulting",
                    "quantity": "1",
                    "unitPriceMinor": "1000",
                    "taxRateBp": 0,
                }
            ],
        }
    }
    quote = (await _data(rita, CREATE_QUOTE, quote_input))["createQuote"]["quote"]

    assert (await bob.execute(QUOTE, {"id": quote["id"]})).ok()["quote"] is None
    assert (await bob.execute(CREATE_QUOTE, quote_input)).error_codes() == ["NOT_FOUND"]
    assert (await sue.execute(QUOTE, {"id": quote["id"]})).ok()["quote"] is None
    assert (await mike.execute(QUOTE, {"id": quote["id"]})).ok()["quote"]["id"] == quote["id"]
    assert (await analyst.execute(QUOTE, {"id": quote["id"]})).ok()["quote"]["id"] == quote["id"]
    analyst_list = (await analyst.execute("{ quotes { totalCount } }")).ok()["quotes"]
    assert analyst_list["totalCount"] == 1
    assert (await analyst.execute(CREATE_QUOTE, quote_input)).error_codes() == ["FORBIDDEN"]
    assert (await analyst.execute(SUBMIT, {"input": {"id": quote["id"]}})).error_codes() == [
        "FORBIDDEN"
    ]
    assert (await agent.execute("{ quotes { totalCount } }")).error_codes() == ["FORBIDDEN"]
    solution = await rita.execute(
        CREATE_SOLUTION,
        {"input": {"name": "Not mine to add", "kind": "STANDARD_PRODUCT"}},
    )
    assert solution.error_codes() == ["FORBIDDEN"]

    # The team's manager works on the rep's quote; another tenant sees nothing at all.
    assert (await mike.execute(SUBMIT, {"input": {"id": quote["id"]}})).ok()["submitQuote"][
        "quote"
    ]["status"] == "APPROVED"  # no discount: automatic
    # A manager's own quote needs another manager: nobody approves their own.
    own_opportunity = await _open_opportunity(mike, await _new_customer(mike))
    big_discount = {
        "input": {
            **quote_input["input"],
            "opportunityId": own_opportunity["id"],
            "lines": [{**quote_input["input"]["lines"][0], "discountBp": 3000}],
        }
    }
    own = (await _data(mike, CREATE_QUOTE, big_discount))["createQuote"]["quote"]
    assert (await _data(mike, SUBMIT, {"input": {"id": own["id"]}}))["submitQuote"]["quote"][
        "status"
    ] == "PENDING_APPROVAL"
    refused = await mike.execute(APPROVE, {"input": {"id": own["id"], "comment": "fine by me"}})
    assert refused.error_codes() == ["FORBIDDEN"]
    peer = client(live_stack, tenant, ["sales_manager"], user_id="max", team="north")
    approved = (await peer.execute(APPROVE, {"input": {"id": own["id"]}})).ok()
    assert approved["approveQuote"]["quote"]["approval"]["actorId"] == "max"

    outsider = client(live_stack, new_tenant(), ["admin"])
    assert (await outsider.execute(QUOTE, {"id": quote["id"]})).ok()["quote"] is None
    assert (await outsider.execute("{ quotes { totalCount } }")).ok()["quotes"]["totalCount"] == 0
