"""Engagement service: every touch with the customer."""
