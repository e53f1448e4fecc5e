"""GraphiQL served from bundled assets (no CDN), with a headers editor prefilled for a token
and three example operations opened as tabs (GraphiQL 3 ``defaultTabs``). Subscriptions run
over GraphQL-over-SSE (a small fetcher in the page: ``fetch`` streaming, no extra library)."""

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
    """# Customer potential (客户潜力): the top customers by growth, each score explained.
query TopGrowth {
  potentialRanking(dimension: GROWTH, first: 5) {
    edges {
      node {
        rank score customer { name status }
        potential {
          purchasePower { score } loyalty { score } forecast90Days { currency amountMinor }
          growth { drivers { name weight contribution explanation } }
        }
      }
    }
  }
}
""",
]
DEFAULT_TABS = [{"query": query, "headers": DEFAULT_HEADERS} for query in EXAMPLE_QUERIES]

_PAGE = r"""<!doctype html>
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
    // Queries and mutations: GraphiQL's own HTTP fetcher. Subscriptions: GraphQL over SSE
    // (graphql-sse distinct connections) read with fetch streaming, as an async iterable.
    const url = {endpoint!r};
    const httpFetcher = GraphiQL.createFetcher({{ url }});
    function isSubscription(params, opts) {{
      const ast = opts && opts.documentAST;
      if (ast) {{
        const ops = ast.definitions.filter((d) => d.kind === "OperationDefinition");
        const op = params.operationName
          ? ops.find((d) => d.name && d.name.value === params.operationName)
          : ops[0];
        return Boolean(op) && op.operation === "subscription";
      }}
      return /^\s*subscription\b/m.test(params.query || "");
    }}
    async function* sseEvents(params, opts, signal) {{
      let response;
      try {{
        response = await fetch(url, {{
          method: "POST",
          headers: {{
            ...((opts && opts.headers) || {{}}),
            "Content-Type": "application/json",
            Accept: "text/event-stream",
          }},
          body: JSON.stringify(params),
          signal,
        }});
        const type = response.headers.get("Content-Type") || "";
        if (!type.startsWith("text/event-stream")) {{
          yield await response.json();
          return;
        }}
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {{
          const {{ value, done }} = await reader.read();
          if (done) return;
          buffer += value.replace(/\r\n/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {{
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = "message";
            const data = [];
            for (const line of block.split("\n")) {{
              if (line.startsWith("event:")) event = line.slice(6).trim();
              else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
            }}
            if (event === "next") yield JSON.parse(data.join("\n"));
            else if (event === "complete") return;
          }}
        }}
      }} catch (error) {{
        if (!signal.aborted) throw error;
      }}
    }}
    // GraphiQL's stop button calls return(): abort the request at once (closing the stream
    // ends the subscription at the gateway and the subgraph), even while no event arrives.
    function sseFetcher(params, opts) {{
      const controller = new AbortController();
      const events = sseEvents(params, opts, controller.signal);
      return {{
        [Symbol.asyncIterator]() {{
          return this;
        }},
        next: () => events.next(),
        return: () => {{
          controller.abort();
          return Promise.resolve({{ done: true, value: undefined }});
        }},
      }};
    }}
    const fetcher = (params, opts) =>
      isSubscription(params, opts) ? sseFetcher(params, opts) : httpFetcher(params, opts);
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
