"""The supergraph model: composition of subgraph SDLs, the supergraph file, printing."""
