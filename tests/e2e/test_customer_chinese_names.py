"""Chinese names through the gateway: search by pinyin and its initials, order by sound, and
region filters that take the Chinese, pinyin or English name of a province."""

from __future__ import annotations

import pytest
import stack

from tests.e2e.client import GraphQLClient, new_tenant
from tests.e2e.test_customer_profile import CREATE, client

pytestmark = [pytest.mark.e2e]

LIST = """
query ($search: String, $filter: CustomerFilter, $orderBy: CustomerOrderBy) {
  customers(first: 20, search: $search, filter: $filter, orderBy: $orderBy) {
    edges { node { name region { province } } }
  }
}
"""

CUSTOMERS = [
    ("杭州西湖茶叶有限公司", "Zhejiang"),
    ("重庆火锅集团", "Chongqing"),
    ("阿里巴巴网络", "浙江"),
    ("Bosch China", "Inner Mongolia"),
    ("张三贸易", "Nei Menggu"),
]


async def _names(gql: GraphQLClient, **variables: object) -> list[str]:
    response = await gql.execute(LIST, variables)
    response.ok()
    return [edge["node"]["name"] for edge in response.data["customers"]["edges"]]


async def test_pinyin_search_order_and_region_names(live_stack: stack.StackConfig) -> None:
    gql = client(live_stack, new_tenant(), ["admin"])
    for name, province in CUSTOMERS:
        created = await gql.execute(
            CREATE, {"input": {"name": name, "region": {"province": province}}}
        )
        created.ok()

    assert await _names(gql, search="hzxh") == ["杭州西湖茶叶有限公司"]
    assert await _names(gql, search="Hang Zhou") == ["杭州西湖茶叶有限公司"]
    assert await _names(gql, search="chongqing") == ["重庆火锅集团"]  # 重 read as chong
    assert await _names(gql, search="杭州") == ["杭州西湖茶叶有限公司"]

    by_name = await _names(gql, orderBy={"field": "NAME", "direction": "ASC"})
    assert by_name == [
        "阿里巴巴网络",  # alibaba
        "Bosch China",
        "重庆火锅集团",  # chongqing
        "杭州西湖茶叶有限公司",  # hangzhou
        "张三贸易",  # zhangsan
    ]

    for spelled in ("Zhejiang", "zhejiang province", "浙江", "浙江省"):
        zhejiang = await _names(gql, filter={"province": {"eq": spelled}})
        assert sorted(zhejiang) == ["杭州西湖茶叶有限公司", "阿里巴巴网络"], spelled
    mongolia = await _names(gql, filter={"province": {"in": ["Inner Mongolia", "Tibet"]}})
    assert sorted(mongolia) == ["Bosch China", "张三贸易"]
    assert await _names(gql, filter={"province": {"eq": "Atlantis"}}) == []
