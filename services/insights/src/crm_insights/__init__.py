"""Insights service: read models for reporting, kept up to date from the suite's events."""
