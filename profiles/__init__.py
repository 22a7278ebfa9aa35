"""Profiles: Pyroscope's configuration and the collector's profile pipeline, rendered from the settings."""
