"""The federation core: supergraph model, query planning, execution against subgraphs, shaping.

Nothing here knows the HTTP edge (`crm_gateway.http`) or the edge policies
(`crm_gateway.edge`); import-linter keeps it so.
"""
