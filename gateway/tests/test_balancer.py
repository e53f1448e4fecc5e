"""Several replicas per subgraph (federation.execution.balancer + SubgraphClient), over HTTP.

Each replica is a real aiohttp server on loopback; "killing" one closes its listening socket
and its connections (later connects are refused), "restarting" it listens on the same port.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from tests.support.replicas import until

from crm_gateway.federation.execution.balancer import ReplicaSet, readyz_url, replica_sets
from crm_gateway.federation.execution.client import SubgraphClient, SubgraphFailure
from crm_gateway.settings import GatewaySettings


@dataclass
class FakeReplica:
    name: str
    port: int = 0
    graphql_calls: int = 0
    readyz_status: int = 200
    drop_next: bool = False  # close the connection after reading the request, no answer
    drops: int = 0  # as drop_next, for this many requests
    delay_s: float = 0.0  # answer this much later
    runner: web.AppRunner | None = None
    seen: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    async def start(self) -> None:
        async def graphql(request: web.Request) -> web.StreamResponse:
            body = await request.json()
            self.graphql_calls += 1
            self.seen.append(body["query"])
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.drop_next or self.drops:
                self.drop_next = False
                self.drops = max(0, self.drops - 1)
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            return web.json_response({"data": {"replica": self.name}})

        async def readyz(_: web.Request) -> web.Response:
            return web.json_response({}, status=self.readyz_status)

        app = web.Application()
        app.router.add_post("/graphql", graphql)
        app.router.add_get("/readyz", readyz)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def kill(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()
        self.runner = None


@pytest_asyncio.fixture
async def replicas() -> AsyncIterator[list[FakeReplica]]:
    servers = [FakeReplica("a"), FakeReplica("b")]
    for server in servers:
        await server.start()
    yield servers
    for server in servers:
        if server.runner is not None:
            await server.kill()


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _set(servers: list[FakeReplica], **options: float) -> ReplicaSet:
    return ReplicaSet("s", [s.url for s in servers], **options)


async def _query(client: SubgraphClient, query: str = "{ replica }") -> str:
    body = await client.request("s", "http://unused.invalid/graphql", query, {}, None, retry=True)
    return str(body["data"]["replica"])


# -- configuration --------------------------------------------------------------------------


def test_several_urls_per_subgraph_are_parsed() -> None:
    settings = GatewaySettings(
        subgraphs="customer=http://a:1/graphql,http://b:1/graphql, engagement=http://c:2/graphql,"
        "customer=http://d:1/graphql,quoting=http://e:3/graphql?x=1,http://f:3/graphql?x=2"
    )
    assert settings.subgraph_replicas() == {
        "customer": ["http://a:1/graphql", "http://b:1/graphql", "http://d:1/graphql"],
        "engagement": ["http://c:2/graphql"],
        "quoting": ["http://e:3/graphql?x=1", "http://f:3/graphql?x=2"],
    }
    # The first URL stands for the subgraph (composition, the supergraph's join__Graph url).
    assert settings.subgraph_urls()["customer"] == "http://a:1/graphql"
    sets = replica_sets(settings.subgraph_replicas())
    assert sorted(sets) == ["customer", "quoting"]  # one URL: no set, the plain path


@pytest.mark.parametrize("value", ["http://a/graphql", "customer", "customer=", "a=b,junk"])
def test_malformed_subgraph_lists_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not name=url"):
        GatewaySettings(subgraphs=value).subgraph_replicas()


def test_readyz_url_replaces_the_graphql_path() -> None:
    assert readyz_url("http://h:4001/graphql") == "http://h:4001/readyz"
    assert readyz_url("http://h:4001/api/graphql/") == "http://h:4001/api/readyz"


# -- balancing, ejection, failover -------------------------------------------------------------


async def test_requests_are_spread_round_robin(
    replicas: list[FakeReplica], session: aiohttp.ClientSession
) -> None:
    client = SubgraphClient(session, 5, replicas={"s": _set(replicas)})
    answers = [await _query(client) for _ in range(10)]
    assert sorted(answers) == ["a"] * 5 + ["b"] * 5
    assert [r.graphql_calls for r in replicas] == [5, 5]


async def test_killed_replica_is_ejected_queries_fail_over_and_it_returns(
    replicas: list[FakeReplica], session: aiohttp.ClientSession
) -> None:
    pool = _set(replicas, interval_s=0.1, min_backoff_s=0.05, max_backoff_s=0.2)
    client = SubgraphClient(session, 5, retries=0, replicas={"s": pool})
    probes = asyncio.create_task(pool.run_probes(session))
    try:
        a, b = replicas
        await b.kill()
        # Every query is answered (a refused connect moves on to a at once, even with
        # retries=0), and b is out of rotation after the first failure.
        answers = [await _query(client) for _ in range(10)]
        assert answers == ["a"] * 10
        assert [r.url for r in pool.healthy] == [a.url]
        assert a.graphql_calls == 10

        await b.start()  # the same port again

        async def b_back() -> bool:
            return len(pool.healthy) == 2

        await until(b_back)
        answers = [await _query(client) for _ in range(10)]
        assert sorted(answers) == ["a"] * 5 + ["b"] * 5
    finally:
        probes.cancel()
        await asyncio.gather(probes, return_exceptions=True)


async def test_mutation_goes_to_another_replica_only_when_refused(
    replicas: list[FakeReplica], session: aiohttp.ClientSession
) -> None:
    a, b = replicas
    pool = _set(replicas)
    client = SubgraphClient(session, 5, retries=2, replicas={"s": pool})
    mutation = "mutation { replica }"
    await b.kill()
    for _ in range(4):  # refused by b: it never saw the request, so a gets it
        body = await client.request("s", a.url, mutation, {}, None, retry=False)
        assert body == {"data": {"replica": "a"}}
    assert a.seen == [mutation] * 4

    # A connection that breaks after the request was sent: the mutation may have been
    # applied, so it is not sent again (to any replica).
    await b.start()
    pool.restore(pool.replicas[1])
    a.drop_next = b.drop_next = True
    with pytest.raises(SubgraphFailure):
        await client.request("s", a.url, mutation, {}, None, retry=False)
    assert a.graphql_calls + b.graphql_calls == 5  # 4 before + this one, once


async def test_query_after_a_dropped_connection_is_sent_to_the_other_replica(
    replicas: list[FakeReplica], session: aiohttp.ClientSession
) -> None:
    a, b = replicas
    pool = _set(replicas)
    client = SubgraphClient(session, 5, retries=0, replicas={"s": pool})
    a.drop_next = True  # round robin starts with a
    assert await _query(client) == "b"  # no retries configured: the failover is not one
    assert (a.graphql_calls, b.graphql_calls) == (1, 1)
    assert [r.url for r in pool.healthy] == [b.url]


async def test_not_ready_replica_is_ejected_by_the_probe_and_restored(
    replicas: list[FakeReplica], session: aiohttp.ClientSession
) -> None:
    a, b = replicas
    pool = _set(replicas, interval_s=0.05, min_backoff_s=0.05, max_backoff_s=0.1)
    client = SubgraphClient(session, 5, replicas={"s": pool})
    probes = asyncio.create_task(pool.run_probes(session))
    try:
        b.readyz_status = 503

        async def b_out() -> bool:
            return [r.url for r in pool.healthy] == [a.url]

        await until(b_out)
        assert {await _query(client) for _ in range(6)} == {"a"}
        b.readyz_status = 200

        async def b_in() -> bool:
            return len(pool.healthy) == 2

        await until(b_in)
        assert {await _query(client) for _ in range(6)} == {"a", "b"}
    finally:
        probes.cancel()
        await asyncio.gather(probes, return_exceptions=True)


async def test_no_healthy_replica_still_tries_them_all(
    replicas: list[FakeReplica], session: aiohttp.ClientSession
) -> None:
    """Every replica "not ready" (e.g. Kafka down for all): answers still beat none."""
    pool = _set(replicas)
    client = SubgraphClient(session, 5, replicas={"s": pool})
    for replica in pool.replicas:
        pool.eject(replica, "test")
    assert pool.healthy == ()
    assert sorted([await _query(client) for _ in range(4)]) == ["a", "a", "b", "b"]


async def test_all_replicas_down_is_a_subgraph_failure_and_opens_the_breaker(
    replicas: list[FakeReplica], session: aiohttp.ClientSession
) -> None:
    pool = _set(replicas)
    client = SubgraphClient(
        session, 5, retries=1, backoff_s=0.001, breaker_threshold=2, replicas={"s": pool}
    )
    for replica in replicas:
        await replica.kill()
    for _ in range(2):
        with pytest.raises(SubgraphFailure) as failure:
            await _query(client)
        assert "unavailable" in failure.value.message
    with pytest.raises(SubgraphFailure) as failure:
        await _query(client)
    assert "circuit open" in failure.value.message


async def test_mutations_cut_off_by_one_dying_replica_do_not_open_the_breaker(
    replicas: list[FakeReplica], session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by the fault drill: one replica's death failed the mutations in flight on it, they
    counted as subgraph failures and opened the circuit for every mutation, although the other
    replica was serving. Only the cut-off mutations may fail."""
    a, b = replicas
    pool = _set(replicas)
    client = SubgraphClient(session, 5, breaker_threshold=2, replicas={"s": pool})
    mutation = "mutation { replica }"
    a.drops, b.delay_s = 2, 0.2  # both cut-off mutations fail before b answers anything

    async def send() -> str:
        body = await client.request("s", a.url, mutation, {}, None, retry=False)
        return str(body["data"]["replica"])

    outcomes = await asyncio.gather(*(send() for _ in range(3)), return_exceptions=True)
    assert sorted(map(str, outcomes)).count("b") >= 1
    failures = [o for o in outcomes if isinstance(o, SubgraphFailure)]
    assert len(failures) == 2
    assert all("circuit" not in f.message for f in failures)
    assert not [r for r in caplog.records if "circuit" in r.getMessage()]
    assert await send() == "b"
