"""Operations the cost limit is calibrated on (`test_cost_calibration.py`,
`gateway/tools/cost_calibration.py`).

The public gateway benchmark's scenario (four subgraphs: accounts, inventory, products,
reviews) as a plain API schema with its data sizes (6 users, 9 products, 11 reviews, two
reviews per user, 0-4 per product, ``topProducts(first: Int = 5)``) and its deep query; and
hostile operations against our own supergraph that the default limit must refuse.
"""

from __future__ import annotations

from typing import Any

BENCH_SDL = """
type Query {
  me: User
  user(id: ID!): User
  users: [User]
  topProducts(first: Int = 5): [Product]
}
type User { id: ID! name: String username: String birthday: Int reviews: [Review] }
type Review { id: ID! body: String product: Product author: User }
type Product {
  upc: String! weight: Int price: Int inStock: Boolean shippingEstimate: Int name: String
  reviews: [Review]
}
"""

_PRODUCT = "inStock name price shippingEstimate upc weight"
BENCH_QUERY = f"""
fragment User on User {{ id username name }}
fragment Review on Review {{ id body }}
fragment Product on Product {{ {_PRODUCT} }}
query TestQuery {{
  users {{
    ...User
    reviews {{
      ...Review
      product {{
        ...Product
        reviews {{
          ...Review author {{ ...User reviews {{ ...Review product {{ ...Product }} }} }}
        }}
      }}
    }}
  }}
  topProducts {{
    ...Product
    reviews {{ ...Review author {{ ...User reviews {{ ...Review product {{ ...Product }} }} }} }}
  }}
}}
"""

# Review i (1-based) is about product REVIEW_PRODUCTS[i - 1]; bodies are 140-880 characters.
REVIEW_PRODUCTS = ["1", "1", "1", "1", "2", "2", "2", "2", "3", "4", "4"]
REVIEW_BODY_LENGTHS = [446, 290, 282, 140, 446, 290, 282, 140, 140, 140, 880]


def bench_root() -> dict[str, Any]:
    """Root value for graphql-core: plain dicts in the benchmark's sizes."""
    products: dict[str, dict[str, Any]] = {}
    reviews: list[dict[str, Any]] = []
    for i in range(1, 10):
        products[str(i)] = {
            "upc": str(i),
            "name": f"Product {i}",
            "price": 100 * i,
            "weight": 10 * i,
            "inStock": i % 2 == 1,
            "shippingEstimate": 5 * i,
            "reviews": reviews,  # filled below, filtered per product
        }
    author: dict[str, Any] = {"id": "1", "username": "urigo", "name": "Uri"}
    for i, upc in enumerate(REVIEW_PRODUCTS, start=1):
        reviews.append(
            {
                "id": str(i),
                "body": "x" * REVIEW_BODY_LENGTHS[i - 1],
                "product": products[upc],
                "author": author,
            }
        )
    for upc, product in products.items():
        product["reviews"] = [r for r in reviews if r["product"]["upc"] == upc]
    # Every user (and every review's author) has the first two reviews.
    author["reviews"] = reviews[:2]
    users = [
        {"id": str(i), "username": f"user{i}", "name": f"User {i}", "reviews": reviews[:2]}
        for i in range(1, 7)
    ]
    return {"users": users, "topProducts": list(products.values())[:5]}


def fragment_bomb(levels: int = 40) -> str:
    """Each fragment spreads the next twice (2^levels when expanded naively)."""
    fragments = [
        f"fragment F{i} on Customer {{ name ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    ]
    fragments.append(f"fragment F{levels} on Customer {{ id contacts {{ id name }} }}")
    return "{ customers(first: 50) { edges { node { ...F0 } } } }\n" + "\n".join(fragments)


def nested_lists(depth: int = 10) -> str:
    """``quote.versions`` (a list of quotes) nested ``depth`` times."""
    inner = "id"
    for _ in range(depth):
        inner = f"versions {{ {inner} }}"
    return f'{{ quote(id: "q1") {{ {inner} }} }}'


def wide_aliases(width: int = 19) -> str:
    """As many aliased root fields as the limit allows (19 of 20), each a 200-item page of
    customers with their contacts."""
    fields = " ".join(
        f"a{i}: customers(first: 200) {{ edges {{ node {{ contacts {{ id name }} }} }} }}"
        for i in range(width)
    )
    return "{ " + fields + " }"


# The same four subgraphs as a join-spec supergraph (body only: `federation_kit.JOIN_HEADER`
# goes in front), to count the subgraph requests our planner makes for BENCH_QUERY.
BENCH_SUPERGRAPH = """
enum join__Graph {
  ACCOUNTS @join__graph(name: "accounts", url: "http://accounts")
  INVENTORY @join__graph(name: "inventory", url: "http://inventory")
  PRODUCTS @join__graph(name: "products", url: "http://products")
  REVIEWS @join__graph(name: "reviews", url: "http://reviews")
}
type Query @join__type(graph: ACCOUNTS) @join__type(graph: INVENTORY)
  @join__type(graph: PRODUCTS) @join__type(graph: REVIEWS) {
  me: User @join__field(graph: ACCOUNTS)
  user(id: ID!): User @join__field(graph: ACCOUNTS)
  users: [User] @join__field(graph: ACCOUNTS)
  topProducts(first: Int = 5): [Product] @join__field(graph: PRODUCTS)
}
type Product @join__type(graph: INVENTORY, key: "upc") @join__type(graph: PRODUCTS, key: "upc")
  @join__type(graph: REVIEWS, key: "upc") {
  upc: String!
  weight: Int @join__field(graph: INVENTORY, external: true) @join__field(graph: PRODUCTS)
  price: Int @join__field(graph: INVENTORY, external: true) @join__field(graph: PRODUCTS)
  inStock: Boolean @join__field(graph: INVENTORY)
  shippingEstimate: Int @join__field(graph: INVENTORY, requires: "price weight")
  name: String @join__field(graph: PRODUCTS)
  reviews: [Review] @join__field(graph: REVIEWS)
}
type Review @join__type(graph: REVIEWS, key: "id") {
  id: ID!
  body: String
  product: Product
  author: User @join__field(graph: REVIEWS, provides: "username")
}
type User @join__type(graph: ACCOUNTS, key: "id") @join__type(graph: REVIEWS, key: "id") {
  id: ID!
  name: String @join__field(graph: ACCOUNTS)
  username: String @join__field(graph: ACCOUNTS) @join__field(graph: REVIEWS, external: true)
  birthday: Int @join__field(graph: ACCOUNTS)
  reviews: [Review] @join__field(graph: REVIEWS)
}
"""
