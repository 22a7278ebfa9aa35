"""Traces: Tempo's configuration and the collector's trace pipeline, rendered from the settings."""
