"""E-mail end to end, read back from Mailpit's HTTP API (the e2e stack's own Mailpit).

Covers: a quote e-mailed to the customer's primary contact (the address looked up at the
customer subgraph) arrives once with its PDF, the quote is SENT and its delivery SENT, a
second identical call queues nothing; a refused recipient (Mailpit refuses .invalid with 550)
leaves the quote SENT and the delivery FAILED with the server's answer; another tenant sees
none of it; a survey invitation carries a single-use link that opens and answers through the
gateway (PUBLIC_BASE_URL); notification_created events become one e-mail each (IMMEDIATE) or
one digest per user per period (DIGEST); with the SMTP server down, the e-mail is retried and
arrives exactly once after it is back.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stack

from crm_common.events.contracts.engagement import NotificationCreated
from crm_common.events.envelope import CloudEvent
from tests.e2e.client import GraphQLClient, eventually, new_tenant
from tests.e2e.service_desk_support import (
    ASSIGN_TICKET,
    CHANGE_STATUS,
    SET_DEPARTMENT,
    client,
    open_ticket_when_known,
    publish,
    ticket_op,
)
from tests.support.mailpit import Mailpit

pytestmark = [pytest.mark.e2e]

CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } } }"""
CREATE_OPPORTUNITY = """mutation($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } } }"""
CREATE_QUOTE = """mutation($input: CreateQuoteInput!) {
  createQuote(input: $input) { quote { id number version status } } }"""
SUBMIT = (
    """mutation($input: QuoteIdInput!) { submitQuote(input: $input) { quote { id status } } }"""
)
DELIVERY = "id to subject status attempts lastError lastErrorCode sentAt createdAt"
SEND_BY_EMAIL = f"""mutation($input: SendQuoteByEmailInput!) {{
  sendQuoteByEmail(input: $input) {{ quote {{ id status }} delivery {{ {DELIVERY} }} }} }}"""
QUOTE_DELIVERIES = f"""query($id: ID!) {{ quote(id: $id) {{ id status
  deliveries {{ {DELIVERY} }} }} }}"""
EMAIL_INVITATION = f"""mutation($input: EmailSurveyInvitationInput!) {{
  emailSurveyInvitation(input: $input) {{ survey {{ id status }} delivery {{ {DELIVERY} }} }} }}"""
CUSTOMER_SURVEYS = """query($id: ID!) { customer(id: $id) {
  surveys(first: 5) { edges { node { id status dimensions { key } } } } } }"""
SURVEY_DELIVERIES = f"""query($id: ID!) {{ customer(id: $id) {{
  surveys(first: 5) {{ edges {{ node {{ id deliveries {{ {DELIVERY} }} }} }} }} }} }}"""


def _mailpit(config: stack.StackConfig) -> Mailpit:
    return Mailpit(config.mailpit_url)


def _address(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


async def _customer_with_contact(rep: GraphQLClient, email: str | None) -> str:
    contact: dict[str, Any] = {"name": "Li Lei", "isPrimary": True}
    if email:
        contact["email"] = email
    data = (
        await rep.execute(
            CREATE_CUSTOMER,
            {"input": {"name": f"Mail Buyer {uuid.uuid4().hex[:8]}", "contacts": [contact]}},
        )
    ).ok()
    customer_id: str = data["createCustomer"]["customer"]["id"]
    return customer_id


async def _approved_quote(rep: GraphQLClient, customer_id: str) -> dict[str, Any]:
    async def opened() -> Any:
        response = await rep.execute(
            CREATE_OPPORTUNITY,
            {"input": {"customerId": customer_id, "name": "Seats",
                       "amount": {"amountMinor": "100000", "currency": "CNY"}}},
        )  # fmt: skip
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None  # quoting learns the customer from Kafka a moment later
        return response.ok()["createOpportunity"]["opportunity"]

    opportunity = await eventually(opened, timeout_s=60)
    valid_until = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    line = {"quantity": "2", "description": "CRM seat", "unitPriceMinor": "50000",
            "taxRateBp": 1300}  # fmt: skip
    quote_input = {"opportunityId": opportunity["id"], "currency": "CNY",
                   "validUntil": valid_until, "lines": [line]}  # fmt: skip
    created = await rep.execute(CREATE_QUOTE, {"input": quote_input})
    quote = created.ok()["createQuote"]["quote"]
    submitted = (await rep.execute(SUBMIT, {"input": {"id": quote["id"]}})).ok()
    assert submitted["submitQuote"]["quote"]["status"] == "APPROVED"  # no discount: automatic
    result: dict[str, Any] = quote
    return result


async def _delivery_of_quote(
    rep: GraphQLClient, quote_id: str, status: str, timeout_s: float = 90
) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        quote = (await rep.execute(QUOTE_DELIVERIES, {"id": quote_id})).ok()["quote"]
        found = [d for d in quote["deliveries"] if d["status"] == status]
        return found[0] if found else None

    return await eventually(reached, timeout_s=timeout_s, interval_s=0.3)


async def test_quote_pdf_to_the_primary_contact_once_and_a_refused_address_is_recorded(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-mail")
    buyer = _address("buyer")
    customer_id = await _customer_with_contact(rep, buyer)
    quote = await _approved_quote(rep, customer_id)

    sent = (await rep.execute(SEND_BY_EMAIL, {"input": {"id": quote["id"]}})).ok()
    payload = sent["sendQuoteByEmail"]
    assert payload["quote"]["status"] == "SENT"
    assert payload["delivery"]["to"] == buyer
    again = (await rep.execute(SEND_BY_EMAIL, {"input": {"id": quote["id"]}})).ok()
    assert again["sendQuoteByEmail"]["delivery"]["id"] == payload["delivery"]["id"]

    delivery = await _delivery_of_quote(rep, quote["id"], "SENT")
    assert delivery["attempts"] == 1 and delivery["sentAt"] and delivery["lastError"] is None
    mailpit = _mailpit(live_stack)
    messages = await mailpit.await_for(buyer)
    assert len(messages) == 1
    assert quote["number"] in messages[0]["Subject"]
    detail = mailpit.message(messages[0]["ID"])
    [attachment] = detail["Attachments"]
    assert attachment["FileName"] == f"{quote['number']}-v1.pdf"
    assert attachment["ContentType"] == "application/pdf"
    assert mailpit.part(messages[0]["ID"], attachment["PartID"]).startswith(b"%PDF")

    # A refused address: the quote is still SENT, the delivery FAILED with the server's answer.
    refused = "nobody@nowhere.invalid"
    answer = (await rep.execute(SEND_BY_EMAIL, {"input": {"id": quote["id"], "to": refused}})).ok()
    assert answer["sendQuoteByEmail"]["quote"]["status"] == "SENT"
    failed = await _delivery_of_quote(rep, quote["id"], "FAILED")
    assert failed["to"] == refused
    assert failed["lastErrorCode"] == 550 and refused in failed["lastError"]
    assert failed["attempts"] == 1 and failed["sentAt"] is None
    final = (await rep.execute(QUOTE_DELIVERIES, {"id": quote["id"]})).ok()["quote"]
    assert final["status"] == "SENT"
    assert sorted(d["status"] for d in final["deliveries"]) == ["FAILED", "SENT"]

    # Another tenant sees neither the quote nor its deliveries.
    stranger = client(live_stack, new_tenant(), ["admin"])
    other = await stranger.execute(QUOTE_DELIVERIES, {"id": quote["id"]})
    assert other.data is None or other.data["quote"] is None
    # Nothing to send to without an address: a clear error, nothing queued.
    bare_customer = await _customer_with_contact(rep, None)
    bare_quote = await _approved_quote(rep, bare_customer)
    no_address = await rep.execute(SEND_BY_EMAIL, {"input": {"id": bare_quote["id"]}})
    assert no_address.error_codes() == ["BAD_USER_INPUT"]
    assert no_address.errors[0]["extensions"]["field"] == "input.to"


async def test_survey_invitation_link_opens_and_answers_through_the_gateway(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-1")
    admin = client(live_stack, tenant, ["admin"])
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1")
    contact = _address("survey")
    customer_id = await _customer_with_contact(rep, contact)
    (await admin.execute(SET_DEPARTMENT, {"input": {"name": "support"}})).ok()
    ticket = await open_ticket_when_known(agent, customerId=customer_id, title="Printer jams")
    await ticket_op(agent, ASSIGN_TICKET, "assignTicket", ticketId=ticket["id"],
                    department="support", assigneeId="agent-1")  # fmt: skip
    for status in ("IN_PROGRESS", "RESOLVED"):
        await ticket_op(agent, CHANGE_STATUS, "changeTicketStatus", ticketId=ticket["id"],
                        status=status)  # fmt: skip

    async def survey_sent() -> dict[str, Any] | None:
        data = (await rep.execute(CUSTOMER_SURVEYS, {"id": customer_id})).ok()
        edges = data["customer"]["surveys"]["edges"]
        return edges[0]["node"] if edges else None

    survey = await eventually(survey_sent, timeout_s=60)
    invited = (await agent.execute(EMAIL_INVITATION, {"input": {"surveyId": survey["id"]}})).ok()
    assert invited["emailSurveyInvitation"]["delivery"]["to"] == contact

    mailpit = _mailpit(live_stack)
    [message] = await mailpit.await_for(contact)
    text = mailpit.message(message["ID"])["Text"]
    links = re.findall(r"https?://\S+", text)
    gateway = f"http://127.0.0.1:{live_stack.base_port}/surveys/respond?token="
    assert len(links) == 1 and links[0].startswith(gateway), links
    async with httpx.AsyncClient(timeout=30) as anonymous:  # the customer: no login at all
        form = await anonymous.get(links[0])
        assert form.status_code == 200, form.text
        keys = [d["key"] for d in form.json()["dimensions"]]
        # A browser (the customer clicking the link) gets a form, which posts back.
        page = await anonymous.get(links[0], headers={"Accept": "text/html"})
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert all(f'name="score.{key}"' in page.text for key in keys)
        token = links[0].split("token=", 1)[1]
        answered = await anonymous.post(
            links[0].split("?", 1)[0],
            data={"token": token, "comment": "quick fix", **{f"score.{k}": "5" for k in keys}},
            headers={"Accept": "text/html"},
        )
        assert answered.status_code == 200, answered.text
        assert "Thank you" in answered.text
        again = await anonymous.get(links[0])
        assert again.status_code == 409  # single use
        again_page = await anonymous.get(links[0], headers={"Accept": "text/html"})
        assert again_page.status_code == 409 and "answered already" in again_page.text
    survey_now = (await rep.execute(CUSTOMER_SURVEYS, {"id": customer_id})).ok()
    assert survey_now["customer"]["surveys"]["edges"][0]["node"]["status"] == "RESPONDED"

    async def delivered() -> list[dict[str, Any]] | None:
        data = (await agent.execute(SURVEY_DELIVERIES, {"id": customer_id})).ok()
        found = data["customer"]["surveys"]["edges"][0]["node"]["deliveries"]
        return found if found and found[0]["status"] == "SENT" else None

    [survey_delivery] = await eventually(delivered, timeout_s=60)
    assert survey_delivery["to"] == contact


async def test_notifications_immediate_and_digest(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    now = datetime.now(UTC)
    one_by_one, digest_reader = _address("immediate"), _address("digest")

    def notification(n: int, user: str, email: str | None, mode: str) -> CloudEvent:
        payload = NotificationCreated(
            notification_id=str(uuid.uuid4()), recipient_id=user, kind="FOLLOWUP_DUE",
            title=f"Follow-up {n} is due", body=f"Call customer {n} today", record_type="followup",
            record_id=str(uuid.uuid4()), email=email, email_mode=mode, created_at=now,
        )  # fmt: skip
        return CloudEvent.new(payload, source="crm/engagement", tenant_id=tenant, key=user)

    immediate = [notification(n, "u-imm", one_by_one, "IMMEDIATE") for n in range(2)]
    digest = [notification(n, "u-dig", digest_reader, "DIGEST") for n in range(3)]
    silent = notification(9, "u-none", None, "IMMEDIATE")
    # Each published twice: redeliveries send nothing more.
    await publish(live_stack, [*immediate, *digest, silent, *immediate, *digest])

    mailpit = _mailpit(live_stack)
    got = await mailpit.await_for(one_by_one, count=2)
    assert sorted(m["Subject"] for m in got) == ["Follow-up 0 is due", "Follow-up 1 is due"]
    # The e2e stack's digest period is 10 s (+1 s grace): one digest with all three.
    [summary] = await mailpit.await_for(digest_reader, timeout_s=120)
    assert summary["Subject"] == "Your CRM digest: 3 notifications"
    text = mailpit.message(summary["ID"])["Text"]
    assert all(f"Follow-up {n} is due" in text for n in range(3))
    assert len(mailpit.messages_to(one_by_one)) == 2
    assert len(mailpit.messages_to(digest_reader)) == 1


async def test_smtp_down_then_up_delivers_exactly_once(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-outage")
    buyer = _address("outage")
    customer_id = await _customer_with_contact(rep, buyer)
    quote = await _approved_quote(rep, customer_id)
    mailpit = _mailpit(live_stack)
    stack.infra(live_stack, "mailpit-down")
    try:
        sent = (await rep.execute(SEND_BY_EMAIL, {"input": {"id": quote["id"]}})).ok()
        assert sent["sendQuoteByEmail"]["quote"]["status"] == "SENT"

        async def retried() -> dict[str, Any] | None:
            data = (await rep.execute(QUOTE_DELIVERIES, {"id": quote["id"]})).ok()["quote"]
            [delivery] = data["deliveries"]
            return delivery if delivery["attempts"] >= 2 else None

        waiting = await eventually(retried, timeout_s=90, interval_s=0.3)
        assert waiting["status"] in ("QUEUED", "SENDING")
        assert waiting["lastError"] and waiting["lastErrorCode"] is None  # connection refused
    finally:
        stack.infra(live_stack, "mailpit-up")
    delivered = await _delivery_of_quote(rep, quote["id"], "SENT", timeout_s=120)
    assert delivered["attempts"] >= 3
    assert len(await mailpit.await_for(buyer)) == 1
    again = await mailpit.await_for(buyer)  # re-read: still exactly one
    assert len(again) == 1
