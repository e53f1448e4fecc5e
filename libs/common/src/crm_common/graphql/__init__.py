"""GraphQL helpers shared by every subgraph."""
