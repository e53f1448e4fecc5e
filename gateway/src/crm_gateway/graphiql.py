"""GraphiQL served from bundled assets (no CDN), with a headers editor prefilled for a token
and three example operations opened as tabs (GraphiQL 3 ``defaultTabs``)."""

from __future__ import annotations

import json
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static" / "graphiql"
STATIC_PREFIX = "/graphiql/static"

DEFAULT_HEADERS = '{\n  "Authorization": "Bearer <paste token>"\n}'

# Runnable against the demo tenant (`make seed`, then `make token TENANT=demo`).
EXAMPLE_QUERIES = [
    """# Customers in one province, Relay-paginated: pass pageInfo.endCursor as $after.
query CustomersInZhejiang($after: String) {
  customers(first: 10, after: $after, filter: {province: {eq: "Zhejiang"}}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node { id number name industry status region { province city } primaryContact { name phone } }
    }
  }
}
""",
    """# My day: follow-ups due today and the pipeline board.
query MyDay {
  myFollowUps(due: TODAY, first: 20) {
    edges { node { id dueAt priority goal customerId } }
  }
  opportunityBoard { stage count amounts { amountMinor currency } }
}
""",
    """# One customer across services: interactions, opportunities with quotes, tickets.
query Customer360 {
  customers(first: 3, filter: {status: {in: [LEAD, INTENTION, DEAL]}}) {
    edges {
      node {
        name
        interactions(first: 3) { edges { node { kind occurredAt content } } }
        opportunities(first: 5) {
          edges {
            node {
              name stage amount { amountMinor currency }
              quotes(first: 3) { edges { node { number status total { amountMinor currency } } } }
            }
          }
        }
        tickets(first: 3) { edges { node { title status priority } } }
      }
    }
  }
}
""",
]
DEFAULT_TABS = [{"query": query, "headers": DEFAULT_HEADERS} for query in EXAMPLE_QUERIES]

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>CRM GraphQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="{prefix}/graphiql.min.css">
</head>
<body>
  <div id="graphiql">Loading…</div>
  <script src="{prefix}/react.production.min.js"></script>
  <script src="{prefix}/react-dom.production.min.js"></script>
  <script src="{prefix}/graphiql.min.js"></script>
  <script>
    const fetcher = GraphiQL.createFetcher({{ url: {endpoint!r} }});
    const root = ReactDOM.createRoot(document.getElementById("graphiql"));
    root.render(React.createElement(GraphiQL, {{
      fetcher,
      defaultHeaders: {headers!r},
      defaultTabs: {tabs},
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: "headers",
    }}));
  </script>
</body>
</html>
"""


def graphiql_page(endpoint: str = "/graphql") -> str:
    """The HTML page; assets are loaded from `STATIC_PREFIX`."""
    return _PAGE.format(
        prefix=STATIC_PREFIX,
        endpoint=endpoint,
        headers=DEFAULT_HEADERS,
        # JSON is valid JavaScript; "</" is escaped so a query can never end the script tag.
        tabs=json.dumps(DEFAULT_TABS).replace("</", "<\\/"),
    )
