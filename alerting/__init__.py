"""Alertmanager's routing tree, receivers and inhibition, rendered from the alerting settings."""
