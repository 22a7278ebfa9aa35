"""Pulumi component resources of the monitoring stack (type tokens `monitoring:<module>:<Name>`)."""
