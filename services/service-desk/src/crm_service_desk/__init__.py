"""Service-desk service: customer tickets, from opening to closing."""
