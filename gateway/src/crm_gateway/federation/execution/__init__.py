"""Executing plans: subgraph HTTP client, replica balancing, merging, upstream subscriptions."""
