"""Edge policies applied before planning: limits, cost, persisted queries, rate limits, headers."""
