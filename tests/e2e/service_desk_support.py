"""Helpers shared by the service-desk e2e tests (no tests here): clients, customers, Kafka.

Named ``test_service_desk_*`` only to live with the files it serves; it defines no tests.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import stack
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crm_common.events.contracts import model_for
from crm_common.events.contracts.quoting import QuoteAccepted
from crm_common.events.envelope import CloudEvent
from tests.e2e.client import GraphQLClient, eventually, token_for

SERVICE_DESK = next(c for c in stack.SERVICES if c.name == "service-desk")
DESK_TOPIC = "crm.servicedesk.v1"

CREATE_CUSTOMER = """
mutation Create($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }
"""
TICKET_FIELDS = """
id customerId title description category priority status department assigneeId openedBy
createdAt responseDueAt resolutionDueAt respondedAt resolvedAt resolution
responseBreachedAt resolutionBreachedAt escalated escalatedTo escalatedAt
history { action actorId fromStatus toStatus note }
"""
OPEN_TICKET = f"""
mutation Open($input: OpenTicketInput!) {{
  openTicket(input: $input) {{ ticket {{ {TICKET_FIELDS} }} }}
}}
"""
ASSIGN_TICKET = f"""
mutation Assign($input: AssignTicketInput!) {{
  assignTicket(input: $input) {{ ticket {{ {TICKET_FIELDS} }} }}
}}
"""
CHANGE_STATUS = f"""
mutation Move($input: ChangeTicketStatusInput!) {{
  changeTicketStatus(input: $input) {{ ticket {{ {TICKET_FIELDS} }} }}
}}
"""
SET_DEPARTMENT = """
mutation Dept($input: SetDepartmentInput!) {
  setDepartment(input: $input) { departments { name leadId } }
}
"""
SET_SLA = """
mutation Sla($input: SetSlaPolicyInput!) {
  setSlaPolicy(input: $input) { targets { priority responseSeconds resolutionSeconds } }
}
"""


def client(config: stack.StackConfig, tenant: str, roles: list[str], **kw: Any) -> GraphQLClient:
    return GraphQLClient(config.gateway_url, token_for(config.var_dir, tenant, roles, **kw))


async def create_customer(owner: GraphQLClient, name: str) -> str:
    data = (await owner.execute(CREATE_CUSTOMER, {"input": {"name": name}})).ok()
    customer_id: str = data["createCustomer"]["customer"]["id"]
    return customer_id


async def open_ticket_when_known(agent: GraphQLClient, **fields: Any) -> dict[str, Any]:
    """The service desk knows a customer once its `customer.created` event has arrived."""

    async def attempt() -> dict[str, Any] | None:
        response = await agent.execute(OPEN_TICKET, {"input": {"title": "Help", **fields}})
        if response.error_codes() == ["CUSTOMER_NOT_READY"] or (
            response.error_codes() == ["NOT_FOUND"] and "customer" in response.errors[0]["message"]
        ):
            return None
        ticket: dict[str, Any] = response.ok()["openTicket"]["ticket"]
        return ticket

    return await eventually(attempt)


async def ticket_op(client: GraphQLClient, query: str, field: str, **input: Any) -> dict[str, Any]:
    ticket: dict[str, Any] = (await client.execute(query, {"input": input})).ok()[field]["ticket"]
    return ticket


def quote_accepted_event(
    tenant: str, customer_id: str, owner_id: str, quote_id: str | None = None
) -> CloudEvent:
    """A QuoteAccepted exactly as the quoting service would publish it."""
    payload = QuoteAccepted(
        quote_id=quote_id or str(uuid.uuid4()),
        quote_number=f"QUO{uuid.uuid4().hex[:8].upper()}",
        version=2,
        opportunity_id=str(uuid.uuid4()),
        customer_id=customer_id,
        owner_id=owner_id,
        total_minor=12_345_600,
        currency="CNY",
        accepted_at=datetime.now(UTC),
    )
    return CloudEvent.new(payload, source="crm/quoting", tenant_id=tenant, key=customer_id)


async def publish(config: stack.StackConfig, events: list[CloudEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=config.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            model = model_for(event.type)
            assert model is not None, event.type
            await producer.send_and_wait(
                model.topic,
                value=event.body(),
                key=event.key.encode(),
                headers=event.headers(),
            )
    finally:
        await producer.stop()


class DeskEvents:
    """Reads crm.servicedesk.v1 from the beginning and keeps one tenant's events."""

    def __init__(self, config: stack.StackConfig, tenant: str) -> None:
        self._config = config
        self._tenant = tenant
        self.events: dict[str, CloudEvent] = {}  # by ce_id: a redelivered copy is one event
        self.copies = 0

    async def __aenter__(self) -> DeskEvents:
        self._consumer = AIOKafkaConsumer(
            DESK_TOPIC,
            bootstrap_servers=self._config.kafka_bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def poll(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                event = CloudEvent.from_record(record.key, record.value, list(record.headers))
                if event.tenant_id == self._tenant:
                    self.copies += 1
                    self.events[event.id] = event

    def of_type(self, name: str) -> list[CloudEvent]:
        return [e for e in self.events.values() if e.type == f"crm.servicedesk.{name}"]

    async def wait_for(self, name: str, count: int, timeout_s: float = 30) -> list[CloudEvent]:
        async def enough() -> list[CloudEvent] | None:
            await self.poll()
            found = self.of_type(name)
            return found if len(found) >= count else None

        return await eventually(enough, timeout_s=timeout_s)


@contextlib.contextmanager
def second_service_desk(config: stack.StackConfig, **env: str) -> Iterator[str]:
    """Another service-desk replica on the same database and broker; yields its base URL."""
    port = config.base_port + 9  # inside this slot's range, unused by the stack
    process_env = {**config.component_env(SERVICE_DESK), "PORT": str(port), **env}
    log = (config.log_dir / "service-desk-2.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", SERVICE_DESK.module],
        env=process_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=stack.REPO,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def wait_ready(url: str) -> None:
    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(f"{url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(ready, timeout_s=60, interval_s=0.3)


async def metric(url: str, name: str) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{url}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def desk_url(config: stack.StackConfig) -> str:
    return config.service_url(SERVICE_DESK)
