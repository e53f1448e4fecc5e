"""The HTTP edge: aiohttp app, WebSocket/SSE subscriptions, GraphiQL, file proxies."""
