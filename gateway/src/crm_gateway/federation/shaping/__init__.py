"""Response shaping: the compiled shaper and the graphql-core fallback."""
