"""GraphiQL served from bundled assets (no CDN), with a headers editor prefilled for a token."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static" / "graphiql"
STATIC_PREFIX = "/graphiql/static"

DEFAULT_HEADERS = '{\n  "Authorization": "Bearer <paste token>"\n}'

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
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: "headers",
    }}));
  </script>
</body>
</html>
"""


def graphiql_page(endpoint: str = "/graphql") -> str:
    """The HTML page; assets are loaded from `STATIC_PREFIX`."""
    return _PAGE.format(prefix=STATIC_PREFIX, endpoint=endpoint, headers=DEFAULT_HEADERS)
