"""Quoting service: opportunities, quotes and contracts (the sales pipeline)."""
